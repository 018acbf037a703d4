"""Forming the mesh: gossip, /routez, the /varz cluster section, and the
client URLs (connect_urls) members advertise (nats-compat.md 3.1, 3.3, 8).

Topologies: see tests/lib/cluster.py (`nnn` = three nats-servers, `gng` =
a nats-server between two gannets...). Node A is the seed; B and C route
to A only (`cluster { routes: [nats-route://127.0.0.1:<A>] }`), started one
after the other.

The contract checked here, as nats-server 2.9.10 behaves:
- Full mesh from one seed: once C has registered at A, A forwards C's INFO
  to B and B dials C (an implicit route); A does not tell C about B. So of
  each pair exactly one side solicited: B and C solicited A (their
  configured route, `is_configured: true`), B solicited C
  (`is_configured: false`); the seed solicited nothing.
- /routez: `num_routes` 2 on every node; each route has exactly the keys
  rid, remote_id, did_solicit, is_configured, ip, port, start,
  last_activity, rtt, uptime, idle, pending_size, in_msgs, out_msgs,
  in_bytes, out_bytes, subscriptions (no remote name in 2.9.10);
  `remote_id` is the peer's server_id, `ip` "127.0.0.1", `port` the
  peer's cluster port when we dialled it (else the peer's ephemeral port).
  `/routez?subs=detail` lists the interest the route carries as
  {"subject", ["qgroup"], "sid": "<account> <subject>[ <queue>]", "msgs",
  "cid"}; `subs=1` as a plain list of subjects.
- /varz `cluster`: exactly {"name":"C1","addr":"127.0.0.1",
  "cluster_port":<cport>,"auth_timeout":2,"tls_timeout":2} on the seed; a
  node with configured routes adds `"urls":["127.0.0.1:<seed cport>"]`
  (host:port, no scheme), in the key order name, addr, cluster_port,
  auth_timeout, urls, tls_timeout. /varz `routes` is 2 and `connect_urls`
  the same list as the client INFO's.
- Client INFO carries `"cluster":"C1"` and `connect_urls` with every
  member's client listener as "127.0.0.1:<port>" (the servers listen on
  `-a 127.0.0.1`): the node's own URL first, the others after it (their
  order is not asserted: nats-server keeps them in a map).
- Membership changes are pushed to connected clients as a new INFO (the
  connection's INFO again: same keys, client_id and all, with the new
  connect_urls): when a member joins, when one stops (its route closed),
  and when one enters lame duck mode: the LDM node sends its routes an
  INFO with `"ldm":true` and they push INFO without its URL at once, while
  the route stays up; the LDM node's own clients get INFO with
  `"ldm":true` and connect_urls of the others only.
"""
import signal

import pytest

import cluster as cl
from cluster import managed, topologies, sync_interest, route_interest
from servers import poll

