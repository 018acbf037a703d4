"""gannet only: allocation failures and a tiny cross-shard budget.

1. Allocation-failure injection. GANNET_FAILPOINTS="site:N[,site:N...]"
   makes every N-th call at a site fail as if malloc returned NULL (sites:
   sub, sid, oblock, sqe, batch, conn, inq; core/failpoint.h). The
   contract: gannet never crashes, corrupts state or leaks; an operation
   that cannot get memory succeeds later or closes that connection
   ("Insufficient Resources" in /connz?state=closed), and the other
   connections keep working. For each site and a combination, gannet runs
   with --shards 2 under a few seconds of raw-socket workload (see
   Workload): SUB/UNSUB churn (plain, queue, wildcard), UNSUB with max,
   publishes, request/reply, and lock-step rounds whose deliveries are
   checked exactly (a round where the server closed one of its
   connections is void, a round where both stayed open must be exact).
   Then: the server is alive, a fresh connection (retried: injected conn
   or sqe failures may refuse one) gets PONG and pub/sub works on it, every
   closed connection's reason is one a client close or an injected failure
   explains (never a protocol error: state corruption would show there), no
   subscription is left once every client is gone, and SIGTERM exits 0.
   Under GANNET_SANITIZER=1 (tests/run.sh's ASan phase) a sanitizer report
   in the log fails the test (conftest), and a leak makes the exit code
   non-zero. Two small tests beside: conn:1 refuses every client (so the
   knob is armed at all), and a malformed GANNET_FAILPOINTS stops gannet
   at start-up with exit code 1 (a typo must not run a test without its
   failures).

2. A tiny cross-shard budget: `xshard_max_pending: 1` (every cross-shard
   turn parks the producer), `max_pending: 256KB`, `shards: 2`. Steady
   readers, slow readers, and connections that subscribe, UNSUB (also with
   max) and close continuously while three publishers publish numbered
   messages: every steady reader gets every message of every publisher, in
   order; nothing crashes. The regression test for a use-after-free when a
   held cross-shard batch names subscriptions that have since been removed.

Skipped (with the reason) when the target is not gannet: the knob and the
key are gannet's own. tests/run.sh runs this file in its main phase
(build/gannet), its ASan phase and its TSan phase. Every wait is bounded;
the only sleeps pace the slow readers and back off between retries.
"""
import json
import os
import random
import re
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from proto import Conn, ProtoError, connect_line
from servers import GANNET_BIN, free_port, poll, wait_port

OP_TIMEOUT = 8.0       # a PING unanswered this long on an open connection: the server hangs
WORK_SECONDS = 4.0     # workload duration per scenario
ALLOWED_REASONS = {    # what closes connections in these workloads
    "Client Closed",            # the workload's own closes
    "Read Error", "Write Error",  # a close with unread data (RST) seen from the server
    "Insufficient Resources",   # an injected failure the connection could not go on from
}


@pytest.fixture
def server_bin():
    """Overrides conftest's: these tests are gannet's own, run once, on GANNET_BIN."""
    return GANNET_BIN


@pytest.fixture
def gannet_bin():
    """gannet only (GANNET_FAILPOINTS and xshard_max_pending are its own):
    the binary under test is GANNET_BIN, not parametrized over nats-server."""
    return GANNET_BIN


SYS_SUBS = 5  # the system account's request subscriptions (core/events.c), there from the start

# ---- monitoring ------------------------------------------------------------------------


def start(make_server, monkeypatch, conf=None, args=(), failpoints=None):
    if failpoints is not None:
        monkeypatch.setenv("GANNET_FAILPOINTS", failpoints)
    else:
        monkeypatch.delenv("GANNET_FAILPOINTS", raising=False)
    mport = free_port()
    s = make_server(conf=conf, args=["-m", str(mport)] + list(args))
    wait_port(mport, proc=s.proc)
    s.mport = mport
    return s


def mon(server, path, attempts=20):
    """GET a monitoring endpoint as JSON (retried: the monitor's own shard
    queries may meet injected failures too)."""
    err = None
    for _ in range(attempts):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (server.mport, path), timeout=5) as r:
                return json.load(r)
        except (OSError, ValueError) as e:
            err = e
            time.sleep(0.1)
    raise AssertionError("%s: no answer: %r" % (path, err))




