"""Server limits: max_payload, max_control_line, max_connections,
max_subscriptions, max_pending / slow consumers
(nats-compat.md 1.1, 1.8, 1.10, 11 "limits", "parser")."""
import time

import pytest

from proto import C0, Conn, ProtoError, client, msg


def subscriber(server, subject="foo", sid="1"):
    s = client(server)
    s.send("SUB %s %s\r\n" % (subject, sid))
    s.expect_nothing()
    return s


# ---- max_payload --------------------------------------------------------------------

def test_max_payload_default(server):
    c = client(server)
    c.send(b"PUB foo 99999999\r\n")
    c.expect_close("Maximum Payload Violation")


def test_max_payload_before_connect(server):
    c = Conn(server.port)
    c.send(b"PUB foo 1048577\r\n")
    c.expect_close("Maximum Payload Violation")


def test_max_payload_boundary(make_server):
    s = make_server(conf="max_payload: 100\n")
    sub = subscriber(s)
    c = client(s)
    c.send(b"PUB foo 100\r\n" + b"x" * 100 + b"\r\n" b"PUB foo 0100\r\n" + b"y" * 100 + b"\r\n")
    c.expect_nothing()
    assert [f.raw for f in sub.flush()] == [
        b"MSG foo 1 100\r\n" + b"x" * 100 + b"\r\n", b"MSG foo 1 0100\r\n" + b"y" * 100 + b"\r\n"]
    c.send(b"PUB foo 101\r\n" + b"z" * 101 + b"\r\n")
    c.expect_close("Maximum Payload Violation")
    assert sub.flush() == []


def test_max_payload_counts_headers(make_server):
    s = make_server(conf="max_payload: 100\n")
    sub = subscriber(s)
    hdr = b"NATS/1.0\r\n\r\n"
    c = client(s)
    c.send(b"HPUB foo 12 100\r\n" + hdr + b"x" * 88 + b"\r\n")
    c.expect_nothing()
    assert [f.raw for f in sub.flush()] == [b"HMSG foo 1 12 100\r\n" + hdr + b"x" * 88 + b"\r\n"]
    c.send(b"HPUB foo 12 101\r\n")
    c.expect_close("Maximum Payload Violation")


# ---- max_control_line -----------------------------------------------------------------

def test_max_control_line_5000_byte_sub(server):
    c = client(server)
    c.send(b"SUB " + b"a" * 4994 + b" 1\r\n")   # 5000-byte line
    c.expect_close("maximum control line exceeded")


def test_max_control_line_default_boundary(server):
    # The limit (4096) applies to the arguments: everything after "SUB ".
    ok = b"a" * 4094 + b" 1"
    assert len(ok) == 4096
    c = client(server)
    c.send(b"SUB " + ok + b"\r\n")
    c.expect_nothing()
    c.send(b"SUB " + b"a" * 4095 + b" 2\r\n")
    c.expect_close("maximum control line exceeded")


def test_max_control_line_incomplete_line(server):
    """An over-long line is refused before its end arrives."""
    c = client(server)
    c.send(b"SUB " + b"a" * 5000)
    c.expect_close("maximum control line exceeded")


@pytest.mark.parametrize("make_op", [
    lambda n: b"SUB " + b"a" * (n - 2) + b" 1\r\n",
    lambda n: b"PUB " + b"a" * (n - 2) + b" 1\r\nx\r\n",
    lambda n: b"PUB a " + b"r" * (n - 4) + b" 1\r\nx\r\n",
    lambda n: b"UNSUB " + b"1" * n + b"\r\n",
    lambda n: b'CONNECT {"name":"' + b"a" * (n - 11) + b'"}\r\n',
], ids=["SUB", "PUB", "PUB-reply", "UNSUB", "CONNECT"])
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_max_control_line_exact_boundary(make_server, make_op, bytewise):
    s = make_server(conf="max_control_line: 64\n")
    c = client(s)
    send = c.send_bytewise if bytewise else c.send
    send(make_op(64))
    c.expect_nothing()
    c = client(s)
    send = c.send_bytewise if bytewise else c.send
    try:
        send(make_op(65))
    except OSError:
        pass  # the server may close while we are still writing
    c.expect_close("maximum control line exceeded")


def test_ping_arguments_not_limited(make_server):
    """PING's trailing text is skipped, not buffered: it is not subject to
    max_control_line."""
    s = make_server(conf="max_control_line: 64\n")
    c = client(s)
    c.send(b"PING " + b"x" * 10000 + b"\r\n")
    c.expect_frame(b"PONG\r\n")
    c.expect_nothing()


# ---- max_connections ------------------------------------------------------------------

def accepted_client(server, attempts=100):
    """A client that got past the connection limit. The server may still
    count a connection that has just been closed (the fixture's port probe,
    or one closed by the test), so a rejection is retried for up to ~2 s."""
    for _ in range(attempts):
        c = Conn(server.port)
        c.send(C0 + b"PING\r\n")
        f = c.frame()
        if f.op == "PONG":
            return c
        assert f.raw == b"-ERR 'maximum connections exceeded'\r\n", f
        c.expect_eof()
        time.sleep(0.02)
    raise ProtoError("no connection accepted")


