"""Accounts: subject-space isolation, no_auth_user, stream and service
exports/imports, and the config errors for bad imports (nats-compat.md 6.3,
6.1 "no_auth_user", 11 "accounts").

The contract checked here, as nats-server 2.9.10 behaves:
- Every account is its own subject space. Users listed in `accounts { X {
  users } }` are in X; users of the top-level `authorization { users }` are
  in the global account $G. A message never crosses an account boundary
  except through an import.
- no_auth_user names a user; a CONNECT without user/pass/token lands in that
  user's account. Ops sent before CONNECT run in that account too, but a
  credential-less CONNECT that comes after them is refused.
- Stream import: A's `PUB events.y` reaches B as `events.y` prefixed
  (`from_a.events.y`) or renamed (`to`), with headers and reply unchanged;
  B's own publishes never flow back into A; queue groups in B get one copy
  per group.
- Service import: B's request on the local subject arrives in A on the
  exported subject with the reply replaced by `_R_.<6>.<6>` and a
  `Nats-Request-Info: {"acc":"B","rtt":<ns>}` header appended (header-capable
  responders only); A's answer on that reply reaches B's inbox as a plain
  MSG; singleton (the default) lets one answer through, stream/chunked any
  number. A request that enters a service import never gets a no-responders
  status, even when nobody in A listens.
- Bad imports (unknown account, not exported, private export for another
  account, import cycles, wildcard prefix) make `nats-server -t -c file` and
  a normal start exit 1 with `nats-server: <file>:<line>:<col>: <error>` on
  stderr (gannet: the same with its own program name).

Monitoring (/connz?auth=1, /accountz) is out of scope here.
"""
import os
import re
import subprocess

import pytest

from proto import Conn, C0, client, connect_line
from servers import free_port

BASE = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}
R_REPLY = re.compile(r"^_R_\.[0-9A-Za-z]{6}\.[0-9A-Za-z]{6}$")
STATUS_503 = b"NATS/1.0 503\r\n\r\n"


def login(server, user, password=None, **opts):
    """Client authenticated as user (password defaults to the user name)."""
    o = dict(BASE, user=user, **opts)
    o["pass"] = user if password is None else password
    return client(server, connect=connect_line(o))


def subscriber(server, user, *subs, **opts):
    """Client logged in as user with the given `SUB` argument strings done."""
    c = login(server, user, **opts)
    c.send(b"".join(b"SUB " + s.encode() + b"\r\n" for s in subs))
    c.expect_nothing()
    return c


def raws(c):
    return [f.raw for f in c.flush()]


def prog(server_bin):
    """The program name a server prefixes its messages with (its basename)."""
    return os.path.basename(server_bin)


def check_config(server_bin, tmp_path, conf):
    """Run `<server> -t -c <file>`: (path, rc, stdout, stderr)."""
    path = tmp_path / "check.conf"
    path.write_text(conf)
    r = subprocess.run([server_bin, "-t", "-c", str(path)], capture_output=True, text=True, timeout=10)
    return str(path), r.returncode, r.stdout, r.stderr


# ---- isolation ------------------------------------------------------------------------------

ISO_CONF = """
authorization { users: [ {user: g, password: g}, {user: g2, password: g2} ] }
accounts {
  A { users: [ {user: a, password: a}, {user: a2, password: a2} ] }
  B { users: [ {user: b, password: b}, {user: b2, password: b2} ] }
}
"""


@pytest.mark.parametrize("pub,peer,others", [
    ("a", "a2", ("b", "g")),
    ("b", "b2", ("a", "g")),
    ("g", "g2", ("a", "b")),
], ids=["A", "B", "global"])
def test_publish_stays_in_its_account(make_server, pub, peer, others):
    """A user of the same account (another user name) gets the message; the
    same subject subscribed in the other accounts, $G included, gets nothing."""
    s = make_server(conf=ISO_CONF)
    same = subscriber(s, peer, "foo 1")
    strangers = [subscriber(s, o, "foo 1", "> 2") for o in others]
    p = login(s, pub)
    p.send(b"PUB foo 2\r\nhi\r\n")
    p.expect_nothing()
    assert raws(same) == [b"MSG foo 1 2\r\nhi\r\n"]
    for c in strangers:
        c.expect_nothing()


