"""The live dashboard at <http_base_path>/dashboard (gannet only: nats-server
2.9.10 has no such page, so these tests start gannet themselves instead of
using the make_server fixture, which runs every test against both servers).

The page is opened in a real headless Chromium by
tests/clients/js/dashboard_test.mjs (playwright-core), which prints what the
page shows as one JSON object. Numbers are compared with /varz by bracketing
(a value read from the page lies between /varz read before the page was
opened and /varz read after the page was read), never by timing.

A steady publish load runs in a background thread for the duration of each
test (about 1,000 small messages a second), with a subscriber draining it.
"""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time

import pytest

from monhelp import get_json, http, named_client, wait_for
from servers import GANNET_BIN, ROOT, free_port, wait_port

JS_DIR = os.path.join(ROOT, "tests", "clients", "js")
SCRIPT = os.path.join(JS_DIR, "dashboard_test.mjs")
HTML = os.path.join(ROOT, "monitor", "dashboard.html")
CHROMIUM = "/usr/bin/chromium"
SHARDS = 2
PUB_NAME, SUB_NAME = "dash-publisher", "dash-subscriber"
SUBJECT = "dash.load"


@pytest.fixture
def server_bin():
    """gannet only: overrides conftest's fixture (gannet and nats-server), so
    make_server's teardown, log printing and sanitizer checks still apply."""
    return GANNET_BIN


@pytest.fixture
def gannet(make_server):
    """Factory: gannet(conf=None, args=()) starts gannet monitoring on a free
    port (s.mport)."""
    def start(conf=None, args=()):
        mport = free_port()
        s = make_server(conf=conf, args=["-m", str(mport)] + list(args))
        wait_port(mport, proc=s.proc)
        s.mport = mport
        return s
    return start


class Load:
    """A subscriber on dash.> and a publisher sending batches of 20 messages to
    dash.load every 20 ms, each on its own named connection and thread, until
    stop() (or 90 s at most). The subscriber's socket is drained and both
    answer the server's PINGs, so neither becomes a slow or stale client."""

    def __init__(self, server):
        self.stop_ev = threading.Event()
        self.errors = []
        self.sub = named_client(server, SUB_NAME)
        self.sub.send("SUB dash.> 1\r\n")
        self.sub.expect_nothing()
        self.pub = named_client(server, PUB_NAME)
        self.threads = [threading.Thread(target=self._drain, daemon=True),
                        threading.Thread(target=self._publish, daemon=True)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _pong_if_pinged(sock, data, tail):
        # PING may straddle two reads: look at the end of the previous read too.
        if b"PING\r\n" in tail + data:
            sock.sendall(b"PONG\r\n")
        return (tail + data)[-8:]

    def _drain(self):
        sock, tail = self.sub.sock, b""
        try:
            while not self.stop_ev.is_set():
                r, _, _ = select.select([sock], [], [], 0.2)
                if r:
                    data = sock.recv(1 << 16)
                    if not data:
                        return
                    tail = self._pong_if_pinged(sock, data, tail)
        except OSError as e:
            if not self.stop_ev.is_set():
                self.errors.append("subscriber: %r" % e)

    def _publish(self):
        sock, tail = self.pub.sock, b""
        batch = b"".join(b"PUB %s 16\r\n%016d\r\n" % (SUBJECT.encode(), i) for i in range(20))
        deadline = time.monotonic() + 90
        try:
            while not self.stop_ev.is_set() and time.monotonic() < deadline:
                sock.settimeout(5)
                sock.sendall(batch)
                r, _, _ = select.select([sock], [], [], 0)
                if r:
                    data = sock.recv(1 << 16)
                    if not data:
                        self.errors.append("publisher: closed by the server")
                        return
                    tail = self._pong_if_pinged(sock, data, tail)
                self.stop_ev.wait(0.02)
        except OSError as e:
            if not self.stop_ev.is_set():
                self.errors.append("publisher: %r" % e)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(10)
        self.pub.close()
        self.sub.close()


def node_cmd():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not installed (scripts/deps.sh test installs it)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "playwright-core")):
        pytest.fail("playwright-core missing: run npm ci in %s" % JS_DIR)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s missing (apt-get install chromium)" % CHROMIUM)
    return [node, SCRIPT]


