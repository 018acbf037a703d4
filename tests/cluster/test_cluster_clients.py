"""Real clients on a cluster: nats.go programs (tests/cluster/go/, built
here with Debian's golang-go and golang-github-nats-io-go-nats-dev) and
nats.js (tests/clients/js/cluster_failover.mjs) connected to different
members of a 3-node cluster (A seed, B and C routed to A, B-C gossiped),
for every 3-node topology (cluster.topologies(3)).

The contract checked here, as with nats-server 2.9.10:
- The seed programs (shared/seeds 003: publisher.go / subscriber.go, taking
  URL, subject and count from argv): 10 000 messages published on A reach
  a subscriber on B, every one, in order, nothing else; the same B->A and
  C->B (the gossiped route).
- Queue subscribers of one group on B and C, publisher on A: each of 2 000
  messages is delivered exactly once cluster-wide, each member gets a
  share, each member's share in publish order.
- Request/reply with headers, requester on A, responder (queue group) on
  C: 1 000 requests, one at a time or 8 at once, each answered with its
  own data and header.
- Failover: a client given C's URL only learns A's and B's from INFO
  connect_urls; while messages published on A flow to it, C is killed with
  SIGKILL; it reconnects to A or B (a discovered URL), its subscription is
  restored and messages published after the kill reach it; no message is
  received twice, none out of order (at most once: some may be lost).
  Checked with nats.go and with nats.js.
- 1 MiB payloads with headers (max_payload raised to 2MB on every node)
  cross the seed route (A->B) and the gossiped route (C->B) intact
  (length, SHA-256, headers X-Seq and the two-valued X-Multi).

Readiness without sleeping: each subscribing program subscribes its data
subject, then SUBJECT.end, then a readiness subject it answers; the
publishing program requests the readiness subject until answered (a 503
no-responders answer means "not known here yet"). A server sends one
connection's interest over a route in order, so once the readiness request
is answered the data subscription is known on the publisher's server. The
publisher's last message is on SUBJECT.end: one publisher's messages reach
one subscriber connection in order, so when it arrives everything before it
has.

Every process started here is killed by PID at teardown; every wait is
bounded (PROG_TIMEOUT, READY_TIMEOUT). No assertion depends on timing.
"""
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from cluster import managed, topologies, uniq
from servers import ROOT

GO_DIR = os.path.join(ROOT, "tests", "cluster", "go")
GO_PROGRAMS = ("publisher", "subscriber", "requester", "responder", "failover")
GO_PATH = "/usr/share/gocode"
GO_NATS = os.path.join(GO_PATH, "src", "github.com", "nats-io", "nats.go")
JS_DIR = os.path.join(ROOT, "tests", "clients", "js")
GO_INSTALL_HINT = ("apt-get install golang-go golang-github-nats-io-go-nats-dev "
                   "(`make test-deps` installs them)")

READY_TIMEOUT = 15  # a program's READY / TRAFFIC line
PROG_TIMEOUT = 40  # a program's whole run
BIG = 1 << 20  # 1 MiB
BIG_CONF = "max_payload: 2MB\n"


# ---- building and running the client programs ------------------------------------------------

