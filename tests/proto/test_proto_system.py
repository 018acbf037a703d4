"""The system account: $SYS events and $SYS.REQ requests (monitoring over
the system account); accounts themselves are in test_proto_accounts.py.

The contract checked here, as nats-server 2.9.10 behaves (observed with raw
sockets; config: accounts SYS, A, B with users sys/sys, a/a, b/b,
`system_account: SYS`, `server_name: n1`):

Every message below is a MSG without reply subject or headers, of compact
JSON as Go writes it (no whitespace; <, > and & inside strings escaped as
\\u003c, \\u003e, \\u0026, e.g. a subscription "foo.>" is "foo.\\u003e").
What the system account sends to its own subscribers (events, replies to
requests made in SYS) has an empty reply field: `MSG <subject> <sid>  <size>`
with two spaces; replies reaching another account through an import are
plain `MSG <inbox> <sid> <size>`.
Times are RFC 3339 UTC with up to 9 fraction digits ("...T08:13:53.09753761Z").
Event ids are 22-character nuids. The "server" object of every event and
reply is {"name":"n1","host":"127.0.0.1","id":<INFO server_id>,"ver":<INFO
version>,"seq":N,"jetstream":false,"time":T}; seq is one counter over all
messages the server sends from the system account, so it grows strictly
along what one subscriber receives (with gaps).

Events
- A client of A completing CONNECT: `$SYS.SERVER.ACCOUNT.A.CONNS`, then
  `$SYS.ACCOUNT.A.SERVER.CONNS` (the same message, same id and timestamp,
  next seq), then `$SYS.ACCOUNT.A.CONNECT`. CONNS is
  {"type":"io.nats.server.advisory.v1.account_connections","id","timestamp",
  "server","acc":"A","conns":N,"leafnodes":0,"total_conns":N,"sent":{"msgs",
  "bytes"},"received":{...},"slow_consumers":0}; its sent/received are the
  account's totals since start, live clients included (sent = delivered to
  A's clients, received = published by them). CONNECT is
  {"type":"io.nats.server.advisory.v1.client_connect","id","timestamp",
  "server","client":{"start","host":"127.0.0.1","id":<INFO client_id>,
  "acc":"A","user":"a",["name","lang","ver" when given in CONNECT],
  "kind":"Client","client_type":"nats"}} (no rtt).
- Its close: the two CONNS messages (conns one less) then
  `$SYS.ACCOUNT.A.DISCONNECT`: {"type":"io.nats.server.advisory.v1.
  client_disconnect","id","timestamp","server","client":{... as above, then
  "rtt":<int ns>,"stop":<the event's timestamp>,"kind","client_type"},"sent":{what the
  client published: msgs, bytes of payload+headers},"received":{what was
  delivered to it},"reason"}. Note the inversion: the disconnect event's
  "sent" is the client's, the account's "sent" is the server's. Reasons:
  "Client Closed", "Protocol Violation" (unknown op), "Maximum Message
  Payload Exceeded".
- Clients of SYS get the same events under $SYS.ACCOUNT.SYS....
- A failed login (bad password, unknown user, no credentials, an op before
  CONNECT): `$SYS.SERVER.<server_id>.CLIENT.AUTH.ERR`, shaped like a
  disconnect event, "acc":"$G", "user" only if CONNECT named one, "rtt" only
  if a CONNECT was received, sent/received zero, "reason":"Authentication
  Failure"; no DISCONNECT. An auth timeout produces neither.
- `$SYS.SERVER.<server_id>.STATSZ` {"server","statsz":{"start","mem","cores",
  "cpu","connections","total_connections","active_accounts","subscriptions",
  "sent","received","slow_consumers","active_servers"}} (no type/id): about
  0.25 s after start, then at doubling intervals (0.5, 1, 2, 4 s ...).

Server requests (from a client of SYS, reply on its inbox)
- `$SYS.REQ.SERVER.PING` and `.PING.STATSZ` answer {"server","statsz"} as
  above; `.PING.<X>` for X in VARZ, CONNZ, SUBSZ, HEALTHZ, ACCOUNTZ, JSZ,
  ROUTEZ, GATEWAYZ, LEAFZ answer {"server","data":<the monitoring
  document>}; `$SYS.REQ.SERVER.<server_id>.<X>` (and .STATSZ) the same.
  Another server id, `.PING.FOO`, `.PING.IDZ`, `.PING.STATZ`: no answer.
  healthz data is {"status":"ok"}; jsz has "disabled":true; leafz
  {"server_id","now","leafnodes":0,"leafs":null}; accountz {"server_id",
  "now","system_account":"SYS","accounts":[$G, SYS, A, B]}.
- The payload is JSON options: empty or `null` means none. CONNZ honours
  ConnzOptions names ("subscriptions", "subscriptions_detail", "auth", "acc",
  "cid", "user", "offset", "limit", "sort", "state"), "account" is unknown
  and ignored; SUBSZ takes "account", "subscriptions", "test"; ACCOUNTZ
  "account" (answers "account_detail"). Event filters "server_name", "host",
  "cluster" match as substrings of the server's (so "n" matches n1, "other"
  and "n12" do not); a request that does not match gets no answer.
- A payload that is not valid JSON for the options: {"server","error":
  {"code":400,"description":<Go's decoding error>}} (no "data"). An option
  the handler refuses (`{"sort":"bogus"}`): {"server","data":null,"error":
  {"code":500,"description":"invalid sorting option: bogus"}}.

Account requests `$SYS.REQ.ACCOUNT.<acc>.<X>`
- CONNZ, SUBSZ (with "subscriptions_list"), LEAFZ: the account's only.
- INFO: the account's detail {"account_name","update_time","expired",
  "complete","jetstream_enabled","leafnode_connections",
  "client_connections","subscriptions","imports","sublist_stats"}; every
  account but SYS imports the services $SYS.REQ.ACCOUNT.PING.CONNZ and
  $SYS.REQ.SERVER.PING.CONNZ (to $SYS.REQ.ACCOUNT.<acc>.CONNZ) and
  $SYS.REQ.ACCOUNT.PING.STATZ (to $SYS.REQ.ACCOUNT.<acc>.STATZ) from SYS
  (order of the list varies). SYS has "is_system":true and exports instead.
  Unknown account: {"server","data":null,"error":{"code":500,"description":
  "Account NOPE does not exist"}}.
- JSZ without JetStream: data null, error 500 "jetstream not enabled".
- STATZ: {"server","data":{"server_id","now","account_statz":[{"acc",
  "conns","leafnodes","total_conns","sent","received","slow_consumers"}]}}
  only for an account with connections; otherwise no answer unless the
  options say {"include_unused":true}. `$SYS.REQ.ACCOUNT.PING.STATZ` lists
  the accounts with connections (all with include_unused).
- CONNS: the account_connections event as reply, again only for an account
  with connections.

Other accounts
- Through the imports, a client of A asking `$SYS.REQ.SERVER.PING.CONNZ` or
  `$SYS.REQ.ACCOUNT.PING.CONNZ` gets the connz of A alone (whatever the
  options say about other accounts), `$SYS.REQ.ACCOUNT.PING.STATZ` A's
  statz. Anything else under $SYS.REQ is an ordinary subject of A: no
  responder (503 with no_responders). A's `$SYS.>` is A's own subject space:
  no event of the system account shows there, and nothing A publishes
  reaches SYS.
- Without system_account the server still has its own `$SYS` account, which
  no user can log into; the imports above still answer. With no config at
  all the same holds for $G, and server.name is the server id.
  `no_system_account: true` removes it all: every $SYS.REQ gets 503.

Quirks of nats-server 2.9.10 noted but not asserted: a connection is first
registered in $G, so a client of A connecting also produces $G CONNS
messages (conns 1) — from the moment the socket is accepted; a token login
that fails reports the token as "user" in AUTH.ERR; `$SYS.REQ.ACCOUNT.PING.
CONNZ` sent from SYS itself, and CONNZ `{"acc":"NOPE"}`, answer a connz with
"server_id":"" and "connections":null; two SUBs with the same sid keep the
first. Counts of subscriptions include the server's internal ones and are
not compared.
"""
import json
import os

