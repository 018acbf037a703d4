"""Flow control: fast producers, slow and stopped consumers
(nats-compat.md 1.10 "Limits, slow consumers").

nats-server 2.9.10 stalls a producer while a consumer it delivers to has
more than max_pending/2 bytes queued: the producer's read loop waits (100 ms
up to 1 s per delivery) until that consumer's writer drains it below half
or writes all it attempted. A consumer above max_pending is cut ("Slow
Consumer (Pending Bytes)"), and so is one whose write stays blocked longer
than write_deadline ("Slow Consumer (Write Deadline)"). Hence:

- a subscriber that reads slowly but steadily loses nothing, however fast
  the publisher pushes (the publisher is slowed down to the reader's pace);
- a subscriber that stops reading is cut, and the others lose nothing.

The bursts are many times max_pending plus what the kernel can buffer, so
a server that neither stalls the producer nor drops data has to cut the
slow reader. Streams are compared byte for byte with what the publisher
sent (every payload starts with its sequence number), which proves exactly
once, in order. No speed is asserted, only correctness within generous
time bounds.

Every scenario runs once against nats-server and, against gannet, with the
default shard count and with `--shards 1` and `--shards 2` (connections are
spread across shards by the kernel's SO_REUSEPORT hash, so with several of
them some cross shards).
"""
import json
import socket
import threading
import time
import urllib.request

import pytest

from proto import client, connect_line
from servers import free_port, server_targets, wait_port

# ---- targets: nats-server once, gannet at default / 1 / 2 shards ------------------------


def flow_targets():
    out = []
    for name, binary in server_targets():
        if name == "gannet":
            out += [("gannet", binary, None), ("gannet-shards1", binary, 1), ("gannet-shards2", binary, 2)]
        else:
            out.append((name, binary, None))
    return out


@pytest.fixture(params=flow_targets(), ids=lambda t: t[0])
def target(request):
    return request.param


@pytest.fixture
def server_bin(target):
    """Overrides conftest's server_bin for this module (make_server uses it)."""
    return target[1]


def start_server(make_server, target, conf, monitor=False):
    """A server on conf; gannet gets --shards N when the target says so
    (nats-server has no such flag). monitor: also an HTTP monitoring port,
    as .mport."""
    args = []
    if target[2] is not None:
        args += ["--shards", str(target[2])]
    mport = None
    if monitor:
        mport = free_port()
        args += ["-m", str(mport)]
    s = make_server(conf=conf, args=args)
    if monitor:
        wait_port(mport, proc=s.proc)
    s.mport = mport
    return s


# ---- configuration ---------------------------------------------------------------------

# Small limits so that the stall really triggers. nats-server refuses
# max_payload > max_pending. A long ping_interval: no keepalive PING besides
# nats-server's first one (about 2 s after CONNECT whatever ping_interval),
# which StreamCheck skips.
BASE_CONF = """
max_pending: 1MB
max_payload: 64KB
ping_interval: "5m"
"""
# The stopped reader: nats-server marks a consumer above max_pending closed
# at once but closes its socket only when the write stuck in the kernel
# times out; and while a producer is stalled on that consumer (up to 1 s per
# delivery), max_pending is reached slowly. A short write_deadline cuts it
# quickly either way.
STOPPED_CONF = BASE_CONF + 'write_deadline: "2s"\n'

SUB_RCVBUF = 16384    # steady readers (the kernel doubles it)
STOPPED_RCVBUF = 4096
READ_CHUNK = 8192     # the slow readers' recv() size
SLOW_RATE = 8e6       # bytes/s a slow reader takes at most
SCENARIO_TIMEOUT = 25.0
SUBJECT = "flow"

# ---- streams ---------------------------------------------------------------------------


def payload(i, size):
    """Payload of message i: its sequence number, then filler."""
    return (b"%010d." % i + b"x" * size)[:size]