def test_reply_subject_does_not_cross_accounts(make_server):
    """A reply subject is only a name in the requester's account: B cannot
    answer A's request (it never sees it), and a publish to the same inbox
    from B is not delivered to A."""
    s = make_server(conf=ISO_CONF)
    a = subscriber(s, "a", "_INBOX.a 1")
    b = subscriber(s, "b", "svc 1")
    a.send(b"PUB svc _INBOX.a 1\r\nq\r\n")
    a.expect_nothing()
    b.expect_nothing()
    b.send(b"PUB _INBOX.a 1\r\nr\r\n")
    b.expect_nothing()
    a.expect_nothing()


# ---- no_auth_user -----------------------------------------------------------------------------

NOAUTH_CONF = """
accounts {
  A { users: [ {user: a, password: a} ] }
  B { users: [ {user: b, password: b} ] }
}
no_auth_user: a
"""


def test_no_auth_user_lands_in_its_account(make_server):
    s = make_server(conf=NOAUTH_CONF)
    in_a = subscriber(s, "a", "foo 1")
    in_b = subscriber(s, "b", "foo 1")
    anon = Conn(s.port)
    assert "auth_required" not in anon.info
    anon.send(C0 + b"SUB foo 5\r\nPUB foo 2\r\nhi\r\n")
    assert raws(anon) == [b"MSG foo 5 2\r\nhi\r\n"]
    assert raws(in_a) == [b"MSG foo 1 2\r\nhi\r\n"]
    in_b.expect_nothing()
    in_b.send(b"PUB foo 2\r\nbb\r\n")
    in_b.flush()
    anon.expect_nothing()
    in_a.send(b"PUB foo 2\r\naa\r\n")
    in_a.flush()
    assert raws(anon) == [b"MSG foo 5 2\r\naa\r\n"]


def test_no_auth_user_credentials_still_pick_the_account(make_server):
    s = make_server(conf=NOAUTH_CONF)
    in_a = subscriber(s, "a", "foo 1")
    in_b = subscriber(s, "b", "foo 1")
    b = login(s, "b")
    b.send(b"PUB foo 2\r\nhi\r\n")
    b.expect_nothing()
    assert raws(in_b) == [b"MSG foo 1 2\r\nhi\r\n"]
    in_a.expect_nothing()


@pytest.mark.parametrize("opts", [
    {"user": "a", "pass": "wrong"}, {"user": "zz", "pass": "a"}, {"auth_token": "a"},
], ids=repr)
def test_no_auth_user_bad_credentials_rejected(make_server, opts):
    """no_auth_user only covers a CONNECT without credentials: wrong ones fail."""
    s = make_server(conf=NOAUTH_CONF)
    c = Conn(s.port)
    c.send(connect_line(dict(BASE, **opts)))
    c.expect_close("Authorization Violation")


def test_no_auth_user_ops_before_connect(make_server):
    """Without CONNECT the connection already works in no_auth_user's account
    (verbose defaults: +OK); a credential-less CONNECT after that is refused
    (`-ERR 'Authorization Violation'` + close), one with credentials is not."""
    s = make_server(conf=NOAUTH_CONF)
    in_a = subscriber(s, "a", "foo 1")
    c = Conn(s.port)
    c.send(b"PUB foo 2\r\nhi\r\n")
    c.expect_frame(b"+OK\r\n")
    c.expect_nothing()
    assert raws(in_a) == [b"MSG foo 1 2\r\nhi\r\n"]
    c.send(C0)
    c.expect_close("Authorization Violation")
    # A CONNECT with credentials after a first op is fine, and moves the
    # connection to the credentials' account.
    in_b = subscriber(s, "b", "foo 1")
    ok = Conn(s.port)
    ok.send(b"PING\r\n" + connect_line(BASE, user="b", password="b"))
    ok.expect_frame(b"PONG\r\n")
    ok.send(b"PUB foo 2\r\nok\r\n")
    ok.expect_nothing()
    assert raws(in_b) == [b"MSG foo 1 2\r\nok\r\n"]
    in_a.expect_nothing()