import pytest

from proto import Conn, connect_line
from servers import Server, server_targets
from sysmsg import BASE, NUID, RFC3339, Events, Requester, check_frame, go_json, keys, login

SYS_CONF = """
server_name: n1
system_account: SYS
accounts {
  SYS { users: [ {user: sys, password: sys} ] }
  A { users: [ {user: a, password: a} ] }
  B { users: [ {user: b, password: b} ] }
}
"""

SERVER_KEYS = ["name", "host", "id", "ver", "seq", "jetstream", "time"]
CONNECT_KEYS = ["type", "id", "timestamp", "server", "client"]
DISCONNECT_KEYS = ["type", "id", "timestamp", "server", "client", "sent", "received", "reason"]
CONNS_KEYS = ["type", "id", "timestamp", "server", "acc", "conns", "leafnodes", "total_conns", "sent",
              "received", "slow_consumers"]
STATSZ_KEYS = ["start", "mem", "cores", "cpu", "connections", "total_connections", "active_accounts",
               "subscriptions", "sent", "received", "slow_consumers", "active_servers"]
ACCOUNT_STATZ_KEYS = ["acc", "conns", "leafnodes", "total_conns", "sent", "received", "slow_consumers"]
VARZ_KEYS = ["server_id", "server_name", "version", "proto", "go", "host", "port", "auth_required",
             "max_connections", "ping_interval", "ping_max", "http_host", "http_port", "http_base_path",
             "https_port", "auth_timeout", "max_control_line", "max_payload", "max_pending", "cluster",
             "gateway", "leaf", "mqtt", "websocket", "jetstream", "tls_timeout", "write_deadline", "start",
             "now", "uptime", "mem", "cores", "gomaxprocs", "cpu", "connections", "total_connections",
             "routes", "remotes", "leafnodes", "in_msgs", "out_msgs", "in_bytes", "out_bytes",
             "slow_consumers", "subscriptions", "http_req_stats", "config_load_time", "system_account"]
CONNZ_KEYS = ["server_id", "now", "num_connections", "total", "offset", "limit", "connections"]
CONN_KEYS = ["cid", "kind", "type", "ip", "port", "start", "last_activity", "rtt", "uptime", "idle",
             "pending_bytes", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions"]
SUBSZ_KEYS = ["server_id", "now", "num_subscriptions", "num_cache", "num_inserts", "num_removes",
              "num_matches", "cache_hit_rate", "max_fanout", "avg_fanout", "total", "offset", "limit"]
JSZ_KEYS = ["server_id", "now", "disabled", "config", "memory", "storage", "reserved_memory",
            "reserved_storage", "accounts", "ha_assets", "api", "streams", "consumers", "messages", "bytes"]
ACCOUNT_INFO_KEYS = ["account_name", "update_time", "expired", "complete", "jetstream_enabled",
                     "leafnode_connections", "client_connections", "subscriptions", "imports", "sublist_stats"]
IMPORT_KEYS = ["subject", "account", "to", "type", "invalid", "share", "tracking"]
ZERO = {"msgs": 0, "bytes": 0}


def system_imports(acc):
    return sorted([
        ("$SYS.REQ.ACCOUNT.PING.CONNZ", "SYS", "$SYS.REQ.ACCOUNT.%s.CONNZ" % acc, "service"),
        ("$SYS.REQ.SERVER.PING.CONNZ", "SYS", "$SYS.REQ.ACCOUNT.%s.CONNZ" % acc, "service"),
        ("$SYS.REQ.ACCOUNT.PING.STATZ", "SYS", "$SYS.REQ.ACCOUNT.%s.STATZ" % acc, "service"),
    ])


def check_server(obj, info, name="n1"):
    """The "server" object of an event or reply, against the INFO of a
    connection to the same server."""
    s = obj["server"]
    assert keys(s) == SERVER_KEYS, s
    assert s["name"] == name
    assert s["host"] == "127.0.0.1"
    assert s["id"] == info["server_id"]
    assert s["ver"] == info["version"]
    assert type(s["seq"]) is int and s["seq"] > 0
    assert s["jetstream"] is False
    assert RFC3339.match(s["time"]), s["time"]
    return s


def check_advisory(ev, kind, info):
    assert ev["type"] == "io.nats.server.advisory.v1." + kind
    assert NUID.match(ev["id"]), ev["id"]
    assert RFC3339.match(ev["timestamp"]), ev["timestamp"]
    check_server(ev, info)


def seqs(frames):
    return [json.loads(f.payload)["server"]["seq"] for f in frames]


def increasing(xs):
    return all(a < b for a, b in zip(xs, xs[1:]))


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=server_targets(), ids=lambda t: t[0])
def shared_server(request):
    """One server on SYS_CONF for the tests that only read (their counts
    would see each other's clients)."""
    s = Server(request.param[1], conf=SYS_CONF)
    yield s
    s.stop()
    if os.environ.get("GANNET_SANITIZER"):  # as conftest.check_sanitizer_reports
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                     "runtime error:"):
            assert mark not in s.log(), "sanitizer report in server log:\n" + s.log()[-6000:]


