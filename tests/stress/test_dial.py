"""Outbound connections from a shard's ring (core/shard.c "outbound
connections"): connect with a timeout, retries with a doubling delay, and a
connected socket served as a connection of the kind asked for. Routes,
gateways and leaf remotes will dial this way; until they exist, the test
knob GANNET_DIAL_TEST makes shard 0 dial a socket of the test's and serve
it as a client connection. gannet only (nats-server has no such knob)."""
import re
import socket
import time

import pytest

from proto import client
from servers import GANNET_BIN, Server


def listener(port=0, backlog=8):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def free_local_port():
    s = listener()
    port = s.getsockname()[1]
    s.close()
    return port


def wait_log(srv, pattern, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.findall(pattern, srv.log())
        if m:
            return m
        time.sleep(0.05)
    raise AssertionError("no %r in the log:\n%s" % (pattern, srv.log()[-3000:]))


@pytest.fixture
def dial_server(monkeypatch):
    started = []

    def start(knob):
        monkeypatch.setenv("GANNET_DIAL_TEST", knob)
        s = Server(GANNET_BIN, args=("-D",))
        started.append(s)
        return s

    yield start
    for s in started:
        assert s.stop() == 0, s.log()[-2000:]


def test_refused_then_retried_with_backoff_then_served(dial_server):
    port = free_local_port()
    srv = dial_server("127.0.0.1:%d,500,0,50" % port)  # nothing listens yet: refused
    delays = wait_log(srv, r"connect failed \(attempt 3\): Connection refused; next attempt in (\d+)ms")
    got = [int(d) for d in re.findall(r"connect failed \(attempt \d+\): Connection refused; next attempt in (\d+)ms",
                                      srv.log())]
    assert got[:3] == [50, 100, 200], got  # doubling from the configured 50 ms
    lst = listener(port)
    lst.settimeout(10)
    sock, _ = lst.accept()  # the next attempt lands here
    lst.close()
    wait_log(srv, r"connected \(attempt \d+\)")
    # what answered is served as a client connection: INFO, then the protocol
    sock.settimeout(5)
    info = b""
    while not info.endswith(b"\r\n"):
        info += sock.recv(4096)
    assert info.startswith(b"INFO {") and b'"client_id"' in info
    sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB dial.t 1\r\nPING\r\n')
    buf = b""
    while b"PONG\r\n" not in buf:
        buf += sock.recv(4096)
    pub = client(srv)
    pub.send(b"PUB dial.t 2\r\nhi\r\n")
    pub.expect_nothing()
    buf = b""
    while b"hi\r\n" not in buf:
        buf += sock.recv(4096)
    assert buf == b"MSG dial.t 1 2\r\nhi\r\n"
    sock.close()


def test_connect_timeout_and_giving_up(dial_server):
    # A listener whose accept queue is full drops further SYNs: a connect to
    # it hangs, so only the attempt's timeout ends it.
    lst = listener(backlog=0)
    port = lst.getsockname()[1]
    fillers = []
    for _ in range(4):  # the queue holds backlog+1 on Linux; the rest wait in SYN-SENT
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    time.sleep(0.2)
    t0 = time.monotonic()
    srv = dial_server("127.0.0.1:%d,300,2,50" % port)
    wait_log(srv, r"connect failed \(attempt 2\): Connection timed out; giving up")
    took = time.monotonic() - t0
    log = srv.log()
    assert "connect failed (attempt 1): Connection timed out; next attempt in 50ms" in log
    assert "connected (attempt" not in log
    assert took >= 0.6  # two attempts of 300 ms each really waited (a lower bound, not a speed goal)
    c = client(srv)  # the server is fine
    c.expect_nothing()
    for f in fillers:
        f.close()
    lst.close()


def test_bad_knob_is_refused_with_a_message(dial_server):
    srv = dial_server("not-an-address")
    wait_log(srv, r"GANNET_DIAL_TEST=not-an-address: want host:port")
    client(srv).expect_nothing()