# ---- stream exports / imports ----------------------------------------------------------------

STREAM_CONF = """
accounts {
  A { users: [ {user: a, password: a} ],
      exports: [ {stream: "events.>"}, {stream: "lit.one"}, {stream: "priv.>", accounts: [B]} ] }
  B { users: [ {user: b, password: b} ],
      imports: [ {stream: {account: A, subject: "events.>"}, prefix: "from_a"},
                 {stream: {account: A, subject: "lit.one"}, to: "local.one"},
                 {stream: {account: A, subject: "priv.>"}} ] }
  C { users: [ {user: c, password: c} ],
      imports: [ {stream: {account: A, subject: "events.x"}} ] }
}
"""


@pytest.fixture
def streams(make_server):
    return make_server(conf=STREAM_CONF)


def test_stream_import_prefix(streams):
    b = subscriber(streams, "b", "from_a.events.y 1", "events.y 2")
    a = login(streams, "a")
    a.send(b"PUB events.y 2\r\nhi\r\n")
    a.expect_nothing()
    # Only under the prefixed name; the exporter's name means nothing in B.
    assert raws(b) == [b"MSG from_a.events.y 1 2\r\nhi\r\n"]


def test_stream_import_to_renames_literal_subject(streams):
    b = subscriber(streams, "b", "local.one 1", "lit.one 2")
    a = login(streams, "a")
    a.send(b"PUB lit.one 2\r\nhi\r\n")
    a.expect_nothing()
    assert raws(b) == [b"MSG local.one 1 2\r\nhi\r\n"]


@pytest.mark.parametrize("sub", ["from_a.>", "from_a.events.*", "from_a.*.y", "*.events.y", ">"])
def test_stream_import_wildcard_subscription_in_importer(streams, sub):
    b = subscriber(streams, "b", sub + " 7")
    a = login(streams, "a")
    a.send(b"PUB events.y 2\r\nhi\r\n")
    a.expect_nothing()
    assert raws(b) == [b"MSG from_a.events.y 7 2\r\nhi\r\n"]


def test_stream_import_narrower_than_export(streams):
    """C imports only events.x of the events.> export."""
    c = subscriber(streams, "c", "> 1")
    a = login(streams, "a")
    a.send(b"PUB events.y 1\r\ny\r\nPUB events.x 1\r\nx\r\nPUB lit.one 1\r\nl\r\n")
    a.expect_nothing()
    assert raws(c) == [b"MSG events.x 1 1\r\nx\r\n"]


def test_stream_import_unexported_subject_not_delivered(streams):
    b = subscriber(streams, "b", "> 1")
    a = login(streams, "a")
    a.send(b"PUB other 1\r\nx\r\nPUB events 1\r\nx\r\n")
    a.expect_nothing()
    b.expect_nothing()


def test_stream_import_does_not_flow_back(streams):
    """B publishing on the exported, prefixed or renamed names stays in B."""
    a = subscriber(streams, "a", "> 1")
    b = subscriber(streams, "b", "> 9")
    b.send(b"PUB events.x 1\r\n1\r\nPUB from_a.events.x 1\r\n2\r\nPUB local.one 1\r\n3\r\n"
           b"PUB lit.one 1\r\n4\r\nPUB priv.x 1\r\n5\r\n")
    assert sorted(raws(b)) == sorted([
        b"MSG events.x 9 1\r\n1\r\n", b"MSG from_a.events.x 9 1\r\n2\r\n", b"MSG local.one 9 1\r\n3\r\n",
        b"MSG lit.one 9 1\r\n4\r\n", b"MSG priv.x 9 1\r\n5\r\n"])
    a.expect_nothing()