@pytest.fixture
def shared(shared_server, request):
    yield shared_server
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("---- log of %s (%s) ----\n%s" % (shared_server.kind, " ".join(shared_server.cmd),
                                                 shared_server.log()[-8000:]))


@pytest.fixture
def sysreq(shared):
    return Requester(login(shared, "sys"))


@pytest.fixture
def fresh(make_server):
    """A server of its own on SYS_CONF, for tests that count."""
    return make_server(conf=SYS_CONF)


# ---- connect / disconnect events -------------------------------------------------------------

def test_connect_event(fresh):
    ev = Events(fresh, "$SYS.>")
    a = login(fresh, "a", name="nm", lang="python", version="1.2.3")
    f, e = ev.event("$SYS.ACCOUNT.A.CONNECT", a.info["client_id"])
    assert keys(e) == CONNECT_KEYS
    check_advisory(e, "client_connect", a.info)
    c = e["client"]
    assert keys(c) == ["start", "host", "id", "acc", "user", "name", "lang", "ver", "kind", "client_type"]
    assert RFC3339.match(c["start"])
    assert (c["host"], c["id"], c["acc"], c["user"]) == ("127.0.0.1", a.info["client_id"], "A", "a")
    assert (c["name"], c["lang"], c["ver"]) == ("nm", "python", "1.2.3")
    assert (c["kind"], c["client_type"]) == ("Client", "nats")
    # Without name/lang/version in CONNECT those keys are left out.
    b = login(fresh, "b")
    _, e = ev.event("$SYS.ACCOUNT.B.CONNECT", b.info["client_id"])
    assert keys(e["client"]) == ["start", "host", "id", "acc", "user", "kind", "client_type"]
    assert (e["client"]["acc"], e["client"]["user"]) == ("B", "b")
    assert increasing(seqs(ev.seen))


def test_disconnect_event_counts_the_clients_traffic(fresh):
    """sent = what the client published (5 messages, 27 bytes of payload and
    headers), received = what was delivered to it (3, 22)."""
    ev = Events(fresh, "$SYS.>")
    a = login(fresh, "a", name="nm")
    cid = a.info["client_id"]
    _, conn = ev.event("$SYS.ACCOUNT.A.CONNECT", cid)
    a.send(b"SUB foo 1\r\nPUB foo 3\r\nabc\r\nPUB foo 5\r\nabcde\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
           b"PUB bar 4\r\nwxyz\r\nPUB bar 1\r\nq\r\n")
    assert len(a.flush()) == 3
    a.close()
    _, e = ev.event("$SYS.ACCOUNT.A.DISCONNECT", cid)
    assert keys(e) == DISCONNECT_KEYS
    check_advisory(e, "client_disconnect", a.info)
    c = e["client"]
    assert keys(c) == ["start", "host", "id", "acc", "user", "name", "rtt", "stop", "kind", "client_type"]
    assert c["start"] == conn["client"]["start"]
    assert (c["host"], c["id"], c["acc"], c["user"], c["name"]) == ("127.0.0.1", cid, "A", "a", "nm")
    assert type(c["rtt"]) is int and c["rtt"] > 0
    assert c["stop"] == e["timestamp"]
    assert (c["kind"], c["client_type"]) == ("Client", "nats")
    assert e["sent"] == {"msgs": 5, "bytes": 27}
    assert e["received"] == {"msgs": 3, "bytes": 22}
    assert e["reason"] == "Client Closed"
    assert increasing(seqs(ev.seen))


@pytest.mark.parametrize("op,err,reason", [
    (b"FOO\r\n", "Unknown Protocol Operation", "Protocol Violation"),
    (b"PUB foo 2000000\r\n", "Maximum Payload Violation", "Maximum Message Payload Exceeded"),
], ids=["unknown_op", "max_payload"])
def test_disconnect_reason_when_server_closes(fresh, op, err, reason):
    ev = Events(fresh, "$SYS.ACCOUNT.A.DISCONNECT")
    a = login(fresh, "a")
    a.send(op)
    a.expect_close(err)
    _, e = ev.event("$SYS.ACCOUNT.A.DISCONNECT", a.info["client_id"])
    assert e["reason"] == reason
    assert (e["sent"], e["received"]) == (ZERO, ZERO)


def test_account_conns_events(fresh):
    """Each connect and close of a client of A: the CONNS message on the old
    and the new subject, then CONNECT or DISCONNECT."""
    subjects = ["$SYS.SERVER.ACCOUNT.A.CONNS", "$SYS.ACCOUNT.A.SERVER.CONNS",
                "$SYS.ACCOUNT.A.CONNECT", "$SYS.ACCOUNT.A.DISCONNECT"]
    ev = Events(fresh, *subjects)
    old, new, connect, disconnect = subjects

    def three(last):
        fs = [ev.frame(), ev.frame(), ev.frame()]
        assert [f.subject for f in fs] == [old, new, last]
        assert increasing(seqs(fs))
        c1, c2, e = [go_json(f.payload) for f in fs]
        for c in (c1, c2):
            assert keys(c) == CONNS_KEYS
            check_advisory(c, "account_connections", a1.info)
            assert (c["acc"], c["leafnodes"], c["slow_consumers"]) == ("A", 0, 0)
        assert (c1["id"], c1["timestamp"]) == (c2["id"], c2["timestamp"])
        assert {k: v for k, v in c1.items() if k != "server"} == {k: v for k, v in c2.items() if k != "server"}
        return c1, e

    a1 = login(fresh, "a")
    c, e = three(connect)
    assert (c["conns"], c["total_conns"], c["sent"], c["received"]) == (1, 1, ZERO, ZERO)
    assert e["client"]["id"] == a1.info["client_id"]
    a2 = login(fresh, "a")
    c, e = three(connect)
    assert (c["conns"], c["total_conns"]) == (2, 2)
    assert e["client"]["id"] == a2.info["client_id"]
    a2.send(b"SUB foo 1\r\nPUB foo 3\r\nabc\r\nPUB foo 5\r\nabcde\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
            b"PUB bar 4\r\nwxyz\r\nPUB bar 1\r\nq\r\n")
    assert len(a2.flush()) == 3
    a2.close()
    c, e = three(disconnect)
    # The account's view: sent = delivered to its clients, received = published by them.
    assert (c["conns"], c["total_conns"]) == (1, 1)
    assert c["sent"] == {"msgs": 3, "bytes": 22}
    assert c["received"] == {"msgs": 5, "bytes": 27}
    assert e["client"]["id"] == a2.info["client_id"]
    a1.flush()
    a1.close()
    c, e = three(disconnect)
    assert (c["conns"], c["total_conns"]) == (0, 0)
    assert (c["sent"], c["received"]) == ({"msgs": 3, "bytes": 22}, {"msgs": 5, "bytes": 27})
    assert e["client"]["id"] == a1.info["client_id"]


