"""The route protocol on the wire: a fake route peer over a raw socket
against one node's cluster port (nats-compat.md 3.1-3.3).

The node is a one-node cluster `C1` named A (topology `n` or `g`; `nn`...
where a second node is needed). The fake peer sends what a nats-server
2.9.10 route sends: `CONNECT {"echo":true,"verbose":false,"pedantic":false,
"tls_required":false,"headers":true,"name":"<id>","cluster":"C1",
"lnoc":true}` then `INFO {...}` with a fake 56-character id starting with N.
Interest of the system account ($SYS) is ignored throughout: every
implementation has its own internal subscriptions.

The contract checked here, as nats-server 2.9.10 behaves:
- The node sends its INFO at once: `INFO {...} \\r\\n` with exactly the
  keys server_id, server_name, version ("2.9.10"), proto (2), go, host,
  port (the cluster port), headers (true), max_payload (1048576), nonce
  (15 characters, new per connection), cluster ("C1"), connect_urls (the
  node's client URLs, ["127.0.0.1:<port>"]), lnoc (true), in that order.
- After our CONNECT and INFO it sends all local interest as RS+ (`RS+ $G
  <subj>`, `RS+ $G <subj> <queue> <weight>` with weight = the number of
  members) and then, about 1 s after the route was created, its first
  `PING`; our `PING` is answered with `PONG`. `verbose` is ignored: no +OK.
- A dialling node (a route configured to our listener) sends the same
  CONNECT with its own server_id as name, then its INFO (nonce included),
  then after our INFO its interest; /routez shows did_solicit and
  is_configured true.
- Interest: `SUB foo` -> `RS+ $G foo` (a second SUB foo: nothing), queue
  members -> `RS+ $G bar q1 1`, `RS+ $G bar q1 2`, one leaves ->
  `RS+ $G bar q1 1`, the last -> `RS- $G bar q1`; the last plain sub ->
  `RS- $G foo`; wildcards as given (`RS+ $G foo.*`). Accounts are named
  in every op: `RS+ A foo`.
- Our messages are delivered to local clients: `RMSG $G foo 5` -> `MSG foo
  1 5`, `RMSG $G foo rep 5` -> `MSG foo 1 rep 5`, `RMSG $G bar | q1 2` to
  exactly one q1 member, `RMSG $G x + reply q1 2` -> `MSG x <sid> reply 2`,
  `HMSG $G foo 12 14` -> `HMSG foo 1 12 14`; a plain RMSG (no queue names)
  is not given to queue subscribers.
- A client's messages to our interest (RS+): `RMSG $G zzz 2`,
  `RMSG $G zzz r 2`, `RMSG $G qq | grp 2`, `RMSG $G qq + r grp 2`,
  `HMSG $G zzz 12 14`, `HMSG $G qq + r grp 12 14`; our RS- stops them.
  With a local queue member as well, the group's messages are shared
  between it and the route (no local preference).
- One hop: an RMSG from one route peer is never passed to another route
  peer with the same interest; a client's message goes to both.
- Gossip: when a second peer registers, the node sends the first one that
  peer's INFO (`INFO {...}\\r\\n`, no space before CRLF, no nonce,
  `"ip":"nats-route://127.0.0.1:<its port>/"`), pushes the peer's
  connect_urls to its clients, and another member dials the address the
  peer advertised (an implicit route: did_solicit true, is_configured
  false). Entering lame duck mode, the node sends its routes INFO with
  `"ldm":true` (no nonce).
- Refusals (nothing is sent before the close unless an -ERR is listed):
  cluster name mismatch in CONNECT -> `-ERR 'Rejecting connection, cluster
  name "X" does not match "C1"'` + close (a client CONNECT, which has no
  cluster, gets the same with ""); mismatch only in INFO -> close; CONNECT
  with "lang" -> `-ERR 'attempted to connect to route port'` + close; with
  "gateway" -> `-ERR 'Rejecting connection from gateway "GW" on the Route
  port'` + close; our INFO with the node's own server_id (self route),
  with its server_name (duplicate name), or with the id of a peer already
  registered (duplicate route; the first stays) -> close; unknown op (`FOO`,
  or `MSG` on a route) -> `-ERR 'Unknown Protocol Operation'` + close, also
  a payload longer than the RMSG says; `RS+ $G foo q` (queue without
  weight), `RMSG $G foo x` (bad size), `INFO {bad` -> close. `RS+` for an
  unknown account is ignored (logged) and the route stays.
"""
import json
import re
import signal