def test_max_connections(make_server):
    s = make_server(conf="max_connections: 2\n")
    a = accepted_client(s)
    b = accepted_client(s)
    # The third gets INFO, then the -ERR, then EOF.
    c = Conn(s.port, read_info=False)
    line = c.read_until(b"\r\n")
    assert line.startswith(b"INFO {") and line.endswith(b"} \r\n")
    c.expect_close("maximum connections exceeded")
    # The two accepted ones are unaffected.
    a.send(b"SUB foo 1\r\n")
    a.expect_nothing()
    b.send(b"PUB foo 1\r\nx\r\n")
    b.expect_nothing()
    assert [f.raw for f in a.flush()] == [b"MSG foo 1 1\r\nx\r\n"]
    # Closing one frees its slot.
    b.close()
    accepted_client(s)


# ---- max_subscriptions ----------------------------------------------------------------

def test_max_subscriptions(make_server):
    s = make_server(conf="max_subscriptions: 3\n")
    c = client(s)
    c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
    c.expect_nothing()
    c.send(b"SUB d 4\r\n")
    c.expect_err("maximum subscriptions exceeded")
    c.expect_nothing()  # still open
    c.send(b"SUB d q 5\r\n")
    c.expect_err("maximum subscriptions exceeded")
    c.expect_nothing()
    # The refused subscriptions do not exist; the others work.
    c.send(b"PUB d 1\r\nx\r\nPUB a 1\r\ny\r\n")
    assert [f.raw for f in c.flush()] == [b"MSG a 1 1\r\ny\r\n"]
    # UNSUB frees a slot.
    c.send(b"UNSUB 1\r\nSUB d 4\r\nPUB d 1\r\nz\r\n")
    assert [f.raw for f in c.flush()] == [b"MSG d 4 1\r\nz\r\n"]
    # The limit is per connection.
    other = client(s)
    other.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
    other.expect_nothing()


def test_max_subscriptions_verbose(make_server):
    s = make_server(conf="max_subscriptions: 1\n")
    c = Conn(s.port)
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect_frame(b"+OK\r\n")
    c.send(b"SUB a 1\r\n")
    c.expect_frame(b"+OK\r\n")
    c.send(b"SUB b 2\r\n")
    c.expect_err("maximum subscriptions exceeded")  # and no +OK
    c.expect_nothing()


# ---- slow consumer -----------------------------------------------------------------------

SLOW_CONF = """
max_pending: 100KB
max_payload: 64KB
# nats-server 2.9.10 marks a slow consumer closed at once but closes its
# socket only when the write stuck in the kernel times out (write_deadline,
# default 10s); a short deadline keeps the test fast.
write_deadline: "1s"
"""


def test_slow_consumer_closed_without_err(make_server):
    """A subscriber that never reads is cut off once more than max_pending
    bytes wait for it; no -ERR is sent. The publisher and a subscriber that
    keeps reading are unharmed and get every message."""
    s = make_server(conf=SLOW_CONF)
    # A tiny receive buffer so that the kernel absorbs little for it.
    slow = client(s, rcvbuf=4096)
    slow.send(b"SUB data 1\r\n")
    slow.expect_nothing()
    good = client(s)
    good.send(b"SUB data 2\r\n")
    good.expect_nothing()
    pub = client(s)

    # Lock-step: one 60000-byte message, then a PING; the good subscriber
    # reads each message before the next is sent, so at most one message is
    # ever pending for it, while the slow one's backlog grows past
    # max_pending (the kernel buffers hold a few MB at most; 200 messages
    # are 12 MB).
    n, size = 200, 60000
    for i in range(n):
        payload = b"%06d" % i + b"x" * (size - 6)
        pub.send(b"PUB data %d\r\n" % size + payload + b"\r\nPING\r\n")
        f = good.frame(timeout=10)
        assert f.raw == msg("data", 2, payload), (i, f)
        pub.expect_frame(b"PONG\r\n", timeout=10)
    pub.expect_nothing()
    good.expect_nothing()

    # The slow consumer's stream: complete MSG frames in order (the last one
    # may be cut short by the close; a keepalive PING may sit in between),
    # never an -ERR, then EOF.
    data = slow.read_to_eof(timeout=10)
    assert b"-ERR" not in data
    got = pos = 0
    while pos < len(data):
        if data.startswith(b"PING\r\n", pos):
            pos += 6
            continue
        want = msg("data", 1, b"%06d" % got + b"x" * (size - 6))
        chunk = data[pos:pos + len(want)]
        assert chunk == want[:len(chunk)], (got, chunk[:60])
        if len(chunk) < len(want):
            break  # truncated by the close
        got += 1
        pos += len(want)
    assert got < n, "the slow consumer was not cut off"

    # The publisher and the good subscriber still work.
    pub.send(b"PUB data 3\r\nend\r\n")
    pub.expect_nothing()
    assert [f.raw for f in good.flush()] == [b"MSG data 2 3\r\nend\r\n"]
