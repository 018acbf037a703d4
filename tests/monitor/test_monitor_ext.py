"""gannet's monitoring additions, and two nats-server behaviours the
monitoring port must reproduce.

gannet only (each test is parametrized over the gannet binary alone, by
overriding the `server_bin` fixture that make_server uses; nothing skips):
  - GET /metrics: Prometheus text exposition 0.0.4, checked with
    Prometheus's own `promtool check metrics` and python3-prometheus-client's
    parser, and cross-checked against /varz, /subsz, /shardz and /proc;
  - GET /shardz: per-shard counters, their sums, cross-shard mailbox traffic;
  - GET /topz: the busiest subjects, estimated from sampled messages;
  - HEAD, query strings and request counting of those three paths.

Both servers (make_server, so that nats-server 2.9.10 proves the
expectation):
  - /subsz's match cache figures num_cache, max_fanout, avg_fanout;
  - /connz's rtt: estimated at CONNECT, refreshed by a PONG, and no PING
    caused by asking /connz (nats-server 2.9.10 sets a client's rtt when it
    processes CONNECT, to the time since the accept; its /connz PINGs only
    clients whose rtt is still 0, and a client without CONNECT has no lang,
    so for clients that PING is never sent).

No test sleeps for a fixed time; every wait is a poll with a deadline.
"""
import os
import re
import subprocess
import time

import pytest

from exthelp import (METRICS_CT, boot_time, conns_per_shard, go_duration_ns, max_fds, metrics, open_fds,
                     proc_stat, promtool_check, shard_of_new_connection, shard_sum, shardz, Metrics)
from monhelp import DURATION, RFC3339, HTTPConn, get_json, http, named_client, start, ts, varz, wait_for
from proto import Conn, connect_line
from servers import GANNET_BIN, poll

# Direct parametrization of `server_bin` overrides conftest's fixture for the
# test, and make_server (which depends on it) then starts gannet only.
# gannet's internal subscriptions in $SYS (core/events.c req_subjects): counted as nats-server counts its own
SYS_SUBS = 5
GANNET_ONLY = pytest.mark.parametrize("server_bin", [GANNET_BIN], ids=["gannet"])

NUM = (int, float)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, NUM) and not isinstance(v, bool)


def drain(c, n):
    """Read exactly n MSG frames on c, then check with a barrier that
    nothing more is pending."""
    got = [c.frame() for _ in range(n)]
    assert all(f.op == "MSG" for f in got), got[:5]
    c.expect_nothing()
    return got


def pubs(subject, n, payload=b"x"):
    return b"".join(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload) for _ in range(n))


# ======================================================================================
# /metrics
# ======================================================================================

COUNTERS = ["gannet_messages_received_total", "gannet_messages_sent_total", "gannet_bytes_received_total",
            "gannet_bytes_sent_total", "gannet_connections_total", "gannet_slow_consumers_total",
            "gannet_http_requests_total", "gannet_subject_index_inserts_total",
            "gannet_subject_index_removes_total", "gannet_subject_index_matches_total",
            "gannet_subject_index_cache_hits_total", "process_cpu_seconds_total"]
GAUGES = ["gannet_info", "gannet_connections", "gannet_subscriptions", "gannet_routes", "gannet_gateways",
          "gannet_leafnodes", "gannet_start_time_seconds", "gannet_config_load_time_seconds",
          "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_start_time_seconds",
          "process_open_fds", "process_max_fds"]
SHARD_GAUGES = ["gannet_shard_connections", "gannet_shard_subscriptions"]
SHARD_COUNTERS = ["gannet_shard_messages_received_total", "gannet_shard_messages_sent_total",
                  "gannet_shard_bytes_received_total", "gannet_shard_bytes_sent_total",
                  "gannet_shard_loop_turns_total", "gannet_shard_sleeps_total", "gannet_shard_completions_total",
                  "gannet_shard_mailbox_records_sent_total", "gannet_shard_mailbox_records_received_total",
                  "gannet_shard_doorbells_total", "gannet_shard_idle_seconds_total", "gannet_shard_stalls_total"]
# /varz counter -> metric (cumulative), /varz gauge -> metric
VARZ_COUNTERS = {"in_msgs": "gannet_messages_received_total", "out_msgs": "gannet_messages_sent_total",
                 "in_bytes": "gannet_bytes_received_total", "out_bytes": "gannet_bytes_sent_total",
                 "total_connections": "gannet_connections_total", "slow_consumers": "gannet_slow_consumers_total"}
VARZ_GAUGES = {"connections": "gannet_connections", "subscriptions": "gannet_subscriptions",
               "routes": "gannet_routes", "leafnodes": "gannet_leafnodes"}
# gannet_shard_* metric -> /shardz field
SHARD_FIELDS = {"gannet_shard_connections": "connections", "gannet_shard_subscriptions": "subscriptions",
                "gannet_shard_messages_received_total": "in_msgs", "gannet_shard_messages_sent_total": "out_msgs",
                "gannet_shard_bytes_received_total": "in_bytes", "gannet_shard_bytes_sent_total": "out_bytes",
                "gannet_shard_loop_turns_total": "loop_turns", "gannet_shard_sleeps_total": "sleeps",
                "gannet_shard_completions_total": "completions",
                "gannet_shard_mailbox_records_sent_total": "mailbox_sent",
                "gannet_shard_mailbox_records_received_total": "mailbox_received",
                "gannet_shard_doorbells_total": "doorbells", "gannet_shard_stalls_total": "stalls"}


