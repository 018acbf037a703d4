"""Route authorization (cluster { authorization { user, password } }), as
nats-server 2.9.10 does it: the route INFO says auth_required, a peer's
CONNECT must carry the user and password (plain, or checked against a
bcrypt hash: gannet does that on an auth worker, off the shard), and a
wrong or missing one is answered `-ERR 'Authorization Violation'` and
closed. A node dials with the user:pass of its route URL."""
import pytest

from cluster import RouteConn, fake_server_id, is_sys, route_connect, route_info, topologies
from servers import poll

# made with Python's crypt.crypt("s3cr3t", "$2a$10$abcdefghijklmnopqrstuu") (tests/proto/test_proto_auth.py)
BCRYPT_HASH = "$2a$10$abcdefghijklmnopqrstuu/38FEmIU7Hp2rxowjrUXyQTiJ2lnMTu"
SECRETS = {"plain": "s3cr3t", "bcrypt": BCRYPT_HASH}


def auth_conf(kind):
    return 'authorization { user: ru, password: "%s" }' % SECRETS[kind]


def closed_with(r, err):
    got = [f.raw for f in r.read_close() if not is_sys(f) and f.op != "PING"]
    assert got == [b"-ERR '" + err.encode() + b"'\r\n"], got


@pytest.mark.parametrize("kind", ["plain", "bcrypt"])
@pytest.mark.parametrize("topology", topologies(1))
def test_route_credentials_checked(make_cluster, topology, kind):
    n = make_cluster(topology, cluster_conf=auth_conf(kind))[0]
    r = RouteConn(n.cport)
    assert r.info.get("auth_required") is True, r.info
    r.handshake(connect_extra={"user": "ru", "pass": "s3cr3t"})
    assert poll(lambda: n.num_routes() == 1, 5), n.routez()
    r.close()
    assert poll(lambda: n.num_routes() == 0, 5)
    for extra in ({"user": "ru", "pass": "wrong"}, {"user": "other", "pass": "s3cr3t"}, {}):
        bad = RouteConn(n.cport)
        fid = fake_server_id()
        bad.send(route_connect(fid, **extra) + route_info(fid))
        closed_with(bad, "Authorization Violation")
        assert n.num_routes() == 0


@pytest.mark.parametrize("kind", ["plain", "bcrypt"])
@pytest.mark.parametrize("topology", topologies(2))
def test_cluster_with_route_auth(make_cluster, topology, kind):
    """B dials A with nats-route://ru:s3cr3t@...; both sides require it."""
    c = make_cluster(topology, cluster_conf=auth_conf(kind), route_userinfo="ru:s3cr3t")
    a, b = c.nodes
    assert a.num_routes() == 1 and b.num_routes() == 1
    sub, pub = b.client(), a.client()
    sub.send(b"SUB authd 1\r\n")
    from cluster import sync_interest
    sync_interest(sub, pub)
    pub.send(b"PUB authd 2\r\nok\r\n")
    f = sub.frame(timeout=5)
    assert f.op == "MSG" and f.payload == b"ok", f


@pytest.mark.parametrize("topology", topologies(1))
def test_refused_route_not_redialled_in_a_tight_loop(make_cluster, topology):
    """A configured route whose peer refuses it (here: -ERR 'Authorization
    Violation' to every CONNECT) is dialled again, but not in a tight loop
    (nats-server's issue #7194): a handful of attempts in 4 s, not
    hundreds. (A count over a span, not a speed: any sane pace passes.)"""
    import time
    from cluster import FakeListener
    lst = FakeListener()
    try:
        c = make_cluster.unstarted(topology)
        c[0].routes = [lst.port]
        c.start()
        attempts = 0
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            try:
                s = lst.accept(timeout=max(0.05, end - time.monotonic()))
            except OSError:
                break
            attempts += 1
            f = s.rframe(timeout=5)
            assert f.op == "CONNECT", f
            s.send(b"-ERR 'Authorization Violation'\r\n")
            s.close()
        assert 1 <= attempts <= 6, attempts
    finally:
        lst.close()