def test_system_account_clients_have_events(fresh):
    ev = Events(fresh, "$SYS.ACCOUNT.SYS.>")
    s2 = login(fresh, "sys")
    _, c = ev.event("$SYS.ACCOUNT.SYS.SERVER.CONNS")
    assert (c["acc"], c["conns"]) == ("SYS", 2)
    _, e = ev.event("$SYS.ACCOUNT.SYS.CONNECT", s2.info["client_id"])
    assert (e["client"]["acc"], e["client"]["user"]) == ("SYS", "sys")
    s2.flush()
    s2.close()
    _, c = ev.event("$SYS.ACCOUNT.SYS.SERVER.CONNS")
    assert (c["acc"], c["conns"]) == ("SYS", 1)
    _, e = ev.event("$SYS.ACCOUNT.SYS.DISCONNECT", s2.info["client_id"])
    assert e["reason"] == "Client Closed"


# ---- authentication errors -----------------------------------------------------------------------

@pytest.mark.parametrize("first,client_keys,user", [
    (connect_line(dict(BASE, user="a", **{"pass": "wrong"})),
     ["start", "host", "id", "acc", "user", "rtt", "stop", "kind", "client_type"], "a"),
    (connect_line(dict(BASE, user="zz", name="nm", **{"pass": "a"})),
     ["start", "host", "id", "acc", "user", "name", "rtt", "stop", "kind", "client_type"], "zz"),
    (connect_line(BASE), ["start", "host", "id", "acc", "rtt", "stop", "kind", "client_type"], None),
    (b"SUB foo 1\r\n", ["start", "host", "id", "acc", "stop", "kind", "client_type"], None),
], ids=["bad_password", "unknown_user", "no_credentials", "op_before_connect"])
def test_auth_error_event(fresh, first, client_keys, user):
    ev = Events(fresh, "$SYS.SERVER.*.CLIENT.AUTH.ERR", "$SYS.ACCOUNT.*.DISCONNECT")
    c = Conn(fresh.port)
    cid = c.info["client_id"]
    c.send(first)
    c.expect_close("Authorization Violation")
    f, e = ev.event("$SYS.SERVER.%s.CLIENT.AUTH.ERR" % c.info["server_id"], cid)
    assert keys(e) == DISCONNECT_KEYS
    check_advisory(e, "client_disconnect", c.info)
    cl = e["client"]
    assert keys(cl) == client_keys
    assert (cl["host"], cl["id"], cl["acc"], cl.get("user")) == ("127.0.0.1", cid, "$G", user)
    assert cl["stop"] == e["timestamp"]
    if "rtt" in cl:
        assert type(cl["rtt"]) is int and cl["rtt"] > 0
    assert (e["sent"], e["received"], e["reason"]) == (ZERO, ZERO, "Authentication Failure")
    # No disconnect event for it (a later client's shows the events are through).
    b = login(fresh, "b")
    b.flush()
    b.close()
    ev.event("$SYS.ACCOUNT.B.DISCONNECT", b.info["client_id"])
    assert [f for f in ev.seen
            if f.subject.endswith(".DISCONNECT") and json.loads(f.payload)["client"]["id"] == cid] == []


def test_auth_timeout_has_no_event(make_server):
    s = make_server(conf=SYS_CONF + "authorization { timeout: 0.5 }\n")
    ev = Events(s, "$SYS.SERVER.*.CLIENT.AUTH.ERR", "$SYS.ACCOUNT.*.DISCONNECT")
    c = Conn(s.port)
    c.expect_close("Authentication Timeout", timeout=5)
    # A failed login after it: its AUTH.ERR is the first event.
    m = Conn(s.port)
    m.send(connect_line(dict(BASE, user="a", **{"pass": "wrong"})))
    m.expect_close("Authorization Violation")
    f = ev.frame()
    assert f.subject.endswith(".CLIENT.AUTH.ERR"), f
    assert json.loads(f.payload)["client"]["id"] == m.info["client_id"]


# ---- periodic STATSZ -------------------------------------------------------------------------------

def test_statsz_published_periodically(fresh):
    """At least two within 10 s of start (nats-server: ~0.25 s, then 0.75 s...)."""
    ev = Events(fresh, "$SYS.SERVER.*.STATSZ")
    info = ev.conn.info
    frames = [ev.frame(timeout=10), ev.frame(timeout=10)]
    for f in frames:
        check_frame(f, empty_reply=True)
        assert f.subject == "$SYS.SERVER.%s.STATSZ" % info["server_id"]
        m = go_json(f.payload)
        assert keys(m) == ["server", "statsz"]
        check_server(m, info)
        st = m["statsz"]
        assert keys(st) == STATSZ_KEYS
        assert RFC3339.match(st["start"])
        assert st["connections"] >= 1 and st["total_connections"] >= 1
        assert (st["slow_consumers"], st["active_servers"]) == (0, 1)
        assert keys(st["sent"]) == ["msgs", "bytes"] and keys(st["received"]) == ["msgs", "bytes"]
    assert increasing(seqs(frames))


# ---- server requests -------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["PING", "PING.STATSZ", "<id>.STATSZ"])
def test_server_ping_statsz(shared, sysreq, form):
    info = sysreq.conn.info
    r = sysreq.ask("$SYS.REQ.SERVER." + form.replace("<id>", info["server_id"]))
    assert keys(r) == ["server", "statsz"]
    check_server(r, info)
    st = r["statsz"]
    assert keys(st) == STATSZ_KEYS
    assert st["connections"] >= 1 and st["active_servers"] == 1