def gannet_version():
    """gannet's own version, as `gannet -v` prints it ("... (gannet X)")."""
    out = subprocess.run([GANNET_BIN, "-v"], capture_output=True, timeout=10).stdout.decode()
    m = re.search(r"\(gannet ([^)\s]+)\)", out)
    assert m, out
    return m.group(1)


class Traffic:
    """Subscribers and a publisher, all flushed (keep the object: its
    clients close when it goes):
      sub0: SUB T.a 1, SUB T.* 2    sub1: SUB T.b 1    sub2: SUB T.> 1, SUB T 2
      pub:  n messages, alternately on T.a and T.b, payload i bytes for message i
    where T is the tag (several Traffic objects on one server need different
    tags). Every message is delivered 3 times (T.a: sub0 twice, sub2; T.b:
    sub0, sub1, sub2)."""

    def __init__(self, server, n=100, tag="m"):
        self.n = n
        self.subs = [named_client(server, "%s-sub%d" % (tag, i)) for i in range(3)]
        self.subs[0].send("SUB {0}.a 1\r\nSUB {0}.* 2\r\n".format(tag))
        self.subs[1].send("SUB {0}.b 1\r\n".format(tag))
        self.subs[2].send("SUB {0}.> 1\r\nSUB {0} 2\r\n".format(tag))
        for c in self.subs:
            c.expect_nothing()
        self.pub = named_client(server, "%s-pub" % tag)
        t = tag.encode()
        self.pub.send(b"".join(b"PUB %s.%s %d\r\n%s\r\n" % (t, b"ab"[i % 2:i % 2 + 1], i, b"x" * i)
                               for i in range(n)))
        self.pub.expect_nothing()
        na, nb = (n + 1) // 2, n // 2
        drain(self.subs[0], 2 * na + nb)
        drain(self.subs[1], nb)
        drain(self.subs[2], n)
        self.in_bytes = sum(range(n))
        self.out_msgs = 3 * n
        self.out_bytes = 3 * self.in_bytes


@GANNET_ONLY
def test_metrics_exposition_is_valid(make_server):
    """The body passes promtool's parser and linter with no problem, parses
    with prometheus_client, and has every metric of the spec with its HELP
    and TYPE, of the right type."""
    s = start(make_server, args=["--shards", "2"])
    tr = Traffic(s)  # noqa: F841 (its clients must stay connected)
    r = http(s.mport, "/metrics")
    assert r.status == 200 and r.header("Content-Type") == METRICS_CT, r
    assert r.body.endswith(b"\n")
    rc, out, err = promtool_check(r.body)
    assert (rc, out, err) == (0, "", ""), "promtool check metrics: rc %d\n%s%s" % (rc, out, err)
    m = Metrics(r.body)
    for name in COUNTERS + SHARD_COUNTERS:
        assert m.type.get(name) == "counter", (name, m.type.get(name))
    for name in GAUGES + SHARD_GAUGES:
        assert m.type.get(name) == "gauge", (name, m.type.get(name))
    for name in COUNTERS + GAUGES + SHARD_COUNTERS + SHARD_GAUGES:
        assert m.help.get(name, "").strip(), "no HELP text for %s" % name
        assert m.label_sets(name), "no sample of %s" % name
    # every sample belongs to a documented family (no stray untyped samples)
    assert {k[0] for k in m.samples} <= set(m.type), {k[0] for k in m.samples} - set(m.type)
    # labels: none on the plain series, shard="0".."N-1" on the per-shard ones
    for name in COUNTERS + GAUGES:
        if name not in ("gannet_http_requests_total", "gannet_info"):
            assert m.label_sets(name) == [{}], (name, m.label_sets(name))
    for name in SHARD_COUNTERS + SHARD_GAUGES:
        assert sorted(m.label_sets(name), key=lambda d: d["shard"]) == [{"shard": "0"}, {"shard": "1"}], name
    assert all(list(d) == ["path"] for d in m.label_sets("gannet_http_requests_total"))
    v = varz(s)
    (info,) = m.label_sets("gannet_info")
    assert info == {"version": "2.9.10", "gannet_version": gannet_version(), "server_id": v["server_id"],
                    "server_name": v["server_name"]}
    assert m.get("gannet_info", **info) == 1
    # all values are finite and non-negative
    for (name, _), val in m.samples.items():
        assert val >= 0 and val == val and val != float("inf"), (name, val)