def streams(size, total, sids):
    """The publisher's bytes for about `total` bytes of MSG per subscriber,
    and the exact MSG stream each sid must receive."""
    frame = len(b"MSG %s %s %d\r\n" % (SUBJECT.encode(), b"1", size)) + size + 2
    n = max(1, total // frame)
    pubs, want = [], {sid: [] for sid in sids}
    for i in range(n):
        p = payload(i, size)
        pubs.append(b"PUB %s %d\r\n%s\r\n" % (SUBJECT.encode(), size, p))
        for sid in sids:
            want[sid].append(b"MSG %s %s %d\r\n%s\r\n" % (SUBJECT.encode(), sid.encode(), size, p))
    return n, b"".join(pubs), {sid: b"".join(w) for sid, w in want.items()}


def named(server, name, **conn):
    return client(server, connect=connect_line(verbose=False, pedantic=False, headers=True,
                                               protocol=1, name=name), **conn)


def subscriber(server, name, sid, **conn):
    c = named(server, name, **conn)
    c.send("SUB %s %s\r\n" % (SUBJECT, sid))
    c.expect_nothing()
    return c


# ---- the threads -----------------------------------------------------------------------


class Worker(threading.Thread):
    """Runs fn(); keeps its exception (if any) for the main thread."""

    def __init__(self, name, fn):
        super().__init__(name=name, daemon=True)
        self.fn, self.error, self.result = fn, None, None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:  # reported by the main thread
            self.error = e


def publish(pub, data):
    """Send the whole burst as fast as the server takes it, then PING."""
    def run():
        pub.sock.settimeout(SCENARIO_TIMEOUT)  # sendall: total duration
        try:
            pub.sock.sendall(data + b"PING\r\n")
        except OSError as e:
            raise AssertionError("publisher could not send its burst: %r" % e)
        return time.monotonic()
    return run


class StreamCheck:
    """Checks bytes received against the exact stream expected, as they come.

    The only other thing allowed in between is a server PING at a message
    boundary (nats-server sends its first PING about 2 s after CONNECT,
    whatever ping_interval); it is skipped and counted in .pings."""

    def __init__(self, label, want, size):
        self.label, self.want, self.mv, self.size = label, want, memoryview(want), size
        self.frame = want.index(b"\r\n") + 2 + size + 2
        self.got = 0          # bytes of want matched
        self.pend = bytearray()
        self.pings = 0

    def where(self, pos=None):
        return "message %d of %d" % ((self.got if pos is None else pos) // self.frame,
                                     len(self.want) // self.frame)

    def feed(self, data):
        """Take received bytes; returns how many PINGs they completed."""
        self.pend += data
        pings = 0
        while self.pend:
            m = min(len(self.pend), len(self.want) - self.got)
            if m and self.pend[:m] == self.mv[self.got:self.got + m]:
                self.got += m
                del self.pend[:m]
                continue
            at = next((k for k in range(m) if self.pend[k] != self.want[self.got + k]), m)
            self.got += at
            del self.pend[:at]
            if self.got % self.frame == 0:
                if self.pend.startswith(b"PING\r\n"):
                    del self.pend[:6]
                    pings += 1
                    continue
                if b"PING\r\n".startswith(self.pend):
                    break  # the rest of the PING is still to come
            if not self.pend:
                break
            raise AssertionError("%s: wrong byte at %d (%s): expected %r, got %r" % (
                self.label, self.got, self.where(), bytes(self.mv[self.got:self.got + 40]),
                bytes(self.pend[:40])))
        self.pings += pings
        return pings

    def done(self):
        return self.got == len(self.want)


def read_stream(conn, label, want, size, rate=None):
    """Read the bytes of `want` from conn, in READ_CHUNK pieces at no more
    than `rate` bytes/s (None: as fast as possible), checking them as they
    come (StreamCheck) and answering server PINGs."""
    def run():
        sock = conn.sock
        chk = StreamCheck(label, want, size)
        buf = bytearray(READ_CHUNK if rate else 262144)
        if conn.buf:  # already buffered by the Conn (normally nothing)
            pre = bytes(conn.buf)
            del conn.buf[:]
            chk.feed(pre)
        start = time.monotonic()
        sock.settimeout(10.0)
        while not chk.done():
            if rate:
                ahead = start + chk.got / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            err = None
            try:
                n = sock.recv_into(buf, min(len(buf), len(want) - chk.got + 6))
            except socket.timeout:
                raise AssertionError("%s: nothing for 10 s after %d of %d bytes (%s)" % (
                    label, chk.got, len(want), chk.where()))
            except OSError as e:  # reset: the server cut this connection
                n, err = 0, e
            if n == 0:
                raise AssertionError("%s: connection closed by the server (%r) after %d of %d bytes (%s)" % (
                    label, err, chk.got, len(want), chk.where()))
            for _ in range(chk.feed(buf[:n])):
                sock.sendall(b"PONG\r\n")
        conn.buf[:0] = chk.pend  # beyond the stream: left to the Conn's frame reader
        return time.monotonic() - start
    return run


def run_workers(workers, timeout=SCENARIO_TIMEOUT):
    """Start all, wait for all (bounded); the first error fails the test."""
    for w in workers:
        w.start()
    deadline = time.monotonic() + timeout
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
    stuck = [w.name for w in workers if w.is_alive()]
    errors = [str(w.error) for w in workers if w.error is not None]
    assert not errors, "\n".join(errors)
    assert not stuck, "still running after %.0f s: %s" % (timeout, stuck)


def close_all(*conns):
    for c in conns:
        c.close()


# ---- 1, 2: slow but steady readers lose nothing ------------------------------------------


@pytest.mark.parametrize("size,total,nsubs", [
    (128, 24_000_000, 1),
    (16384, 24_000_000, 1),
    (128, 16_000_000, 4),
], ids=["128B-1sub", "16KiB-1sub", "128B-4subs"])
def test_slow_steady_reader_loses_nothing(make_server, target, size, total, nsubs):
    """One publisher bursts `total` bytes of MSG per subscriber (16-24 times
    max_pending) as fast as it can; each subscriber (small SO_RCVBUF) reads
    at a fixed rate well below the publisher's. Every subscriber gets every
    message exactly once, in order, and nothing else; no connection is
    closed; the publisher's final PING is answered."""
    s = start_server(make_server, target, BASE_CONF)
    sids = [str(k + 1) for k in range(nsubs)]
    subs = [subscriber(s, "slow%s" % sid, sid, rcvbuf=SUB_RCVBUF, timeout=10.0) for sid in sids]
    pub = named(s, "producer", timeout=10.0)
    _, data, want = streams(size, total, sids)
    try:
        workers = [Worker("publisher", publish(pub, data))]
        workers += [Worker("subscriber %s" % sid, read_stream(c, "subscriber %s" % sid, want[sid], size,
                                                              rate=SLOW_RATE))
                    for sid, c in zip(sids, subs)]
        run_workers(workers)
        # The publisher was not cut: its PING (sent after the burst) is answered.
        pub.expect_frame(b"PONG\r\n", timeout=10)
        pub.expect_nothing()
        # Nor were the subscribers; nothing more came for them.
        for c in subs:
            c.expect_nothing()
        assert named(s, "late").flush() == []
    finally:
        close_all(pub, *subs)


# ---- 3: a stopped reader is cut, the others lose nothing ---------------------------------


def get_json(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        assert r.status == 200
        return json.loads(r.read())


def closed_reasons(server):
    """{name: reason} of the closed connections that had a name."""
    cz = get_json(server.mport, "/connz?state=closed&limit=1024")
    return {c["name"]: c.get("reason") for c in cz["connections"] if c.get("name")}


SLOW_CONSUMER_REASONS = ("Slow Consumer (Pending Bytes)", "Slow Consumer (Write Deadline)")


@pytest.mark.parametrize("size,total", [(128, 16_000_000), (16384, 16_000_000)], ids=["128B", "16KiB"])
def test_stopped_reader_cut_others_unharmed(make_server, target, size, total):
    """Subscribers A and B on one subject; A (small SO_RCVBUF) never reads
    after subscribing, B reads as fast as it can; the publisher bursts
    16 times max_pending. B gets every message exactly once, in order; the
    publisher is not cut; A is cut as a slow consumer (closed-connection
    reason in /connz, by pending bytes or write deadline), and what A did
    receive is an in-order prefix of its stream; the server stays healthy."""
    s = start_server(make_server, target, STOPPED_CONF, monitor=True)
    a = subscriber(s, "stopped", "1", rcvbuf=STOPPED_RCVBUF, timeout=10.0)
    b = subscriber(s, "fast", "2", timeout=10.0)
    pub = named(s, "producer", timeout=10.0)
    _, data, want = streams(size, total, ["1", "2"])
    try:
        run_workers([Worker("publisher", publish(pub, data)),
                     Worker("subscriber B", read_stream(b, "subscriber B", want["2"], size))])
        pub.expect_frame(b"PONG\r\n", timeout=10)
        pub.expect_nothing()
        b.expect_nothing()

        # A is cut, as a slow consumer; nobody else is.
        deadline = time.monotonic() + 15
        while "stopped" not in closed_reasons(s):
            assert time.monotonic() < deadline, "A not among the closed connections after 15 s: %r" % (
                get_json(s.mport, "/connz?state=closed"),)
            time.sleep(0.05)
        reasons = closed_reasons(s)
        assert reasons["stopped"] in SLOW_CONSUMER_REASONS, reasons
        assert set(reasons) == {"stopped"}, reasons
        # What reached A before the cut: the start of its stream, in order
        # (possibly ending inside a message), and then EOF.
        chk = StreamCheck("A", want["1"], size)
        chk.feed(a.read_to_eof(timeout=10))
        assert not chk.done(), "A got everything: it was not cut"

        # The server is healthy: B and the publisher still work, a new
        # connection gets its PONG.
        pub.send("PUB %s 3\r\nend\r\n" % SUBJECT)
        pub.expect_nothing()
        assert [f.raw for f in b.flush()] == [b"MSG %s 2 3\r\nend\r\n" % SUBJECT.encode()]
        assert named(s, "late").flush() == []
    finally:
        close_all(pub, a, b)