@pytest.fixture(scope="session")
def go_bins():
    """{name: path} of the Go programs, built once per session into build/cluster-go."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is missing: " + GO_INSTALL_HINT)
    if not os.path.isdir(GO_NATS):
        pytest.fail("nats.go is missing from %s: %s" % (GO_PATH, GO_INSTALL_HINT))
    out = os.path.join(ROOT, "build", "cluster-go")
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, GOPATH=GO_PATH, GO111MODULE="off", GOFLAGS="", CGO_ENABLED="0")
    env.setdefault("GOCACHE", os.path.join(ROOT, "build", "go-cache"))
    cmd = [go, "build", "-o", out + os.sep] + ["./tests/cluster/go/%s" % p for p in GO_PROGRAMS]
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("%s did not finish within 300s" % " ".join(cmd))
    if r.returncode != 0:
        pytest.fail("%s failed (rc %d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    bins = {p: os.path.join(out, p) for p in GO_PROGRAMS}
    for p, path in bins.items():
        if not os.access(path, os.X_OK):
            pytest.fail("go build did not produce %s" % path)
    return bins


@pytest.fixture(scope="session")
def node_bin():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing (`make test-deps` installs it)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "nats")):
        pytest.fail("nats.js missing: run `npm ci` in tests/clients/js (`make test-deps` does)")
    return node


class Prog:
    """A client program: stdout read line by line on a thread, stderr to a
    temporary file; killed by PID if still running at teardown."""

    def __init__(self, cmd, cwd=None, label=None):
        self.cmd = cmd
        self.label = label or os.path.basename(cmd[0])
        self.errf = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=self.errf,
                                     text=True, bufsize=1)
        self.lines = []
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self.q.put(line)
        self.q.put(None)

    def stderr(self):
        self.errf.seek(0)
        return self.errf.read().decode(errors="replace")

    def report(self):
        out = "\n".join(l if len(l) < 400 else l[:400] + "...(%d chars)" % len(l) for l in self.lines)
        return "---- %s (%s), rc=%s\n--- stdout\n%s\n--- stderr\n%s" % (
            self.label, " ".join(self.cmd), self.proc.poll(), out, self.stderr()[-3000:])

    def wait_for(self, word, timeout=READY_TIMEOUT):
        """The first line (from now on) that is `word` or starts with `word `."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r line within %ss\n%s" % (word, timeout, self.report()))
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.q.put(None)
                raise AssertionError("program ended before a %r line\n%s" % (word, self.report()))
            if line == word or line.startswith(word + " "):
                return line

    def finish(self, timeout=PROG_TIMEOUT):
        """Wait for the exit; kill and fail past timeout. Returns stdout lines."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("did not finish within %ss\n%s" % (timeout, self.report()))
        self.t.join(10)
        return self.lines

    def value(self, word):
        """Rest of the last stdout line starting with `word ` (None if none)."""
        for line in reversed(self.lines):
            if line == word:
                return ""
            if line.startswith(word + " "):
                return line[len(word) + 1:]
        return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.t.join(5)

    def close(self):
        self.kill()
        self.errf.close()


@pytest.fixture
def progs(request):
    """Factory: progs(cmd, cwd=None, label=None) -> running Prog; all are killed
    at teardown, and their output printed if the test failed."""
    started = []

    def start(cmd, cwd=None, label=None):
        p = Prog(cmd, cwd=cwd, label=label)
        started.append(p)
        return p

    yield start
    rep = getattr(request.node, "rep_call", None)
    for p in started:
        p.kill()
        if rep is not None and rep.failed:
            print(p.report())
        p.close()


def url(node):
    return "nats://127.0.0.1:%d" % node.port


def seqs(prog, word="SEQS"):
    v = prog.value(word)
    assert v is not None, "no %s line\n%s" % (word, prog.report())
    return [int(x) for x in v.split(",")] if v else []


def expect_ok(prog, timeout=PROG_TIMEOUT):
    prog.finish(timeout)
    assert prog.proc.returncode == 0, prog.report()
    assert not [l for l in prog.lines if l.startswith(("FAIL", "TIMEOUT", "ASYNC_ERROR"))], prog.report()


@pytest.fixture(scope="module", params=topologies(3))
def c3(request):
    yield from managed(request.param, extra_conf=BIG_CONF)


# ---- 1. the seed programs ----------------------------------------------------------------------

ROUTES = [(0, 1), (1, 0), (2, 1)]  # (publisher node, subscriber node): from the seed, to it, gossiped route
ROUTE_IDS = ["A-B", "B-A", "C-B"]


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_seed_pubsub_in_order(c3, go_bins, progs, route):
    """publisher.go on A, subscriber.go on B (and B->A, C->B): 10 000
    messages, all, in order, nothing else."""
    pn, sn = route
    n = 10000
    subj = uniq("updates.")
    sub = progs([go_bins["subscriber"], "-url", url(c3[sn]), "-subject", subj], label="subscriber@" + c3[sn].name)
    sub.wait_for("READY")
    pub = progs([go_bins["publisher"], "-url", url(c3[pn]), "-subject", subj, "-count", str(n),
                 "-wait", subj + ".ready"], label="publisher@" + c3[pn].name)
    expect_ok(pub)
    assert pub.value("PUBLISHED") == str(n), pub.report()
    expect_ok(sub)
    got = seqs(sub)
    assert sub.value("RECEIVED") == str(n), sub.report()
    assert got == list(range(n)), "first difference at %s\n%s" % (
        next((i for i, (x, y) in enumerate(zip(got, range(n))) if x != y), min(len(got), n)), sub.report())


# ---- 2. queue subscribers on B and C -----------------------------------------------------------

def test_queue_exactly_once_cluster_wide(c3, go_bins, progs):
    n = 2000
    subj = uniq("work.")
    subs = []
    for i in (1, 2):
        s = progs([go_bins["subscriber"], "-url", url(c3[i]), "-subject", subj, "-queue", "workers",
                   "-ready", "%s.ready.%d" % (subj, i)], label="queue member@%s" % c3[i].name)
        s.wait_for("READY")
        subs.append(s)
    pub = progs([go_bins["publisher"], "-url", url(c3[0]), "-subject", subj, "-count", str(n),
                 "-wait", "%s.ready.1,%s.ready.2" % (subj, subj)], label="publisher@A")
    expect_ok(pub)
    shares = []
    for s in subs:
        expect_ok(s)
        shares.append(seqs(s))
    both = shares[0] + shares[1]
    assert sorted(both) == list(range(n)), (
        "not exactly once: %d deliveries, %d distinct, missing %s, twice %s"
        % (len(both), len(set(both)), sorted(set(range(n)) - set(both))[:20],
           sorted({x for x in both if both.count(x) > 1})[:20]))
    for s, share in zip(subs, shares):
        assert share == sorted(share), "%s: share out of order\n%s" % (s.label, s.report())
        assert share, "%s got no share of %d messages (B %d, C %d)" % (s.label, n, len(shares[0]), len(shares[1]))


# ---- 3. request/reply across members -----------------------------------------------------------

@pytest.mark.parametrize("parallel", [1, 8])
def test_request_reply_across(c3, go_bins, progs, parallel):
    """Requester on A (one request at a time, or 8 goroutines at once on
    one connection), responder on C: 1 000 requests, each answered."""
    n = 1000
    svc = uniq("svc.")
    resp = progs([go_bins["responder"], "-url", url(c3[2]), "-subject", svc, "-name", "C"], label="responder@C")
    resp.wait_for("READY")
    req = progs([go_bins["requester"], "-url", url(c3[0]), "-subject", svc, "-count", str(n),
                 "-parallel", str(parallel)], label="requester@A")
    expect_ok(req)
    assert req.value("OK") == "%d responders=C:%d" % (n, n), req.report()
    expect_ok(resp)
    assert resp.value("SERVED") == str(n), resp.report()


# ---- 5. 1 MiB payloads with headers ------------------------------------------------------------

def big_payload(i, size=BIG):
    """Byte j of message i is (i + j) % 251 (as tests/cluster/go/publisher -size)."""
    base = bytes(range(251)) * (size // 251 + 2)
    return base[i % 251:i % 251 + size]


@pytest.mark.parametrize("route", [(0, 1), (2, 1)], ids=["A-B", "C-B"])
def test_one_mib_with_headers_across(c3, go_bins, progs, route):
    pn, sn = route
    n = 3
    subj = uniq("big.")
    sub = progs([go_bins["subscriber"], "-url", url(c3[sn]), "-subject", subj, "-json"],
                label="subscriber@%s" % c3[sn].name)
    sub.wait_for("READY")
    pub = progs([go_bins["publisher"], "-url", url(c3[pn]), "-subject", subj, "-count", str(n),
                 "-size", str(BIG), "-headers", "-wait", subj + ".ready"], label="publisher@%s" % c3[pn].name)
    expect_ok(pub)
    expect_ok(sub)
    assert sub.value("RECEIVED") == str(n), sub.report()
    got = [json.loads(l) for l in sub.lines if l.startswith("{")]
    assert len(got) == n, sub.report()
    for i, m in enumerate(got):
        want = {"subject": subj, "seq": i, "len": BIG, "sha256": hashlib.sha256(big_payload(i)).hexdigest(),
                "hdr": {"X-Seq": [str(i)], "X-Multi": ["a", "b"]}}
        assert m == want, "message %d: got %r, want %r" % (i, m, want)


# ---- 4. failover through discovered URLs -------------------------------------------------------

class Feeder:
    """Publishes decimal sequence numbers on subject from a raw client of
    node, one every 2 ms, until stopped (at most FEED_MAX seconds).
    .sent is the next number to be published: a message numbered >= the
    value read after some event is published after it."""

    FEED_MAX = 60

    def __init__(self, node, subject):
        self.conn = node.client()
        self.subject = subject.encode()
        self.sent = 0
        self.error = None
        self.stopping = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        end = time.monotonic() + self.FEED_MAX
        try:
            while not self.stopping.is_set() and time.monotonic() < end:
                p = b"%d" % self.sent
                self.conn.send(b"PUB %s %d\r\n%s\r\n" % (self.subject, len(p), p))
                self.sent += 1
                time.sleep(0.002)
        except OSError as e:
            self.error = e

    def stop(self):
        self.stopping.set()
        self.t.join(5)
        self.conn.close()


def port_of(u):
    return int(u.rstrip("/").rsplit(":", 1)[1])


@pytest.mark.parametrize("client", ["go", "js"])
@pytest.mark.parametrize("topology", topologies(3))
def test_failover_through_discovered_urls(make_cluster, go_bins, node_bin, progs, topology, client):
    c = make_cluster(topology)
    a, b, victim = c.nodes
    subj = uniq("fo.")
    if client == "go":
        cli = progs([go_bins["failover"], "-url", url(victim), "-subject", subj], label="nats.go failover@C")
    else:
        cli = progs([node_bin, "cluster_failover.mjs", url(victim), subj], cwd=JS_DIR, label="nats.js failover@C")
    cli.wait_for("READY")
    assert port_of(cli.value("CONNECTED")) == victim.port, cli.report()
    discovered = {port_of(u) for u in cli.value("DISCOVERED").split(",") if u}
    assert {a.port, b.port} <= discovered, "A %d and B %d not discovered from C's INFO\n%s" % (
        a.port, b.port, cli.report())

    feeder = Feeder(a, subj)
    try:
        cli.wait_for("TRAFFIC")
        victim.stop(signal.SIGKILL)
        mark = feeder.sent  # numbers >= mark + 1 were published after C died
        cli.wait_for("DONE", timeout=PROG_TIMEOUT)
    finally:
        feeder.stop()
    assert feeder.error is None, "publisher on A failed: %r" % feeder.error
    expect_ok(cli)
    to = port_of(cli.value("RECONNECTED"))
    assert to in (a.port, b.port), "reconnected to port %d, not A %d or B %d\n%s" % (to, a.port, b.port, cli.report())
    got = seqs(cli)
    assert len(got) == len(set(got)), "a message received twice\n%s" % cli.report()
    assert got == sorted(got), "messages out of order\n%s" % cli.report()
    after = [s for s in got if s > mark]
    assert after, "no message published after the kill (number > %d) arrived\n%s" % (mark, cli.report())