import pytest

from cluster import (ACCOUNTS_AB, FakeListener, RouteConn, fake_server_id, is_sys, login, rmsg, route_connect,
                     route_info, topologies)
from proto import msg
from servers import poll

# The fakes here speak nats-server 2.9.10's route protocol, byte for byte;
# gannet nodes run with `pool_size: -1` and `compression: "not supported"`,
# where they speak exactly that (the defaults, nats-server 2.10's pooling
# and compression negotiation, have their own wire tests in
# test_cluster_pool.py).
NO_POOL = -1
OLD = dict(pool_size=NO_POOL, compression="not supported")

INFO_KEYS = ["server_id", "server_name", "version", "proto", "go", "host", "port", "headers", "max_payload", "nonce",
             "cluster", "connect_urls", "lnoc"]


@pytest.fixture(params=topologies(1))
def node(request, make_cluster):
    """Node A, alone in cluster C1."""
    return make_cluster(request.param, **OLD)[0]


@pytest.fixture
def fakes():
    """Factory of fake route peers registered at a node; closed at teardown."""
    made = []

    def make(node, register=True, **kw):
        r = RouteConn(node.cport)
        made.append(r)
        if register:
            r.handshake(**kw)
        return r

    yield make
    for r in made:
        r.close()


def noise(f):
    """$SYS interest, and gossip INFOs (tested on their own)."""
    return is_sys(f) or f.op == "INFO"


def ops(r):
    """Raw bytes of the operations (but noise) received before our PING's PONG."""
    return [f.raw for f in r.rflush() if not noise(f)]


def expect_ops_any(r, want, timeout=5.0):
    """As expect_ops, in any order: interest in different subjects is independent."""
    got = []
    while len(got) < len(want):
        f = r.rframe(timeout)
        if not noise(f):
            got.append(f.raw)
    assert sorted(got) == sorted(want)
    assert ops(r) == []


def expect_ops(r, want, timeout=5.0):
    """The next operations (but noise) are exactly want (in order), then nothing."""
    got = []
    while len(got) < len(want):
        f = r.rframe(timeout)
        if not noise(f):
            got.append(f.raw)
    assert got == [w if isinstance(w, bytes) else w.encode() for w in want]
    assert ops(r) == []


def closed_with(r, err=None):
    """The node closes, having sent (besides $SYS interest) only -ERR err."""
    got = [f.raw for f in r.read_close() if not is_sys(f) and f.op != "PING"]
    assert got == ([] if err is None else [b"-ERR '" + err.encode() + b"'\r\n"])


def client_ops(c, data):
    """Send data on a client connection; the frames it got before PONG."""
    c.send(data)
    return [f.raw for f in c.flush()]


# ---- handshake -------------------------------------------------------------------------------

def test_route_info(node):
    r = RouteConn(node.cport)
    line = r.info_line
    assert re.fullmatch(rb"INFO \{.*\} \r\n", line, re.S), line
    info = r.info
    assert json.dumps(info, separators=(",", ":")).encode() == line[5:-3], "compact JSON"
    assert list(info) == INFO_KEYS
    assert info["server_id"] == node.server_id and re.fullmatch(r"N[A-Z2-7]{55}", info["server_id"])
    assert info["server_name"] == "A"
    assert info["version"] == "2.9.10"
    assert info["proto"] == 2
    assert isinstance(info["go"], str)
    assert info["host"] == "127.0.0.1"
    assert info["port"] == node.cport
    assert info["headers"] is True
    assert info["max_payload"] == 1048576
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}", info["nonce"]), info["nonce"]
    assert info["cluster"] == "C1"
    assert info["connect_urls"] == ["127.0.0.1:%d" % node.port]
    assert info["lnoc"] is True
    assert RouteConn(node.cport).info["nonce"] != info["nonce"]


def test_registration_sends_interest_then_ping(node, fakes):
    c = node.client()
    client_ops(c, b"SUB pre 1\r\nSUB preq qq 2\r\nSUB preq qq 3\r\nSUB pre.* 4\r\n")
    r = fakes(node)
    before_ping = []
    while True:
        f = r.rframe(timeout=5, auto_pong=False)
        if f.op == "PING":
            break
        if not is_sys(f):
            before_ping.append(f.raw)
    assert sorted(before_ping) == sorted([b"RS+ $G pre\r\n", b"RS+ $G preq qq 2\r\n", b"RS+ $G pre.*\r\n"])
    r.send(b"PONG\r\n")
    assert ops(r) == []  # our PING is answered with PONG
    assert node.num_routes() == 1
    rz = node.routez()["routes"][0]
    assert rz["remote_id"] == r.server_id and rz["did_solicit"] is False and rz["is_configured"] is False


