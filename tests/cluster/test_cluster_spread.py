"""Route connections spread over the shards (gannet only: --shards and
/shardz are gannet's; docs/design.md §23, "Spread over the shards").

A route registers on shard 0, which owns the cluster's state, and is then
handed over to the shard with the fewest routes; shard 0 keeps a stand-in
for it. What these tests hold gannet to:
- the registered routes of a node are spread evenly (/shardz `routes`, which
  sums to /routez num_routes: no stand-in outlives its connection);
- interest reaches a moved route both ways (RS+ and RS-, queue weights), in
  every account, pooled and pinned;
- a SUB and a request sent together get their reply, whichever shards the
  client and the route are on (the RS+ leaves before the request's RMSG);
- a peer that dies and comes back: the moved routes' ends reach shard 0,
  which deregisters them, redials and spreads the new ones;
- lame duck mode is announced on every connection, moved or not;
- gossip through moved routes still completes the mesh.
"""
import os
import signal

import pytest

import cluster as cl
from cluster import ACCOUNTS_AB, drain, login, route_interest, sync_interest, topologies, uniq
from proto import msg
from servers import poll

SHARDS = 3
POOL = 3
PINNED = ["A"]
CONNS = POOL + len(PINNED) + 1  # per peer pair: the pool, A, $SYS

ACCOUNTS = ACCOUNTS_AB + """
authorization { users: [ {user: g, password: g} ] }
"""
USERS = {"$G": "g", "A": "a", "B": "b"}

# gannet's own: another server given as NATS_SERVER_BIN has no --shards
IS_GANNET = os.path.basename(os.path.realpath(cl.binary_for("g"))) == "gannet"
TOPOLOGIES = [t for t in topologies(3) if set(t) == {"g"} and IS_GANNET]


def start(make_cluster, topology, extra=""):
    c = make_cluster.unstarted(topology, pool_size=POOL, pinned=PINNED, extra_conf=ACCOUNTS + extra)
    for n in c.nodes:
        n.args = ["--shards", str(SHARDS)]
    return c.start()


def nconns(node):
    """Route connections (/routez num_routes counts each of a pool)."""
    return node.routez()["num_routes"]


def shard_routes(node):
    return [s["routes"] for s in node.get("/shardz")["shards"]]


def spread_ok(node):
    per = shard_routes(node)
    return sum(per) == nconns(node) and max(per) - min(per) <= 1


def client_ops(c, data):
    c.send(data)
    return [f.raw for f in c.flush()]


@pytest.fixture(params=TOPOLOGIES)
def sc(request, make_cluster):
    return start(make_cluster, request.param)


def test_routes_spread_evenly(sc):
    for n in sc.nodes:
        assert nconns(n) == 2 * CONNS
        assert poll(lambda: spread_ok(n), cl.MESH_TIMEOUT), (n.name, shard_routes(n), nconns(n))
        assert min(shard_routes(n)) >= 1, shard_routes(n)


def test_interest_reaches_moved_routes(sc):
    a, b, _ = sc.nodes
    for acc, user in USERS.items():
        subj = uniq("sp.")
        subs = [login(b, user) for _ in range(4)]  # on whichever shards SO_REUSEPORT puts them
        for s in subs:
            client_ops(s, b"SUB %s 1\r\nSUB %s q 2\r\n" % (subj.encode(), subj.encode()))
        want = {subj, subj + " q"}
        assert poll(lambda: want <= (route_interest(a, b, acc) or set()), cl.INTEREST_TIMEOUT), \
            (acc, route_interest(a, b, acc))
        pub = login(a, user)
        for s in subs:
            sync_interest(s, pub)
        pub.send(b"PUB %s 2\r\nhi\r\n" % subj.encode())
        got = [f.raw for s in subs for f in drain(s, pub)]
        # every plain subscriber once, the queue group once
        assert sorted(got).count(msg(subj, 1, "hi")) == 4 and len(got) == 5, (acc, got)
        for s in subs:
            client_ops(s, b"UNSUB 1\r\nUNSUB 2\r\n")
        assert poll(lambda: not (want & (route_interest(a, b, acc) or set())), cl.INTEREST_TIMEOUT), \
            (acc, route_interest(a, b, acc))


def test_request_sent_with_its_subscription(sc):
    a, _, c = sc.nodes
    for acc, user in USERS.items():
        svc = uniq("svc.")
        resp = login(c, user)
        client_ops(resp, b"SUB %s 1\r\n" % svc.encode())
        for i in range(12):  # new requesters: several shards of A, several routes
            req = login(a, user)
            sync_interest(resp, req)
            inbox = uniq("_INBOX.")
            req.send(b"SUB %s 9\r\nPUB %s %s 4\r\nping\r\n" % (inbox.encode(), svc.encode(), inbox.encode()))
            f = resp.frame(timeout=5)
            assert f.raw == msg(svc, 1, "ping", reply=inbox), (acc, i, f)
            resp.send(b"PUB %s 4\r\npong\r\n" % inbox.encode())
            f = req.frame(timeout=5)
            assert f.raw == msg(inbox, 9, "pong"), (acc, i, f)
            req.close()


def test_peer_restart(sc):
    a, b, c = sc.nodes
    c.stop(signal.SIGKILL)
    for n in (a, b):  # the moved routes' ends reached shard 0: only the pair's own connections are left
        assert poll(lambda: nconns(n) == CONNS and sum(shard_routes(n)) == CONNS, cl.MESH_TIMEOUT), \
            (n.name, nconns(n), shard_routes(n))
    c.start()
    sc.wait_mesh()
    for n in sc.nodes:
        assert poll(lambda: spread_ok(n) and nconns(n) == 2 * CONNS, cl.MESH_TIMEOUT), \
            (n.name, shard_routes(n), nconns(n))
    pub, sub = login(c, "a"), login(a, "a")
    subj = uniq("back.")
    client_ops(sub, b"SUB %s 1\r\n" % subj.encode())
    sync_interest(sub, pub)
    pub.send(b"PUB %s 2\r\nok\r\n" % subj.encode())
    assert [f.raw for f in drain(sub, pub)] == [msg(subj, 1, "ok")]


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_lame_duck_on_every_connection(make_cluster, topology):
    c = start(make_cluster, topology, 'lame_duck_duration: "30s"\nlame_duck_grace_period: "10s"\n')
    a, b, n3 = c.nodes
    keep = login(n3, "g")  # a client keeps it in lame duck mode
    n3.server.proc.send_signal(signal.SIGUSR2)
    line = "Peer %s entered lame duck mode" % n3.server_id
    for n in (a, b):  # each connection of the pair hears it, those n3 handed to other shards too
        assert poll(lambda: n.log().count(line) == CONNS, cl.MESH_TIMEOUT), (n.name, n.log().count(line))
    keep.close()
    n3.stop(signal.SIGKILL)