ROUTE_KEYS = ["rid", "remote_id", "did_solicit", "is_configured", "ip", "port", "start", "last_activity", "rtt",
              "uptime", "idle", "pending_size", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions"]


@pytest.fixture(scope="module", params=topologies(3))
def c3(request):
    """A 3-node cluster shared by the read-only tests of this module."""
    yield from managed(request.param)


def curl(node):
    return "127.0.0.1:%d" % node.port


def routes_by_peer(node, c):
    """{peer node name: route dict} from node's /routez."""
    ids = {n.server_id: n.name for n in c.nodes}
    rz = node.routez()
    return {ids.get(r["remote_id"], r["remote_id"]): r for r in rz["routes"]}


def test_full_mesh_routez(c3):
    for n in c3.nodes:
        rz = n.routez()
        assert rz["server_id"] == n.server_id
        # one route per peer, or a pool and the pinned accounts' (gannet pairs, as nats-server 2.10)
        conns = sum(n.conns_with(m) for m in c3.nodes if m is not n)
        assert rz["num_routes"] == conns, rz
        assert len(rz["routes"]) == conns
        others = {m.server_id for m in c3.nodes if m is not n}
        assert {r["remote_id"] for r in rz["routes"]} == others
        peer = {m.server_id: m for m in c3.nodes}
        for r in rz["routes"]:
            pooled = n.conns_with(peer[r["remote_id"]]) > 1
            extra = {"pool_idx", "account"} & set(r)  # nats-server 2.10's, which gannet speaks
            assert sorted(set(r) - extra - {"compression"}) == sorted(ROUTE_KEYS), sorted(r)
            assert len(extra) == (1 if pooled else 0), r
            if n.kind == "gannet":  # what the INFO exchange settled
                assert r["compression"] == ("off" if peer[r["remote_id"]].kind == "gannet" else "not supported"), r
            assert r["ip"] == "127.0.0.1"
            assert isinstance(r["port"], int) and r["port"] > 0
            assert isinstance(r["rid"], int)
            assert isinstance(r["did_solicit"], bool) and isinstance(r["is_configured"], bool)


def test_who_dialled_whom(c3):
    """B and C dialled the seed (configured); B dialled C (gossip)."""
    a, b, c = c3.nodes
    ra, rb, rc = routes_by_peer(a, c3), routes_by_peer(b, c3), routes_by_peer(c, c3)
    assert set(ra) == {"B", "C"} and set(rb) == {"A", "C"} and set(rc) == {"A", "B"}

    def sides(r):
        return r["did_solicit"], r["is_configured"]

    assert sides(ra["B"]) == (False, False)
    assert sides(ra["C"]) == (False, False)
    assert sides(rb["A"]) == (True, True)
    assert sides(rc["A"]) == (True, True)
    assert sides(rb["C"]) == (True, False)
    assert sides(rc["B"]) == (False, False)
    # A solicited route shows the peer's cluster port.
    assert rb["A"]["port"] == a.cport
    assert rc["A"]["port"] == a.cport
    assert rb["C"]["port"] == c.cport


def pool_key(n):
    """nats-server 2.10's cluster.pool_size, which gannet reports (2.9.10 has none)."""
    return {"pool_size": 3} if n.kind == "gannet" else {}


def test_varz_cluster(c3):
    a, b, c = c3.nodes
    va = a.varz()
    assert va["cluster"] == dict({"name": "C1", "addr": "127.0.0.1", "cluster_port": a.cport,
                                  "auth_timeout": 2, "tls_timeout": 2}, **pool_key(a))
    assert list(va["cluster"]) == ["name", "addr", "cluster_port", "auth_timeout", "tls_timeout"] + list(pool_key(a))
    for n in (b, c):
        v = n.varz()
        assert v["cluster"] == dict({"name": "C1", "addr": "127.0.0.1", "cluster_port": n.cport, "auth_timeout": 2,
                                     "urls": ["127.0.0.1:%d" % a.cport], "tls_timeout": 2}, **pool_key(n))
        assert list(v["cluster"]) == (["name", "addr", "cluster_port", "auth_timeout", "urls", "tls_timeout"] +
                                      list(pool_key(n)))
    for n in c3.nodes:
        v = n.varz()
        assert v["routes"] == sum(n.conns_with(m) for m in c3.nodes if m is not n)
        assert v["connect_urls"][0] == curl(n)
        assert sorted(v["connect_urls"]) == sorted(curl(m) for m in c3.nodes)


def test_client_info_connect_urls(c3):
    for n in c3.nodes:
        conn = n.client()
        info = conn.info
        assert info["cluster"] == "C1"
        assert info["connect_urls"][0] == curl(n), info
        assert sorted(info["connect_urls"]) == sorted(curl(m) for m in c3.nodes), info
        assert len(info["connect_urls"]) == 3
        assert list(info)[-2:] == ["cluster", "connect_urls"], list(info)
        conn.expect_nothing()


def test_routez_subs_lists_interest(c3):
    """A client's interest on B shows on A's and C's route to B, with the
    account in the detail sid; it goes away after UNSUB."""
    a, b, c = c3.nodes
    subj = cl.uniq("mesh.subs.")
    sb = b.client()
    sb.send(("SUB %s 1\r\nSUB %s.q workers 2\r\n" % (subj, subj)).encode())
    for pubnode in (a, c):
        sync_interest(sb, pubnode.client())
        assert {subj, subj + ".q workers"} <= route_interest(pubnode, b)
        detail = [s for r in pubnode.routez("?subs=detail")["routes"] if r["remote_id"] == b.server_id
                  for s in r.get("subscriptions_list_detail", []) if s["subject"].startswith(subj)]
        plain = [s for s in detail if s["subject"] == subj]
        queue = [s for s in detail if s["subject"] == subj + ".q"]
        assert len(plain) == 1 and len(queue) == 1, detail
        assert plain[0]["sid"] == "$G " + subj and "qgroup" not in plain[0]
        assert queue[0]["sid"] == "$G %s.q workers" % subj and queue[0]["qgroup"] == "workers"
        # the one connection to B that carries $G (of a pool, the one its name hashes to)
        lsts = [r.get("subscriptions_list", []) for r in pubnode.routez("?subs=1")["routes"]
                if r["remote_id"] == b.server_id]
        assert [subj in lst and subj + ".q" in lst for lst in lsts].count(True) == 1, lsts
    sb.send(b"UNSUB 1\r\nUNSUB 2\r\n")
    for pubnode in (a, c):
        sync_interest(sb, pubnode.client())
        left = route_interest(pubnode, b)
        assert subj not in left and subj + ".q workers" not in left


# ---- membership changes, pushed to clients ----------------------------------------------------

def expect_info(conn, urls, **extra):
    """Next frame is an INFO with these connect_urls (own first, the rest as
    a set) and otherwise the keys of the connection's first INFO."""
    f = conn.frame(timeout=cl.MESH_TIMEOUT)
    assert f.op == "INFO", f
    got = f.info
    assert got["connect_urls"][0] == urls[0], got
    assert sorted(got["connect_urls"]) == sorted(urls), got
    want = dict(conn.info, **extra)
    want.pop("connect_urls", None)
    rest = {k: v for k, v in got.items() if k != "connect_urls"}
    assert rest == want
    return got


@pytest.mark.parametrize("topology", topologies(3))
def test_join_pushes_connect_urls(make_cluster, topology):
    c = make_cluster.unstarted(topology)
    c.start(2)
    a, b, n3 = c.nodes
    ca, cb = a.client(), b.client()
    assert sorted(ca.info["connect_urls"]) == sorted([curl(a), curl(b)])
    c.start()
    expect_info(ca, [curl(a), curl(b), curl(n3)])
    expect_info(cb, [curl(b), curl(a), curl(n3)])
    ca.expect_nothing()
    cb.expect_nothing()


@pytest.mark.parametrize("topology", topologies(3))
def test_stopped_member_disappears(make_cluster, topology):
    c = make_cluster(topology)
    a, b, n3 = c.nodes
    ca, cb = a.client(), b.client()
    n3.stop()
    expect_info(ca, [curl(a), curl(b)])
    expect_info(cb, [curl(b), curl(a)])
    for n, other in ((a, b), (b, a)):
        assert poll(lambda: n.num_routes() == 1, cl.MESH_TIMEOUT), n.routez()
        assert {r["remote_id"] for r in n.routez()["routes"]} == {other.server_id}
        assert n.varz()["connect_urls"] == [curl(n), curl(other)]
    ca.expect_nothing()
    # A new client sees the two members left.
    assert sorted(a.client().info["connect_urls"]) == sorted([curl(a), curl(b)])


@pytest.mark.parametrize("topology", topologies(3))
def test_lame_duck_member_removed_from_urls(make_cluster, topology):
    c = make_cluster(topology, extra_conf='lame_duck_duration: "30s"\nlame_duck_grace_period: "10s"\n')
    a, b, n3 = c.nodes
    ca, cb, cc = a.client(), b.client(), n3.client()  # a client on C keeps it in lame duck mode
    n3.server.proc.send_signal(signal.SIGUSR2)
    expect_info(ca, [curl(a), curl(b)])
    expect_info(cb, [curl(b), curl(a)])
    f = cc.frame(timeout=cl.MESH_TIMEOUT)
    assert f.op == "INFO" and f.info.get("ldm") is True, f
    assert sorted(f.info["connect_urls"]) == sorted([curl(a), curl(b)])
    # The lame duck's routes stay up meanwhile.
    assert a.num_routes() == 2 and b.num_routes() == 2
    n3.stop(signal.SIGKILL)  # a TERM would wait for the lame duck grace period