def test_verbose_ignored_on_routes(node, fakes):
    r = fakes(node, connect_extra={"verbose": True})
    assert ops(r) == []  # no +OK before the PONG


@pytest.mark.parametrize("topology", topologies(1))
def test_node_dials_configured_route(make_cluster, topology):
    lst = FakeListener()
    try:
        c = make_cluster.unstarted(topology, **OLD)
        c[0].routes = [lst.port]
        c.start()
        n = c[0]
        cl_conn = n.client()
        client_ops(cl_conn, b"SUB dialled 1\r\n")
        s = lst.accept(timeout=5)
        f = s.rframe()
        assert f.raw == route_connect(n.server_id)
        f = s.rframe()
        assert f.op == "INFO" and re.fullmatch(rb"INFO \{.*\} \r\n", f.raw, re.S), f.raw
        assert list(f.info) == INFO_KEYS and f.info["server_id"] == n.server_id and f.info["port"] == n.cport
        fid = fake_server_id()
        s.send(route_info(fid))
        expect_ops(s, [b"RS+ $G dialled\r\n"])
        assert poll(lambda: n.num_routes() == 1, 5)
        rz = n.routez()["routes"][0]
        assert rz["remote_id"] == fid and rz["did_solicit"] is True and rz["is_configured"] is True
        assert rz["port"] == lst.port
    finally:
        lst.close()


# ---- interest from the node ------------------------------------------------------------------

def test_interest_forms(node, fakes):
    r = fakes(node)
    assert ops(r) == []
    c = node.client()
    steps = [
        (b"SUB foo 1\r\n", [b"RS+ $G foo\r\n"]),
        (b"SUB foo 11\r\n", []),
        (b"SUB bar q1 2\r\n", [b"RS+ $G bar q1 1\r\n"]),
        (b"SUB bar q1 3\r\n", [b"RS+ $G bar q1 2\r\n"]),
        (b"UNSUB 3\r\n", [b"RS+ $G bar q1 1\r\n"]),
        (b"UNSUB 2\r\n", [b"RS- $G bar q1\r\n"]),
        (b"UNSUB 11\r\n", []),
        (b"UNSUB 1\r\n", [b"RS- $G foo\r\n"]),
        (b"SUB foo.* 4\r\n", [b"RS+ $G foo.*\r\n"]),
        (b"SUB foo.> 5\r\n", [b"RS+ $G foo.>\r\n"]),
    ]
    for op, want in steps:
        client_ops(c, op)
        expect_ops(r, want)


def test_client_close_removes_interest(node, fakes):
    r = fakes(node)
    c = node.client()
    client_ops(c, b"SUB gone 1\r\nSUB goneq g 2\r\n")
    got = []
    while len(got) < 2:  # in either order: the two subjects' interest is independent
        f = r.rframe(timeout=5)
        if not noise(f):
            got.append(f.raw)
    assert sorted(got) == [b"RS+ $G gone\r\n", b"RS+ $G goneq g 1\r\n"]
    assert ops(r) == []
    c.close()
    got = []
    while len(got) < 2:
        f = r.rframe(timeout=5)
        if not is_sys(f):
            got.append(f.raw)
    assert sorted(got) == [b"RS- $G gone\r\n", b"RS- $G goneq g\r\n"]


@pytest.mark.parametrize("topology", topologies(1))
def test_accounts_named_in_ops(make_cluster, fakes, topology):
    n = make_cluster(topology, extra_conf=ACCOUNTS_AB, **OLD)[0]
    r = fakes(n)
    a, b = login(n, "a"), login(n, "b")
    client_ops(a, b"SUB foo 1\r\n")
    expect_ops(r, [b"RS+ A foo\r\n"])
    client_ops(b, b"SUB foo 1\r\nSUB bar g 2\r\n")
    expect_ops_any(r, [b"RS+ B foo\r\n", b"RS+ B bar g 1\r\n"])
    r.send(b"RMSG A foo 3\r\nfor\r\nRMSG B foo 2\r\nbb\r\n")
    r.rflush()
    assert [f.raw for f in a.flush()] == [msg("foo", 1, "for")]
    assert [f.raw for f in b.flush()] == [msg("foo", 1, "bb")]
    r.send(b"RS+ A zzz\r\n")
    r.rflush()
    client_ops(a, b"PUB zzz 1\r\na\r\n")
    client_ops(b, b"PUB zzz 1\r\nb\r\n")
    expect_ops(r, [rmsg("A", "zzz", "a")])