# ---- a client the server may close at any time ----------------------------------------


class Lost(Exception):
    """The server closed the connection (EOF or RST): allowed."""


class Broken(AssertionError):
    """The server neither answered in time nor closed, or sent garbage."""


class Peer:
    """A raw-socket client (proto.Conn). Every call maps the server closing
    the connection to Lost and a timeout or malformed frame to Broken."""

    def __init__(self, port, name, rcvbuf=None):
        self.name = name
        self.c = None
        self.c = self._do(lambda: Conn(port, timeout=OP_TIMEOUT, rcvbuf=rcvbuf))
        self.send(connect_line(verbose=False, pedantic=False, headers=True, protocol=1, name=name))
        self.flush()

    def _do(self, fn):
        try:
            return fn()
        except ProtoError as e:
            if self.c is None or self.c.eof:
                raise Lost("%s: %s" % (self.name, e))
            raise Broken("%s: %s" % (self.name, e))
        except OSError as e:
            raise Lost("%s: %r" % (self.name, e))

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self._do(lambda: self.c.send(data))

    def flush(self):
        """PING barrier: the frames before the PONG."""
        return self._do(self.c.flush)

    def frame(self, timeout=None):
        return self._do(lambda: self.c.frame(timeout))

    def frame_or_none(self, timeout):
        """The next frame, or None when nothing came within timeout (no error)."""
        try:
            return self.c.frame(timeout)
        except ProtoError as e:
            if self.c.eof:
                raise Lost("%s: %s" % (self.name, e))
            if "timeout" in str(e):
                return None
            raise Broken("%s: %s" % (self.name, e))
        except OSError as e:
            raise Lost("%s: %r" % (self.name, e))

    def close(self):
        if self.c is not None:
            self.c.close()