@GANNET_ONLY
def test_metrics_agree_with_varz(make_server):
    """After the traffic, in a quiet moment: each counter lies between /varz
    taken just before and just after the /metrics read, each gauge equals
    both; the subject index counters agree with /subsz; the process metrics
    with /proc."""
    t_launch = time.time()
    s = start(make_server)
    tr = Traffic(s)
    metrics(s.mport)  # so that /metrics is among the paths already
    # a keep-alive connection for the reads, so that the fd count stays put
    with HTTPConn(s.mport) as hc:
        def get(path):
            hc.request(path)
            r = hc.response()
            assert r.status == 200, r
            return r
        v1 = get("/varz").json()
        sz1 = get("/subsz").json()
        fd1, (cpu1, _) = open_fds(s.proc.pid), proc_stat(s.proc.pid)
        r = get("/metrics")
        fd2, (cpu2, pstart) = open_fds(s.proc.pid), proc_stat(s.proc.pid)
        sz2 = get("/subsz").json()
        v2 = get("/varz").json()
    assert r.header("Content-Type") == METRICS_CT
    m = Metrics(r.body)
    # the scenario happened as planned
    assert (v2["in_msgs"], v2["in_bytes"]) == (tr.n, tr.in_bytes)
    assert (v2["out_msgs"], v2["out_bytes"]) == (tr.out_msgs, tr.out_bytes)
    assert (v2["connections"], v2["subscriptions"]) == (4, 5 + SYS_SUBS)
    for k, name in VARZ_COUNTERS.items():
        assert v1[k] <= m.get(name) <= v2[k], (k, v1[k], m.get(name), v2[k])
    for k, name in VARZ_GAUGES.items():
        assert v1[k] == v2[k] == m.get(name), (k, v1[k], m.get(name), v2[k])
    assert m.get("gannet_gateways") == 0
    # a series for each path of http_req_stats, between the two readings
    # (which paths have series at all: test_metrics_http_request_series)
    paths = m.by_label("gannet_http_requests_total", "path")
    assert set(v1["http_req_stats"]) <= set(paths), (paths, v1["http_req_stats"])
    for p in v1["http_req_stats"]:
        assert v1["http_req_stats"][p] <= paths[p] <= v2["http_req_stats"][p], (p, paths[p])
    # subject index counters and /subsz
    for k, name in (("num_inserts", "gannet_subject_index_inserts_total"),
                    ("num_removes", "gannet_subject_index_removes_total")):
        assert sz1[k] <= m.get(name) <= sz2[k], (k, sz1[k], m.get(name), sz2[k])
    assert m.get("gannet_subject_index_inserts_total") >= 5
    assert m.get("gannet_subject_index_matches_total") >= 2  # m.a and m.b were matched at least once
    assert m.get("gannet_subject_index_cache_hits_total") <= m.get("gannet_subject_index_matches_total")
    # times: the same instants as /varz (rounded to whole seconds at worst)
    assert abs(m.get("gannet_start_time_seconds") - ts(v1["start"]) / 1e9) < 1.0
    assert abs(m.get("gannet_config_load_time_seconds") - ts(v1["config_load_time"]) / 1e9) < 1.0
    # process metrics, against /proc/<pid> read around the scrape (tolerances:
    # one clock tick for CPU time, /proc/stat's btime is whole seconds)
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    assert cpu1 - tick <= m.get("process_cpu_seconds_total") <= cpu2 + tick
    pst = m.get("process_start_time_seconds")
    assert abs(pst - (boot_time() + pstart)) <= 1.0 + tick
    assert t_launch - 1.0 - tick <= pst <= m.get("gannet_start_time_seconds") + 1.0
    assert 0 < m.get("process_resident_memory_bytes") <= m.get("process_virtual_memory_bytes")
    # the fds: what /proc lists around the scrape, give or take the one or
    # two the server may hold open while counting (the fd directory itself)
    assert min(fd1, fd2) <= m.get("process_open_fds") <= max(fd1, fd2) + 2, (fd1, m.get("process_open_fds"), fd2)
    assert m.get("process_max_fds") == max_fds(s.proc.pid)


@GANNET_ONLY
def test_metrics_per_shard_sums(make_server):
    """With --shards 2: both shard labels; the per-shard figures add up to
    the server's, and match /shardz read just after."""
    s = start(make_server, args=["--shards", "2"])
    trs = [Traffic(s, n=40, tag="t%d" % i) for i in range(3)]  # 12 connections, spread by the kernel
    m = metrics(s.mport)
    sz = shardz(s.mport)
    for name, total in (("gannet_shard_messages_received_total", "gannet_messages_received_total"),
                        ("gannet_shard_messages_sent_total", "gannet_messages_sent_total"),
                        ("gannet_shard_bytes_received_total", "gannet_bytes_received_total"),
                        ("gannet_shard_bytes_sent_total", "gannet_bytes_sent_total"),
                        ("gannet_shard_connections", "gannet_connections"),
                        ("gannet_shard_subscriptions", "gannet_subscriptions")):
        per = m.by_label(name, "shard")
        assert set(per) == {"0", "1"}, (name, per)
        assert sum(per.values()) == m.get(total), (name, per, m.get(total))
    assert m.get("gannet_messages_received_total") == sum(t.n for t in trs)
    assert m.get("gannet_connections") == 12
    assert len(sz["shards"]) == 2
    for name, field in SHARD_FIELDS.items():
        per = m.by_label(name, "shard")
        for sh in sz["shards"]:
            if name.endswith("_total"):  # cumulative: no more than /shardz a moment later
                assert per[str(sh["id"])] <= sh[field], (name, per, sh)
            else:
                assert per[str(sh["id"])] == sh[field], (name, per, sh)
    for name in ("gannet_shard_messages_received_total", "gannet_shard_messages_sent_total",
                 "gannet_shard_bytes_received_total", "gannet_shard_bytes_sent_total"):
        per = m.by_label(name, "shard")
        for sh in sz["shards"]:  # quiet: no traffic between the two reads
            assert per[str(sh["id"])] == sh[SHARD_FIELDS[name]], (name, per, sh)
    # idle time: no more than /shardz's a moment later, which never exceeds
    # the uptime (of millisecond resolution: hence the 1 ms)
    idle = m.by_label("gannet_shard_idle_seconds_total", "shard")
    for sh in sz["shards"]:
        assert idle[str(sh["id"])] <= max(sh["idle_ns"], sh["uptime_ns"]) / 1e9 + 1e-3, (idle, sh)