def test_stream_import_keeps_reply_subject(streams):
    """The reply is passed on verbatim and names a subject of B: B answering
    on it does not reach A's subscriber of that name."""
    a = subscriber(streams, "a", "rep 1")
    b = subscriber(streams, "b", "from_a.> 1")
    a.send(b"PUB events.y rep 2\r\nhi\r\n")
    a.expect_nothing()
    assert raws(b) == [b"MSG from_a.events.y 1 rep 2\r\nhi\r\n"]
    b.send(b"PUB rep 2\r\nok\r\n")
    b.expect_nothing()
    a.expect_nothing()


def test_stream_import_carries_headers(streams):
    hb = subscriber(streams, "b", "from_a.> 1")
    plain = subscriber(streams, "b", "from_a.> 2", headers=False)
    a = login(streams, "a")
    a.send(b"HPUB events.h 18 20\r\nNATS/1.0\r\nK: V\r\n\r\nhi\r\n")
    a.expect_nothing()
    assert raws(hb) == [b"HMSG from_a.events.h 1 18 20\r\nNATS/1.0\r\nK: V\r\n\r\nhi\r\n"]
    assert raws(plain) == [b"MSG from_a.events.h 2 2\r\nhi\r\n"]


def test_stream_import_queue_groups(streams):
    """Two members of group q and a plain sub in B: each message goes to one
    member of q and to the plain sub."""
    n = 20
    q1 = subscriber(streams, "b", "from_a.events.> q 1")
    q2 = subscriber(streams, "b", "from_a.events.* q 2", "from_a.> 3")
    a = login(streams, "a")
    a.send(b"".join(b"PUB events.x %d\r\n%d\r\n" % (len(str(i)), i) for i in range(n)))
    a.expect_nothing()
    got1, got2 = raws(q1), raws(q2)
    queue = [f for f in got1 if f.startswith(b"MSG from_a.events.x 1 ")] + \
            [f for f in got2 if f.startswith(b"MSG from_a.events.x 2 ")]
    plain = [f for f in got2 if f.startswith(b"MSG from_a.events.x 3 ")]
    assert len(got1) + len(got2) == 2 * n
    assert sorted(f.split(b"\r\n")[1] for f in queue) == sorted(b"%d" % i for i in range(n))
    assert [f.split(b"\r\n")[1] for f in plain] == [b"%d" % i for i in range(n)]


def test_private_stream_export_to_listed_account(streams):
    b = subscriber(streams, "b", "priv.> 1")
    c = subscriber(streams, "c", "priv.> 1")
    a = login(streams, "a")
    a.send(b"PUB priv.z 1\r\nz\r\n")
    a.expect_nothing()
    assert raws(b) == [b"MSG priv.z 1 1\r\nz\r\n"]
    c.expect_nothing()


# ---- service exports / imports ----------------------------------------------------------------

SERVICE_CONF = """
accounts {
  A { users: [ {user: a, password: a} ],
      exports: [ {service: "svc.>"}, {service: "one", response: singleton},
                 {service: "multi", response: stream}, {service: "chunk", response: chunked} ] }
  B { users: [ {user: b, password: b} ],
      imports: [ {service: {account: A, subject: "svc.x"}, to: "asvc"},
                 {service: {account: A, subject: "svc.w.*"}},
                 {service: {account: A, subject: "svc.m.*"}, to: "mapped.*"},
                 {service: {account: A, subject: "one"}},
                 {service: {account: A, subject: "multi"}},
                 {service: {account: A, subject: "chunk"}} ] }
}
"""


@pytest.fixture
def services(make_server):
    return make_server(conf=SERVICE_CONF)


