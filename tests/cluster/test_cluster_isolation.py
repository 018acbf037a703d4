"""A pinned account neither blocks nor is blocked by the others (the
pooling issue: "pinning gives a busy account its own connection").

B parks a route's input while a local subscriber it feeds is over half its
max_pending (docs/design.md §22, flow control end to end). On one route
connection per peer (pool_size -1, as 2.9.10) that holds back every
account behind the slow one; with a pool and account A pinned, A's flood
waits on A's own connection and $G's messages go on.

The check: A's subscriber on B reads slowly (64 KB every 20 ms: it is
waited for, not cut) while A's publisher on A floods, tens of MB ahead of
it; $G messages from A to B then arrive at once with pooling, and not at
all without it (behind the flood in the one connection's byte stream),
until A's subscriber reads fast again. Every message of both arrives in
the end, in order, and nobody is cut as a slow consumer. gannet
only: nats-server 2.9.10 does not park a route (it cuts the subscriber),
and has no pool.
"""
import os
import re
import socket
import threading
import time

import pytest

import cluster as cl
from cluster import ACCOUNTS_AB, login, route_interest, sync_interest, topologies, uniq
from proto import ProtoError, TIMEOUT

IS_GANNET = os.path.basename(os.path.realpath(cl.binary_for("g"))) == "gannet"
TOPOLOGIES = [t for t in topologies(2) if t == "gg" and IS_GANNET]

CONF = ACCOUNTS_AB + """
authorization { users: [ {user: g, password: g} ] }
max_pending: 262144
max_payload: 65536
"""
N, SIZE = 131072, 1024  # 128 MiB: more than the sockets between can hold (tens of MB on loopback)
QUIET = 2.0  # how long the no-pool case is watched for $G messages that cannot come
SLOW_CHUNK, SLOW_PAUSE = 65536, 0.02  # the slow reader: at most about 3 MB/s


def connect_raw(node, user, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect(("127.0.0.1", node.port))
    s.recv(4096)
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"user":"%s","pass":"%s"}\r\n'
              % (user.encode(), user.encode()))
    return s


class SlowReader(threading.Thread):
    """Reads a raw subscriber socket, SLOW_CHUNK bytes per SLOW_PAUSE while
    .slow is set, then as fast as it can, until the line that ends with
    `last` (the last message's body) or the deadline. The server's PINGs
    are in .buf too."""

    def __init__(self, sock, last, deadline):
        super().__init__(daemon=True)
        self.sock, self.last, self.deadline = sock, last, deadline
        self.buf = bytearray()
        self.slow = True
        self.error = None

    def run(self):
        self.sock.settimeout(0.5)
        try:
            while not self.buf[-len(self.last) - 64:].endswith(self.last) and time.monotonic() < self.deadline:
                try:
                    chunk = self.sock.recv(SLOW_CHUNK if self.slow else 1 << 20)
                except socket.timeout:
                    continue
                if not chunk:
                    self.error = "EOF after %d bytes" % len(self.buf)
                    return
                self.buf += chunk
                if self.slow:
                    time.sleep(SLOW_PAUSE)
        except OSError as e:
            self.error = repr(e)


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("pool", [3, -1], ids=["pool3-pinnedA", "nopool"])
def test_slow_account_does_not_hold_back_others(make_cluster, topology, pool):
    c = make_cluster.unstarted(topology, pool_size=pool, pinned=["A"] if pool > 0 else [], extra_conf=CONF)
    c.start()
    a, b = c.nodes
    subj, gsubj = uniq("flood."), uniq("other.")
    slow = connect_raw(b, "a", rcvbuf=16384)
    slow.sendall(b"SUB %s 1\r\nPING\r\n" % subj.encode())
    got = b""
    while b"PONG\r\n" not in got:
        got += slow.recv(4096)
    assert got.endswith(b"PONG\r\n"), got
    assert route_poll(lambda: subj in (route_interest(a, b, "A") or set()))
    gsub, gpub = login(b, "g"), login(a, "g")
    gsub.send(b"SUB %s 1\r\n" % gsubj.encode())
    sync_interest(gsub, gpub)
    body = b"x" * (SIZE - 8)
    payload = b"".join(b"PUB %s %d\r\n%08d%s\r\n" % (subj.encode(), SIZE, i, body) for i in range(N))
    frame = len(b"MSG %s 1 %d\r\n" % (subj.encode(), SIZE)) + SIZE + 2
    reader = SlowReader(slow, b"%08d%s\r\n" % (N - 1, body), time.monotonic() + 120)
    reader.start()
    ps = connect_raw(a, "a")
    ps.setblocking(False)
    off = 0

    def pump():
        nonlocal off
        while off < len(payload):
            try:
                off += ps.send(payload[off:off + 65536])
            except BlockingIOError:
                return

    until = time.monotonic() + 3  # the flood runs far ahead of the slow reader
    while time.monotonic() < until:
        pump()
        time.sleep(0.01)
    assert off < len(payload), "the publisher was never held back: nothing waited for the slow reader"
    for i in range(100):
        gpub.send(b"PUB %s 2\r\n%02d\r\n" % (gsubj.encode(), i))
    other = []
    if pool > 0:  # on its own connection: at once, while A's flood waits for its reader
        gpub.flush()  # (without a pool, A parks this publisher too: it feeds the same full connection)
        while len(other) < 100:
            f = gsub.frame(timeout=TIMEOUT)
            if f.op == "MSG":
                other.append(f.payload)
        assert len(reader.buf) < N * frame // 2, "the slow reader was not behind: the check proves nothing"
    else:  # behind the flood in the one connection's byte stream: nothing yet
        seen = []
        try:
            while True:
                f = gsub.frame(timeout=QUIET)
                if f.op == "MSG":
                    seen.append(f)
        except ProtoError:  # QUIET seconds of nothing
            pass
        assert seen == [], "$G messages passed the parked connection: %r" % seen[:3]
    reader.slow = False
    while off < len(payload) and time.monotonic() < reader.deadline:
        pump()
        time.sleep(0.001)
    reader.join(timeout=max(0, reader.deadline - time.monotonic()))
    data = bytes(reader.buf).replace(b"PING\r\n", b"")  # (a body is digits and x: no PING inside one)
    assert reader.error is None and len(data) == N * frame, (reader.error, len(data), N * frame)
    seqs = [int(m) for m in re.findall(rb"\r\n(\d{8})x", data)]
    assert seqs == list(range(N)), "A's messages lost or out of order"
    while len(other) < 100:
        f = gsub.frame(timeout=30)
        if f.op == "MSG":
            other.append(f.payload)
    assert other == [b"%02d" % i for i in range(100)]
    ps.close()
    slow.close()
    for node in (a, b):
        assert node.varz()["slow_consumers"] == 0, node


def route_poll(cond):
    from servers import poll
    return poll(cond, cl.INTEREST_TIMEOUT)