def test_server_request_seq_increases(sysreq):
    a = sysreq.ask("$SYS.REQ.SERVER.PING.HEALTHZ")
    b = sysreq.ask("$SYS.REQ.SERVER.PING")
    assert a["server"]["seq"] < b["server"]["seq"]


def check_varz(d, server, info):
    assert keys(d) == VARZ_KEYS
    assert (d["server_id"], d["server_name"], d["version"]) == (info["server_id"], "n1", info["version"])
    assert (d["host"], d["port"], d["auth_required"]) == ("127.0.0.1", server.port, True)
    assert d["system_account"] == "SYS"


def check_connz(d, server, info):
    assert keys(d) == CONNZ_KEYS
    assert d["server_id"] == info["server_id"]
    mine = [c for c in d["connections"] if c["cid"] == info["client_id"]]
    assert len(mine) == 1
    assert [k for k in keys(mine[0]) if k != "rtt"] == [k for k in CONN_KEYS if k != "rtt"]
    assert (mine[0]["kind"], mine[0]["type"], mine[0]["ip"]) == ("Client", "nats", "127.0.0.1")
    assert d["num_connections"] == len(d["connections"]) >= 1


def check_subsz(d, server, info):
    assert keys(d) == SUBSZ_KEYS
    assert d["server_id"] == info["server_id"]


def check_healthz(d, server, info):
    assert d == {"status": "ok"}


def check_accountz(d, server, info):
    assert keys(d) == ["server_id", "now", "system_account", "accounts"]
    assert (d["server_id"], d["system_account"]) == (info["server_id"], "SYS")
    assert sorted(d["accounts"]) == sorted(["$G", "SYS", "A", "B"])


def check_jsz(d, server, info):
    assert keys(d) == JSZ_KEYS
    assert (d["server_id"], d["disabled"]) == (info["server_id"], True)


def check_routez(d, server, info):
    assert keys(d) == ["server_id", "now", "num_routes", "routes"]
    assert (d["server_id"], d["num_routes"], d["routes"]) == (info["server_id"], 0, [])


def check_gatewayz(d, server, info):
    assert keys(d) == ["server_id", "now", "outbound_gateways", "inbound_gateways"]
    assert (d["server_id"], d["outbound_gateways"], d["inbound_gateways"]) == (info["server_id"], {}, {})


def check_leafz(d, server, info):
    assert keys(d) == ["server_id", "now", "leafnodes", "leafs"]
    assert (d["server_id"], d["leafnodes"], d["leafs"]) == (info["server_id"], 0, None)


ENDPOINTS = {"VARZ": check_varz, "CONNZ": check_connz, "SUBSZ": check_subsz, "HEALTHZ": check_healthz,
             "ACCOUNTZ": check_accountz, "JSZ": check_jsz, "ROUTEZ": check_routez,
             "GATEWAYZ": check_gatewayz, "LEAFZ": check_leafz}


@pytest.mark.parametrize("form", ["PING", "ID"])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_server_endpoint_request(shared, sysreq, endpoint, form):
    info = sysreq.conn.info
    target = info["server_id"] if form == "ID" else "PING"
    r = sysreq.ask("$SYS.REQ.SERVER.%s.%s" % (target, endpoint))
    assert keys(r) == ["server", "data"]
    check_server(r, info)
    ENDPOINTS[endpoint](r["data"], shared, info)
    if "now" in r["data"]:
        assert RFC3339.match(r["data"]["now"])


@pytest.mark.parametrize("subject", ["PING.FOO", "PING.IDZ", "PING.STATZ", "PING.PROFILEZ", "PING.VARZ.X",
                                     "<id>.FOO", "<id>.IDZ", "<other>.VARZ", "<other>.STATSZ"])
def test_server_request_without_answer(sysreq, subject):
    sysreq.silent("$SYS.REQ.SERVER." + subject.replace("<other>", "N" + "A" * 55)
                  .replace("<id>", sysreq.conn.info["server_id"]))


def test_server_request_empty_or_null_options(sysreq):
    for payload in (b"", b"null", b"{}"):
        assert keys(sysreq.ask("$SYS.REQ.SERVER.PING.HEALTHZ", payload)) == ["server", "data"]


@pytest.mark.parametrize("payload,answered", [
    (b'{"server_name":"n1"}', True),
    (b'{"server_name":"n"}', True),       # substring of the server's name
    (b'{"server_name":"1"}', True),
    (b'{"server_name":""}', True),
    (b'{"host":"127.0.0.1"}', True),
    (b'{"server_name":"other"}', False),
    (b'{"server_name":"n12"}', False),
    (b'{"host":"1.2.3.4"}', False),
    (b'{"cluster":"x"}', False),
    (b'{"server_name":"n1","cluster":"x"}', False),
])
@pytest.mark.parametrize("subject", ["PING", "PING.VARZ", "PING.HEALTHZ", "<id>.VARZ"])
def test_server_request_event_filter(sysreq, subject, payload, answered):
    subject = "$SYS.REQ.SERVER." + subject.replace("<id>", sysreq.conn.info["server_id"])
    if answered:
        r = sysreq.ask(subject, payload)
        assert "error" not in r and r["server"]["name"] == "n1"
    else:
        sysreq.silent(subject, payload)


@pytest.mark.parametrize("subject", ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.VARZ",
                                     "$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.SERVER.<id>.VARZ",
                                     "$SYS.REQ.ACCOUNT.A.CONNZ", "$SYS.REQ.ACCOUNT.A.INFO"])
def test_server_request_bad_options(sysreq, subject):
    """Not JSON, not an object, only blanks, a field of the wrong type: 400."""
    subject = subject.replace("<id>", sysreq.conn.info["server_id"])
    payloads = [b"{bad", b"[]", b"  ", b'{"server_name":5}']
    if subject.endswith("CONNZ"):
        payloads.append(b'{"limit":"x"}')
    for payload in payloads:
        r = sysreq.ask(subject, payload)
        assert keys(r) == ["server", "error"], payload
        assert keys(r["error"]) == ["code", "description"]
        assert r["error"]["code"] == 400, payload
        assert isinstance(r["error"]["description"], str) and r["error"]["description"]


def test_connz_refused_option(sysreq):
    r = sysreq.ask("$SYS.REQ.SERVER.PING.CONNZ", b'{"sort":"bogus"}')
    assert keys(r) == ["server", "data", "error"]
    assert r["data"] is None
    assert r["error"] == {"code": 500, "description": "invalid sorting option: bogus"}