def open_page(mport, path, polls=3):
    """Run the browser script; its JSON report."""
    cmd = node_cmd() + ["--port", str(mport), "--path", path, "--polls", str(polls)]
    shot = os.environ.get("DASHBOARD_SCREENSHOT")
    if shot:
        cmd += ["--screenshot", shot]
    # Own process group: if the script overran its own 55 s watchdog, the
    # browser it started is killed with it.
    p = subprocess.Popen(cmd, cwd=JS_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=80)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError("%s did not finish in 80 s" % cmd)
    if p.returncode != 0:  # it may have failed before closing the browser
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    lines = stdout.decode(errors="replace").strip().splitlines()
    assert lines, "no output from %s (rc %s); stderr:\n%s" % (cmd, p.returncode, stderr.decode()[-4000:])
    out = json.loads(lines[-1])
    assert p.returncode == 0 and out["ok"], "browser run failed: %s\nstderr:\n%s" % (
        json.dumps(out, indent=1)[:6000], stderr.decode()[-3000:])
    return out


def value(out, id_):
    v = out["values"].get(id_)
    assert v is not None, "no element #%s on the page" % id_
    return v["value"]


def assert_clean(out, prefix):
    """The page loaded, drew, and nothing went wrong in the browser; every
    request it made went to the monitoring port, under prefix."""
    assert out["status"] == 200, out
    assert out["content_type"] == "text/html; charset=utf-8", out["content_type"]
    assert not out["timed_out"], "page never finished loading: %s" % json.dumps(out, indent=1)[:4000]
    assert out["console_errors"] == [], out["console_errors"]
    assert out["page_errors"] == [], out["page_errors"]
    assert out["request_failures"] == [], out["request_failures"]
    assert out["bad_responses"] == [], out["bad_responses"]
    assert out["sections"] == {"varz": "ok", "shards": "ok", "conns": "ok", "topz": "ok", "routes": "ok"}, (
        out["sections"], out["notes"])
    assert out["notes"]["routes"] == "0 routes", out["notes"]  # not clustered: the section says so
    for u in out["requests"]:
        assert u.startswith(prefix), "request outside %s: %s" % (prefix, u)
    paths = [u[len(prefix):] for u in out["requests"]]
    for want in ("dashboard", "varz", "shardz", "connz?sort=msgs_to&limit=10", "topz?limit=10"):
        assert any(p.startswith(want) for p in paths), (want, out["requests"])
    for cid, c in out["charts"].items():
        assert c["inked"] > 0, "chart %s is blank: %r" % (cid, c)


def test_dashboard_live(gannet):
    s = gannet(args=["--shards", str(SHARDS)])
    m = s.mport

    r = http(m, "/dashboard")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/html; charset=utf-8", r.headers
    with open(HTML, "rb") as f:
        assert r.body == f.read(), "the binary serves a different dashboard.html (rebuild?)"

    idle = [named_client(s, "dash-idle-%d" % i) for i in range(2)]
    for i, c in enumerate(idle):
        c.send("SUB idle.%d 1\r\nSUB idle.%d.x 2\r\n" % (i, i))
        c.expect_nothing()
    load = Load(s)
    try:
        n_conns = 4  # two idle clients, the publisher, the subscriber
        wait_for(lambda: get_json(m, "/varz")["connections"] == n_conns)
        wait_for(lambda: get_json(m, "/varz")["in_msgs"] > 0)
        # The sampled subject statistics have seen the load.
        wait_for(lambda: any(t["subject"] == SUBJECT for t in get_json(m, "/topz?limit=10")["subjects"]))

        before = get_json(m, "/varz")
        out = open_page(m, "/dashboard", polls=3)
        after = get_json(m, "/varz")
        assert load.errors == [], load.errors
    finally:
        load.stop()
        for c in idle:
            c.close()

    prefix = "http://127.0.0.1:%d/" % m
    assert_clean(out, prefix)

    # Header: the server the page talks to.
    assert value(out, "server_id") == before["server_id"]
    assert value(out, "version") == before["version"]
    assert value(out, "uptime")

    # Totals: the connection count is stable during the test; the message
    # counters only grow, so the page's value lies between the two reads.
    assert before["connections"] == after["connections"] == n_conns
    assert int(value(out, "connections")) == n_conns
    assert before["total_connections"] <= int(value(out, "total_connections")) <= after["total_connections"]
    assert int(value(out, "subscriptions")) == before["subscriptions"] == after["subscriptions"]
    assert int(value(out, "slow_consumers")) == 0
    for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes"):
        assert before[k] <= int(value(out, k)) <= after[k], (k, before[k], value(out, k), after[k])
    assert before["in_msgs"] > 0
    # The publisher ran throughout, so the rates between the page's polls are positive.
    assert float(value(out, "in_msgs_rate")) > 0, out["values"]
    assert float(value(out, "out_msgs_rate")) > 0, out["values"]

    # Busiest connections: /connz?sort=msgs_to&limit=10 (4 connections: all listed).
    names = [row["cells"][1] for row in out["conn_rows"]]
    assert PUB_NAME in names and SUB_NAME in names, out["conn_rows"]
    assert len(names) == n_conns, out["conn_rows"]
    assert names[0] == SUB_NAME, "sorted by msgs_to, the subscriber comes first: %r" % names

    # One row per shard, each with a busy fraction computed from two polls.
    assert value(out, "shard_count") == str(SHARDS)
    assert sorted(row["id"] for row in out["shard_rows"]) == [str(i) for i in range(SHARDS)], out["shard_rows"]
    for row in out["shard_rows"]:
        assert re.match(r"^\d{1,3}\.\d%$", row["cells"][1]), row
    assert sum(int(row["cells"][6].replace(",", "")) for row in out["shard_rows"]) == n_conns, out["shard_rows"]

    # Busiest subjects, from /topz.
    assert SUBJECT in [row["subject"] for row in out["topz_rows"]], out["topz_rows"]


