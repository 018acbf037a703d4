"""Server-initiated PING keepalive (nats-compat.md 1.7, 11 "keepalive").

With ping_interval "1s" and ping_max 1 the server PINGs after about a
second; a client that has not answered by the next tick is stale. Time only
bounds the waiting here (reads time out after a few seconds); nothing is
asserted about how fast anything happens.
"""
from proto import C0, Conn, client

CONF = 'ping_interval: "1s"\nping_max: 1\n'


def test_stale_connection(make_server):
    s = make_server(conf=CONF)
    c = Conn(s.port, auto_pong=False)
    c.send(C0)
    c.expect_frame(b"PING\r\n", timeout=5)
    c.expect_close("Stale Connection", timeout=5)


def test_stale_connection_before_connect(make_server):
    """Keepalive runs from accept on, CONNECT or not."""
    s = make_server(conf=CONF)
    c = Conn(s.port, auto_pong=False)
    c.expect_frame(b"PING\r\n", timeout=5)
    c.expect_close("Stale Connection", timeout=5)


def test_client_traffic_does_not_replace_pong(make_server):
    """Only a PONG answers the server's PING: publishing and the client's own
    PINGs do not keep a non-answering client alive (nats-server skips a
    keepalive PING for an active client only once it has measured an RTT,
    i.e. after a first PONG)."""
    s = make_server(conf=CONF)
    c = Conn(s.port, auto_pong=False)
    c.send(C0)
    c.expect_frame(b"PING\r\n", timeout=5)
    c.send(b"PUB foo 1\r\nx\r\nPING\r\n")
    c.expect_frame(b"PONG\r\n")
    c.expect_close("Stale Connection", timeout=5)


def test_ponging_client_survives(make_server):
    s = make_server(conf=CONF)
    c = Conn(s.port, auto_pong=False)
    c.send(C0 + b"SUB foo 1\r\n")
    # Answer three server PINGs: the non-answering client above is closed at
    # the tick after its first PING, so this one outlives that point twice.
    for _ in range(3):
        c.expect_frame(b"PING\r\n", timeout=5)
        c.send(b"PONG\r\n")
    # Still connected and working.
    c.auto_pong = True
    c.send(b"PUB foo 2\r\nhi\r\n")
    assert [f.raw for f in c.flush()] == [b"MSG foo 1 2\r\nhi\r\n"]


def test_first_ping_on_default_settings(server):
    """On default settings the server's first PING also comes soon after
    connect (about 2 s); a client answering it stays connected."""
    c = client(server, auto_pong=False)
    c.expect_frame(b"PING\r\n", timeout=5)
    c.send(b"PONG\r\n")
    c.expect_nothing()