def connz(req, payload=b"", subject="$SYS.REQ.SERVER.PING.CONNZ"):
    r = req.ask(subject, payload)
    assert keys(r) == ["server", "data"], r
    return r["data"]


def test_connz_options(shared, sysreq):
    a = login(shared, "a")
    a.send(b"SUB foo.> 1\r\nSUB bar q 2\r\n")
    a.flush()
    b = login(shared, "b")
    me, acid, bcid = sysreq.conn.info["client_id"], a.info["client_id"], b.info["client_id"]

    def by_cid(d):
        return {c["cid"]: c for c in d["connections"]}

    everyone = by_cid(connz(sysreq))
    assert {me, acid, bcid} <= set(everyone)
    assert "subscriptions_list" not in everyone[acid] and "account" not in everyone[acid]
    # subscriptions: the subjects (any order)
    got = by_cid(connz(sysreq, b'{"subscriptions":true}'))[acid]
    assert sorted(got["subscriptions_list"]) == ["bar", "foo.>"]
    assert keys(got)[-1] == "subscriptions_list"
    # subscriptions_detail: objects; ">" is written \u003e
    f = sysreq.ask_frame("$SYS.REQ.SERVER.PING.CONNZ", b'{"subscriptions_detail":true,"cid":%d}' % acid)
    assert b'"subject":"foo.\\u003e"' in f.payload
    got = go_json(f.payload)["data"]["connections"]
    assert [c["cid"] for c in got] == [acid]
    detail = sorted(got[0]["subscriptions_list_detail"], key=lambda d: d["sid"])
    assert detail == [{"subject": "foo.>", "sid": "1", "msgs": 0, "cid": acid},
                      {"subject": "bar", "qgroup": "q", "sid": "2", "msgs": 0, "cid": acid}]
    # auth: the user and, outside $G, the account
    got = by_cid(connz(sysreq, b'{"auth":true}'))
    assert (got[acid]["authorized_user"], got[acid]["account"]) == ("a", "A")
    assert (got[me]["authorized_user"], got[me]["account"]) == ("sys", "SYS")
    # acc: one account's connections; "account" is not a connz option
    d = connz(sysreq, b'{"acc":"A"}')
    assert acid in by_cid(d) and not {me, bcid} & set(by_cid(d))
    assert d["num_connections"] == d["total"] == len(d["connections"])
    assert {me, acid, bcid} <= set(by_cid(connz(sysreq, b'{"account":"A"}')))
    # cid: that connection alone
    d = connz(sysreq, b'{"cid":%d}' % bcid)
    assert [c["cid"] for c in d["connections"]] == [bcid] and d["num_connections"] == 1
    # user
    d = connz(sysreq, b'{"user":"b","auth":true}')
    assert set(by_cid(d)) >= {bcid} and {c["authorized_user"] for c in d["connections"]} == {"b"}
    # limit
    d = connz(sysreq, b'{"limit":1}')
    assert (d["limit"], d["num_connections"], len(d["connections"])) == (1, 1, 1)
    assert d["total"] >= 3


def test_subsz_options(shared, sysreq):
    a = login(shared, "a")
    a.send(b"SUB subsz.foo 1\r\nSUB subsz.bar q 2\r\n")
    a.flush()
    cid = a.info["client_id"]
    d = sysreq.ask("$SYS.REQ.SERVER.PING.SUBSZ")["data"]
    assert "subscriptions_list" not in d
    d = sysreq.ask("$SYS.REQ.SERVER.PING.SUBSZ", b'{"subscriptions":true,"test":"subsz.foo"}')["data"]
    assert keys(d) == SUBSZ_KEYS + ["subscriptions_list"]
    assert d["subscriptions_list"] == [{"account": "A", "subject": "subsz.foo", "sid": "1", "msgs": 0, "cid": cid}]
    assert d["total"] == 1
    d = sysreq.ask("$SYS.REQ.SERVER.PING.SUBSZ", b'{"subscriptions":true,"account":"A"}')["data"]
    mine = [s for s in d["subscriptions_list"] if s["cid"] == cid]
    assert sorted(mine, key=lambda s: s["sid"]) == [
        {"account": "A", "subject": "subsz.foo", "sid": "1", "msgs": 0, "cid": cid},
        {"account": "A", "subject": "subsz.bar", "qgroup": "q", "sid": "2", "msgs": 0, "cid": cid}]
    assert {s["account"] for s in d["subscriptions_list"]} == {"A"}


def test_accountz_account_detail(sysreq):
    d = sysreq.ask("$SYS.REQ.SERVER.PING.ACCOUNTZ", b'{"account":"A"}')["data"]
    assert keys(d) == ["server_id", "now", "system_account", "account_detail"]
    assert d["account_detail"]["account_name"] == "A"


# ---- account requests ------------------------------------------------------------------------------

def test_account_info(sysreq):
    r = sysreq.ask("$SYS.REQ.ACCOUNT.A.INFO")
    assert keys(r) == ["server", "data"]
    check_server(r, sysreq.conn.info)
    d = r["data"]
    assert keys(d) == ACCOUNT_INFO_KEYS
    assert (d["account_name"], d["expired"], d["complete"], d["jetstream_enabled"]) == ("A", False, True, False)
    assert RFC3339.match(d["update_time"])
    for imp in d["imports"]:
        assert keys(imp) == IMPORT_KEYS
        assert (imp["invalid"], imp["share"], imp["tracking"]) == (False, False, False)
    assert sorted((i["subject"], i["account"], i["to"], i["type"]) for i in d["imports"]) == system_imports("A")


def test_account_info_of_system_account(sysreq):
    d = sysreq.ask("$SYS.REQ.ACCOUNT.SYS.INFO")["data"]
    assert d["account_name"] == "SYS" and d["is_system"] is True
    assert keys(d)[:3] == ["account_name", "update_time", "is_system"]
    assert "imports" not in d
    assert sorted((e["subject"], e["type"], e["response_type"]) for e in d["exports"]) == [
        ("$SYS.DEBUG.SUBSCRIBERS", "service", "Singleton"),
        ("$SYS.REQ.ACCOUNT.*.CONNZ", "service", "Streamed"),
        ("$SYS.REQ.ACCOUNT.*.STATZ", "service", "Streamed")]