# ======================================================================================
# HEAD, query strings and request counting of the new paths
# ======================================================================================

@GANNET_ONLY
def test_metrics_http_request_series(make_server):
    """gannet_http_requests_total has one series per path of /varz's
    http_req_stats: a path gets both once it has been requested."""
    s = start(make_server)
    for p in ("/varz", "/subsz", "/healthz", "/shardz"):
        http(s.mport, p)
    v1 = varz(s)["http_req_stats"]
    m = metrics(s.mport)
    v2 = varz(s)["http_req_stats"]
    assert set(v2) == set(v1) | {"/metrics"}
    assert {"/varz", "/subsz", "/healthz", "/shardz", "/connz"} <= set(v1)
    paths = m.by_label("gannet_http_requests_total", "path")
    assert set(v1) <= set(paths) <= set(v2), (sorted(paths), sorted(v1))
    for p, n in paths.items():
        assert v1.get(p, 0) <= n <= v2[p], (p, n)


@GANNET_ONLY
@pytest.mark.parametrize("path,ctype", [("/metrics", METRICS_CT), ("/shardz", "application/json"),
                                        ("/topz", "application/json")], ids=["metrics", "shardz", "topz"])
def test_ext_endpoint_http(make_server, path, ctype):
    s = start(make_server)
    assert path not in varz(s)["http_req_stats"]  # listed once requested, as nats-server's paths
    r = http(s.mport, path)
    assert (r.status, r.header("Content-Type")) == (200, ctype), r
    assert r.body
    with HTTPConn(s.mport) as hc:
        hc.request(path, method="HEAD")
        r = hc.response(head=True)
        assert (r.status, r.header("Content-Type")) == (200, ctype), r
        assert hc.still_open()  # (no body came after the HEAD response's head)
    r = http(s.mport, path + "?x=1&y")
    assert (r.status, r.header("Content-Type")) == (200, ctype), r
    if ctype == "application/json":
        assert isinstance(r.json(), dict)
    before = varz(s)["http_req_stats"]
    assert before[path] == 3
    m = metrics(s.mport)
    after = varz(s)["http_req_stats"]
    n = m.get("gannet_http_requests_total", path=path)
    assert before[path] <= n <= after[path]
    assert after[path] == (4 if path == "/metrics" else 3)
    assert list(after) == sorted(after)


# ======================================================================================
# /shardz
# ======================================================================================

SHARDZ_KEYS = {"server_id", "now", "shards"}
SHARD_KEYS = {"id", "connections", "routes", "subscriptions", "in_msgs", "out_msgs", "in_bytes", "out_bytes",
              "slow_consumers", "stalls", "loop_turns", "sleeps", "completions", "mailbox_sent", "mailbox_received",
              "doorbells", "idle_ns", "uptime_ns"}


@GANNET_ONLY
@pytest.mark.parametrize("n", [1, 3])
def test_shardz_fields(make_server, n):
    s = start(make_server, args=["--shards", str(n)])
    sz = shardz(s.mport)
    assert set(sz) == SHARDZ_KEYS
    assert sz["server_id"] == varz(s)["server_id"]
    assert isinstance(sz["now"], str) and RFC3339.match(sz["now"])
    assert isinstance(sz["shards"], list) and [sh["id"] for sh in sz["shards"]] == list(range(n))
    for sh in sz["shards"]:
        assert set(sh) == SHARD_KEYS, set(sh) ^ SHARD_KEYS
        for k in SHARD_KEYS:
            assert is_int(sh[k]) and sh[k] >= 0, (k, sh[k])
        assert sh["idle_ns"] <= sh["uptime_ns"]
        own = SYS_SUBS if sh["id"] == 0 else 0  # shard 0 holds the system account's request subscriptions
        assert (sh["connections"], sh["subscriptions"] - own, sh["in_msgs"], sh["out_msgs"]) == (0, 0, 0, 0)


@GANNET_ONLY
def test_shardz_sums_agree_with_varz(make_server):
    s = start(make_server, args=["--shards", "2"])
    trs = [Traffic(s, n=30, tag="t%d" % i) for i in range(3)]  # noqa: F841 (its clients must stay connected)
    v1 = varz(s)
    sz = shardz(s.mport)
    v2 = varz(s)
    assert (v2["in_msgs"], v2["connections"]) == (90, 12)
    for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "slow_consumers"):
        assert v1[k] <= shard_sum(sz, k) <= v2[k], (k, v1[k], shard_sum(sz, k), v2[k])
    for k in ("connections", "subscriptions"):
        assert v1[k] == shard_sum(sz, k) == v2[k], (k, v1[k], shard_sum(sz, k), v2[k])


