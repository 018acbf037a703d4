"""nats-server 2.10's route pooling and pinned accounts, as gannet speaks it
(cluster { pool_size: N, accounts: [...] }; the default pool is 3 and the
system account $SYS is pinned whenever there is a pool).

Which servers
    nats-server 2.9.10, the reference Debian ships (REFERENCE_BIN, letter
    `n`), has no route pooling: it is not a pooling peer to test against,
    and faking its conformance here would be wrong. So:
    - the fake-peer tests (a raw socket speaking 2.10's route protocol) and
      the gannet-only cluster tests run on topologies without `n`. A 2.10+
      nats-server passed as NATS_SERVER_BIN at another path than
      REFERENCE_BIN counts as `g` in tests/lib/cluster.py (binary_for,
      Node.kind), gets the same `pool_size`/`accounts` config lines and is
      exercised the same way; nothing here depends on gannet-only keys
      (INFO's "go", "version");
    - the mixed clusters (gannet with 2.9.10) check that gannet negotiates
      down to one connection per gannet-nats-server pair.

The contract checked here (nats-server 2.10's route.go, addRoute and
createRoute, as the brief of gannet's commit 4c0dbcd describes it):
- Route INFO ends `"lnoc":true,"route_pool_size":N` then
  `"route_pool_idx":k` (left out when 0) and/or `"route_account":"A"`
  (a pinned connection).
- Accepting: the node's INFO is sent at once, with route_pool_size and no
  route_pool_idx. A peer's connections register by the slot (or pinned
  account) their INFO names; /routez lists each (num_routes counts
  connections) with `"pool_idx": k` or `"account": "A"`; /varz cluster has
  `"pool_size": N`.
- Refusals on an accepted connection: `-ERR 'Mismatch route pool size:
  3 vs 4'`, `-ERR 'Invalid route pool index: 5 - pool size is 3'`,
  `-ERR 'No route for account "B"'` (an account the node does not pin),
  `-ERR 'Not possible to have a dedicated route for account "A" between
  those servers'` (the node has no pool); each then closes. A second
  connection for a slot or pinned account already served is closed
  without a word (nats-server's duplicate route), the first stays.
- Dialling: the node sends `CONNECT {...}` and nothing else until the
  peer's INFO; then its INFO, whose place is the first free slot, then the
  first pinned account without a connection (the first connection: slot
  0, no route_pool_idx). Once the first registers it dials the others
  (pool_size + pinned in all) and no more. On the peer's INFO naming a
  route_pool_idx: `-ERR 'Route pool index should not be set but is set to
  2'`. A closed connection is replaced by one dial, which takes the freed
  place. A peer without route_pool_size (2.9) gets one connection carrying
  every account, pinned ones too, each named in RS+/RMSG.
- Traffic: an unpinned account A travels only on slot fnv1a32(A) %
  pool_size (cluster.pool_idx, Go's hash/fnv New32a); a pinned account only
  on its own connection, where the account token is left out: `RS+ subj`,
  `RS+ subj queue 1`, `RS- subj`, `RMSG subj [reply] n`, `RMSG subj | q n`,
  `HMSG subj h n`, in both directions. System interest travels on the
  $SYS connection only.
- Clusters of gannets (pool 1, 3, 8, pinned [A]) carry $G, A and B
  isolated, queue groups once per group cluster-wide, request/reply; each
  peer pair has pool + 2 connections (pool_idx 0..N-1 once each, A, $SYS).
- Mixed with 2.9.10 (gannet pool 8, pinned [A]): one connection per
  gannet-nats-server pair, the pool between gannets, traffic in $G, A and
  B both ways, and no redial churn (the same rids 3 s later, no -ERR in the
  logs).
"""
import json
import socket
import time

import pytest

import cluster as cl
from cluster import (ACCOUNTS_AB, FakeListener, RouteConn, drain, fake_server_id, is_sys, login, pool_idx,
                     route_connect, route_info, route_interest, sync_interest, topologies, uniq)
from proto import ProtoError, msg
from servers import poll

POOL = 3  # the default pool_size

# See the module docstring: nats-server 2.9.10 has no pooling.
FAKE_TOPOLOGIES = [t for t in topologies(1) if "n" not in t]
GANNET_TOPOLOGIES = [t for t in topologies(3) if "n" not in t]
# Mixed clusters, gannet and 2.9.10 (the pairs and two 3-node layouts with
# two gannets, which pool between themselves).
MIXED_TOPOLOGIES = [t for t in topologies(2) + topologies(3)
                    if "g" in t and "n" in t and t in ("gn", "ng", "gng", "ngg")]

# $G clients need a user of their own once accounts have users: a user of
# the top-level authorization block is in $G (nats-server and gannet alike).
ACCOUNTS_GAB = ACCOUNTS_AB + """
authorization { users: [ {user: g, password: g} ] }
"""
USERS = {"$G": "g", "A": "a", "B": "b"}