@pytest.mark.parametrize("subject,description", [
    ("$SYS.REQ.ACCOUNT.NOPE.INFO", "Account NOPE does not exist"),
    ("$SYS.REQ.ACCOUNT.A.JSZ", "jetstream not enabled"),
    ("$SYS.REQ.ACCOUNT.SYS.JSZ", "jetstream not enabled"),
])
def test_account_request_errors(sysreq, subject, description):
    r = sysreq.ask(subject)
    assert keys(r) == ["server", "data", "error"]
    assert r["data"] is None
    assert r["error"] == {"code": 500, "description": description}


@pytest.mark.parametrize("acc", ["A", "SYS", "$G"])
def test_account_leafz(sysreq, acc):
    d = sysreq.ask("$SYS.REQ.ACCOUNT.%s.LEAFZ" % acc)["data"]
    assert keys(d) == ["server_id", "now", "leafnodes", "leafs"]
    assert (d["leafnodes"], d["leafs"]) == (0, None)


@pytest.mark.parametrize("subject", ["$SYS.REQ.ACCOUNT.A.FOO", "$SYS.REQ.ACCOUNT.NOPE.STATZ",
                                     "$SYS.REQ.ACCOUNT.NOPE.CONNS", "$SYS.REQ.ACCOUNT.A.INFO.X"])
def test_account_request_without_answer(sysreq, subject):
    sysreq.silent(subject)


def test_account_connz_and_subsz(fresh):
    req = Requester(login(fresh, "sys"))
    a1, a2, b = login(fresh, "a"), login(fresh, "a"), login(fresh, "b")
    a1.send(b"SUB foo 1\r\nSUB bar q 2\r\n")
    a1.flush()
    d = connz(req, subject="$SYS.REQ.ACCOUNT.A.CONNZ")
    assert keys(d) == CONNZ_KEYS
    assert sorted(c["cid"] for c in d["connections"]) == sorted([a1.info["client_id"], a2.info["client_id"]])
    assert d["num_connections"] == d["total"] == 2
    # Options are honoured, but the account stays the subject's.
    d = connz(req, b'{"acc":"B","auth":true}', subject="$SYS.REQ.ACCOUNT.A.CONNZ")
    assert {c["account"] for c in d["connections"]} == {"A"} and d["total"] == 2
    d = req.ask("$SYS.REQ.ACCOUNT.A.SUBSZ")["data"]
    assert keys(d) == SUBSZ_KEYS + ["subscriptions_list"]
    assert {s["account"] for s in d["subscriptions_list"]} == {"A"}
    assert d["total"] == len(d["subscriptions_list"])
    mine = sorted((s["subject"], s.get("qgroup"), s["sid"]) for s in d["subscriptions_list"]
                  if s["cid"] == a1.info["client_id"])
    assert mine == [("bar", "q", "2"), ("foo", None, "1")]
    d = connz(req, subject="$SYS.REQ.ACCOUNT.B.CONNZ")
    assert [c["cid"] for c in d["connections"]] == [b.info["client_id"]]


def test_account_statz(fresh):
    req = Requester(login(fresh, "sys"))
    a = login(fresh, "a")
    a.flush()
    r = req.ask("$SYS.REQ.ACCOUNT.A.STATZ")
    assert keys(r) == ["server", "data"]
    d = r["data"]
    assert keys(d) == ["server_id", "now", "account_statz"]
    assert d["server_id"] == a.info["server_id"]
    [st] = d["account_statz"]
    assert keys(st) == ACCOUNT_STATZ_KEYS
    assert st == {"acc": "A", "conns": 1, "leafnodes": 0, "total_conns": 1, "sent": ZERO, "received": ZERO,
                  "slow_consumers": 0}
    # An account without connections: no answer, unless asked to include unused ones.
    req.silent("$SYS.REQ.ACCOUNT.B.STATZ")
    [st] = req.ask("$SYS.REQ.ACCOUNT.B.STATZ", b'{"include_unused":true}')["data"]["account_statz"]
    assert (st["acc"], st["conns"], st["total_conns"]) == ("B", 0, 0)
    # PING: every account with connections, or every account.
    d = req.ask("$SYS.REQ.ACCOUNT.PING.STATZ")["data"]
    assert sorted((s["acc"], s["conns"]) for s in d["account_statz"]) == [("A", 1), ("SYS", 1)]
    d = req.ask("$SYS.REQ.ACCOUNT.PING.STATZ", b'{"include_unused":true}')["data"]
    assert sorted((s["acc"], s["conns"]) for s in d["account_statz"]) == [("$G", 0), ("A", 1), ("B", 0), ("SYS", 1)]
    d = req.ask("$SYS.REQ.ACCOUNT.PING.STATZ", b'{"accounts":["B"],"include_unused":true}')["data"]
    assert [s["acc"] for s in d["account_statz"]] == ["B"]


def test_account_conns_request(fresh):
    req = Requester(login(fresh, "sys"))
    a = login(fresh, "a")
    a.flush()
    f = req.ask_frame("$SYS.REQ.ACCOUNT.A.CONNS")
    check_frame(f, empty_reply=True)
    e = go_json(f.payload)
    assert keys(e) == CONNS_KEYS
    check_advisory(e, "account_connections", a.info)
    assert (e["acc"], e["conns"], e["total_conns"]) == ("A", 1, 1)
    req.silent("$SYS.REQ.ACCOUNT.B.CONNS")


# ---- what the other accounts get -------------------------------------------------------------------

@pytest.mark.parametrize("subject", ["$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"])
def test_imported_connz_shows_own_account_only(fresh, subject):
    login(fresh, "sys").flush()
    b = login(fresh, "b")
    a2 = login(fresh, "a")
    req = Requester(login(fresh, "a"), system=False)
    want = sorted([req.conn.info["client_id"], a2.info["client_id"]])
    for payload in (b"", b'{"acc":"B"}', b'{"acc":"SYS"}'):
        r = req.ask(subject, payload)
        assert keys(r) == ["server", "data"]
        check_server(r, req.conn.info)
        d = r["data"]
        assert keys(d) == CONNZ_KEYS
        assert sorted(c["cid"] for c in d["connections"]) == want, payload
    d = connz(req, b'{"auth":true,"subscriptions":true}', subject=subject)
    mine = [c for c in d["connections"] if c["cid"] == req.conn.info["client_id"]][0]
    assert (mine["authorized_user"], mine["account"], mine["subscriptions_list"]) == ("a", "A", ["_INBOX.t.>"])
    assert b.info["client_id"] not in [c["cid"] for c in d["connections"]]