def request(requester, responder, subject, payload=b"req", inbox=b"_INBOX.x"):
    """requester publishes a request; returns the one frame the responder got."""
    requester.send(b"PUB %s %s %d\r\n%s\r\n" % (subject.encode(), inbox, len(payload), payload))
    requester.expect_nothing()
    got = responder.flush()
    assert len(got) == 1, got
    assert R_REPLY.match(got[0].reply or ""), got[0]
    return got[0]


def test_service_import_request_reply(services):
    a = subscriber(services, "a", "svc.> 1", headers=False)
    b = subscriber(services, "b", "_INBOX.x 4")
    f = request(b, a, "asvc")
    assert f.op == "MSG" and f.subject == "svc.x" and f.sid == "1" and f.payload == b"req"
    assert R_REPLY.match(f.reply), f.reply
    assert f.raw == b"MSG svc.x 1 %s 3\r\nreq\r\n" % f.reply.encode()
    a.send(b"PUB %s 4\r\nrep1\r\n" % f.reply.encode())
    a.expect_nothing()
    assert raws(b) == [b"MSG _INBOX.x 4 4\r\nrep1\r\n"]


def test_service_import_request_info_header(services):
    """A header-capable responder gets HMSG with Nats-Request-Info (requesting
    account and its RTT in ns) appended; the requester's payload is kept."""
    a = subscriber(services, "a", "svc.> 1")
    b = subscriber(services, "b", "_INBOX.x 4")
    f = request(b, a, "asvc")
    assert f.op == "HMSG" and f.subject == "svc.x" and R_REPLY.match(f.reply)
    assert re.match(rb'^NATS/1\.0\r\nNats-Request-Info: \{"acc":"B","rtt":\d+\}\r\n\r\n$', f.hdr), f.hdr
    assert f.payload == b"req"
    assert f.raw == b"HMSG svc.x 1 %s %d %d\r\n%s%s\r\n" % (
        f.reply.encode(), len(f.hdr), len(f.hdr) + 3, f.hdr, b"req")


def test_service_import_keeps_requester_headers(services):
    a = subscriber(services, "a", "svc.> 1")
    b = subscriber(services, "b", "_INBOX.x 4")
    b.send(b"HPUB asvc _INBOX.x 18 21\r\nNATS/1.0\r\nK: V\r\n\r\nreq\r\n")
    b.expect_nothing()
    [f] = a.flush()
    assert f.op == "HMSG" and f.subject == "svc.x" and R_REPLY.match(f.reply)
    assert re.match(rb'^NATS/1\.0\r\nK: V\r\nNats-Request-Info: \{"acc":"B","rtt":\d+\}\r\n\r\n$', f.hdr), f.hdr
    assert f.payload == b"req"


def test_service_import_request_without_reply(services):
    a = subscriber(services, "a", "svc.> 1", headers=False)
    b = login(services, "b")
    b.send(b"PUB asvc 3\r\nreq\r\n")
    b.expect_nothing()
    assert raws(a) == [b"MSG svc.x 1 3\r\nreq\r\n"]


@pytest.mark.parametrize("subject,seen", [
    ("svc.w.q", "svc.w.q"),      # wildcard import of a wildcard export, no renaming
    ("mapped.k", "svc.m.k"),     # `to: "mapped.*"` maps the wildcard token back
])
def test_service_import_wildcards(services, subject, seen):
    a = subscriber(services, "a", "svc.> 1", headers=False)
    b = subscriber(services, "b", "_INBOX.x 4")
    f = request(b, a, subject)
    assert f.subject == seen and R_REPLY.match(f.reply)
    a.send(b"PUB %s 2\r\nok\r\n" % f.reply.encode())
    a.expect_nothing()
    assert raws(b) == [b"MSG _INBOX.x 4 2\r\nok\r\n"]


def test_service_reply_subjects_are_fresh(services):
    a = subscriber(services, "a", "svc.> 1", headers=False)
    b = subscriber(services, "b", "_INBOX.x 4")
    r1 = request(b, a, "asvc").reply
    r2 = request(b, a, "asvc").reply
    assert r1 != r2
    # Same per-account prefix, different random tail.
    assert r1.split(".")[1] == r2.split(".")[1]