@GANNET_ONLY
def test_shardz_cross_shard_mailbox(make_server):
    """A publisher's messages to a subscriber on the other shard travel as
    mailbox records: the sender's mailbox_sent and the receiver's
    mailbox_received grow by at least one per message; delivery to a
    subscriber on the publisher's own shard uses no mailbox.

    Which shard a connection lands on is the kernel's choice (SO_REUSEPORT
    hash): connections are opened one at a time and located through the
    per-shard connection counts, until the first one (the publisher) has a
    companion on its own shard and one on the other. With two shards picked
    uniformly, 64 connections all failing to provide that has probability
    below 2^-60."""
    s = start(make_server, args=["--shards", "2"])
    counts = conns_per_shard(s.mport)
    assert counts == [0, 0]
    placed = []  # (conn, shard)
    for i in range(64):
        c, sh, counts = shard_of_new_connection(s.mport, counts, lambda: named_client(s, "c%d" % i))
        placed.append((c, sh))
        home = placed[0][1]
        same = [x for x, k in placed[1:] if k == home]
        other = [x for x, k in placed if k != home]
        if same and other:
            break
    else:
        raise AssertionError("64 connections never spread over both shards: %r" % [k for _, k in placed])
    pub, local, remote = placed[0][0], same[0], other[0]
    away = 1 - home
    local.send("SUB local 1\r\n")
    remote.send("SUB cross 1\r\n")
    local.expect_nothing()
    remote.expect_nothing()
    M = 200
    z0 = shardz(s.mport)["shards"]
    pub.send(pubs("local", M))
    pub.expect_nothing()
    drain(local, M)
    z1 = shardz(s.mport)["shards"]
    for k in ("mailbox_sent", "mailbox_received"):
        assert [sh[k] for sh in z1] == [sh[k] for sh in z0], (k, z0, z1)
    assert z1[home]["in_msgs"] - z0[home]["in_msgs"] == M and z1[home]["out_msgs"] - z0[home]["out_msgs"] == M
    pub.send(pubs("cross", M))
    pub.expect_nothing()
    drain(remote, M)
    z2 = shardz(s.mport)["shards"]
    assert z2[home]["mailbox_sent"] - z1[home]["mailbox_sent"] >= M, (z1, z2)
    assert z2[away]["mailbox_received"] - z1[away]["mailbox_received"] >= M, (z1, z2)
    # the message counts stay with the connections' shards
    assert z2[home]["in_msgs"] - z1[home]["in_msgs"] == M and z2[away]["in_msgs"] == z1[away]["in_msgs"]
    assert z2[away]["out_msgs"] - z1[away]["out_msgs"] == M and z2[home]["out_msgs"] == z1[home]["out_msgs"]
    for sh in z2:
        assert sh["mailbox_received"] <= shard_sum({"shards": z2}, "mailbox_sent")


@GANNET_ONLY
def test_shardz_idle_and_uptime_grow(make_server):
    s = start(make_server, args=["--shards", "2"])
    z0 = shardz(s.mport)["shards"]
    for sh in z0:
        assert 0 <= sh["idle_ns"] <= sh["uptime_ns"]

    def grown():
        z = shardz(s.mport)["shards"]
        for a, b in zip(z0, z):
            assert b["idle_ns"] <= b["uptime_ns"], b
            assert b["idle_ns"] >= a["idle_ns"] and b["uptime_ns"] >= a["uptime_ns"], (a, b)
            for k in ("loop_turns", "sleeps", "completions", "doorbells", "mailbox_sent", "mailbox_received"):
                assert b[k] >= a[k], (k, a, b)  # cumulative
        return all(b["idle_ns"] > a["idle_ns"] and b["uptime_ns"] > a["uptime_ns"] for a, b in zip(z0, z))

    wait_for(grown)


# ======================================================================================
# /topz
# ======================================================================================

TOPZ_KEYS = {"server_id", "now", "window_seconds", "sample_one_in", "sort", "limit", "subjects"}
TOPZ_ENTRY_KEYS = {"subject", "msgs", "bytes", "deliveries", "msgs_per_sec", "bytes_per_sec"}

# Bounds on the estimates. gannet samples about 1 message in K=16, after a
# random gap (uniform on 1..2K-1: mean K, variance (4K^2-4K)/12 = 80); a
# subject's estimate is (its samples) x K. For n consecutive messages of one
# subject the number of samples is a renewal count: mean n/16, standard
# deviation sqrt(n * 80 / 16^3) = sqrt(n / 51.2): 19.8 samples of 1250 for
# n=20000 (1.6%), 6.3 of 125 for n=2000 (5%), 4.4 of 62.5 for n=1000 (7%).
# A +-50% bound is then 7 standard deviations away for n=1000 and 10 or more
# beyond: it fails with probability below 1e-11 for a correct estimator, and
# always for one that is off by a factor (1 in 16 forgotten, counts doubled).
# Orders between subjects below rest on differences of 13 standard
# deviations or more.


def within(est, true, frac=0.5):
    return (1 - frac) * true <= est <= (1 + frac) * true


def topz(port, query=""):
    return get_json(port, "/topz" + query)