def test_imported_statz_shows_own_account_only(fresh):
    login(fresh, "b").flush()
    req = Requester(login(fresh, "a"), system=False)
    for payload in (b"", b'{"accounts":["B"],"include_unused":true}'):
        d = req.ask("$SYS.REQ.ACCOUNT.PING.STATZ", payload)["data"]
        assert keys(d) == ["server_id", "now", "account_statz"]
        assert [(s["acc"], s["conns"]) for s in d["account_statz"]] == [("A", 1)]


@pytest.mark.parametrize("subject", ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.VARZ",
                                     "$SYS.REQ.SERVER.<id>.CONNZ", "$SYS.REQ.ACCOUNT.A.CONNZ",
                                     "$SYS.REQ.ACCOUNT.A.STATZ", "$SYS.REQ.ACCOUNT.A.INFO"])
def test_other_system_requests_have_no_responder_in_account(shared, subject):
    req = Requester(login(shared, "a", no_responders=True), system=False)
    req.status(subject.replace("<id>", req.conn.info["server_id"]))


def test_account_sys_subjects_are_its_own(fresh):
    """A's `$SYS.>` is an ordinary subject space of A: its own publishes show
    there, no event of the system account does, and nothing goes to SYS."""
    sys_ev = Events(fresh, "$SYS.ACCOUNT.B.DISCONNECT", "foo", "$SYS.foo", "$SYS.ACCOUNT.Z.CONNECT")
    a = login(fresh, "a")
    a.send(b"SUB $SYS.> 1\r\nSUB > 2\r\n")
    a.flush()
    b = login(fresh, "b")
    b.flush()
    b.close()
    sys_ev.event("$SYS.ACCOUNT.B.DISCONNECT", b.info["client_id"])
    assert a.flush() == []
    a.send(b"PUB $SYS.foo 1\r\nx\r\nPUB foo 1\r\ny\r\nPUB $SYS.ACCOUNT.Z.CONNECT 1\r\nz\r\n"
           b"PUB $SYS.REQ.SERVER.PING.VARZ _INBOX.x 0\r\n\r\n")
    got = [(f.subject, f.sid) for f in a.flush()]
    assert sorted(got) == sorted([("$SYS.foo", "1"), ("$SYS.foo", "2"), ("foo", "2"),
                                  ("$SYS.ACCOUNT.Z.CONNECT", "1"), ("$SYS.ACCOUNT.Z.CONNECT", "2"),
                                  ("$SYS.REQ.SERVER.PING.VARZ", "1"), ("$SYS.REQ.SERVER.PING.VARZ", "2")])
    assert sys_ev.drain() == []


# ---- other configurations --------------------------------------------------------------------------

def test_implicit_system_account(make_server):
    """No system_account: the server's own $SYS serves the imports of A;
    nobody can log into it; normal traffic is not disturbed."""
    s = make_server(conf="server_name: n1\naccounts { A { users: [ {user: a, password: a} ] } }\n")
    sub = login(s, "a")
    sub.send(b"SUB foo 1\r\nSUB $SYS.> 2\r\n")
    sub.flush()
    req = Requester(login(s, "a", no_responders=True), system=False)
    req.conn.send(b"PUB foo 2\r\nhi\r\n")
    req.conn.flush()
    assert [f.raw for f in sub.flush()] == [b"MSG foo 1 2\r\nhi\r\n"]
    d = connz(req)
    assert sorted(c["cid"] for c in d["connections"]) == sorted([sub.info["client_id"], req.conn.info["client_id"]])
    d = req.ask("$SYS.REQ.ACCOUNT.PING.STATZ")["data"]
    assert [(x["acc"], x["conns"]) for x in d["account_statz"]] == [("A", 2)]
    # `$SYS.REQ.SERVER.PING.VARZ` reaches only sub's `$SYS.>` (a responder, so no 503).
    assert [f.subject for f in sub.flush()] == ["$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.STATZ"]
    req.silent("$SYS.REQ.SERVER.PING.VARZ", sentinel=("$SYS.REQ.SERVER.PING.CONNZ", b""))
    assert [f.subject for f in sub.flush()] == ["$SYS.REQ.SERVER.PING.VARZ", "$SYS.REQ.SERVER.PING.CONNZ"]
    c = Conn(s.port)
    c.send(connect_line(dict(BASE, user="$SYS", **{"pass": ""})))
    c.expect_close("Authorization Violation")


def test_default_config_global_account_imports(make_server):
    """No config at all: $G imports the same three services; server.name is
    the server id."""
    s = make_server()
    req = Requester(Conn(s.port), system=False)
    req.conn.send(connect_line(dict(BASE, no_responders=True)))
    req.conn.flush()
    other = Conn(s.port)
    other.send(connect_line(BASE))
    other.flush()
    r = req.ask("$SYS.REQ.SERVER.PING.CONNZ")
    check_server(r, req.conn.info, name=req.conn.info["server_id"])
    assert sorted(c["cid"] for c in r["data"]["connections"]) == sorted(
        [req.conn.info["client_id"], other.info["client_id"]])
    d = req.ask("$SYS.REQ.ACCOUNT.PING.STATZ")["data"]
    assert [(x["acc"], x["conns"]) for x in d["account_statz"]] == [("$G", 2)]
    req.status("$SYS.REQ.SERVER.PING.VARZ")
    req.status("$SYS.REQ.SERVER.PING")


def test_no_system_account(make_server):
    s = make_server(conf="no_system_account: true\nserver_name: n1\n")
    req = Requester(Conn(s.port), system=False)
    req.conn.send(connect_line(dict(BASE, no_responders=True)))
    req.conn.flush()
    for subject in ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.VARZ", "$SYS.REQ.SERVER.PING.CONNZ",
                    "$SYS.REQ.SERVER.%s.VARZ" % req.conn.info["server_id"], "$SYS.REQ.ACCOUNT.PING.CONNZ",
                    "$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS.REQ.ACCOUNT.$G.CONNZ"]:
        req.status(subject)
    # Nor are there events to see (in $G or anywhere).
    watcher = Conn(s.port)
    watcher.send(connect_line(BASE) + b"SUB $SYS.> 1\r\n")
    watcher.flush()
    x = Conn(s.port)
    x.send(connect_line(BASE))
    x.flush()
    x.close()
    assert watcher.flush() == []