@pytest.mark.parametrize("subject,seen", [("asvc", "svc.x"), ("one", "one")],
                         ids=["default", "singleton"])
def test_service_singleton_response(services, subject, seen):
    """Only the first answer on the _R_ reply reaches the requester; later
    ones are dropped silently."""
    a = subscriber(services, "a", "svc.> 1", "one 2", headers=False)
    b = subscriber(services, "b", "_INBOX.x 4")
    f = request(b, a, subject)
    assert f.subject == seen
    r = f.reply.encode()
    a.send(b"PUB %s 4\r\nrep1\r\nPUB %s 4\r\nrep2\r\n" % (r, r))
    a.expect_nothing()
    assert raws(b) == [b"MSG _INBOX.x 4 4\r\nrep1\r\n"]
    a.send(b"PUB %s 4\r\nrep3\r\n" % r)
    a.expect_nothing()
    b.expect_nothing()


@pytest.mark.parametrize("subject", ["multi", "chunk"], ids=["stream", "chunked"])
def test_service_stream_response(services, subject):
    a = subscriber(services, "a", "multi 1", "chunk 2", headers=False)
    b = subscriber(services, "b", "_INBOX.x 4")
    r = request(b, a, subject).reply.encode()
    a.send(b"".join(b"PUB %s 4\r\nrep%d\r\n" % (r, i) for i in range(3)))
    a.expect_nothing()
    assert raws(b) == [b"MSG _INBOX.x 4 4\r\nrep%d\r\n" % i for i in range(3)]


def test_service_only_reachable_through_import(services):
    """B's request on the exporter's own name (svc.x, svc.y: exported but that
    name is not imported) goes nowhere: with no_responders B gets the 503."""
    a = subscriber(services, "a", "svc.> 1")
    b = subscriber(services, "b", "_INBOX.x 4", no_responders=True)
    b.send(b"PUB svc.x _INBOX.x 1\r\nq\r\n")
    b.expect_frame(b"HMSG _INBOX.x 4 16 16\r\n" + STATUS_503 + b"\r\n")
    b.expect_nothing()
    b.send(b"PUB svc.y _INBOX.x 1\r\nq\r\n")
    b.expect_frame(b"HMSG _INBOX.x 4 16 16\r\n" + STATUS_503 + b"\r\n")
    b.expect_nothing()
    a.expect_nothing()


def test_service_import_without_responder_gives_no_status(services):
    """The import itself counts as a delivery: a request into a service
    import with nobody listening in A gets no 503, just silence."""
    b = subscriber(services, "b", "_INBOX.x 4", no_responders=True)
    b.send(b"PUB asvc _INBOX.x 1\r\nq\r\nPUB one _INBOX.x 1\r\nq\r\n")
    b.expect_nothing()
    # A later responder does not get the old requests either.
    a = subscriber(services, "a", "svc.> 1", "one 2")
    a.expect_nothing()
    b.expect_nothing()


def test_service_responder_cannot_reach_requester_inbox_directly(services):
    a = subscriber(services, "a", "svc.> 1", headers=False)
    b = subscriber(services, "b", "_INBOX.x 4")
    request(b, a, "asvc")
    a.send(b"PUB _INBOX.x 2\r\nno\r\n")
    a.expect_nothing()
    b.expect_nothing()


# ---- config checks ----------------------------------------------------------------------------

def _acc(a_extra="", b_extra="", more=""):
    return ("accounts {\n  A { users: [{user: a, password: a}]\n      %s }\n"
            "  B { users: [{user: b, password: b}]\n      %s }\n%s}\n" % (a_extra, b_extra, more))