def check_topz_shape(z, sort, limit):
    assert set(z) == TOPZ_KEYS, set(z) ^ TOPZ_KEYS
    assert isinstance(z["server_id"], str) and z["server_id"]
    assert isinstance(z["now"], str) and RFC3339.match(z["now"])
    assert is_num(z["window_seconds"]) and z["window_seconds"] > 0
    assert z["sample_one_in"] == 16
    assert z["sort"] == sort and z["limit"] == limit
    assert isinstance(z["subjects"], list) and len(z["subjects"]) <= limit
    for e in z["subjects"]:
        # gannet adds "truncated" (a bool) for subjects longer than it keeps
        assert TOPZ_ENTRY_KEYS <= set(e) <= TOPZ_ENTRY_KEYS | {"truncated"}, set(e) ^ TOPZ_ENTRY_KEYS
        assert isinstance(e.get("truncated", False), bool), e
        assert isinstance(e["subject"], str) and e["subject"]
        for k in ("msgs", "bytes", "deliveries"):
            assert is_int(e[k]) and e[k] >= 0, (k, e)
        for k in ("msgs_per_sec", "bytes_per_sec"):
            assert is_num(e[k]) and e[k] >= 0, (k, e)
    keys = [e[sort] for e in z["subjects"]]
    assert keys == sorted(keys, reverse=True), keys
    assert len({e["subject"] for e in z["subjects"]}) == len(z["subjects"])


@pytest.fixture
def default_sampling(monkeypatch):
    """Servers started in the test get gannet's default sampling rate."""
    monkeypatch.delenv("GANNET_TOPZ_SAMPLE", raising=False)


@GANNET_ONLY
def test_topz_hot_warm_cold(make_server, default_sampling):
    s = start(make_server)
    sub = named_client(s, "sub")
    sub.send("SUB hot 1\r\n")
    sub.expect_nothing()
    pub = named_client(s, "pub")
    pay = b"12345678"
    pub.send(pubs("hot", 20000, pay) + pubs("warm", 2000, pay) + pubs("cold", 10, pay))
    pub.expect_nothing()
    drain(sub, 20000)
    z = topz(s.mport, "?sort=msgs")
    check_topz_shape(z, "msgs", 10)
    assert z["server_id"] == varz(s)["server_id"]
    subj = [e["subject"] for e in z["subjects"]]
    assert subj[:2] == ["hot", "warm"] and set(subj) <= {"hot", "warm", "cold"}, z
    hot, warm = z["subjects"][0], z["subjects"][1]
    assert within(hot["msgs"], 20000) and within(warm["msgs"], 2000), z
    # every message has 8 payload bytes: the byte estimate scales the same samples
    assert (hot["bytes"], warm["bytes"]) == (8 * hot["msgs"], 8 * warm["msgs"]), z
    assert within(hot["deliveries"], 20000) and warm["deliveries"] == 0, z
    assert hot["msgs_per_sec"] > warm["msgs_per_sec"] > 0 and hot["bytes_per_sec"] > warm["bytes_per_sec"] > 0
    # defaults: limit 10
    z = topz(s.mport)
    check_topz_shape(z, z["sort"], 10)
    assert z["sort"] in ("msgs", "bytes", "deliveries")
    assert z["subjects"][0]["subject"] == "hot"
    # limit=1: the first entry alone
    z = topz(s.mport, "?limit=1&sort=msgs")
    check_topz_shape(z, "msgs", 1)
    assert [e["subject"] for e in z["subjects"]] == ["hot"]
    z = topz(s.mport, "?sort=deliveries")
    check_topz_shape(z, "deliveries", 10)
    assert z["subjects"][0]["subject"] == "hot"
    assert all(e["deliveries"] == 0 for e in z["subjects"][1:]), z


@GANNET_ONLY
def test_topz_sort_orders(make_server, default_sampling):
    """Three subjects whose order differs under each sort key:
        many: 20000 msgs x 4 B  =   80000 B, no subscriber  -> deliveries 0
        fan:   4000 msgs x 8 B  =   32000 B, 3 subscribers  -> deliveries 12000
        big:   1000 msgs x 1 KB = 1024000 B, 1 subscriber   -> deliveries 1000
    msgs: many, fan, big; bytes: big, many, fan; deliveries: fan, big, many.
    Adjacent values differ by 2.5x at least, far beyond the sampling error
    (see the bounds above)."""
    s = start(make_server)
    fans = [named_client(s, "fan%d" % i) for i in range(3)]
    for c in fans:
        c.send("SUB fan 1\r\n")
        c.expect_nothing()
    bigsub = named_client(s, "bigsub")
    bigsub.send("SUB big 1\r\n")
    bigsub.expect_nothing()
    pub = named_client(s, "pub")
    pub.send(pubs("many", 20000, b"abcd") + pubs("fan", 4000, b"12345678") + pubs("big", 1000, b"z" * 1024))
    pub.expect_nothing()
    for c in fans:
        drain(c, 4000)
    drain(bigsub, 1000)
    want = {"msgs": ["many", "fan", "big"], "bytes": ["big", "many", "fan"], "deliveries": ["fan", "big", "many"]}
    for sort, order in want.items():
        z = topz(s.mport, "?sort=" + sort)
        check_topz_shape(z, sort, 10)
        assert [e["subject"] for e in z["subjects"]] == order, (sort, z)
        e = {x["subject"]: x for x in z["subjects"]}
        assert within(e["many"]["msgs"], 20000) and within(e["fan"]["msgs"], 4000) and within(e["big"]["msgs"], 1000)
        assert within(e["big"]["bytes"], 1024000) and within(e["fan"]["deliveries"], 12000)
        assert e["many"]["deliveries"] == 0
        z1 = topz(s.mport, "?limit=1&sort=" + sort)
        check_topz_shape(z1, sort, 1)
        assert [x["subject"] for x in z1["subjects"]] == order[:1]