def info10(fid, **extra):
    """A 2.10 peer's route INFO: route_pool_size POOL unless given (None:
    left out, a 2.9 peer), then route_pool_idx / route_account if given."""
    o = {"version": "2.10.0", "route_pool_size": POOL}
    o.update(extra)
    return route_info(fid, **{k: v for k, v in o.items() if v is not None})


def sysline(f):
    """Interest of the system account as a $SYS-pinned connection carries
    it: `RS+ $SYS.<...>` (no account token)."""
    return f.op in ("RS+", "RS-") and bool(f.args) and f.args[0].startswith("$SYS.")


def noise(f):
    """$SYS interest (either form: every implementation has its own internal
    subscriptions) and gossip INFOs."""
    return is_sys(f) or sysline(f) or f.op == "INFO"


def ops(r):
    """Raw bytes of the operations (but noise) received before our PING's PONG."""
    return [f.raw for f in r.rflush() if not noise(f)]


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
    got = [f.raw for f in r.read_close() if not noise(f) and f.op != "PING"]
    assert got == ([] if err is None else [b"-ERR '" + err.encode() + b"'\r\n"])


def client_ops(c, data):
    c.send(data)
    return [f.raw for f in c.flush()]


def silent(r, seconds):
    """Nothing at all arrives on r for `seconds` (a bounded wait)."""
    try:
        f = r.rframe(timeout=seconds, auto_pong=False)
    except ProtoError as e:
        if "timeout" in str(e) and not r.buf:
            return True
        raise
    raise AssertionError("expected nothing for %.1fs, got %r" % (seconds, f))


def no_dial(lst, seconds):
    """The node does not dial the listener again within `seconds`."""
    try:
        s = lst.accept(timeout=seconds)
    except socket.timeout:
        return True
    first = b""
    try:
        first = s.rframe(timeout=1).raw
    except ProtoError:
        pass
    s.close()
    raise AssertionError("unexpected extra route connection, which sent %r" % first)


def routes_to(node, rid, query=""):
    return [r for r in node.routez(query)["routes"] if r["remote_id"] == rid]


def places(routes):
    """Sorted (kind, value) of route connections: ("idx", k) or ("acc", A)."""
    out = []
    for r in routes:
        assert not ("pool_idx" in r and "account" in r), r
        out.append(("idx", r["pool_idx"]) if "pool_idx" in r else ("acc", r.get("account")))
    return sorted(out, key=lambda p: (p[0], str(p[1])))


def pool_places(pool, pinned):
    return sorted([("idx", i) for i in range(pool)] + [("acc", a) for a in pinned], key=lambda p: (p[0], str(p[1])))


def after_lnoc(info):
    keys = list(info)
    return keys[keys.index("lnoc") + 1:]


@pytest.fixture(params=FAKE_TOPOLOGIES)
def node(request, make_cluster):
    """Node A alone in C1, default pool (3), no accounts: clients in $G."""
    return make_cluster(request.param)[0]


@pytest.fixture(params=FAKE_TOPOLOGIES)
def node_ab(request, make_cluster):
    """Node A alone in C1, default pool, accounts A (pinned) and B."""
    return make_cluster(request.param, extra_conf=ACCOUNTS_AB, pinned=["A"])[0]


@pytest.fixture
def fakes():
    """fakes(node, fid, register=True, **info10 extras) -> RouteConn to the
    node's cluster port, as a 2.10 peer with server id fid; registered (its
    frames before the first PONG kept in .initial) unless register=False.
    A connection with route_account is parsed as pinned. Closed at teardown."""
    made = []

    def make(node, fid, register=True, **info):
        r = RouteConn(node.cport)
        made.append(r)
        r.server_id = fid
        if info.get("route_account"):
            r.pinned_account = info["route_account"]
        if register:
            r.send(route_connect(fid) + info10(fid, **info))
            r.initial = r.rflush()
        return r

    yield make
    for r in made:
        r.close()


def fake_pool(node, fakes, pins=("$SYS",)):
    """One fake peer's full pool at node: {0: conn, 1: conn, 2: conn,
    "$SYS": conn, ...}."""
    fid = fake_server_id()
    conns = {}
    for i in range(POOL):
        conns[i] = fakes(node, fid, route_pool_idx=i or None)
    for a in pins:
        conns[a] = fakes(node, fid, route_account=a)
    return conns


# ---- 1a. a 2.10 peer dials the node ------------------------------------------------------------