BAD_IMPORTS = [
    ("stream_from_unknown_account",
     _acc(b_extra='imports: [ {stream: {account: Z, subject: "events.>"}} ]'),
     '"Z" account not defined for stream import'),
    ("service_from_unknown_account",
     _acc(b_extra='imports: [ {service: {account: Z, subject: "svc"}} ]'),
     '"Z" account not defined for service import'),
    ("stream_not_exported",
     _acc(a_extra='exports: [ {stream: "other"} ]', b_extra='imports: [ {stream: {account: A, subject: "events.>"}} ]'),
     'Error adding stream import "events.>": stream import not authorized'),
    ("stream_no_exports_at_all",
     _acc(b_extra='imports: [ {stream: {account: A, subject: "events.>"}} ]'),
     'Error adding stream import "events.>": stream import not authorized'),
    ("stream_wider_than_export",
     _acc(a_extra='exports: [ {stream: "events.x"} ]', b_extra='imports: [ {stream: {account: A, subject: "events.*"}} ]'),
     'Error adding stream import "events.*": stream import not authorized'),
    ("service_not_exported",
     _acc(a_extra='exports: [ {service: "other"} ]', b_extra='imports: [ {service: {account: A, subject: "svc"}} ]'),
     'Error adding service import "svc": service import not authorized'),
    ("service_import_of_stream_export",
     _acc(a_extra='exports: [ {stream: "svc"} ]', b_extra='imports: [ {service: {account: A, subject: "svc"}} ]'),
     'Error adding service import "svc": service import not authorized'),
    ("private_stream_unlisted_account",
     _acc(a_extra='exports: [ {stream: "priv.>", accounts: [B]} ]',
          more='  C { users: [{user: c, password: c}], imports: [ {stream: {account: A, subject: "priv.>"}} ] }\n'),
     'Error adding stream import "priv.>": stream import not authorized'),
    ("private_service_unlisted_account",
     _acc(a_extra='exports: [ {service: "svc", accounts: [B]} ]',
          more='  C { users: [{user: c, password: c}], imports: [ {service: {account: A, subject: "svc"}} ] }\n'),
     'Error adding service import "svc": service import not authorized'),
    ("stream_import_cycle",
     _acc(a_extra='exports: [ {stream: "ev.>"} ], imports: [ {stream: {account: B, subject: "ev.>"}} ]',
          b_extra='exports: [ {stream: "ev.>"} ], imports: [ {stream: {account: A, subject: "ev.>"}} ]'),
     'Error adding stream import "ev.>": import forms a cycle'),
    ("service_import_cycle",
     _acc(a_extra='exports: [ {service: "svc"} ], imports: [ {service: {account: B, subject: "svc"}} ]',
          b_extra='exports: [ {service: "svc"} ], imports: [ {service: {account: A, subject: "svc"}} ]'),
     'Error adding service import "svc": import forms a cycle'),
    ("stream_prefix_with_wildcard",
     _acc(a_extra='exports: [ {stream: "ev.>"} ]',
          b_extra='imports: [ {stream: {account: A, subject: "ev.>"}, prefix: "p.*"} ]'),
     'Error adding stream import "ev.>": stream import prefix can not contain wildcard tokens'),
]


@pytest.mark.parametrize("conf,error", [c[1:] for c in BAD_IMPORTS], ids=[c[0] for c in BAD_IMPORTS])
def test_bad_import_config_check(server_bin, tmp_path, conf, error):
    """`-t` exits 1 and names the file, the position of the `accounts` key
    and the error, on stderr."""
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert rc == 1, (rc, out, err)
    assert out == ""
    assert re.match(r"^%s: %s:\d+:\d+: %s\n" % (prog(server_bin), re.escape(path), re.escape(error)), err), err


def test_bad_imports_all_reported(server_bin, tmp_path):
    """Every bad import is reported, one per line, each line with the file
    position; only the first carries the `nats-server: ` prefix."""
    conf = _acc(b_extra='imports: [ {stream: {account: A, subject: "x"}} ]',
                more='  C { imports: [ {service: {account: A, subject: "s"}} ] }\n')
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert rc == 1
    assert err.startswith(prog(server_bin) + ": " + path + ":")
    lines = [re.sub(r"^%s:\d+:\d+: " % re.escape(path), "", ln)
             for ln in err[len(prog(server_bin) + ": "):].splitlines() if ln]
    assert sorted(lines) == ['Error adding service import "s": service import not authorized',
                             'Error adding stream import "x": stream import not authorized']