@GANNET_ONLY
def test_topz_limit(make_server, default_sampling):
    """12 subjects of 1000 consecutive messages each: every one is sampled
    (a subject is missed only if a gap between samples exceeds 1000
    messages: impossible with gaps below 2K, and of probability (15/16)^1000
    < 1e-28 even with geometric gaps). The default limit shows 10 of them,
    limit=20 all 12."""
    s = start(make_server)
    pub = named_client(s, "pub")
    names = ["s%02d" % i for i in range(12)]
    pub.send(b"".join(pubs(n, 1000) for n in names))
    pub.expect_nothing()
    z = topz(s.mport)
    check_topz_shape(z, z["sort"], 10)
    assert len(z["subjects"]) == 10
    z = topz(s.mport, "?limit=20&sort=msgs")
    check_topz_shape(z, "msgs", 20)
    assert sorted(e["subject"] for e in z["subjects"]) == names
    for e in z["subjects"]:
        assert within(e["msgs"], 1000), e


@GANNET_ONLY
@pytest.mark.parametrize("query", ["sort=bogus", "sort=MSGS", "limit=x", "limit=1.5", "limit=5&sort=nope",
                                   "sort=msgs&limit=ten", "limit=99999999999999999999"])
def test_topz_bad_parameters(make_server, query):
    s = start(make_server)
    r = http(s.mport, "/topz?" + query)
    assert r.status == 400, (query, r)
    assert r.body, r
    bad_sort = {"sort=bogus": "bogus", "sort=MSGS": "MSGS", "limit=5&sort=nope": "nope"}.get(query)
    if bad_sort:  # the same text as /connz's
        assert r.body.decode() == "invalid sorting option: " + bad_sort, r


@GANNET_ONLY
@pytest.mark.parametrize("query,sort,limit", [("sort=msgs", "msgs", 10), ("sort=bytes&limit=3", "bytes", 3),
                                              ("limit=1&sort=deliveries", "deliveries", 1)])
def test_topz_good_parameters(make_server, query, sort, limit):
    s = start(make_server)
    z = topz(s.mport, "?" + query)
    check_topz_shape(z, sort, limit)
    assert z["subjects"] == []  # nothing published yet


# ======================================================================================
# /subsz: the match cache (both servers)
# ======================================================================================

G_SUBSZ = "/subsz?acc=%24G"


def cache_stats(d):
    return d["num_cache"], d["max_fanout"], d["avg_fanout"]


def test_subsz_match_cache(make_server):
    """nats-server 2.9.10 keeps one match cache per account: an entry per
    subject published (also when nothing matched), holding its result; its
    fanout is the number of subscriptions in that result. num_cache counts
    the entries, max_fanout is the largest fanout, avg_fanout the mean over
    the entries. Publishing the same subjects again, from other clients,
    reuses the entries.

    nats-server's own $SYS account has entries of its own, which change in
    the background (its periodic statsz events): the account $G, which holds
    every client here, is asked alone (acc=$G), and the unfiltered figures
    are only bounded by it."""
    s = start(make_server)
    assert cache_stats(get_json(s.mport, G_SUBSZ)) == (0, 0, 0)
    subs = [named_client(s, "f%d" % i) for i in range(3)]
    for c in subs:
        c.send("SUB foo 1\r\n")
        c.expect_nothing()
    bar = named_client(s, "b")
    bar.send("SUB bar 1\r\n")
    bar.expect_nothing()
    assert cache_stats(get_json(s.mport, G_SUBSZ)) == (0, 0, 0)  # subscribing fills no entry
    three = b"PUB foo 1\r\nx\r\nPUB bar 1\r\nx\r\nPUB baz 1\r\nx\r\n"
    p = named_client(s, "p")
    p.send(three)
    p.expect_nothing()
    for c in subs + [bar]:
        drain(c, 1)
    st = get_json(s.mport, G_SUBSZ)
    assert (st["num_cache"], st["max_fanout"]) == (3, 3), st  # foo 3, bar 1, baz 0
    assert st["avg_fanout"] == pytest.approx(4 / 3, rel=1e-12), st
    # again, from the same client and from four others (which land on
    # various shards of gannet): the same three entries
    for q in [p] + [named_client(s, "q%d" % i) for i in range(4)]:
        q.send(three)
        q.expect_nothing()
        for c in subs + [bar]:
            drain(c, 1)
        st = get_json(s.mport, G_SUBSZ)
        assert (st["num_cache"], st["max_fanout"]) == (3, 3), st
        assert st["avg_fanout"] == pytest.approx(4 / 3, rel=1e-12), st
    acc = get_json(s.mport, "/accountz?acc=%24G")["account_detail"]["sublist_stats"]
    assert (acc["num_cache"], acc["max_fanout"]) == (3, 3), acc
    assert acc["avg_fanout"] == pytest.approx(4 / 3, rel=1e-12), acc
    every = get_json(s.mport, "/subsz")
    assert every["num_cache"] >= 3 and every["max_fanout"] >= 3, every