@pytest.mark.parametrize("topology", FAKE_TOPOLOGIES)
def test_accepted_info_has_pool_size(make_cluster, topology):
    n = make_cluster(topology)[0]
    r = RouteConn(n.cport)
    info = r.info
    assert info["server_id"] == n.server_id
    assert after_lnoc(info) == ["route_pool_size"], r.info_line
    assert info["route_pool_size"] == POOL
    r.close()
    n8 = make_cluster(topology, pool_size=8)[0]
    r = RouteConn(n8.cport)
    assert after_lnoc(r.info) == ["route_pool_size"] and r.info["route_pool_size"] == 8, r.info_line
    r.close()
    assert n8.varz()["cluster"]["pool_size"] == 8
    assert n.varz()["cluster"]["pool_size"] == POOL


def test_accepted_pool_registers_by_index(node, fakes):
    fid = fake_server_id()
    r0 = fakes(node, fid)  # no route_pool_idx: slot 0
    rz = node.routez()
    assert rz["num_routes"] == 1
    assert rz["routes"][0]["remote_id"] == fid and rz["routes"][0]["pool_idx"] == 0
    assert "account" not in rz["routes"][0]
    r1 = fakes(node, fid, route_pool_idx=1)
    r2 = fakes(node, fid, route_pool_idx=2)
    rs = fakes(node, fid, route_account="$SYS")
    rz = node.routez()
    assert rz["num_routes"] == 4
    assert {r["remote_id"] for r in rz["routes"]} == {fid}
    assert all(r["did_solicit"] is False for r in rz["routes"])
    assert places(rz["routes"]) == pool_places(POOL, ["$SYS"])
    for r in (r0, r1, r2, rs):
        assert ops(r) == []


def test_interest_on_its_slot_only(node, fakes):
    conns = fake_pool(node, fakes)
    slot = pool_idx("$G", POOL)
    assert slot == 2  # fnv1a32("$G") = 2059166108
    # System interest: on the $SYS connection only, without the account token.
    sysops = [f for f in conns["$SYS"].initial]
    assert sysops, "no system interest on the $SYS connection"
    for f in sysops:
        assert f.op == "RS+" and len(f.args) == 1 and f.args[0].startswith("$SYS."), f.raw
    for i in range(POOL):
        assert [f.raw for f in conns[i].initial if f.op != "INFO"] == [], "pool connection %d" % i
    c = node.client()
    # one step at a time: changes a node makes in one go may be sent as their sum
    steps = [(b"SUB foo 1\r\n", b"RS+ $G foo\r\n"), (b"SUB bar q1 2\r\n", b"RS+ $G bar q1 1\r\n"),
             (b"SUB bar q1 3\r\n", b"RS+ $G bar q1 2\r\n"), (b"UNSUB 1\r\n", b"RS- $G foo\r\n"),
             (b"UNSUB 2\r\n", b"RS+ $G bar q1 1\r\n"), (b"UNSUB 3\r\n", b"RS- $G bar q1\r\n")]
    for op, want in steps:
        client_ops(c, op)
        expect_ops(conns[slot], [want])
        for k, r in conns.items():
            if k != slot:
                assert [f.raw for f in r.rflush() if f.op != "INFO" and not sysline(f)] == [], (op, k)
    # the node's /routez shows the fake's interest on the connection it came on
    conns[slot].send(b"RS+ $G fromfake\r\n")
    assert ops(conns[slot]) == []
    sub_of = {(r.get("pool_idx"), r.get("account")): [s["sid"] for s in r.get("subscriptions_list_detail") or []]
              for r in node.routez("?subs=detail")["routes"]}
    assert sub_of[(slot, None)] == ["$G fromfake"]
    assert all(v == [] for k, v in sub_of.items() if k != (slot, None)), sub_of


def test_messages_on_the_slot(node, fakes):
    conns = fake_pool(node, fakes)
    slot = pool_idx("$G", POOL)
    c = node.client()
    client_ops(c, b"SUB subj 1\r\n")
    expect_ops(conns[slot], [b"RS+ $G subj\r\n"])
    conns[slot].send(b"RMSG $G subj 2\r\nhi\r\nRMSG $G subj rr 2\r\nho\r\n")
    conns[slot].rflush()
    assert [f.raw for f in c.flush()] == [msg("subj", 1, "hi"), msg("subj", 1, "ho", reply="rr")]
    # the fake's interest: a client's messages go out on that connection only
    conns[slot].send(b"RS+ $G zzz\r\nRS+ $G qq grp 1\r\n")
    assert ops(conns[slot]) == []
    client_ops(node.client(), b"PUB zzz 2\r\nhi\r\nPUB qq r 2\r\nhi\r\nHPUB zzz 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    expect_ops(conns[slot], [b"RMSG $G zzz 2\r\nhi\r\n", b"RMSG $G qq + r grp 2\r\nhi\r\n",
                             b"HMSG $G zzz 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"])
    for k, r in conns.items():
        if k != slot:
            assert ops(r) == [], k