def test_bad_import_refused_at_startup(server_bin, tmp_path):
    """Without -t the same error stops the server: exit 1, nothing listening."""
    path = tmp_path / "bad.conf"
    path.write_text(BAD_IMPORTS[2][1])
    r = subprocess.run([server_bin, "-a", "127.0.0.1", "-p", str(free_port()), "-c", str(path)],
                       capture_output=True, text=True, timeout=5)
    assert r.returncode == 1
    assert 'Error adding stream import "events.>": stream import not authorized' in r.stderr


@pytest.mark.parametrize("conf", [STREAM_CONF, SERVICE_CONF, ISO_CONF], ids=["streams", "services", "isolation"])
def test_good_account_config_check(server_bin, tmp_path, conf):
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert (rc, out, err) == (0, "", "%s: configuration file %s is valid\n" % (prog(server_bin), path))


def test_no_auth_user_unknown(server_bin, tmp_path):
    """An unknown no_auth_user passes `-t` but stops a real start (exit 1)."""
    conf = _acc() + "no_auth_user: zz\n"
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert rc == 0, err
    r = subprocess.run([server_bin, "-a", "127.0.0.1", "-p", str(free_port()), "-c", path],
                       capture_output=True, text=True, timeout=5)
    assert r.returncode == 1
    assert r.stderr == (prog(server_bin) + ': no_auth_user: "zz" not present as user in authorization block '
                        'or account configuration\n')


def test_accountz_lists_accounts_with_their_connections(make_server):
    """/accountz names every account; ?acc=A counts A's clients and
    subscriptions (both servers; nats-server adds system imports, so
    subscriptions are compared as a difference)."""
    import json
    import urllib.request
    mport = free_port()
    s = make_server(conf=ISO_CONF, args=["-m", str(mport)])

    def get(path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (mport, path), timeout=5) as r:
            return json.load(r)

    from servers import wait_port
    wait_port(mport, proc=s.proc)
    assert {"$G", "A", "B", "$SYS"} <= set(get("/accountz")["accounts"])
    before = get("/accountz?acc=A")["account_detail"]
    a = login(s, "a")
    a.send(b"SUB foo 1\r\nSUB bar 2\r\n")
    a.flush()
    d = get("/accountz?acc=A")["account_detail"]
    assert d["account_name"] == "A"
    assert d["client_connections"] == before["client_connections"] + 1
    assert d["subscriptions"] == before["subscriptions"] + 2
    assert get("/accountz?acc=B")["account_detail"]["client_connections"] == 0


def test_connz_account_filter_and_auth_fields(make_server):
    """/connz?acc=A lists A's clients only (total counts them alone);
    auth=1 adds authorized_user, and account for clients outside $G."""
    import json
    import urllib.request
    from servers import wait_port
    mport = free_port()
    s = make_server(conf=ISO_CONF, args=["-m", str(mport)])
    wait_port(mport, proc=s.proc)

    def get(path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (mport, path), timeout=5) as r:
            return json.load(r)

    a, g = login(s, "a"), login(s, "g")
    a.flush()
    g.flush()
    everyone = get("/connz?auth=1")["connections"]
    by_user = {c["authorized_user"]: c for c in everyone}
    assert by_user["a"]["account"] == "A"
    assert "account" not in by_user["g"]
    assert "account" not in get("/connz")["connections"][0]
    only_a = get("/connz?acc=A")
    assert only_a["total"] == 1 and [c["cid"] for c in only_a["connections"]] == [by_user["a"]["cid"]]
    assert get("/connz?acc=B")["total"] == 0