# ======================================================================================
# /connz rtt (both servers)
# ======================================================================================

# nats-server 2.9.10 sends a client its first keepalive PING 2 s (plus up to
# 20% jitter) after CONNECT, gannet about 2 s after it too. A PING seen less
# than KEEPALIVE seconds after the connection was opened cannot be that one.
# The bound only decides whether an attempt is conclusive (a slow attempt is
# retried); it is not a performance requirement.
KEEPALIVE = 2.0


def conn_by_port(s, port):
    # nats-server 2.9.10 sends INFO before it registers the client, so a
    # /connz right after reading INFO may not list it yet: ask again
    found = poll(lambda: [c for c in get_json(s.mport, "/connz")["connections"] if c["port"] == port], 2.0)
    assert len(found) == 1, found
    return found[0]


def check_rtt_format(rtt):
    """Go's Duration.String of the value nats-server keeps: truncated to
    whole microseconds between 1µs and 1ms."""
    assert DURATION.match(rtt), rtt
    ns = go_duration_ns(rtt)
    if 1000 < ns < 10**6:
        assert re.match(r"^\d+µs$", rtt), rtt
    return ns


def rtt_attempt(s, lang):
    """One client: True when the attempt was conclusive (and passed); False
    when the server's keepalive PING may have come into it."""
    t_open = time.monotonic()
    c = Conn(s.port, auto_pong=False)  # INFO read: the server has accepted (its clock for the estimate started)
    port = c.sock.getsockname()[1]
    t0 = time.monotonic()
    me = conn_by_port(s, port)  # no CONNECT yet: no estimate
    t1 = time.monotonic()
    assert me["rtt"] == "0s" and "name" not in me and "lang" not in me, me
    opts = {"verbose": False, "pedantic": False, "protocol": 1, "name": "rtt"}
    if lang is not None:
        opts["lang"] = lang
    c.send(connect_line(opts) + b"PING\r\n")
    f = c.frame()
    if f.op == "PING" and time.monotonic() - t_open >= KEEPALIVE:
        c.close()
        return False
    assert f.op == "PONG", "the server sent %r before answering the PING" % f  # no PING of its own
    me = conn_by_port(s, port)
    assert me.get("lang") == (lang or None), me
    # the CONNECT came after the /connz round trip, the connection was
    # accepted before it: the estimate covers that time at least
    rtt = check_rtt_format(me["rtt"])
    assert rtt > 0 and rtt >= (t1 - t0) * 1e9 - 1000, (me["rtt"], t1 - t0)
    # asking again measures nothing new, and sends the client no PING
    assert conn_by_port(s, port)["rtt"] == me["rtt"]
    c.send(b"PING\r\n")
    f = c.frame()
    if f.op == "PING" and time.monotonic() - t_open >= KEEPALIVE:
        c.close()
        return False
    assert f.op == "PONG", "the server sent %r: /connz made it PING the client" % f
    c.close()
    return True


@pytest.mark.parametrize("lang", ["python", "", None], ids=["lang", "empty-lang", "no-lang"])
def test_connz_rtt_estimated_at_connect(make_server, lang):
    """rtt is "0s" until CONNECT; at CONNECT the server estimates it as the
    time since it accepted the connection, without any PING; asking /connz
    sends no PING either, with or without a lang (nats-server 2.9.10 pings
    from /connz only a client whose rtt is still 0 and which gave a lang:
    one that sent CONNECT has its estimate, one that did not has no lang)."""
    s = start(make_server)
    for _ in range(5):
        if rtt_attempt(s, lang):
            return
    raise AssertionError("every attempt took %.1f s or more: nothing concluded" % KEEPALIVE)


def test_connz_rtt_measured_by_keepalive_pong(make_server):
    """The first keepalive PING measures the rtt: the client holds its PONG
    (asking /connz meanwhile: still the estimate) until longer than that
    estimate has passed; then /connz shows at least the hold time."""
    s = start(make_server)
    c = Conn(s.port, auto_pong=False)
    port = c.sock.getsockname()[1]
    c.send(connect_line({"verbose": False, "pedantic": False, "protocol": 1, "lang": "python",
                         "name": "rtt"}) + b"PING\r\n")
    assert c.frame().op == "PONG"
    first = conn_by_port(s, port)["rtt"]
    rtt1 = check_rtt_format(first)
    assert rtt1 > 0
    f = c.frame(timeout=10)  # the keepalive PING, about 2 s after CONNECT
    tp = time.monotonic()
    assert f.op == "PING", f
    deadline = tp + 10
    while (time.monotonic() - tp) * 1e9 <= 2 * rtt1 + 10**6:
        assert time.monotonic() < deadline
        assert conn_by_port(s, port)["rtt"] == first  # no PONG yet: unchanged
    c.send(b"PONG\r\n")
    hold = time.monotonic() - tp
    c.send(b"PING\r\n")
    assert c.frame().op == "PONG"  # the PONG was processed, nothing else came
    rtt2 = check_rtt_format(conn_by_port(s, port)["rtt"])
    assert rtt2 >= hold * 1e9 - 1000 and rtt2 > rtt1, (rtt1, hold, rtt2)