class Workload:
    """Threads against one server until stop(); counters in .stats, the
    first contract violation per thread in .errors."""

    def __init__(self, port, seed=1):
        self.port = port
        self.stop_ev = threading.Event()
        self.errors = []
        self.stats = {}
        self.lock = threading.Lock()
        self.threads = []
        self.seed = seed

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def spawn(self, fn, *args):
        def run():
            try:
                fn(*args)
            except BaseException as e:  # noqa: B902 (reported by the test)
                with self.lock:
                    self.errors.append("%s: %s: %s" % (fn.__name__, type(e).__name__, e))
                self.stop_ev.set()
        t = threading.Thread(target=run, daemon=True)
        self.threads.append(t)
        t.start()

    def stop(self, timeout=2 * OP_TIMEOUT + 5):
        self.stop_ev.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        stuck = [t for t in self.threads if t.is_alive()]
        assert not stuck, "%d workload threads did not finish" % len(stuck)

    def connect(self, name, **kw):
        """A Peer, or None (counted) when the server refused or closed it."""
        try:
            return Peer(self.port, name, **kw)
        except Lost:
            self.count("connect_refused")
            return None

    # ---- the workers -----------------------------------------------------------------

    def churner(self, idx):
        """Random SUB (plain, `*`, `>`, queue, queue on a wildcard), UNSUB,
        UNSUB max, PUB (some with a reply) in batches, each closed with a
        PING barrier that drains what arrived; now and then the connection
        is closed with its subscriptions. Deliveries must name a sid this
        connection used, on a subject of the workload."""
        rng = random.Random(self.seed * 100 + idx)
        p, live, used, sid = None, [], set(), 0
        while not self.stop_ev.is_set():
            if p is None:
                p = self.connect("churn%d" % idx)
                live, used = [], set()
                if p is None:
                    continue
            ops = []
            for _ in range(rng.randint(5, 30)):
                r = rng.random()
                if r < 0.35 or not live:
                    sid += 1
                    k = rng.randrange(8)
                    subj, q = rng.choice([("w.%d" % k, None), ("w.*", None), ("w.>", None),
                                          ("w.%d" % k, "g%d" % rng.randrange(3)), ("w.*", "gs")])
                    ops.append("SUB %s %s%d\r\n" % (subj, q + " " if q else "", sid))
                    live.append(sid)
                    used.add(str(sid))
                elif r < 0.5:
                    ops.append("UNSUB %d\r\n" % live.pop(rng.randrange(len(live))))
                elif r < 0.6:
                    ops.append("UNSUB %d %d\r\n" % (live.pop(rng.randrange(len(live))), rng.randint(1, 3)))
                else:
                    k = rng.randrange(8)
                    body = "m%d" % rng.randrange(1000)
                    rep = " w.reply.%d" % idx if rng.random() < 0.2 else ""
                    ops.append("PUB w.%d%s %d\r\n%s\r\n" % (k, rep, len(body), body))
            try:
                p.send("".join(ops))
                for f in p.flush():
                    if f.op not in ("MSG", "HMSG") or f.sid not in used or not f.subject.startswith("w."):
                        raise Broken("churn%d: unexpected frame %r" % (idx, f))
                    self.count("churn_msgs")
                self.count("churn_batches")
                if rng.random() < 0.05:
                    p.close()
                    p = None
                    self.count("churn_closes")
            except Lost:
                self.count("lost")
                p.close()
                p = None
        if p is not None:
            p.close()

    def responder(self):
        """Answers every request on svc.* (as a queue member) and svc.>
        (plain): two replies per request."""
        p = None
        while not self.stop_ev.is_set():
            if p is None:
                p = self.connect("responder")
                if p is None:
                    continue
                try:
                    p.send("SUB svc.* rq 1\r\nSUB svc.> 2\r\n")
                    p.flush()
                except Lost:
                    self.count("lost")
                    p = None
                    continue
            try:
                f = p.frame_or_none(0.2)
                if f is None:
                    continue
                if f.op != "MSG" or f.sid not in ("1", "2"):
                    raise Broken("responder: unexpected frame %r" % f)
                if f.reply:
                    p.send("PUB %s %d\r\n%s\r\n" % (f.reply, len(f.payload), f.payload.decode()))
                    self.count("replies_sent")
            except Lost:
                self.count("lost")
                p.close()
                p = None
        if p is not None:
            p.close()

    def requester(self):
        """Old-style requests: SUB <inbox> sid, UNSUB sid 1, PUB svc.x
        <inbox>. The responder answers twice; exactly one reply may arrive
        on that sid (UNSUB max), ever."""
        p, n, done = None, 0, set()
        while not self.stop_ev.is_set():
            if p is None:
                p = self.connect("requester")
                done = set()
                if p is None:
                    continue
            n += 1
            inbox = "_INBOX.rq.%d" % n
            try:
                p.send("SUB %s %d\r\nUNSUB %d 1\r\nPUB svc.%d %s 2\r\nhi\r\n" % (inbox, n, n, n % 4, inbox))
                deadline = time.monotonic() + 2.0
                answered = False
                while not answered and time.monotonic() < deadline:
                    f = p.frame_or_none(deadline - time.monotonic())
                    if f is None:
                        break
                    if f.op != "MSG" or not f.subject.startswith("_INBOX.rq.") or f.sid != f.subject.rsplit(".", 1)[1]:
                        raise Broken("requester: unexpected frame %r" % f)
                    if f.sid in done:
                        raise Broken("requester: second reply on sid %s after UNSUB %s 1" % (f.sid, f.sid))
                    done.add(f.sid)
                    answered = f.sid == str(n)
                self.count("answered" if answered else "unanswered")
            except Lost:
                self.count("lost")
                p.close()
                p = None
        if p is not None:
            p.close()

    def verifier(self, idx):
        """Lock-step rounds with exact expectations. A fresh subject per
        round; the subscriber has SUB v.R 1, SUB v.* 2 (another shard's
        publisher reaches it through a cross-shard batch when the kernel put
        them on different shards), SUB v.R vq 3 (a queue of one), SUB v.R 4
        with UNSUB 4 K/2. The publisher sends K numbered messages and a
        PING. If both connections are still open, sids 1-3 get exactly the
        K messages in order and sid 4 the first K/2; then UNSUB 1 2 3. A
        round where the server closed either connection is void."""
        sub = pub = None
        rnd, K = 0, 40
        while not self.stop_ev.is_set():
            rnd += 1
            if sub is None:
                sub = self.connect("vsub%d" % idx)
            if pub is None:
                pub = self.connect("vpub%d" % idx)
            if sub is None or pub is None:
                self.count("void_rounds")
                continue
            subj = "v.%d.%d" % (idx, rnd)
            try:
                sub.send("SUB %s 1\r\nSUB v.%d.* 2\r\nSUB %s vq 3\r\nSUB %s 4\r\nUNSUB 4 %d\r\n"
                         % (subj, idx, subj, subj, K // 2))
                early = sub.flush()
                if early:
                    raise Broken("vsub%d round %d: frames before any publish: %r" % (idx, rnd, early[:3]))
                pub.send("".join("PUB %s %d\r\n%d\r\n" % (subj, len(str(i)), i) for i in range(K)))
                got = pub.flush()
                if got:
                    raise Broken("vpub%d: unexpected %r" % (idx, got[:3]))
                want = {"1": K, "2": K, "3": K, "4": K // 2}
                seen = {s: 0 for s in want}
                deadline = time.monotonic() + OP_TIMEOUT
                while seen != want:
                    left = deadline - time.monotonic()
                    f = sub.frame_or_none(left) if left > 0 else None
                    if f is None:
                        raise Broken("vsub%d round %d: only %r of %r arrived within %.0fs, connections open"
                                     % (idx, rnd, seen, want, OP_TIMEOUT))
                    if f.op != "MSG" or f.subject != subj or f.sid not in want:
                        raise Broken("vsub%d round %d: unexpected frame %r" % (idx, rnd, f))
                    if f.payload != str(seen[f.sid]).encode():
                        raise Broken("vsub%d round %d sid %s: message %r where %d was due (lost or reordered)"
                                     % (idx, rnd, f.sid, f.payload, seen[f.sid]))
                    seen[f.sid] += 1
                    if seen[f.sid] > want[f.sid]:
                        raise Broken("vsub%d round %d sid %s: more than %d" % (idx, rnd, f.sid, want[f.sid]))
                sub.send("UNSUB 1\r\nUNSUB 2\r\nUNSUB 3\r\n")
                extra = sub.flush()
                if extra:
                    raise Broken("vsub%d round %d: extra deliveries %r" % (idx, rnd, extra[:3]))
                self.count("exact_rounds")
            except Lost:
                self.count("void_rounds")
                sub.close()
                pub.close()
                sub = pub = None
        for p in (sub, pub):
            if p is not None:
                p.close()


def run_workload(port, seconds=WORK_SECONDS, seed=1):
    w = Workload(port, seed)
    for i in range(3):
        w.spawn(w.churner, i)
    w.spawn(w.responder)
    w.spawn(w.requester)
    for i in range(2):
        w.spawn(w.verifier, i)
    w.stop_ev.wait(seconds)
    w.stop()
    return w


def fresh_pubsub(server, attempts=30):
    """A new connection gets PONG and its own pub/sub works; retried while
    the server refuses or closes it (an injected conn/sqe/... failure).
    Returns the number of attempts used."""
    last = None
    for i in range(1, attempts + 1):
        p = None
        try:
            p = Peer(server.port, "fresh")
            p.send("SUB fresh.check 1\r\nPUB fresh.check 2\r\nok\r\n")
            got = [f.raw for f in p.flush()]
            if got == [b"MSG fresh.check 1 2\r\nok\r\n"]:
                return i
            raise Broken("fresh connection: got %r" % got)
        except Lost as e:
            last = e
            time.sleep(0.05)
        finally:
            if p is not None:
                p.close()
    raise AssertionError("no working fresh connection in %d attempts: %s" % (attempts, last))


def check_after(server, w, label):
    """The contract's checks after a workload (see the module doc)."""
    report = "%s: stats %s" % (label, json.dumps(w.stats, sort_keys=True))
    print(report)
    assert not w.errors, "contract violations:\n%s\n%s\n--- log tail\n%s" % (
        "\n".join(w.errors), report, server.log()[-3000:])
    assert server.proc.poll() is None, "server died (rc %s)\n%s\n%s" % (
        server.proc.returncode, report, server.log()[-4000:])
    assert w.stats.get("exact_rounds", 0) >= 1, "no lock-step round completed: nothing was checked\n" + report
    fresh_pubsub(server)
    # Every client is gone now: none left open, no subscription left over.
    assert poll(lambda: mon(server, "/connz")["num_connections"] == 0, 10), mon(server, "/connz")
    subs = poll(lambda: mon(server, "/subsz")["num_subscriptions"] == SYS_SUBS, 10)
    assert subs, "subscriptions left with no client: %r" % mon(server, "/subsz")
    closed = mon(server, "/connz?state=closed&limit=100000")["connections"]
    reasons = {}
    for c in closed:
        reasons[c.get("reason")] = reasons.get(c.get("reason"), 0) + 1
    print("%s: closed reasons %s" % (label, reasons))
    bad = {r: n for r, n in reasons.items() if r not in ALLOWED_REASONS}
    assert not bad, "connections closed for reasons no client close or injected failure explains: %r" % bad
    rc = server.stop()
    assert rc == 0, "exit code %s on SIGTERM\n%s" % (rc, server.log()[-4000:])
    return reasons


# ---- 1. allocation-failure injection -----------------------------------------------------

# Every N-th call fails. N is small enough that the workload (a few
# thousand operations) meets many failures, large enough that most
# lock-step rounds still complete. xshard_max_pending: 1 where parked
# producers are needed (inq: a parked producer's unread input; batch: a
# cross-shard batch held while parked).
PARK_CONF = "xshard_max_pending: 1\n"
FAULTS = {
    "sub": ("sub:13", None),
    "sid": ("sid:3", None),
    "oblock": ("oblock:41", None),
    "sqe": ("sqe:37", None),
    "batch": ("batch:11", PARK_CONF),
    "conn": ("conn:3", None),
    "inq": ("inq:2", PARK_CONF),
    "all": ("sub:29,sid:7,oblock:97,sqe:89,batch:31,conn:5,inq:3", PARK_CONF),
}


@pytest.mark.parametrize("site", list(FAULTS))
def test_failpoints_workload(gannet_bin, make_server, monkeypatch, site):
    spec, conf = FAULTS[site]
    s = start(make_server, monkeypatch, conf=conf, args=["--shards", "2"], failpoints=spec)
    w = run_workload(s.port, seed=1 + list(FAULTS).index(site))
    check_after(s, w, "GANNET_FAILPOINTS=%s" % spec)


def test_failpoint_conn_every_accept(gannet_bin, make_server, monkeypatch):
    """conn:1 (every connection object at accept fails): each client is
    closed before INFO and never gets a PONG; the listener keeps accepting
    (and refusing); the server stays up and exits 0 on SIGTERM. Proves the
    knob is armed at all (the workload tests pass on a server without it)."""
    s = start(make_server, monkeypatch, args=["--shards", "2"], failpoints="conn:1")
    for _ in range(5):
        c = Conn(s.port, read_info=False)
        try:
            c.send(b'CONNECT {"verbose":false}\r\nPING\r\n')
        except OSError:
            pass  # already closed
        got = c.read_to_eof(timeout=5)
        assert b"PONG" not in got and not got.startswith(b"INFO"), got[:200]
        c.close()
    assert s.proc.poll() is None
    assert mon(s, "/varz")["connections"] == 0
    assert s.stop() == 0


def test_failpoints_malformed_refused(gannet_bin, monkeypatch):
    """A malformed GANNET_FAILPOINTS (unknown site, N < 1) stops gannet at
    start-up like a configuration error (exit code 1, the variable named in
    the message) instead of running without the failures a test asked for,
    and without crashing on the way out."""
    for spec in ("nosuchsite:3", "sub:0", "sub"):
        env = dict(os.environ, GANNET_FAILPOINTS=spec)
        try:
            r = subprocess.run([gannet_bin, "-a", "127.0.0.1", "-p", str(free_port())], env=env,
                               capture_output=True, text=True, timeout=8)
        except subprocess.TimeoutExpired:
            pytest.fail("GANNET_FAILPOINTS=%s: gannet started anyway (still running after 8s)" % spec)
        out = r.stdout + r.stderr
        assert r.returncode == 1, "GANNET_FAILPOINTS=%s: rc %s\n%s" % (spec, r.returncode, out[-3000:])
        assert "GANNET_FAILPOINTS" in out, out[-3000:]
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "ThreadSanitizer", "runtime error:"):
            assert mark not in out, out[-3000:]


# ---- 2. tiny cross-shard budget ---------------------------------------------------------

XSHARD_CONF = """
shards: 2
xshard_max_pending: 1
max_pending: 256KB
max_payload: 64KB
"""
N_PUBS = 3
N_STEADY = 4
PAYLOAD = 200


class Reader:
    """A subscriber thread: SUB xs.> (and, per publisher, SUB xs.<p>), reads
    everything, checks each publisher's sequence numbers arrive in order
    without gaps on each sid. steady: must stay connected; slow: sleeps
    between small reads and may be cut as a slow consumer."""

    def __init__(self, port, name, slow):
        self.name, self.slow = name, slow
        self.next = {}       # (sid, publisher) -> next sequence number due
        self.error = None
        self.lost = False
        rcvbuf = 8192 if slow else None
        self.p = Peer(port, name, rcvbuf=rcvbuf)
        self.p.send("SUB xs.> 1\r\n" + "".join("SUB xs.%d %d\r\n" % (i, 10 + i) for i in range(N_PUBS)))
        assert self.p.flush() == []
        self.sock = self.p.c.sock
        self.buf = bytearray(self.p.c.buf)
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        rx = re.compile(rb"MSG xs\.(\d+) (\d+) (\d+)\r\n")
        try:
            while not self.stop_ev.is_set():
                self.sock.settimeout(0.2)
                try:
                    d = self.sock.recv(4096 if self.slow else 262144)
                except socket.timeout:
                    continue
                except OSError:
                    d = b""
                if not d:
                    self.lost = True
                    return
                self.buf += d
                pos = 0
                while True:
                    if self.buf.startswith(b"PING\r\n", pos):
                        self.sock.sendall(b"PONG\r\n")
                        pos += 6
                        continue
                    m = rx.match(self.buf, pos)
                    if not m:
                        if len(self.buf) - pos >= 64 and b"\r\n" in self.buf[pos:pos + 64]:
                            raise AssertionError("%s: unexpected %r" % (self.name, bytes(self.buf[pos:pos + 80])))
                        break
                    n = int(m.group(3))
                    end = m.end() + n + 2
                    if len(self.buf) < end:
                        break
                    body = bytes(self.buf[m.end():m.end() + n])
                    pub, sid = int(m.group(1)), m.group(2).decode()
                    seq = int(body.split(b".", 1)[0])
                    key = (sid, pub)
                    due = self.next.get(key, 0)
                    if seq != due:
                        raise AssertionError("%s sid %s publisher %d: message %d where %d was due"
                                             % (self.name, sid, pub, seq, due))
                    self.next[key] = seq + 1
                    pos = end
                del self.buf[:pos]
                if self.slow:
                    time.sleep(0.005)
        except BaseException as e:  # noqa: B902
            self.error = "%s: %s" % (type(e).__name__, e)

    def count(self, sid, pub):
        return self.next.get((sid, pub), 0)

    def stop(self):
        self.stop_ev.set()
        self.t.join(5)
        self.p.close()


def xs_publisher(port, idx, stop_ev, sent, errors):
    """Numbered messages to xs.<idx> in batches, each followed by a PING
    barrier; must never be disconnected."""
    try:
        p = Peer(port, "xpub%d" % idx)
        filler = "x" * PAYLOAD
        seq = 0
        while not stop_ev.is_set():
            batch = []
            for _ in range(50):
                body = "%d.%s" % (seq, filler)
                batch.append("PUB xs.%d %d\r\n%s\r\n" % (idx, len(body), body))
                seq += 1
            p.send("".join(batch))
            got = p.flush()
            assert got == [], got[:3]
            sent[idx] = seq
        p.close()
    except BaseException as e:  # noqa: B902
        errors.append("xpub%d: %s: %s" % (idx, type(e).__name__, e))


def xs_churner(port, idx, stop_ev, stats, errors):
    """Subscriptions on the publishers' subjects added and removed all the
    time: SUB, UNSUB, UNSUB max, closing the connection with subscriptions
    and unread messages; a slow-reading one too (small buffer)."""
    rng = random.Random(idx)
    try:
        while not stop_ev.is_set():
            p = Peer(port, "xchurn%d" % idx, rcvbuf=8192 if idx % 2 else None)
            sid = 0
            for _ in range(rng.randint(3, 15)):
                if stop_ev.is_set():
                    break
                ops = []
                for _ in range(rng.randint(2, 10)):
                    sid += 1
                    subj = rng.choice(["xs.>", "xs.*", "xs.%d" % rng.randrange(N_PUBS)])
                    q = rng.choice(["", "", "cq%d " % rng.randrange(2)])
                    ops.append("SUB %s %s%d\r\n" % (subj, q, sid))
                    r = rng.random()
                    if r < 0.4:
                        ops.append("UNSUB %d\r\n" % sid)
                    elif r < 0.7:
                        ops.append("UNSUB %d %d\r\n" % (sid, rng.randint(1, 20)))
                try:
                    p.send("".join(ops))
                    if rng.random() < 0.5:
                        # read a little of what arrived, leave the rest unread
                        p.c.sock.settimeout(0.05)
                        try:
                            p.c.sock.recv(65536)
                        except socket.timeout:
                            pass
                except (Lost, OSError):
                    stats["churn_lost"] = stats.get("churn_lost", 0) + 1
                    break
                time.sleep(rng.random() * 0.02)
            p.close()
            stats["churn_closes"] = stats.get("churn_closes", 0) + 1
    except Lost:
        stats["churn_lost"] = stats.get("churn_lost", 0) + 1
    except BaseException as e:  # noqa: B902
        errors.append("xchurn%d: %s: %s" % (idx, type(e).__name__, e))


def test_tiny_xshard_budget(gannet_bin, make_server, monkeypatch):
    s = start(make_server, monkeypatch, conf=XSHARD_CONF)
    steady = [Reader(s.port, "steady%d" % i, slow=False) for i in range(N_STEADY)]
    slow = [Reader(s.port, "slow%d" % i, slow=True) for i in range(2)]
    stop_ev = threading.Event()
    errors, stats, sent = [], {}, [0] * N_PUBS
    threads = [threading.Thread(target=xs_publisher, args=(s.port, i, stop_ev, sent, errors), daemon=True)
               for i in range(N_PUBS)]
    threads += [threading.Thread(target=xs_churner, args=(s.port, i, stop_ev, stats, errors), daemon=True)
                for i in range(4)]
    for t in threads:
        t.start()
    stop_ev.wait(WORK_SECONDS + 1)
    stop_ev.set()
    for t in threads:
        t.join(OP_TIMEOUT + 5)
    assert not any(t.is_alive() for t in threads), "workload threads stuck"
    assert not errors, "\n".join(errors)
    assert s.proc.poll() is None, "server died\n" + s.log()[-4000:]
    assert all(sent), "a publisher sent nothing: %r" % sent

    # Every steady reader gets every message of every publisher on both
    # its sids (xs.> and xs.<p>), in order (checked as they arrive).
    def complete():
        return all(r.error or r.lost or all(r.count(sid, p) >= sent[p] for p in range(N_PUBS)
                                            for sid in ("1", str(10 + p)))
                   for r in steady)
    poll(complete, 20)
    for r in steady + slow:
        r.stop()
    print("sent %r; stats %r; slow readers cut: %d" % (sent, stats, sum(r.lost for r in slow)))
    for r in steady + slow:
        assert r.error is None, r.error
    for r in steady:
        assert not r.lost, "%s (a steady reader) was disconnected" % r.name
        for p in range(N_PUBS):
            for sid in ("1", str(10 + p)):
                assert r.count(sid, p) == sent[p], (r.name, sid, p, r.count(sid, p), sent[p])
    # The scenario did what it is for: messages crossed shards, and
    # producers were parked (the budget of 1 byte parks every turn).
    shards = mon(s, "/shardz")["shards"]
    print("shardz: %r" % [{k: sh[k] for k in ("connections", "stalls", "mailbox_sent", "mailbox_received",
                                               "slow_consumers")} for sh in shards])
    assert len(shards) == 2
    assert sum(sh["mailbox_sent"] for sh in shards) > 0, "no cross-shard traffic: %r" % shards
    assert sum(sh["stalls"] for sh in shards) > 0, "no producer was ever parked: %r" % shards
    fresh_pubsub(s, attempts=3)
    assert s.proc.poll() is None
    rc = s.stop()
    assert rc == 0, "exit code %s on SIGTERM\n%s" % (rc, s.log()[-4000:])