def test_dashboard_under_base_path(gannet):
    s = gannet(conf='http_base_path: "/mon"\n', args=["--shards", str(SHARDS)])
    m = s.mport
    r = http(m, "/mon/dashboard")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/html; charset=utf-8", r.headers
    assert http(m, "/dashboard").status == 404

    clients = [named_client(s, "dash-base-%d" % i) for i in range(3)]
    try:
        wait_for(lambda: get_json(m, "/mon/varz")["connections"] == len(clients))
        before = get_json(m, "/mon/varz")
        out = open_page(m, "/mon/dashboard", polls=2)
        after = get_json(m, "/mon/varz")
    finally:
        for c in clients:
            c.close()

    # Every fetch went to /mon/...: the numbers arrived through /mon/varz.
    assert_clean(out, "http://127.0.0.1:%d/mon/" % m)
    assert int(value(out, "connections")) == before["connections"] == after["connections"] == len(clients)
    assert before["in_msgs"] <= int(value(out, "in_msgs")) <= after["in_msgs"]
    assert value(out, "server_id") == before["server_id"]
    assert len(out["shard_rows"]) == SHARDS, out["shard_rows"]
    names = sorted(row["cells"][1] for row in out["conn_rows"])
    assert names == ["dash-base-%d" % i for i in range(3)], out["conn_rows"]


EXTERNAL = [
    re.compile(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"""url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I),
    re.compile(r"""<script[^>]*\ssrc\s*=""", re.I),
    re.compile(r"""<link[^>]*rel\s*=\s*["']?stylesheet""", re.I),
    re.compile(r"""\b(?:fetch|import)\s*\(\s*["'`](?:https?:)?//""", re.I),
]


def test_dashboard_is_self_contained(gannet):
    """No external script, style, font or image (the machine may be offline):
    checked on the file and on what the server sends."""
    with open(HTML, "rb") as f:
        src = f.read()
    assert len(src) < 40 * 1024, "dashboard.html grew to %d bytes" % len(src)
    s = gannet()
    r = http(s.mport, "/dashboard")
    assert r.status == 200, r
    assert r.body == src
    text = src.decode("utf-8")
    for rx in EXTERNAL:
        m = rx.search(text)
        assert m is None, "external reference: %r" % text[max(0, m.start() - 40):m.end() + 40]
    for needle in ('src="http', "src='http", 'href="http', "href='http", "url(http"):
        assert needle not in text.lower(), needle
    # Every id a test or a user relies on is there.
    for id_ in ("connections", "total_connections", "in_msgs", "out_msgs", "subscriptions",
                "slow_consumers", "server_id", "version", "uptime", "shard_rows", "conn_rows", "topz_rows"):
        assert ('id="%s"' % id_) in text, id_