# ---- 1b. a pinned account ----------------------------------------------------------------------

def test_pinned_account_without_token(node_ab, fakes):
    n = node_ab
    conns = fake_pool(n, fakes, pins=("A", "$SYS"))
    ra = conns["A"]
    a, b = login(n, "a"), login(n, "b")
    bslot = pool_idx("B", POOL)
    # interest from the node: A's on the A connection without the token, B's on B's slot with it
    client_ops(a, b"SUB foo 1\r\nSUB wq grp 2\r\n")
    expect_ops(ra, [b"RS+ foo\r\n", b"RS+ wq grp 1\r\n"])
    client_ops(b, b"SUB foo 1\r\n")
    expect_ops(conns[bslot], [b"RS+ B foo\r\n"])
    for k, r in conns.items():
        if k not in ("A", bslot):
            assert ops(r) == [], k
    client_ops(a, b"UNSUB 2\r\n")
    expect_ops(ra, [b"RS- wq grp\r\n"])
    # the fake's interest on the A connection: A's messages, without the token
    ra.send(b"RS+ subj\r\nRS+ qq grp 1\r\n")
    assert ops(ra) == []
    client_ops(a, b"PUB subj 2\r\nhi\r\nPUB subj r 2\r\nhi\r\nPUB qq 2\r\nhi\r\nPUB qq r 2\r\nhi\r\n"
                  b"HPUB subj 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    client_ops(b, b"PUB subj 2\r\nbb\r\n")  # B has no such interest from the fake
    expect_ops(ra, [b"RMSG subj 2\r\nhi\r\n", b"RMSG subj r 2\r\nhi\r\n", b"RMSG qq | grp 2\r\nhi\r\n",
                    b"RMSG qq + r grp 2\r\nhi\r\n", b"HMSG subj 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"])
    for k, r in conns.items():
        if k != "A":
            assert ops(r) == [], k
    # the fake's messages on the A connection: to A's subscribers, not B's
    ra.send(b"RMSG foo 2\r\nhi\r\nRMSG foo rep 3\r\nhey\r\nHMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    ra.rflush()
    assert [f.raw for f in a.flush()] == [msg("foo", 1, "hi"), msg("foo", 1, "hey", reply="rep"),
                                         b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"]
    assert b.flush() == []
    # and B's on B's slot, with the token
    conns[bslot].send(b"RMSG B foo 2\r\nbb\r\n")
    conns[bslot].rflush()
    assert [f.raw for f in b.flush()] == [msg("foo", 1, "bb")]
    assert a.flush() == []
    rz = {r.get("account"): r for r in n.routez("?subs=detail")["routes"] if r.get("account")}
    assert sorted(s["sid"] for s in rz["A"]["subscriptions_list_detail"]) == ["qq grp", "subj"]


def test_system_messages_on_sys_connection(node_ab, fakes):
    """The node's system events (connect/disconnect, account conns) go out
    on the $SYS connection only, without the account token, in the order
    of their server.seq: nats-server's updateRemoteServer logs `Received
    out of order remote server update` for a seq not above the last one."""
    conns = fake_pool(node_ab, fakes, pins=("A", "$SYS"))
    rs = conns["$SYS"]
    rs.send(b"RS+ $SYS.ACCOUNT.>\r\nRS+ $SYS.SERVER.>\r\n")
    assert ops(rs) == []
    rounds = 100
    for _ in range(rounds):
        for c in [login(node_ab, "a"), login(node_ab, "b")]:
            c.close()
    got = []
    deadline = time.monotonic() + 10

    def disconnects():
        return sum(1 for f in got if f.subject.endswith(".DISCONNECT"))

    while disconnects() < 2 * rounds:
        assert time.monotonic() < deadline, "%d of %d disconnect events" % (disconnects(), 2 * rounds)
        f = rs.rframe(timeout=max(0.1, deadline - time.monotonic()))
        if f.op in ("RMSG", "HMSG"):
            assert f.raw.startswith(b"RMSG $SYS.") or f.raw.startswith(b"HMSG $SYS."), f.raw  # no token
            got.append(f)
    for k, r in conns.items():
        if k != "$SYS":
            assert [f.raw for f in r.rflush() if f.op in ("RMSG", "HMSG")] == [], k
    seqs = [json.loads(f.payload)["server"]["seq"] for f in got]
    descents = [(got[i - 1].raw.split(b"\r\n")[0], seqs[i - 1], got[i].raw.split(b"\r\n")[0], seqs[i])
                for i in range(1, len(seqs)) if seqs[i] <= seqs[i - 1]]
    assert descents == [], "%d of %d system messages with a seq not above the one before, e.g. %r" % (
        len(descents), len(seqs), descents[:3])


# ---- 1c. refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("info,err", [
    ({"route_pool_size": 4}, "Mismatch route pool size: 3 vs 4"),
    ({"route_pool_size": 1}, "Mismatch route pool size: 3 vs 1"),
    ({"route_pool_idx": 5}, "Invalid route pool index: 5 - pool size is 3"),
    ({"route_pool_idx": 3}, "Invalid route pool index: 3 - pool size is 3"),
    ({"route_account": "B"}, 'No route for account "B"'),
    ({"route_account": "NOSUCH"}, 'No route for account "NOSUCH"'),
], ids=["size-4", "size-1", "idx-5", "idx-3", "account-not-pinned", "account-unknown"])
def test_refused(node_ab, fakes, info, err):
    r = fakes(node_ab, fake_server_id(), register=False)
    r.send(route_connect(r.server_id) + info10(r.server_id, **info))
    closed_with(r, err)
    assert poll(lambda: node_ab.num_routes() == 0, 5)
    assert err in node_ab.log()


@pytest.mark.parametrize("place", [{}, {"route_pool_idx": 1}, {"route_account": "A"}, {"route_account": "$SYS"}],
                         ids=["slot-0", "slot-1", "pinned-A", "pinned-SYS"])
def test_duplicate_place_closed(node_ab, fakes, place):
    fid = fake_server_id()
    first = fakes(node_ab, fid, **place)
    other = fakes(node_ab, fid, route_pool_idx=2)
    dup = fakes(node_ab, fid, register=False, **place)
    dup.send(route_connect(fid) + info10(fid, **place))
    closed_with(dup)
    assert ops(first) == [] and ops(other) == []  # the first stays
    rz = routes_to(node_ab, fid)
    assert len(rz) == 2
    want = ("acc", place["route_account"]) if "route_account" in place else ("idx", place.get("route_pool_idx", 0))
    assert places(rz) == sorted([want, ("idx", 2)], key=lambda p: (p[0], str(p[1])))


@pytest.mark.parametrize("topology", FAKE_TOPOLOGIES)
def test_dedicated_route_without_pool(make_cluster, fakes, topology):
    n = make_cluster(topology, extra_conf=ACCOUNTS_AB, pool_size=-1)[0]
    r = RouteConn(n.cport)
    assert "route_pool_size" not in r.info, r.info_line  # no pool: 2.9.10's INFO
    r.close()
    r = fakes(n, fake_server_id(), register=False)
    r.send(route_connect(r.server_id) + info10(r.server_id, route_account="A"))
    closed_with(r, 'Not possible to have a dedicated route for account "A" between those servers')
    assert poll(lambda: n.num_routes() == 0, 5)
    # the same peer's pooled connection is taken as its one route
    r = fakes(n, r.server_id)
    assert ops(r) == []
    rz = n.routez()["routes"]
    assert len(rz) == 1 and "pool_idx" not in rz[0] and "account" not in rz[0]


# ---- 1d. the node dials a 2.10 peer ------------------------------------------------------------

def start_dialling(make_cluster, topology, lst, **kw):
    c = make_cluster.unstarted(topology, **kw)
    c[0].routes = [lst.port]
    c.start()
    return c[0]


def accept_first(n, lst):
    """The node's first connection to lst: CONNECT, then nothing until our INFO."""
    s = lst.accept(timeout=5)
    assert s.rframe(auto_pong=False).raw == route_connect(n.server_id)
    silent(s, 0.5)
    return s


def answer(s, fid, **info):
    """Send our INFO on a connection the node dialled; its INFO in return."""
    s.send(info10(fid, **info))
    f = s.rframe()
    assert f.op == "INFO", f
    assert f.raw.endswith(b"} \r\n"), f.raw  # a connection's first INFO
    assert f.info["server_id"] != fid
    return f


def dialled_pool(n, lst, pins=("$SYS",)):
    """Accept the node's whole pool to our fake; {place: conn}, fid."""
    s0 = accept_first(n, lst)
    fid = fake_server_id()
    f = answer(s0, fid)
    assert f.info["server_id"] == n.server_id and f.info["port"] == n.cport
    assert after_lnoc(f.info) == ["route_pool_size"] and f.info["route_pool_size"] == POOL, f.raw
    conns = {0: s0}
    wants = [("route_pool_idx", i) for i in range(1, POOL)] + [("route_account", a) for a in pins]
    for key, val in wants:  # the order we answer them in is the order places are handed out
        s = lst.accept(timeout=5)
        assert s.rframe(auto_pong=False).raw == route_connect(n.server_id)
        f = answer(s, fid)
        assert after_lnoc(f.info) == ["route_pool_size", key], f.raw
        assert f.info["route_pool_size"] == POOL and f.info[key] == val, f.raw
        if key == "route_account":
            s.pinned_account = val
        conns[val] = s
    return conns, fid


@pytest.mark.parametrize("topology", FAKE_TOPOLOGIES)
def test_node_dials_pool(make_cluster, topology):
    lst = FakeListener()
    try:
        n = start_dialling(make_cluster, topology, lst)
        conns, fid = dialled_pool(n, lst)
        no_dial(lst, 1.0)  # pool_size + pinned connections, no more
        rz = routes_to(n, fid)
        assert len(rz) == POOL + 1 and n.routez()["num_routes"] == POOL + 1
        assert places(rz) == pool_places(POOL, ["$SYS"])
        assert all(r["did_solicit"] is True for r in rz)
        # interest: $G on its slot, system interest on the $SYS connection (no token)
        for k, s in conns.items():
            got = s.rflush()
            if k == "$SYS":
                assert got and all(f.op == "RS+" and len(f.args) == 1 and f.args[0].startswith("$SYS.")
                                   for f in got), got
            else:
                assert [f.raw for f in got] == [], (k, got)
        sub = n.client()  # kept open: its close would take the interest back
        client_ops(sub, b"SUB dialled 1\r\n")
        slot = pool_idx("$G", POOL)
        expect_ops(conns[slot], [b"RS+ $G dialled\r\n"])
        for k, s in conns.items():
            if k != slot:
                assert ops(s) == [], k
    finally:
        lst.close()


@pytest.mark.parametrize("topology", FAKE_TOPOLOGIES)
def test_node_dials_pool_with_pinned_account(make_cluster, topology):
    lst = FakeListener()
    try:
        n = start_dialling(make_cluster, topology, lst, extra_conf=ACCOUNTS_AB, pinned=["A"])
        conns, fid = dialled_pool(n, lst, pins=("A", "$SYS"))  # the configured pins, then $SYS
        no_dial(lst, 1.0)
        assert places(routes_to(n, fid)) == pool_places(POOL, ["A", "$SYS"])
        a = login(n, "a")
        client_ops(a, b"SUB pa 1\r\n")
        expect_ops(conns["A"], [b"RS+ pa\r\n"])
        conns["A"].send(b"RMSG pa 2\r\nhi\r\n")
        conns["A"].rflush()
        assert [f.raw for f in a.flush()] == [msg("pa", 1, "hi")]
    finally:
        lst.close()


@pytest.mark.parametrize("topology", FAKE_TOPOLOGIES)
def test_node_dials_idx_set_refused(make_cluster, topology):
    lst = FakeListener()
    try:
        n = start_dialling(make_cluster, topology, lst)
        s = accept_first(n, lst)
        s.send(info10(fake_server_id(), route_pool_idx=2))
        closed_with(s, "Route pool index should not be set but is set to 2")
        assert n.num_routes() == 0
    finally:
        lst.close()


@pytest.mark.parametrize("topology", FAKE_TOPOLOGIES)
def test_node_dials_unpooled_peer(make_cluster, topology):
    """A 2.9-style peer (no route_pool_size): one connection, every account
    on it, pinned ones included, each named."""
    lst = FakeListener()
    try:
        n = start_dialling(make_cluster, topology, lst, extra_conf=ACCOUNTS_AB, pinned=["A"])
        a, b = login(n, "a"), login(n, "b")
        client_ops(a, b"SUB foo 1\r\n")
        client_ops(b, b"SUB bar 1\r\n")
        s = accept_first(n, lst)
        fid = fake_server_id()
        f = answer(s, fid, route_pool_size=None)
        assert "route_pool_idx" not in f.info and "route_account" not in f.info, f.raw
        got = s.rflush()
        assert sorted(f.raw for f in got if not is_sys(f)) == [b"RS+ A foo\r\n", b"RS+ B bar\r\n"]
        assert any(is_sys(f) for f in got), "no `RS+ $SYS ...` (system interest, named) on the one route"
        assert not any(sysline(f) for f in got), got
        no_dial(lst, 1.0)
        rz = n.routez()["routes"]
        assert len(rz) == 1 and rz[0]["remote_id"] == fid
        assert "pool_idx" not in rz[0] and "account" not in rz[0], rz[0]
        s.send(b"RS+ A zzz\r\nRS+ B zzz\r\nRMSG A foo 2\r\nfa\r\nRMSG B bar 2\r\nfb\r\n")
        assert [f.raw for f in s.rflush() if not is_sys(f)] == []
        # (the clients were told of the peer's connect_urls: INFO)
        assert [f.raw for f in a.flush() if f.op != "INFO"] == [msg("foo", 1, "fa")]
        assert [f.raw for f in b.flush() if f.op != "INFO"] == [msg("bar", 1, "fb")]
        client_ops(a, b"PUB zzz 1\r\na\r\n")
        client_ops(b, b"PUB zzz 1\r\nb\r\n")
        expect_ops(s, [b"RMSG A zzz 1\r\na\r\n", b"RMSG B zzz 1\r\nb\r\n"])
    finally:
        lst.close()


# ---- 4. one connection of a dialled pool closes ------------------------------------------------

@pytest.mark.parametrize("which", [1, 0, "$SYS"], ids=["slot-1", "slot-0", "pinned-SYS"])
@pytest.mark.parametrize("topology", FAKE_TOPOLOGIES)
def test_dialled_pool_connection_replaced(make_cluster, topology, which):
    lst = FakeListener()
    try:
        n = start_dialling(make_cluster, topology, lst)
        conns, fid = dialled_pool(n, lst)
        before = {r["rid"] for r in routes_to(n, fid)}
        conns[which].close()
        assert poll(lambda: len(routes_to(n, fid)) == POOL, 5)
        s = lst.accept(timeout=5)  # one dial (after the reconnect wait, 1 s)
        assert s.rframe(auto_pong=False).raw == route_connect(n.server_id)
        f = answer(s, fid)
        want = ["route_pool_size"] + (["route_pool_idx"] if which not in (0, "$SYS") else []) + \
            (["route_account"] if which == "$SYS" else [])
        assert after_lnoc(f.info) == want, f.raw
        if which == "$SYS":
            assert f.info["route_account"] == "$SYS"
        elif which:
            assert f.info["route_pool_idx"] == which
        no_dial(lst, 1.0)
        rz = routes_to(n, fid)
        assert places(rz) == pool_places(POOL, ["$SYS"])
        after = {r["rid"] for r in rz}
        assert len(before - after) == 1 and len(after - before) == 1  # only that one was replaced
        for k, c in conns.items():
            if k != which:
                assert ops(c) == [], k
    finally:
        lst.close()


# ---- 2. clusters of gannets ---------------------------------------------------------------------

@pytest.fixture(scope="module", params=[(t, p) for t in GANNET_TOPOLOGIES for p in (1, 3, 8)],
                ids=lambda tp: "%s-pool%d" % tp)
def gc(request):
    """A 3-node cluster, pool_size 1/3/8, A pinned, accounts $G, A, B."""
    topology, pool = request.param
    yield from cl.managed(topology, pool_size=pool, pinned=["A"], extra_conf=ACCOUNTS_GAB)


def users(node):
    return {acc: login(node, u) for acc, u in USERS.items()}


def test_pool_routez(gc):
    pool = gc[0].pool_size
    for n in gc.nodes:
        rz = n.routez()
        assert rz["num_routes"] == 2 * (pool + 2)
        for m in gc.nodes:
            if m is n:
                continue
            mine = routes_to(n, m.server_id)
            assert places(mine) == pool_places(pool, ["A", "$SYS"]), (n.name, m.name, mine)
            # of each pair exactly one side dialled each connection, and the same side all of them
            assert len({r["did_solicit"] for r in mine}) == 1
            theirs = routes_to(m, n.server_id)
            assert {r["did_solicit"] for r in theirs} == {not mine[0]["did_solicit"]}
        assert n.varz()["cluster"]["pool_size"] == pool


def test_accounts_isolated(gc):
    a, b, c = gc.nodes
    for pubnode, subnode in ((a, b), (b, c), (c, a)):
        subj = uniq("iso.")
        subs, pubs = users(subnode), users(pubnode)
        for acc in USERS:
            client_ops(subs[acc], b"SUB %s 1\r\n" % subj.encode())
        for acc in USERS:
            sync_interest(subs[acc], pubs[acc])
        for acc in USERS:
            pubs[acc].send(b"PUB %s %d\r\n%s\r\n" % (subj.encode(), len(acc), acc.encode()))
        for acc in USERS:
            got = [f.raw for f in drain(subs[acc], pubs[acc])]
            assert got == [msg(subj, 1, acc)], (acc, got)
        for acc in USERS:  # after every barrier: nothing of another account arrived late
            assert [f for f in subs[acc].flush() if f.op != "INFO"] == [], acc


def test_queue_groups_once_per_group(gc):
    for acc in ("$G", "A", "B"):
        subj = uniq("work.")
        members = []
        for n in gc.nodes:
            m = login(n, USERS[acc])
            client_ops(m, b"SUB %s q 1\r\nSUB %s q2 2\r\n" % (subj.encode(), subj.encode()))
            members.append(m)
        pub = login(gc[1], USERS[acc])
        for m in members:
            sync_interest(m, pub)
        for i in range(60):
            p = b"%d" % i
            pub.send(b"PUB %s %d\r\n%s\r\n" % (subj.encode(), len(p), p))
        per_sid = {"1": [], "2": []}
        for m in members:
            for f in drain(m, pub):
                assert f.op == "MSG" and f.subject == subj, f
                per_sid[f.sid].append(f.payload)
        for sid in per_sid:  # each message once per group, wherever the members are
            assert sorted(per_sid[sid], key=int) == [b"%d" % i for i in range(60)], (acc, sid)


def test_request_reply_across_nodes(gc):
    for acc in ("$G", "A", "B"):
        for req_node, resp_node in ((gc[0], gc[2]), (gc[2], gc[1])):
            svc = uniq("svc.")
            inbox = uniq("_INBOX.")
            resp = login(resp_node, USERS[acc])
            req = login(req_node, USERS[acc])
            client_ops(resp, b"SUB %s 1\r\n" % svc.encode())
            sync_interest(resp, req)
            req.send(b"SUB %s 9\r\nPUB %s %s 4\r\nping\r\n" % (inbox.encode(), svc.encode(), inbox.encode()))
            f = resp.frame(timeout=5)
            assert f.raw == msg(svc, 1, "ping", reply=inbox), (acc, f)
            resp.send(b"PUB %s 4\r\npong\r\n" % inbox.encode())
            f = req.frame(timeout=5)
            assert f.raw == msg(inbox, 9, "pong"), (acc, f)


def test_interest_only_on_its_connection(gc):
    pool = gc[0].pool_size
    origin, viewer = gc[0], gc[2]
    subs = users(origin)
    pubs = users(viewer)
    subj = {acc: uniq("slot.") for acc in USERS}
    for acc in USERS:
        client_ops(subs[acc], b"SUB %s 1\r\nSUB %s qg 2\r\n" % (subj[acc].encode(), subj[acc].encode()))
        sync_interest(subs[acc], pubs[acc])
    want_sids = {acc: {"%s %s" % (acc, subj[acc]), "%s %s qg" % (acc, subj[acc])} for acc in ("$G", "B")}
    want_sids["A"] = {subj["A"], "%s qg" % subj["A"]}  # pinned: no account in the sid
    for r in routes_to(viewer, origin.server_id, "?subs=detail"):
        sids = {s["sid"] for s in r.get("subscriptions_list_detail") or []}
        for acc in USERS:
            if acc == "A":
                mine = r.get("account") == "A"
            else:
                mine = r.get("pool_idx") == pool_idx(acc, pool)
            got = sids & ({"%s %s" % (acc, subj[acc]), "%s %s qg" % (acc, subj[acc]), subj[acc],
                           "%s qg" % subj[acc]})
            assert got == (want_sids[acc] if mine else set()), (acc, r.get("pool_idx"), r.get("account"), sids)
    for acc in USERS:
        assert route_interest(viewer, origin, acc) >= {subj[acc], "%s qg" % subj[acc]}


# ---- 3. mixed with nats-server 2.9.10 -----------------------------------------------------------

@pytest.mark.parametrize("topology", MIXED_TOPOLOGIES)
def test_mixed_cluster_with_2_9(make_cluster, topology):
    c = make_cluster(topology, pool_size=8, pinned=["A"], extra_conf=ACCOUNTS_GAB)
    meshed = time.monotonic()
    for n in c.nodes:
        for m in c.nodes:
            if m is n:
                continue
            rz = routes_to(n, m.server_id)
            if n.kind == "gannet" and m.kind == "gannet":
                assert places(rz) == pool_places(8, ["A", "$SYS"]), (n.name, m.name, rz)
            else:
                assert len(rz) == 1, (n.name, m.name, rz)
                assert "pool_idx" not in rz[0] and "account" not in rz[0], rz[0]
    rids = {n.name: sorted(r["rid"] for r in n.routez()["routes"]) for n in c.nodes}
    # traffic both ways between every pair, in $G, the pinned A and B
    for pn in c.nodes:
        for sn in c.nodes:
            if pn is sn:
                continue
            for acc, user in USERS.items():
                sub, pub = login(sn, user), login(pn, user)
                subj = uniq("mix.")
                client_ops(sub, b"SUB %s 1\r\n" % subj.encode())
                sync_interest(sub, pub)
                pub.send(b"PUB %s 2\r\nok\r\n" % subj.encode())
                assert [f.raw for f in drain(sub, pub)] == [msg(subj, 1, "ok")], (pn.name, sn.name, acc)
                sub.close()
                pub.close()
    # no redial churn: 3 s after meshing, the same connections
    left = 3.0 - (time.monotonic() - meshed)
    if left > 0:
        time.sleep(left)
    assert {n.name: sorted(r["rid"] for r in n.routez()["routes"]) for n in c.nodes} == rids
    # no route refused or broken on either side (nats-server logs a route's
    # errors with its rid; gannet too, and a peer's -ERR as "Router Error")
    for n in c.nodes:
        bad = [l for l in n.log().splitlines() if "-ERR" in l or "Router Error" in l or
               ("[ERR]" in l and "rid:" in l)]
        assert bad == [], (n.name, bad)
