"""Helpers for the tests of gannet's monitoring additions
(test_monitor_ext.py): /metrics parsing and checking with Prometheus's own
tools, Go duration strings, /shardz sums, and locating which shard a client
connection landed on.

Every wait is a poll with a deadline (monhelp.wait_for); nothing sleeps for
a fixed time.
"""
import os
import re
import subprocess
from fractions import Fraction

from prometheus_client.parser import text_string_to_metric_families

from monhelp import get_json, http, wait_for
from servers import ROOT

PROMTOOL = os.path.join(ROOT, "tests", ".tools", "promtool")
METRICS_CT = "text/plain; version=0.0.4; charset=utf-8"


def promtool_check(body):
    """Run `promtool check metrics` on body (bytes, fed on stdin); returns
    (exit code, stdout, stderr). promtool exits 1 on a parse error, 3 on
    lint problems (printed on stderr), 0 when the exposition is clean."""
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Metrics:
    """One /metrics body, parsed twice: by prometheus_client's parser (which
    must accept it), and line by line for the HELP and TYPE comments.

    .samples: {(sample name, frozenset of (label, value))): float}
    .help, .type: {metric name as written on the HELP/TYPE line: text}"""

    def __init__(self, body):
        self.text = body.decode("utf-8") if isinstance(body, bytes) else body
        self.families = list(text_string_to_metric_families(self.text))
        self.samples = {}
        for fam in self.families:
            for s in fam.samples:
                key = (s.name, frozenset(s.labels.items()))
                assert key not in self.samples, "duplicate sample %r" % (key,)
                self.samples[key] = s.value
        self.help, self.type = {}, {}
        for line in self.text.split("\n"):
            m = re.match(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$", line)
            if m:
                d = self.help if m.group(1) == "HELP" else self.type
                assert m.group(2) not in d, "second %s line for %s" % (m.group(1), m.group(2))
                d[m.group(2)] = m.group(3)

    def get(self, name, **labels):
        key = (name, frozenset(labels.items()))
        assert key in self.samples, "no sample %s%r in:\n%s" % (name, labels, self.text[:3000])
        return self.samples[key]

    def label_sets(self, name):
        """The label dicts of every sample of this name."""
        return [dict(k[1]) for k in self.samples if k[0] == name]

    def by_label(self, name, label):
        """{value of `label`: sample value} over the samples of this name."""
        out = {}
        for (n, ls), v in self.samples.items():
            if n == name:
                d = dict(ls)
                assert label in d, (name, d)
                out[d[label]] = v
        return out


def metrics(port, path="/metrics"):
    """GET /metrics: check the status and Content-Type; returns Metrics."""
    r = http(port, path)
    assert r.status == 200, r
    assert r.header("Content-Type") == METRICS_CT, r
    return Metrics(r.body)


_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
         "h": 3600 * 10**9}


def go_duration_ns(s):
    """Nanoseconds of a Go time.Duration string ("0s", "418µs", "2.260942ms",
    "1m2.5s"), exactly (a Fraction)."""
    if s == "0s":
        return Fraction(0)
    pos, total = 0, Fraction(0)
    while pos < len(s):
        m = _DUR.match(s, pos)
        assert m, "not a Go duration: %r" % s
        total += Fraction(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    assert pos > 0, "not a Go duration: %r" % s
    return total


def shardz(port):
    return get_json(port, "/shardz")


def shard_sum(sz, key):
    return sum(sh[key] for sh in sz["shards"])


def conns_per_shard(port):
    return [sh["connections"] for sh in shardz(port)["shards"]]


def shard_of_new_connection(port, before, open_conn):
    """Open one client connection (open_conn() returns it, connected and
    confirmed with PING/PONG) and find, from /shardz's per-shard connection
    counts, the shard it landed on. before: the counts just before (in a
    quiet moment: no other connection comes or goes). Returns (conn, shard,
    counts after)."""
    c = open_conn()
    after = wait_for(lambda: (lambda a: a if sum(a) == sum(before) + 1 else None)(conns_per_shard(port)))
    grew = [i for i, (a, b) in enumerate(zip(after, before)) if a == b + 1]
    assert len(grew) == 1 and all(a >= b for a, b in zip(after, before)), (before, after)
    return c, grew[0], after


def proc_stat(pid):
    """(utime + stime in seconds, starttime in seconds since boot) of a process."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    # fields after "(comm)": state is index 0, utime 11, stime 12, starttime 19
    return (int(rest[11]) + int(rest[12])) / tck, int(rest[19]) / tck


def boot_time():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise AssertionError("no btime in /proc/stat")


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def max_fds(pid):
    """The soft RLIMIT_NOFILE of a process, from /proc/<pid>/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no Max open files line")