# ---- messages from the peer ------------------------------------------------------------------

def test_rmsg_delivered_to_local_clients(node, fakes):
    r = fakes(node)
    c = node.client()
    c2 = node.client()
    client_ops(c, b"SUB foo 1\r\nSUB bar q1 2\r\nSUB x q1 6\r\nSUB foo.* 4\r\nSUB foo.> 5\r\n")
    client_ops(c2, b"SUB bar q1 3\r\n")
    r.rflush()

    def delivered(data):
        r.send(data)
        r.rflush()
        return [f.raw for f in c.flush()]

    assert delivered(b"RMSG $G foo 5\r\nhello\r\n") == [b"MSG foo 1 5\r\nhello\r\n"]
    assert delivered(b"RMSG $G foo rep 5\r\nhello\r\n") == [b"MSG foo 1 rep 5\r\nhello\r\n"]
    assert delivered(b"RMSG $G x + reply q1 2\r\nhi\r\n") == [b"MSG x 6 reply 2\r\nhi\r\n"]
    assert sorted(delivered(b"RMSG $G foo.a 2\r\nhi\r\n")) == [b"MSG foo.a 4 2\r\nhi\r\n", b"MSG foo.a 5 2\r\nhi\r\n"]
    assert delivered(b"HMSG $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n") == [b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"]
    assert delivered(b"HMSG $G foo rr 12 14\r\nNATS/1.0\r\n\r\nhi\r\n") == \
        [b"HMSG foo 1 rr 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"]
    # A queue group named in the RMSG: exactly one member of it.
    for _ in range(10):
        r.send(b"RMSG $G bar | q1 2\r\nhi\r\n")
    r.rflush()
    got = [f.raw for f in c.flush()] + [f.raw for f in c2.flush()]
    assert len(got) == 10
    assert set(got) <= {b"MSG bar 2 2\r\nhi\r\n", b"MSG bar 3 2\r\nhi\r\n"}, got
    # No queue named: queue subscribers do not get it.
    assert delivered(b"RMSG $G bar 2\r\nhi\r\n") == []
    assert [f.raw for f in c2.flush()] == []


def test_client_messages_to_our_interest(node, fakes):
    r = fakes(node)
    r.send(b"RS+ $G zzz\r\nRS+ $G qq grp 2\r\n")
    assert ops(r) == []
    c = node.client()
    client_ops(c, b"PUB zzz 2\r\nhi\r\nPUB zzz r 2\r\nhi\r\nPUB qq 2\r\nhi\r\nPUB qq r 2\r\nhi\r\n"
                  b"HPUB zzz 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHPUB qq r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
                  b"PUB nobody 2\r\nhi\r\n")
    expect_ops(r, [b"RMSG $G zzz 2\r\nhi\r\n", b"RMSG $G zzz r 2\r\nhi\r\n", b"RMSG $G qq | grp 2\r\nhi\r\n",
                   b"RMSG $G qq + r grp 2\r\nhi\r\n", b"HMSG $G zzz 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                   b"HMSG $G qq + r grp 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"])
    # Our RS- stops them.
    r.send(b"RS- $G zzz\r\nRS- $G qq grp\r\n")
    assert ops(r) == []
    client_ops(c, b"PUB zzz 2\r\nhi\r\nPUB qq 2\r\nhi\r\n")
    assert ops(r) == []


def test_queue_shared_with_local_member(node, fakes):
    """Our queue interest (weight 1) and a local member of the same group:
    both get messages (no local preference)."""
    r = fakes(node)
    r.send(b"RS+ $G work grp 1\r\n")
    r.rflush()
    c = node.client()
    client_ops(c, b"SUB work grp 1\r\n")
    expect_ops(r, [b"RS+ $G work grp 1\r\n"])
    p = node.client()
    p.send(b"PUB work 1\r\nx\r\n" * 200)
    p.flush()
    local = len(c.flush())
    remote = 0
    while local + remote < 200:
        f = r.rframe(timeout=5)
        if not noise(f):
            assert f.raw == b"RMSG $G work | grp 1\r\nx\r\n"
            remote += 1
    assert ops(r) == [] and c.flush() == []
    assert local > 0 and remote > 0, (local, remote)


def test_one_hop(node, fakes):
    r1, r2 = fakes(node), fakes(node)
    c = node.client()
    client_ops(c, b"SUB hop 1\r\n")
    for r in (r1, r2):
        expect_ops(r, [b"RS+ $G hop\r\n"])
        r.send(b"RS+ $G hop\r\n")
        assert ops(r) == []
    r1.send(b"RMSG $G hop 2\r\nr1\r\n")
    c.expect_frame(msg("hop", 1, "r1"))  # the node has processed r1's message
    assert client_ops(c, b"PUB hop 3\r\ncli\r\n") == [msg("hop", 1, "cli")]
    # r2's next message is the client's: r1's was not passed on.
    expect_ops(r2, [b"RMSG $G hop 3\r\ncli\r\n"])
    expect_ops(r1, [b"RMSG $G hop 3\r\ncli\r\n"])


def test_unknown_account_ignored(node, fakes):
    r = fakes(node)
    r.send(b"RS+ NOACC foo\r\nRS+ NOACC bar q 1\r\nRMSG NOACC foo 2\r\nhi\r\n")
    assert ops(r) == []
    r.send(b"RS+ $G ok\r\n")
    assert ops(r) == []
    client_ops(node.client(), b"PUB ok 2\r\nhi\r\n")
    expect_ops(r, [b"RMSG $G ok 2\r\nhi\r\n"])
    assert node.num_routes() == 1


def test_route_ping_pong(node, fakes):
    """The node PINGs an idle route (first PING about 1 s after the route
    was created; not timed here) and answers our PING."""
    r = fakes(node)
    r.auto_pong = False
    while True:
        f = r.rframe(timeout=10)
        if f.op == "PING":
            break
        assert is_sys(f), f
    r.send(b"PONG\r\nPING\r\n")
    while True:
        f = r.rframe(timeout=5)
        if f.op == "PONG":
            break
        assert is_sys(f), f
    assert node.num_routes() == 1


# ---- gossip ------------------------------------------------------------------------------------

def test_new_peer_info_forwarded(node, fakes):
    r1 = fakes(node, info_extra={"connect_urls": ["127.0.0.1:9991"]})
    assert ops(r1) == []
    c = node.client()
    assert sorted(c.info["connect_urls"]) == sorted(["127.0.0.1:%d" % node.port, "127.0.0.1:9991"])
    r2 = fakes(node, info_extra={"connect_urls": ["127.0.0.1:9992"], "port": 4999})
    assert ops(r2) == []
    f = r1.rframe(timeout=5)
    while is_sys(f):
        f = r1.rframe(timeout=5)
    assert f.op == "INFO" and re.fullmatch(rb"INFO \{.*\} ?\r\n", f.raw, re.S), f.raw
    fw = f.info
    assert fw["server_id"] == r2.server_id and fw["server_name"] == "fake" and fw["cluster"] == "C1"
    assert fw["port"] == 4999 and fw["ip"] == "nats-route://127.0.0.1:4999/"
    assert fw["connect_urls"] == ["127.0.0.1:9992"]
    assert "nonce" not in fw
    f = c.frame(timeout=5)
    assert f.op == "INFO" and sorted(f.info["connect_urls"]) == sorted(
        ["127.0.0.1:%d" % node.port, "127.0.0.1:9991", "127.0.0.1:9992"])
    r2.close()
    f = c.frame(timeout=5)
    assert f.op == "INFO" and sorted(f.info["connect_urls"]) == sorted(["127.0.0.1:%d" % node.port, "127.0.0.1:9991"])


@pytest.mark.parametrize("topology", topologies(2))
def test_member_dials_gossiped_peer(make_cluster, fakes, topology):
    c = make_cluster(topology, **OLD)
    a, b = c.nodes
    lst = FakeListener()
    try:
        r = fakes(a, info_extra={"port": lst.port})
        assert ops(r) == []
        s = lst.accept(timeout=5)
        assert s.rframe().raw == route_connect(b.server_id)
        f = s.rframe()
        assert f.op == "INFO" and f.info["server_id"] == b.server_id
        s.send(route_info(r.server_id, port=lst.port))
        assert [f.raw for f in s.rflush() if not is_sys(f)] == []
        assert poll(lambda: b.num_routes() == 2, 5)
        rz = [x for x in b.routez()["routes"] if x["remote_id"] == r.server_id]
        assert len(rz) == 1 and rz[0]["did_solicit"] is True and rz[0]["is_configured"] is False
    finally:
        lst.close()


@pytest.mark.parametrize("topology", topologies(1))
def test_lame_duck_info_to_routes(make_cluster, fakes, topology):
    n = make_cluster(topology, extra_conf='lame_duck_duration: "30s"\nlame_duck_grace_period: "10s"\n',
                     **OLD)[0]
    r = fakes(n)
    assert ops(r) == []
    c = n.client()  # keeps the node in lame duck mode
    n.server.proc.send_signal(signal.SIGUSR2)
    f = r.rframe(timeout=5)
    while is_sys(f):
        f = r.rframe(timeout=5)
    assert f.op == "INFO", f
    assert f.info["ldm"] is True and f.info["server_id"] == n.server_id
    assert f.info["connect_urls"] == ["127.0.0.1:%d" % n.port]
    assert "nonce" not in f.info
    f = c.frame(timeout=5)
    assert f.op == "INFO" and f.info["ldm"] is True
    n.stop(signal.SIGKILL)  # a TERM would wait for the grace period


# ---- refusals ----------------------------------------------------------------------------------

def test_cluster_name_mismatch(node, fakes):
    r = fakes(node, register=False)
    fid = fake_server_id()
    r.send(route_connect(fid, cluster="X") + route_info(fid, cluster="X"))
    closed_with(r, 'Rejecting connection, cluster name "X" does not match "C1"')
    assert node.num_routes() == 0


def test_cluster_name_mismatch_in_info_only(node, fakes):
    r = fakes(node, register=False)
    fid = fake_server_id()
    r.send(route_connect(fid) + route_info(fid, cluster="X"))
    closed_with(r)


def test_client_on_route_port(node, fakes):
    r = fakes(node, register=False)
    r.send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\nPING\r\n')
    closed_with(r, 'Rejecting connection, cluster name "" does not match "C1"')
    r = fakes(node, register=False)
    r.send(b'CONNECT {"verbose":false,"pedantic":false,"lang":"go","version":"1.0"}\r\n')
    closed_with(r, "attempted to connect to route port")


def test_gateway_on_route_port(node, fakes):
    r = fakes(node, register=False)
    r.send(b'CONNECT {"verbose":false,"pedantic":false,"gateway":"GW"}\r\n')
    closed_with(r, 'Rejecting connection from gateway "GW" on the Route port')


def test_self_route(node, fakes):
    r = fakes(node, register=False)
    r.send(route_connect(node.server_id) + route_info(node.server_id, name="A"))
    closed_with(r)
    assert node.num_routes() == 0


def test_duplicate_server_name(node, fakes):
    r = fakes(node, register=False)
    fid = fake_server_id()
    r.send(route_connect(fid) + route_info(fid, name="A"))
    closed_with(r)
    assert node.num_routes() == 0


def test_duplicate_route(node, fakes):
    r1 = fakes(node)
    assert ops(r1) == []
    r2 = fakes(node, register=False)
    r2.send(route_connect(r1.server_id) + route_info(r1.server_id))
    closed_with(r2)
    assert ops(r1) == []  # the first one stays
    assert node.num_routes() == 1
    assert node.routez()["routes"][0]["remote_id"] == r1.server_id


def test_unknown_op_before_connect(node, fakes):
    r = fakes(node, register=False)
    r.send(b"FOO bar\r\n")
    closed_with(r, "Unknown Protocol Operation")


@pytest.mark.parametrize("data,err", [
    (b"FOO bar\r\n", "Unknown Protocol Operation"),
    (b"MSG foo 1 2\r\nhi\r\n", "Unknown Protocol Operation"),
    (b"RMSG $G foo 2\r\nhello\r\n", "Unknown Protocol Operation"),
    (b"RS+ $G foo q\r\n", None),
    (b"RMSG $G foo x\r\n", None),
    (b"INFO {bad\r\n", None),
], ids=["unknown-op", "MSG", "payload-overrun", "queue-without-weight", "bad-size", "bad-info-json"])
def test_protocol_errors_after_registration(node, fakes, data, err):
    r = fakes(node)
    assert ops(r) == []
    r.send(data)
    closed_with(r, err)
    assert poll(lambda: node.num_routes() == 0, 5)
