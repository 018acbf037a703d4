"""Losing and regaining a member: kill -9, restart on the same ports,
interest coming back (nats-compat.md 3.1, 3.3).

Each test has its own 3-node cluster (A seed, B and C routed to A, B-C an
implicit route).

The contract checked here, as nats-server 2.9.10 behaves:
- kill -9 of B: A and C notice at once (the kernel closes B's sockets),
  drop the route (/routez num_routes 1) and push an INFO without B's URL to
  their clients; traffic between A and C goes on, one publisher's messages
  all arrive, in order, while B dies.
- B restarted on the same ports (a new server_id) dials A again (its
  configured route), A gossips it to C, C dials it: full mesh again. The
  subscriptions that stayed on A are sent to the new B at registration, so
  a publisher on the restarted B reaches A's old subscriber, and A's
  publisher reaches a subscriber made on the new B.
- kill -9 of the seed A: B and C keep their implicit route and keep
  working; the restarted A is dialled again by B and C (configured routes
  are retried forever, every second) and gets their interest back.
"""
import signal

import pytest

import cluster as cl
from cluster import drain, probe, sync_interest, topologies, uniq
from proto import msg
from servers import poll


def curl(node):
    return "127.0.0.1:%d" % node.port


def publish_seq(conn, subject, start, count):
    conn.send(b"".join(b"PUB %s %d\r\n%d\r\n" % (subject.encode(), len(b"%d" % i), i)
                       for i in range(start, start + count)))


def read_seq(conn, count, skip_info=True):
    out = []
    while len(out) < count:
        f = conn.frame(timeout=10)
        if f.op == "INFO" and skip_info:
            continue
        assert f.op == "MSG", f
        out.append(int(f.payload))
    return out


def wait_routes(node, n):
    assert poll(lambda: node.num_routes() == n, cl.MESH_TIMEOUT), node.routez()


def expect_urls_info(conn, urls):
    f = conn.frame(timeout=cl.MESH_TIMEOUT)
    assert f.op == "INFO", f
    assert f.info["connect_urls"][0] == urls[0] and sorted(f.info["connect_urls"]) == sorted(urls), f.info


@pytest.mark.parametrize("topology", topologies(3))
def test_kill_member_then_rejoin(make_cluster, topology):
    c = make_cluster(topology)
    a, b, n3 = c.nodes
    s = uniq("fo.")
    sub = a.client()
    sub.send(("SUB %s 1\r\n" % s).encode())
    pb, pc = b.client(), n3.client()
    sync_interest(sub, pb)
    sync_interest(sub, pc)
    publish_seq(pb, s, 0, 100)
    assert read_seq(sub, 100) == list(range(100))
    old_b_id = b.server_id

    # C keeps publishing while B dies.
    publish_seq(pc, s, 1000, 500)
    b.stop(signal.SIGKILL)
    publish_seq(pc, s, 1500, 500)
    assert read_seq(sub, 1000) == list(range(1000, 2000))
    wait_routes(a, 1)
    wait_routes(n3, 1)
    assert {r["remote_id"] for r in a.routez()["routes"]} == {n3.server_id}
    # A's client hears that B is gone (the INFO may come before or after
    # the messages above, which read_seq skipped over).
    assert sorted(a.varz()["connect_urls"]) == sorted([curl(a), curl(n3)])
    assert sorted(a.client().info["connect_urls"]) == sorted([curl(a), curl(n3)])
    sync_interest(sub, pc)
    publish_seq(pc, s, 2000, 10)
    assert read_seq(sub, 10) == list(range(2000, 2010))

    # B comes back on the same ports, with a new identity.
    b.start()
    c.wait_mesh()
    assert b.server_id != old_b_id
    assert {r["remote_id"] for r in a.routez()["routes"]} == {b.server_id, n3.server_id}
    pb2 = b.client()
    assert sorted(pb2.info["connect_urls"]) == sorted(curl(n) for n in c.nodes)
    # A's old subscription reached the new B at registration.
    probe(pb2, sub, s, 1)
    publish_seq(pb2, s, 3000, 100)
    assert read_seq(sub, 100) == list(range(3000, 3100))
    # And the other way: a subscriber on the new B, publishers on A and C.
    s2 = uniq("fo2.")
    sb = b.client()
    sb.send(("SUB %s 7\r\n" % s2).encode())
    pa = a.client()
    sync_interest(sb, pa)
    sync_interest(sb, pc)
    pa.send(("PUB %s 2\r\nfa\r\n" % s2).encode())
    pc.send(("PUB %s 2\r\nfc\r\n" % s2).encode())
    got = sorted(f.raw for p in (pa, pc) for f in drain(sb, p))
    assert got == sorted([msg(s2, 7, "fa"), msg(s2, 7, "fc")])


@pytest.mark.parametrize("topology", topologies(3))
def test_kill_member_info_pushed(make_cluster, topology):
    c = make_cluster(topology)
    a, b, n3 = c.nodes
    ca, cc = a.client(), n3.client()
    b.stop(signal.SIGKILL)
    expect_urls_info(ca, [curl(a), curl(n3)])
    expect_urls_info(cc, [curl(n3), curl(a)])
    b.start()
    c.wait_mesh()
    expect_urls_info(ca, [curl(a), curl(b), curl(n3)])
    expect_urls_info(cc, [curl(n3), curl(a), curl(b)])


@pytest.mark.parametrize("topology", topologies(3))
def test_kill_seed_then_rejoin(make_cluster, topology):
    c = make_cluster(topology)
    a, b, n3 = c.nodes
    s = uniq("seed.")
    sub_a = a.client()
    sub_a.send(("SUB %s 1\r\n" % s).encode())
    sub_c = n3.client()
    sub_c.send(("SUB %s 2\r\n" % s).encode())
    pb = b.client()
    sync_interest(sub_a, pb)
    sync_interest(sub_c, pb)
    a.stop(signal.SIGKILL)
    wait_routes(b, 1)
    wait_routes(n3, 1)
    # B and C still talk over their implicit route.
    publish_seq(pb, s, 0, 100)
    assert read_seq(sub_c, 100) == list(range(100))

    a.start()
    c.wait_mesh()
    # The new A got B's and C's interest; a subscriber on it gets B's messages.
    pa = a.client()
    probe(pa, sub_c, s, 2)
    sub_a2 = a.client()
    sub_a2.send(("SUB %s 3\r\n" % s).encode())
    sync_interest(sub_a2, pb)
    publish_seq(pb, s, 500, 50)
    assert read_seq(sub_a2, 50) == list(range(500, 550))
    assert read_seq(sub_c, 50) == list(range(500, 550))
