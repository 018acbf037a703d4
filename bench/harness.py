#!/usr/bin/env python3
"""bench/harness.py — gannet and nats-server side by side (bench/README.md).

bench/run builds the client and execs this. For every scenario and size it
starts both servers on loopback ports, runs the same natsbench command
against each in turn (gannet, nats-server, gannet, ...) until each has the
wanted number of clean repetitions, takes medians and prints a table with
the ratio gannet / nats-server. A repetition is clean when the client
accounted for every message and the CPU used by anything but the server,
the client and ksoftirqd stayed under the noise limit; a run that lost or
garbled a message fails its server for that case and shows as FAILED, never
as a number. The pair kinds (stalled subscriber, inbox churn) run the client
twice per repetition, without and with the disturbance, and report both and
the share of its throughput each server keeps.

Every process started here is tracked by PID, in its own session so that a
terminal's Ctrl-C reaches only this script, and is killed on any exit.
"""

import argparse
import datetime
import fnmatch
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT = os.path.join(ROOT, "build/bench/natsbench")
GANNET = os.path.join(ROOT, "build/gannet")
NATS = "/usr/sbin/nats-server"
SIZES = [16, 128, 1024, 16384]
SERVERS = ("gannet", "nats")
CLIENT_BOUND = 85.0  # % of its core above which a pinned client may be the bottleneck
LABEL = {"gannet": "gannet", "nats": "nats-server"}
PAIR_KINDS = ("stall", "churn", "auth")  # each repetition: the case without, then with, the disturbance
IDLE_WANTED = 100000  # idle100k: clients wanted, if the open-files limit allows
# Server configuration of the stalled-subscriber scenario, the same file for
# both servers: a stalled subscriber must be cut within the run.
STALL_CONF = "write_deadline: 2s\n"  # max_pending stays at its default, 64 MiB
# Server configuration of the service-import scenario (natsbench --svc-import
# logs in as rsp and req): requests from APP reach SVC through an import.
SVC_CONF = """accounts {
  SVC { users: [ {user: rsp, password: bench} ], exports: [ {service: "svc.req"} ] }
  APP { users: [ {user: req, password: bench} ],
        imports: [ {service: {account: SVC, subject: "svc.req"}, to: "bench.req"} ] }
}
"""
BIG_CONF = "max_connections: 200000\n"  # both default to 64K
# The route-pooling scenarios (cluster layout): three accounts, one user
# each; natsbench --acct-users 3 logs publisher i and subscriber i in as
# u<i % 3> (password bench), so each publisher/subscriber pair is in an
# account of its own. In gannet (as in nats-server 2.10) fnv1a32 of the
# names puts A1, A2, A3 on pool slots 2, 1, 0 of the default pool of 3:
# one route connection per account.
ACC3_CONF = """accounts {
  A1: { users: [ {user: u0, password: bench} ] }
  A2: { users: [ {user: u1, password: bench} ] }
  A3: { users: [ {user: u2, password: bench} ] }
}
"""
# Route compression levels measured (gannet only: nats-server 2.9.10 has
# no route compression and rejects the key).
COMP_LEVELS = ("off", "s2_uncompressed", "s2_fast", "s2_better", "s2_best")
# The CONNECT-storm scenario: requests run as the no_auth_user while user
# "storm" (password "bench", bcrypt cost 10, made with Python's crypt)
# logs in and out 50 times a second.
# The TLS scenarios: one CA and one server certificate per run, made with the
# openssl CLI in the run's temporary folder (tls_certs()). ECDSA P-256 keys
# (cheaper handshakes than RSA 2048; the bulk cipher, AES-GCM, is the same
# either way); the server certificate has SAN DNS:localhost, IP:127.0.0.1 and
# libnats checks it against the CA for the name localhost. Both servers get
# the same tls {} block.
TLS_CERTS = {}


def tls_certs(tmp):
    """{"ca", "cert", "key"}: paths of the run's certificates, made once."""
    if TLS_CERTS.get("dir") == tmp:
        return TLS_CERTS
    d = os.path.join(tmp, "tls")
    os.makedirs(d, exist_ok=True)
    f = lambda n: os.path.join(d, n)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    with open(f("server.ext"), "w") as x:
        x.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    for argv in (["openssl", "req", "-x509"] + ec + ["-keyout", f("ca-key.pem"), "-out", f("ca.pem"),
                  "-days", "2", "-subj", "/CN=gannet bench CA"],
                 ["openssl", "req"] + ec + ["-keyout", f("server-key.pem"), "-out", f("server.csr"),
                  "-subj", "/CN=localhost"],
                 ["openssl", "x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey",
                  f("ca-key.pem"), "-CAcreateserial", "-out", f("server.pem"), "-days", "2",
                  "-extfile", f("server.ext")]):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"{' '.join(argv[:2])}: {r.stderr.strip()[-300:]}")
    TLS_CERTS.clear()
    TLS_CERTS.update({"dir": tmp, "ca": f("ca.pem"), "cert": f("server.pem"), "key": f("server-key.pem")})
    return TLS_CERTS


def tls_conf(certs):
    return f'tls {{\n  cert_file: "{certs["cert"]}"\n  key_file: "{certs["key"]}"\n}}\n'


AUTH_CONF = """authorization { users: [ {user: plain, password: plain},
  {user: storm, password: "$2b$10$uHpvCPXMEzru/Z11N/phtu5Rpc0Qr4EE1/UtqrjVBkD4dqdlM8aRa"} ] }
no_auth_user: plain
"""

# --------------------------------------------------------------------------
# processes


class Tracker:
    """Every child by PID; kill_all() on exit, signal or error."""

    def __init__(self):
        self.procs = {}

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs[p.pid] = p
        return p

    def reap(self, p, grace=3.0):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.pop(p.pid, None)

    def kill_all(self):
        for p in list(self.procs.values()):
            self.reap(p, 1.0)


TRACK = Tracker()


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpus_used(pid):
    """CPUs the server's threads last ran on (field 39 of task stat)."""
    used = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                used.add(int(f.read().rsplit(")", 1)[1].split()[36]))
    except (OSError, ValueError, IndexError):
        pass
    return ",".join(str(c) for c in sorted(used))


class Server:
    def __init__(self, kind, layout, logdir, conf=None):
        self.kind, self.layout, self.logdir = kind, layout, logdir
        self.proc = None
        self.port = 0
        self.conf = None
        if conf:  # the same configuration file for both servers
            self.conf = os.path.join(logdir, f"{kind}-{zlib.crc32(conf.encode()):08x}.conf")
            with open(self.conf, "w") as f:
                f.write(conf)

    def argv(self):
        pin = ["taskset", "-c", self.layout["server_cpus"]] if self.layout["server_cpus"] else []
        conf = ["-c", self.conf] if self.conf else []
        if self.kind == "gannet":
            return pin + [GANNET, "-a", "127.0.0.1", "-p", str(self.port)] + conf + self.layout["gannet_args"]
        return pin + [NATS, "-a", "127.0.0.1", "-p", str(self.port)] + conf

    def start(self):
        self.port = free_port()
        env = dict(os.environ)
        env.pop("GOMAXPROCS", None)
        if self.kind == "nats":
            env.update(self.layout["nats_env"])
        self.log = open(os.path.join(self.logdir, f"{self.kind}-{self.port}.log"), "w")
        self.proc = TRACK.popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                    if s.recv(5) == b"INFO ":
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.kind} did not accept connections on port {self.port}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def placement(self):
        pid = self.proc.pid
        return {"cpus_allowed": proc_status(pid, "Cpus_allowed_list"),
                "threads": proc_status(pid, "Threads"), "ran_on": cpus_used(pid)}

    def log_tail(self, n=600):
        try:
            if not self.log.closed:
                self.log.flush()
            with open(self.log.name) as f:
                return f.read()[-n:].strip()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM (SIGKILL after 3 s); returns the exit code."""
        if not self.proc:
            return 0
        TRACK.reap(self.proc)
        self.log.close()
        return self.proc.returncode


class Cluster:
    """Three nodes of one kind, A (the seed), B and C, started like the
    cluster conformance tests (tests/lib/cluster.py) start theirs: each node's
    configuration has server_name, port, http (monitoring) and
    cluster { name: C1, listen: 127.0.0.1:<cport> }, B and C with
    routes: [nats-route://127.0.0.1:<A's cport>]; B and C learn of each other
    by gossip. Nodes start one after the other, each once the running ones
    are meshed, so that who dials whom is the same every time; start() is
    done when every node's /routez shows num_routes == 2.

    Stands in for Server in run_case: port is A's client port (publishers,
    the requester), sub_ports the client ports of the nodes in subs_on
    (subscribers, the responder), pids every node's (the client sums their
    CPU time)."""

    NAMES = "ABC"
    MESH_TIMEOUT = 10.0
    # what a node logs when a route is cut or re-made, or when it drops data
    EVENT_RE = re.compile(r"Slow Consumer|Router connection closed|Route connection created|"
                          r"\[ERR\]|\[WRN\]|\[FTL\]")

    def __init__(self, kind, layout, logdir, conf=None, subs_on="B", gannet_cluster=None, wire=False):
        self.kind, self.layout, self.logdir = kind, layout, logdir
        self.extra_conf = conf or ""
        # lines inside cluster {} for gannet nodes only (pool_size, compression:
        # keys nats-server 2.9.10 rejects)
        self.cluster_extra = (gannet_cluster or "") if kind == "gannet" else ""
        self.wire = wire  # the client counts TCP bytes on A's cluster port
        self.subs_on = subs_on
        self.nodes = []
        self.proc = None
        self.port = 0
        self.conf = None

    def node_conf(self, n, seed_cport):
        lines = [f"server_name: {n['name']}", f"port: {n['port']}", f"http: 127.0.0.1:{n['mport']}",
                 "cluster {", "  name: C1", f"  listen: 127.0.0.1:{n['cport']}"]
        if seed_cport:
            lines.append(f"  routes: [nats-route://127.0.0.1:{seed_cport}]")
        lines += [f"  {x.strip()}" for x in self.cluster_extra.splitlines() if x.strip()]
        return "\n".join(lines + ["}", self.extra_conf]) + "\n"

    def node_argv(self, n):
        conf = ["-a", "127.0.0.1", "-c", n["conf"]]
        if self.kind == "gannet":
            return [GANNET] + conf + self.layout["gannet_args"]
        return [NATS] + conf

    def argv(self):  # A's, for the report's placement only
        return self.node_argv(self.nodes[0]) if self.nodes else []

    def repro(self):
        env = "".join(f"{k}={v} " for k, v in self.layout["nats_env"].items()) if self.kind == "nats" else ""
        rel = lambda a: os.path.relpath(a, ROOT) if a.startswith(ROOT) else a
        cmds = [env + " ".join(rel(a) for a in self.node_argv(n)) for n in self.nodes]
        return " & sleep 0.5; ".join(cmds) + " & (the three configurations are in the logs folder)"

    def start(self):
        self.nodes = []
        for name in self.NAMES:
            self.nodes.append({"name": name, "port": free_port(), "cport": free_port(),
                               "mport": free_port(), "proc": None, "log": None, "mark": 0})
        env = dict(os.environ)
        env.pop("GOMAXPROCS", None)
        if self.kind == "nats":
            env.update(self.layout["nats_env"])
        seed = self.nodes[0]["cport"]
        for i, n in enumerate(self.nodes):
            n["conf"] = os.path.join(self.logdir, f"{self.kind}-{n['port']}-{n['name']}.conf")
            with open(n["conf"], "w") as f:
                f.write(self.node_conf(n, seed if i else 0))
            n["log"] = open(os.path.join(self.logdir, f"{self.kind}-{n['port']}-{n['name']}.log"), "w")
            n["proc"] = TRACK.popen(self.node_argv(n), stdout=n["log"], stderr=subprocess.STDOUT, env=env)
            if i == 0:
                self.proc = n["proc"]
            self.wait_ready(n)
            self.wait_mesh(self.nodes[:i + 1])
        self.port = self.nodes[0]["port"]
        self.sub_ports = [self.node(x)["port"] for x in self.subs_on]
        for n in self.nodes:  # to name the peers in /routez
            n["server_id"] = self.monitor(n, "/varz").get("server_id")
        self.wait_settled()
        for n in self.nodes:  # from here on, route events are news
            n["log"].flush()
            n["mark"] = os.path.getsize(n["log"].name)

    def node(self, name):
        return self.nodes[self.NAMES.index(name)]

    def wait_ready(self, n):
        deadline = time.time() + 10
        while time.time() < deadline:
            if n["proc"].poll() is not None:
                raise RuntimeError(f"{self.kind} node {n['name']} exited at start: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", n["port"]), 0.5) as sk:
                    if sk.recv(5) == b"INFO " and self.num_routes(n) >= 0:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} node {n['name']} did not accept clients and monitoring "
                           f"on ports {n['port']}, {n['mport']}")

    def num_routes(self, n):
        try:
            c = http.client.HTTPConnection("127.0.0.1", n["mport"], timeout=2)
            try:
                c.request("GET", "/routez")
                r = c.getresponse()
                # servers routed to: a pooling peer (gannet, nats-server 2.10) has several connections
                return len({x["remote_id"] for x in json.loads(r.read())["routes"]}) if r.status == 200 else -1
            finally:
                c.close()
        except (OSError, ValueError, KeyError):
            return -1

    def routes(self):
        return {n["name"]: self.num_routes(n) for n in self.nodes}

    def monitor(self, n, path):
        """A node's monitoring endpoint as a dict ({} when it does not answer)."""
        try:
            c = http.client.HTTPConnection("127.0.0.1", n["mport"], timeout=2)
            try:
                c.request("GET", path)
                r = c.getresponse()
                return json.loads(r.read()) if r.status == 200 else {}
            finally:
                c.close()
        except (OSError, ValueError):
            return {}

    def routez(self, name):
        """One node's route connections as /routez shows them: peer (node
        name by client port), pool_idx, account, compression (gannet;
        nats-server 2.9.10 has none of the three)."""
        got = self.monitor(self.node(name), "/routez")
        if "routes" not in got:
            return None
        routes = got["routes"] or []
        ids = {x.get("server_id"): x["name"] for x in self.nodes if x.get("server_id")}
        out = []
        for x in routes:
            peer = ids.get(x.get("remote_id")) or x.get("remote_id", "?")[:8]
            out.append({"peer": peer, "pool_idx": x.get("pool_idx"), "account": x.get("account"),
                        "compression": x.get("compression"), "did_solicit": x.get("did_solicit"),
                        "out_msgs": x.get("out_msgs"), "out_bytes": x.get("out_bytes")})
        return out

    SETTLE_S, SETTLE_TIMEOUT = 0.3, 3.0

    def wait_settled(self):
        """A pooling node (gannet; nats-server 2.10) is meshed, by the count
        of servers, with its first connection to each peer; the rest of the
        pool and the pinned $SYS connection follow within milliseconds. Wait
        until no node's count of route connections has changed for SETTLE_S
        (at most SETTLE_TIMEOUT), so that their "Route connection created"
        lines come before the mark and the traffic finds every connection."""
        def conns():
            return tuple(len(self.monitor(n, "/routez").get("routes") or []) for n in self.nodes)
        last, since = conns(), time.time()
        deadline = since + self.SETTLE_TIMEOUT
        while time.time() < deadline:
            time.sleep(0.05)
            now = conns()
            if now != last:
                last, since = now, time.time()
            elif time.time() - since >= self.SETTLE_S:
                break
        self.conns_settled = last

    def wait_mesh(self, nodes):
        want = len(nodes) - 1
        deadline = time.time() + self.MESH_TIMEOUT
        while time.time() < deadline:
            if all(self.num_routes(n) == want for n in nodes):
                return
            time.sleep(0.05)
        got = {n["name"]: self.num_routes(n) for n in nodes}
        raise RuntimeError(f"{self.kind}: no full mesh of {len(nodes)} nodes within "
                           f"{self.MESH_TIMEOUT:.0f} s: num_routes {got}; {self.log_tail()}")

    def check_routes(self):
        """None while every node still has its two routes, else what is wrong."""
        got = self.routes()
        if all(v == len(self.nodes) - 1 for v in got.values()):
            return None
        return f"route lost: num_routes {got} (want {len(self.nodes) - 1} each); {self.events()[:5]}"

    def events(self):
        """Log lines since the mesh was complete that tell of a route cut,
        re-made, or an error (before the nodes are stopped)."""
        out = []
        for n in self.nodes:
            try:
                n["log"].flush()
                with open(n["log"].name, errors="replace") as f:
                    f.seek(n["mark"])
                    out += [f"{n['name']}: {l.strip()}" for l in f if self.EVENT_RE.search(l)]
            except (OSError, ValueError):
                pass
        return out

    def pids(self):
        return [n["proc"].pid for n in self.nodes]

    def client_args(self):
        wire = ["--wire-port", str(self.nodes[0]["cport"])] if self.wire else []
        return ["--port", str(self.port), "--server-pid", ",".join(map(str, self.pids())),
                "--sub-port", ",".join(map(str, self.sub_ports))] + wire

    def alive(self):
        return bool(self.nodes) and all(n["proc"] and n["proc"].poll() is None for n in self.nodes)

    def dead(self):
        return ", ".join(f"{n['name']} exit {n['proc'].returncode}" for n in self.nodes
                         if n["proc"] and n["proc"].poll() is not None)

    def placement(self):
        ran = set()
        for n in self.nodes:
            ran |= {c for c in cpus_used(n["proc"].pid).split(",") if c}
        return {"cpus_allowed": proc_status(self.nodes[0]["proc"].pid, "Cpus_allowed_list"),
                "threads": " / ".join(proc_status(n["proc"].pid, "Threads") for n in self.nodes) + " (A / B / C)",
                "ran_on": ",".join(sorted(ran, key=int))}

    def log_tail(self, n=600):
        out = []
        for x in self.nodes:
            try:
                if x["log"] and not x["log"].closed:
                    x["log"].flush()
                with open(x["log"].name) as f:
                    out.append(f"[{x['name']}] " + f.read()[-(n // 3):].strip())
            except (OSError, AttributeError):
                pass
        return " | ".join(out)

    def stop(self):
        """SIGTERM every node (C, B, A); the first unclean exit code, else
        that of A."""
        rcs = []
        for n in reversed(self.nodes):
            if n["proc"]:
                TRACK.reap(n["proc"])
                n["log"].close()
                rcs.append(n["proc"].returncode)
        bad = [rc for rc in rcs if rc != 0]
        return bad[0] if bad else 0


# --------------------------------------------------------------------------
# scenarios

def layouts():
    return {
        "pinned": {"server_cpus": "0", "client_cpus": "1", "gannet_args": ["--shards", "1"],
                   "nats_env": {"GOMAXPROCS": "1"}, "threads": 1, "pubs": 1,
                   "desc": "server on CPU 0 (taskset), client on CPU 1; gannet --shards 1, "
                           "nats-server GOMAXPROCS=1"},
        "unpinned": {"server_cpus": None, "client_cpus": None, "gannet_args": [],
                     "nats_env": {}, "threads": 2, "pubs": 2,
                     "desc": "no pinning, both cores shared; gannet default shards, nats-server "
                             "default GOMAXPROCS; client: 2 publishers, 2 event-loop threads"},
        # Three nodes per server kind and the client on two cores: oversubscribed
        # by design. Every node gets one thread of execution (gannet --shards 1,
        # nats-server GOMAXPROCS=1), nothing is pinned, both kinds alike.
        "cluster": {"server_cpus": None, "client_cpus": None, "gannet_args": ["--shards", "1"],
                    "nats_env": {"GOMAXPROCS": "1"}, "threads": 1, "pubs": 1, "nodes": 3,
                    "desc": "3-node cluster per server kind (A seed; B, C route to A), no pinning: "
                            "3 servers + client share both cores (oversubscribed); gannet --shards 1, "
                            "nats-server GOMAXPROCS=1 on every node; publisher/requester on A, "
                            "subscribers/responder on B (and C); client: 1 event-loop thread; "
                            "server CPU is the sum over the 3 nodes"},
    }


def idle_count():
    """Idle clients the open-files limit allows (server and client each hold
    one descriptor per client), up to IDLE_WANTED; and why, when fewer."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard >= IDLE_WANTED + 512:
        return IDLE_WANTED, ""
    n = max(1000, (hard - 512) // 1000 * 1000)
    return n, (f"{IDLE_WANTED:,} wanted: the open-files hard limit is {hard} "
               "(raising it needs CAP_SYS_RESOURCE)")


ACC3_ARGS = ["--scenario", "pubsub", "--pubs", "3", "--acct-users", "3"]


def specs(layout, quick):
    """(name, kind, title, client args, sizes, extra) for one layout. extra:
    conf (server configuration, both servers), gannet_cluster (lines inside
    cluster {}, gannet nodes only), wire (count TCP bytes on A's cluster port),
    comp (the compression level, for the Compression table), with (client arguments added
    for the second run of a pair kind), duration (s, at least this), reps
    (at most this many), case_cap (s), why (a note for the report)."""
    q = quick
    n_rr, n_ow, rate = (3000, 3000, 10000) if q else (20000, 20000, 10000)
    conns = 2000 if q else 10000
    idle_n, idle_why = idle_count()
    if layout == "cluster":
        s = [
            ("pubsub", "tput", "1:1 across a route: publisher on A → subscriber on B "
             "(goal ≥ 1.5× msgs/s, ≤ 0.67× CPU/msg)", ["--scenario", "pubsub"], [128, 16384],
             {"subs_on": "B"}),
            ("fanout", "tput", "fan-out across routes: publisher on A → one subscriber on B, one on C",
             ["--scenario", "fanout", "--subs", "2"], [128], {"subs_on": "BC"}),
            ("reqrep", "lat", "request/reply A → B (requester on A, responder on B), 1 outstanding "
             "(goal p50 ≤ 0.8×)", ["--scenario", "reqrep", "--count", str(n_rr)], [128], {"subs_on": "B"}),
            ("oneway", "lat", f"one-way latency at {rate} msgs/s, A → B (goal gannet p99 ≤ 1 ms)",
             ["--scenario", "oneway", "--count", str(n_ow), "--rate", str(rate)], [16384],
             {"subs_on": "B"}),
            # the pooling issue: 3 accounts, 3 publisher/subscriber pairs A → B
            ("acc3", "tput", "3 accounts, 3 × 1:1 A → B (one pair per account); gannet's default "
             "pool of 3 route connections (goal ≥ 2× nats-server, ≥ 2× acc3-nopool)", ACC3_ARGS, [128],
             {"subs_on": "B", "conf": ACC3_CONF}),
            ("acc3-nopool", "tput", "3 accounts, 3 × 1:1 A → B; gannet pool_size: -1 (one route "
             "connection per peer, as 2.9)", ACC3_ARGS, [128],
             {"subs_on": "B", "conf": ACC3_CONF, "gannet_cluster": "pool_size: -1"}),
            # the same with two threads per node (gannet --shards 2, nats-server
            # GOMAXPROCS=2): a pool's connections spread over gannet's shards
            ("acc3-2t", "tput", "3 accounts, 3 × 1:1 A → B; 2 threads per node (gannet --shards 2, "
             "nats-server GOMAXPROCS=2); gannet's default pool of 3, spread over its shards", ACC3_ARGS, [128],
             {"subs_on": "B", "conf": ACC3_CONF, "node_threads": 2}),
            ("acc3-nopool-2t", "tput", "3 accounts, 3 × 1:1 A → B; 2 threads per node; gannet pool_size: -1",
             ACC3_ARGS, [128], {"subs_on": "B", "conf": ACC3_CONF, "gannet_cluster": "pool_size: -1",
                                "node_threads": 2}),
        ]
        # the compression issue: 1 KiB JSON-like payloads A → B, TCP bytes
        # on A's route sockets, gannet at each level (nats-server 2.9.10:
        # uncompressed, the same in every case)
        for lv in COMP_LEVELS:
            s.append((f"comp-{lv}", "tput", f"1:1 A → B, 1 KiB JSON-like payloads, gannet route "
                      f"compression: {lv} (nats-server: none); route bytes counted on A",
                      ["--scenario", "pubsub", "--payload", "json"], [1024],
                      {"subs_on": "B", "gannet_cluster": f"compression: {lv}", "wire": True, "comp": lv}))
        return s
    if layout == "pinned":
        s = [
            ("pub", "tput", "publish only, 1 publisher", ["--scenario", "pub"], SIZES),
            ("pubsub", "tput", "1:1, 1 publisher → 1 subscriber", ["--scenario", "pubsub"], SIZES),
            ("fanout", "tput", "fan-out 1:4", ["--scenario", "fanout", "--subs", "4"], SIZES),
            ("queue", "tput", "queue group of 4", ["--scenario", "queue", "--subs", "4"], SIZES),
            ("reqrep", "lat", "request/reply, 1 outstanding",
             ["--scenario", "reqrep", "--count", str(n_rr)], SIZES),
            ("svcimport", "lat", "request/reply through a service import (two accounts), 1 outstanding",
             ["--scenario", "reqrep", "--count", str(n_rr), "--svc-import"], [128], {"conf": SVC_CONF}),
            ("oneway", "lat", f"one-way latency at {rate} msgs/s",
             ["--scenario", "oneway", "--count", str(n_ow), "--rate", str(rate)], SIZES),
            ("conns", "conns", f"{conns} idle clients + 1:1 traffic",
             ["--scenario", "conns", "--conns", str(conns), "--idle", "0.5" if q else "1"], [128]),
            ("idle100k", "conns", f"{idle_n:,} idle clients: RSS and CPU at rest, then 1:1 traffic",
             ["--scenario", "conns", "--conns", str(idle_n), "--idle", "3"], [128],
             {"conf": BIG_CONF, "reps": 1, "case_cap": 300.0, "why": idle_why}),
            ("stalled", "stall", "1 publisher → 3 fast subscribers, then + 1 stalled subscriber "
             "(write_deadline 2s; goal with/without ≥ 0.90)",
             ["--scenario", "fanout", "--subs", "3"], [128],
             {"conf": STALL_CONF, "with": ["--stalled", "1"], "duration": 4.0}),
            ("churn", "churn", "1:1 beside 1,000 inbox SUB+UNSUB pairs/s (goal with/without ≥ 0.95)",
             ["--scenario", "pubsub"], [128], {"with": ["--churn", "1000"]}),
            ("authstorm", "auth", "request/reply p99 beside 50 bcrypt CONNECTs/s (goal p99 with/without ≤ 1.5)",
             ["--scenario", "reqrep", "--count", str(n_rr)], [128], {"conf": AUTH_CONF, "with": ["--storm", "50"]}),
            ("nats-pubsub", "tput", "libnats 1:1", ["--mode", "nats", "--scenario", "pubsub"], SIZES),
            ("nats-fanout", "tput", "libnats fan-out 1:4",
             ["--mode", "nats", "--scenario", "fanout", "--subs", "4"], [128]),
            ("nats-queue", "tput", "libnats queue group of 4",
             ["--mode", "nats", "--scenario", "queue", "--subs", "4"], [128]),
            ("nats-reqrep", "lat", "libnats request/reply",
             ["--mode", "nats", "--scenario", "reqrep", "--count", str(n_rr)], [128]),
            ("nats-oneway", "lat", f"libnats one-way at {rate} msgs/s",
             ["--mode", "nats", "--scenario", "oneway", "--count", str(n_ow), "--rate", str(rate)],
             [128]),
            # TLS (client connections; both servers get the same tls {} block,
            # natsbench --tls-ca: run_case adds both); only when asked for by
            # name (--scenario 'tls-*'), not in the default runs
            ("tls-pubsub", "tput", "libnats 1:1 over TLS (goal ≥ 1.5× msgs/s, ≤ 0.67× CPU/msg)",
             ["--mode", "nats", "--scenario", "pubsub"], [1024, 16384], {"tls": True, "by_name": True}),
            ("tls-reqrep", "lat", "libnats request/reply over TLS (goal p50 ≤ 0.8×)",
             ["--mode", "nats", "--scenario", "reqrep", "--count", str(n_rr)], [128],
             {"tls": True, "by_name": True}),
        ]
        if q:
            pick = {"pub": [128], "pubsub": [128, 16384], "fanout": [128], "queue": [128],
                    "reqrep": [128], "oneway": [128], "conns": [128], "nats-pubsub": [128],
                    "churn": [128], "tls-pubsub": [1024, 16384], "tls-reqrep": [128]}
            s = [(x[0], x[1], x[2], x[3], pick[x[0]]) + x[5:] for x in s if x[0] in pick]
        return [x if len(x) == 6 else x + ({},) for x in s]
    two = ["--pubs", "2"]
    s = [
        ("pub", "tput", "publish only, 2 publishers", ["--scenario", "pub"] + two, SIZES),
        ("pubsub", "tput", "2 × 1:1 pairs", ["--scenario", "pubsub"] + two, SIZES),
        ("fanout", "tput", "fan-out 2 publishers → 4", ["--scenario", "fanout", "--subs", "4"] + two,
         SIZES),
        ("queue", "tput", "queue group of 4, 2 publishers",
         ["--scenario", "queue", "--subs", "4"] + two, SIZES),
        ("reqrep", "lat", "request/reply, 1 outstanding",
         ["--scenario", "reqrep", "--count", str(n_rr)], [128]),
        ("nats-pubsub", "tput", "libnats 2 × 1:1 pairs",
         ["--mode", "nats", "--scenario", "pubsub", "--pubs", "2"], [128]),
    ]
    if q:
        s = [(n, k, t, a, [128]) for (n, k, t, a, _) in s if n == "pubsub"]
    return [x + ({},) for x in s]


# --------------------------------------------------------------------------
# one run


def derive(d, kind):
    """Per-run figures from the client's JSON."""
    msgs = d["delivered"] if d["delivered"] else d["published"]
    el = d["elapsed_s"] or 1e-9
    win = d["window_s"] or el
    out = {
        "msgs_s": msgs / el,
        "mb_s": msgs * d["size"] / el / 1e6,
        "cpu_per_m": d["server_cpu_s"] / (msgs / 1e6) if msgs else 0.0,
        "srv_pct": 100 * d["server_cpu_s"] / win,
        "cli_pct": 100 * d["client_cpu_s"] / win,
        "noise_pct": 100 * max(0.0, d["noise_s"]) / win,
    }
    if d.get("wire_port") and msgs:
        # TCP bytes the seed A sent on its route sockets, per message
        # delivered and per payload byte delivered
        out["wire_b_msg"] = d.get("wire_tx_bytes", 0) / msgs
        out["wire_per_payload"] = d.get("wire_tx_bytes", 0) / (msgs * d["size"])
        out["wire_rx_b_msg"] = d.get("wire_rx_bytes", 0) / msgs
    each = d.get("server_cpu_each_s") or []
    if len(each) > 1:  # a cluster: each node's share, A, B, C
        d["node_pct"] = [100 * x / win for x in each]
        for name, x in zip("ABC", each):
            out[f"srv_{name}_pct"] = 100 * x / win
            out[f"cpu_{name}_per_m"] = x / (msgs / 1e6) if msgs else 0.0
    if kind == "lat":
        for k in ("p50", "p90", "p99", "p999", "max"):
            out[k] = d["lat_us"][k]
    if kind == "conns":
        out["rss_conn_b"] = (d["rss_after_kb"] - d["rss_before_kb"]) * 1024 / d["conns"]
        out["conn_s"] = d["conns"] / d["connect_s"] if d["connect_s"] else 0.0
        if d.get("idle_s"):
            out["idle_pct"] = 100 * d["idle_server_cpu_s"] / d["idle_s"]
    if kind in PAIR_KINDS:
        b = derive(d["base"], "lat" if kind == "auth" else "tput")
        out["base_msgs_s"] = b["msgs_s"]
        out["base_cpu_per_m"] = b["cpu_per_m"]
        out["keep"] = out["msgs_s"] / b["msgs_s"] if b["msgs_s"] else 0.0
        if kind == "stall":
            out["cut"] = d.get("stalled_cut", 0) / max(1, d.get("stalled", 1))
        elif kind == "auth":
            for k in ("p50", "p99"):
                out[k] = d["lat_us"][k]
                out["base_" + k] = b[k]
            out["p99_x"] = out["p99"] / b["p99"] if b["p99"] else 0.0
            out["logins_s"] = d.get("storm_logins", 0) / el
            out["refused_s"] = d.get("storm_refused", 0) / el
        else:
            out["churn_s"] = d.get("churn_pairs", 0) / el
    return out


def run_client(srv, layout, args, size, opts, duration=None):
    pin = ["taskset", "-c", layout["client_cpus"]] if layout["client_cpus"] else []
    where = srv.client_args() if isinstance(srv, Cluster) else \
        ["--port", str(srv.port), "--server-pid", str(srv.proc.pid)]
    argv = pin + [CLIENT] + where + ["--size", str(size), "--duration", str(duration or opts.duration), "--warmup",
                  str(opts.warmup), "--timeout", str(opts.cap), "--threads",
                  str(layout["threads"])] + args
    cap = opts.cap + (duration or 0) + 20
    p = TRACK.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        TRACK.reap(p)
        return {"ok": False, "error": f"client still running {cap:.0f} s after start: killed"}, argv
    TRACK.procs.pop(p.pid, None)
    try:
        d = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "client_error": True,
                "error": f"client exit {p.returncode}, no result: {err.strip()[-300:]}"}, argv
    return d, argv


def noise_limit(d, opts):
    """CPU seconds other processes may use in the window: a share of one
    core, plus 20 ms for the 10 ms granularity of /proc/PID/stat."""
    return opts.noise / 100 * (d.get("window_s") or 0) + 0.02


# --------------------------------------------------------------------------
# one case: a scenario at one size, both servers


def run_case(layout_name, layout, spec, size, opts, logdir, log):
    name, kind, title, args, _, extra = spec
    conf = extra.get("conf")
    if extra.get("tls"):
        certs = tls_certs(logdir)
        conf = tls_conf(certs) + (conf or "")
        args = args + ["--tls-ca", certs["ca"]]
    case = {"layout": layout_name, "name": name, "kind": kind, "title": title, "size": size,
            "runs": {s: [] for s in SERVERS}, "discarded": {s: [] for s in SERVERS},
            "failed": {s: None for s in SERVERS}, "placement": {}, "argv": None,
            "repro": {s: None for s in SERVERS}, "conf": conf, "why": extra.get("why"),
            "comp": extra.get("comp"), "tls": bool(extra.get("tls"))}
    if layout.get("nodes"):
        if extra.get("node_threads"):  # this case's nodes get more threads than the layout's one
            nt = str(extra["node_threads"])
            layout = dict(layout, gannet_args=["--shards", nt], nats_env={"GOMAXPROCS": nt})
        servers = {s: Cluster(s, layout, logdir, extra.get("conf"), extra.get("subs_on", "B"),
                              extra.get("gannet_cluster"), extra.get("wire", False))
                   for s in SERVERS}
        case["events"] = {s: [] for s in SERVERS}
        case["routez"] = {s: None for s in SERVERS}
        case["gannet_cluster"] = extra.get("gannet_cluster")
    else:
        servers = {s: Server(s, layout, logdir, conf) for s in SERVERS}
    t0 = time.time()
    try:
        if extra.get("tls"):
            case["tls_certs"] = "ECDSA P-256 CA and server certificate (SAN DNS:localhost, IP:127.0.0.1), openssl CLI"
        for s in SERVERS:
            servers[s].start()
        for s in SERVERS:
            case["placement"][s] = servers[s].placement()
        attempts = 0
        routez_at_end(case, servers, "start")
        want = min(opts.reps, extra.get("reps", opts.reps))
        case_cap = extra.get("case_cap", opts.case_cap)
        while attempts < want + opts.extra:
            todo = [s for s in SERVERS if not case["failed"][s] and len(case["runs"][s]) < want]
            if not todo or time.time() - t0 > case_cap:
                break
            if attempts >= want and time.time() > opts.budget_end:
                break  # quick mode's minute is up: no more repeats for noise
            attempts += 1
            for s in todo:  # alternate: gannet, nats-server, gannet, ...
                if kind == "conns" and attempts > 1:
                    # RSS per connection needs a server that never had them:
                    # memory freed by the last run is not given back at once
                    stop_checked(case, servers[s], s)
                    if case["failed"][s]:
                        continue
                    servers[s].start()
                if kind in PAIR_KINDS:
                    pair_run(case, servers[s], s, layout, args, extra, size, opts, log)
                else:
                    one_run(case, servers[s], s, layout, args, size, kind, opts, log)
        for s in SERVERS:
            if servers[s].alive() and not isinstance(servers[s], Cluster):
                case["placement"][s]["ran_on"] = cpus_used(servers[s].proc.pid)
            elif servers[s].alive():
                case["placement"][s]["ran_on"] = servers[s].placement()["ran_on"]
    except RuntimeError as e:
        for s in SERVERS:
            if not servers[s].alive() and not case["failed"][s]:
                case["failed"][s] = str(e)
    finally:
        routez_at_end(case, servers, "end")
        for s in SERVERS:
            if isinstance(servers[s], Cluster) and servers[s].nodes:
                case["events"][s] = servers[s].events()  # before the nodes stop
            stop_checked(case, servers[s], s)
    case["seconds"] = time.time() - t0
    return case


def routez_at_end(case, servers, when):
    """The seed A's and B's route connections from /routez, at the case's
    start (after the mesh) and end: the compression each actually uses and
    the pool slots, for the report."""
    if "routez" not in case:
        return
    for s in SERVERS:
        srv = servers[s]
        if isinstance(srv, Cluster) and srv.alive():
            rz = case["routez"][s] or {}
            rz[when] = {x: srv.routez(x) for x in "AB"}
            case["routez"][s] = rz


def routez_summary(rz):
    """'A: 4 conns to B (pool 0,1,2 + $SYS), compression s2_fast ×4; ...'
    from routez_at_end's record (its end reading, else its start)."""
    if not rz:
        return "–"
    snap = rz.get("end") or rz.get("start") or {}
    parts = []
    for node in "AB":
        conns = snap.get(node)
        if conns is None:
            continue
        by_peer = {}
        for x in conns:
            by_peer.setdefault(x["peer"], []).append(x)
        for peer, xs in sorted(by_peer.items()):
            slots = sorted(str(x["pool_idx"]) for x in xs if x["pool_idx"] is not None)
            accs = sorted(x["account"] for x in xs if x["account"])
            comp = {}
            for x in xs:
                k = x["compression"] or "(none shown)"
                comp[k] = comp.get(k, 0) + 1
            what = []
            if slots:
                what.append("pool_idx " + ",".join(slots))
            if accs:
                what.append("pinned " + ",".join(accs))
            if node == "A" and peer == "B":  # the direction the messages go: which connections carried them
                what.append("out_msgs " + ", ".join(
                    f"{x['out_msgs']:,}" + (f" [{x['pool_idx']}]" if x["pool_idx"] is not None else "")
                    for x in xs if x.get("out_msgs") is not None))
            parts.append(f"{node}→{peer}: {len(xs)} conn(s)" + (f" ({'; '.join(what)})" if what else "")
                         + ", compression " + ", ".join(f"{k} ×{v}" for k, v in comp.items()))
    return "; ".join(parts) or "–"


def stop_checked(case, srv, s):
    """Stops srv; an unclean exit fails the server for this case."""
    was_running = srv.alive()
    rc = srv.stop()
    # gannet promises exit 0 on SIGTERM; nats-server exits 1
    ok = (0,) if s == "gannet" else (0, 1, -signal.SIGTERM)
    if was_running and rc not in ok and not case["failed"][s]:
        case["failed"][s] = f"server exit code {rc} on SIGTERM: {srv.log_tail(300)}"


def repro_of(srv, argv):
    """[server command(s), client command] for the report, paths relative."""
    rel = lambda a: os.path.relpath(a, ROOT) if a.startswith(ROOT) else a
    server = srv.repro() if isinstance(srv, Cluster) else " ".join(rel(a) for a in srv.argv())
    return [server, " ".join(rel(a) for a in argv)]


def died(srv):
    return srv.dead() if isinstance(srv, Cluster) else f"exit {srv.proc.returncode}"


def one_run(case, srv, s, layout, args, size, kind, opts, log):
    d, argv = run_client(srv, layout, args, size, opts)
    case["argv"] = argv[argv.index(CLIENT):]
    case["repro"][s] = repro_of(srv, argv)
    if not srv.alive():
        case["failed"][s] = f"server died ({died(srv)}): {srv.log_tail(300)}"
        log(f"    {LABEL[s]:12s} FAILED: {case['failed'][s]}")
        return
    if not d.get("ok"):
        case["failed"][s] = d.get("error", "?")
        if isinstance(srv, Cluster):
            ev = srv.events()
            case["failed"][s] += f" (num_routes now {srv.routes()}" + (f"; node logs: {ev[:6]}" if ev else "") + ")"
        log(f"    {LABEL[s]:12s} FAILED: {case['failed'][s]}")
        return
    if isinstance(srv, Cluster):
        bad = srv.check_routes()
        if bad:
            case["failed"][s] = bad
            log(f"    {LABEL[s]:12s} FAILED: {bad}")
            return
    d["derived"] = derive(d, kind)
    lim = noise_limit(d, opts)
    if d["noise_s"] > lim:
        d["noise_limit_s"] = lim
        case["discarded"][s].append(d)
        log(f"    {LABEL[s]:12s} noisy ({d['noise_s']:.3f} s of other CPU use > {lim:.3f}): repeating")
        wait_quiet(opts)
        return
    case["runs"][s].append(d)
    dd = d["derived"]
    extra = f"p50 {dd['p50']:.1f} µs p99 {dd['p99']:.1f} µs" if kind == "lat" else ""
    if "node_pct" in d:
        extra += "  A/B/C " + "/".join(f"{x:.0f}" for x in d["node_pct"]) + "%"
    log(f"    {LABEL[s]:12s} {dd['msgs_s']:12,.0f} msgs/s  server {dd['srv_pct']:5.1f}%  "
        f"client {dd['cli_pct']:5.1f}%  noise {dd['noise_pct']:4.1f}%  {extra}")


def pair_run(case, srv, s, layout, args, extra, size, opts, log):
    """One repetition of a pair kind: the case without the disturbance, then
    with it (extra["with"]), on the same server. Clean only when both are;
    a failure of either fails the server (a stalled subscriber being cut is
    no failure: the client leaves it out of the accounting)."""
    dur = max(opts.duration, extra.get("duration", 0))
    what = {"stall": "the stalled subscriber", "churn": "the inbox churn", "auth": "the CONNECT storm"}[case["kind"]]
    got = {}
    order = [("without", args), ("with", args + extra["with"])]
    if (len(case["runs"][s]) + len(case["discarded"][s])) % 2:
        order.reverse()  # alternate which goes first: the first run on a fresh server may differ
    for v, a in order:
        d, argv = run_client(srv, layout, a, size, opts, dur)
        case["argv"] = argv[argv.index(CLIENT):]
        case["repro"][s] = repro_of(srv, argv)
        err = None
        if not srv.alive():
            err = f"server died ({died(srv)}): {srv.log_tail(300)}"
        elif not d.get("ok"):
            err = d.get("error", "?")
        if err:
            case["failed"][s] = f"{v} {what}: {err}"
            log(f"    {LABEL[s]:12s} FAILED: {case['failed'][s]}")
            return
        got[v] = d
    d = got["with"]
    d["base"] = got["without"]
    d["derived"] = derive(d, case["kind"])
    noisy = [(v, x["noise_s"], noise_limit(x, opts)) for v, x in got.items()
             if x["noise_s"] > noise_limit(x, opts)]
    if noisy:
        d["noise_limit_s"] = noise_limit(d, opts)
        case["discarded"][s].append(d)
        log(f"    {LABEL[s]:12s} noisy ({', '.join(f'{v}: {n:.3f} s > {lim:.3f}' for v, n, lim in noisy)}"
            f" of other CPU use): repeating")
        wait_quiet(opts)
        return
    case["runs"][s].append(d)
    dd = d["derived"]
    if case["kind"] == "auth":
        log(f"    {LABEL[s]:12s} p99 without {dd['base_p99']:8.1f} µs  with {dd['p99']:8.1f} µs  ({dd['p99_x']:.2f}×)"
            f"  {dd['logins_s']:.0f} logins/s ({dd['refused_s']:.0f}/s refused)  server {dd['srv_pct']:5.1f}%  noise {dd['noise_pct']:4.1f}%")
        return
    note = (f"stalled cut {d.get('stalled_cut', 0)}/{d.get('stalled', 0)}" if case["kind"] == "stall"
            else f"churn {dd['churn_s']:,.0f} pairs/s")
    log(f"    {LABEL[s]:12s} without {dd['base_msgs_s']:12,.0f} msgs/s  with {dd['msgs_s']:12,.0f} msgs/s"
        f"  ({dd['keep']:.2f})  {note}  server {dd['srv_pct']:5.1f}%  noise {dd['noise_pct']:4.1f}%")


def busy_now():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def wait_quiet(opts):
    """After a noisy run: wait (bounded) until the machine is near idle."""
    hz = os.sysconf("SC_CLK_TCK")
    end = time.time() + (1.0 if opts.quick else 5.0)
    while time.time() < end:
        b0 = busy_now()
        time.sleep(0.5)
        if (busy_now() - b0) / hz / 0.5 < opts.noise / 100:
            return


# --------------------------------------------------------------------------
# summaries


def med(runs, key):
    v = [r["derived"][key] for r in runs if key in r["derived"]]
    return statistics.median(v) if v else None


def summarize(case):
    """Medians per server; falls back to discarded (noisy) runs, flagged, when
    no clean one was had."""
    out = {}
    for s in SERVERS:
        runs, noisy = case["runs"][s], False
        if not runs and not case["failed"][s] and case["discarded"][s]:
            runs = sorted(case["discarded"][s], key=lambda d: d["noise_s"])[:3]
            noisy = True
        keys = runs[0]["derived"].keys() if runs else []
        out[s] = {"n": len(runs), "clean": len(case["runs"][s]), "noisy": noisy,
                  "failed": case["failed"][s], **{k: med(runs, k) for k in keys}}
        # the client's core nearly full: what limits msgs/s may be the client
        out[s]["client_bound"] = bool(runs) and case["kind"] not in ("lat", "auth") and \
            case["layout"] == "pinned" and out[s]["cli_pct"] >= CLIENT_BOUND
    return out


def fmt_num(v, unit=""):
    if v is None:
        return "–"
    if unit == "int":
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 0.1 else f"{v:.3f}"


def ratio(a, b):
    if a is None or b is None or not b:
        return "–"
    return f"{a / b:.2f}×"


def cell(m, key, unit="", rate=False):
    """One figure with its marks: † from noisy runs, ‡ (rates only) when
    the client was near a full core."""
    if m["failed"]:
        return "FAILED"
    if m["n"] == 0:
        return "–"
    return (fmt_num(m.get(key), unit) + ("†" if m["noisy"] else "")
            + ("‡" if rate and m["client_bound"] else ""))


def both_ok(ms):
    return all(not ms[s]["failed"] and ms[s]["n"] for s in SERVERS)


def table_tput(cases):
    h = ("| size | gannet msgs/s | nats-server msgs/s | ratio | gannet MB/s | nats-server MB/s "
         "| gannet CPU s/M msgs | nats-server CPU s/M msgs | ratio | server CPU % g / n "
         "| client CPU % g / n | clean runs g / n |")
    rows = [h, "|" + "---|" * 12]
    for c in cases:
        m = summarize(c)
        g, n = m["gannet"], m["nats"]
        ok = both_ok(m)
        rows.append(
            f"| {size_label(c['size'])} | {cell(g, 'msgs_s', 'int', True)} | {cell(n, 'msgs_s', 'int', True)} "
            f"| {ratio(g.get('msgs_s'), n.get('msgs_s')) if ok else '–'} | {cell(g, 'mb_s')} "
            f"| {cell(n, 'mb_s')} | {cell(g, 'cpu_per_m')} | {cell(n, 'cpu_per_m')} "
            f"| {ratio(g.get('cpu_per_m'), n.get('cpu_per_m')) if ok else '–'} "
            f"| {cell(g, 'srv_pct')} / {cell(n, 'srv_pct')} | {cell(g, 'cli_pct')} / {cell(n, 'cli_pct')} "
            f"| {g['clean']} / {n['clean']} |")
    return rows


def table_lat(cases):
    h = ("| size | server | msgs/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs "
         "| CPU s/M msgs | server CPU % | client CPU % | clean runs |")
    rows = [h, "|" + "---|" * 12]
    keys = ("msgs_s", "p50", "p90", "p99", "p999", "max", "cpu_per_m")
    for c in cases:
        m = summarize(c)
        for s in SERVERS:
            x = m[s]
            rows.append(f"| {size_label(c['size'])} | {LABEL[s]} | "
                        + " | ".join(cell(x, k, "int" if k == "msgs_s" else "") for k in keys)
                        + f" | {cell(x, 'srv_pct')} | {cell(x, 'cli_pct')} | {x['clean']} |")
        if both_ok(m):
            rows.append(f"| {size_label(c['size'])} | **ratio** | "
                        + " | ".join(ratio(m["gannet"].get(k), m["nats"].get(k)) for k in keys)
                        + " | | | |")
    return rows


def table_conns(cases):
    h = ("| idle clients | server | RSS before MiB | RSS after MiB | RSS per connection KiB "
         "| server CPU % at rest | connects/s | 1:1 msgs/s beside them | CPU s/M msgs | clean runs |")
    rows = [h, "|" + "---|" * 10]
    for c in cases:
        m = summarize(c)
        for s in SERVERS:
            x, runs = m[s], c["runs"][s] or c["discarded"][s]
            before = statistics.median([r.get("rss_before_kb", 0) / 1024 for r in runs]) if runs else None
            after = statistics.median([r.get("rss_after_kb", 0) / 1024 for r in runs]) if runs else None
            per = x.get("rss_conn_b")
            rows.append(f"| {conns_of(c)} | {LABEL[s]} | {fmt_num(before)} | {fmt_num(after)} "
                        f"| {cell(x, 'rss_conn_b') if x['failed'] else fmt_num(per / 1024 if per else None)} "
                        f"| {cell(x, 'idle_pct')} "
                        f"| {cell(x, 'conn_s', 'int')} | {cell(x, 'msgs_s', 'int', True)} "
                        f"| {cell(x, 'cpu_per_m')} | {x['clean']} |")
        if both_ok(m):
            rows.append(f"| {conns_of(c)} | **ratio** | | | {ratio(m['gannet'].get('rss_conn_b'), m['nats'].get('rss_conn_b'))} "
                        f"| {ratio(m['gannet'].get('idle_pct'), m['nats'].get('idle_pct'))} "
                        f"| {ratio(m['gannet'].get('conn_s'), m['nats'].get('conn_s'))} "
                        f"| {ratio(m['gannet'].get('msgs_s'), m['nats'].get('msgs_s'))} "
                        f"| {ratio(m['gannet'].get('cpu_per_m'), m['nats'].get('cpu_per_m'))} | |")
    return rows


def table_auth(cases):
    """The CONNECT storm: each server's request/reply latency without and
    with it, and how much its p99 grows."""
    h = ("| size | server | p50 µs without | p50 µs with | p99 µs without | p99 µs with | p99 with / without "
         "| logins/s | refused/s | server CPU % | clean runs |")
    rows = [h, "|" + "---|" * 11]
    for c in cases:
        m = summarize(c)
        for s in SERVERS:
            x = m[s]
            rows.append(f"| {size_label(c['size'])} | {LABEL[s]} | {cell(x, 'base_p50')} | {cell(x, 'p50')} "
                        f"| {cell(x, 'base_p99')} | {cell(x, 'p99')} | {cell(x, 'p99_x')} | {cell(x, 'logins_s', 'int')} "
                        f"| {cell(x, 'refused_s', 'int')} | {cell(x, 'srv_pct')} | {x['clean']} |")
        if both_ok(m):
            g, n = m["gannet"], m["nats"]
            rows.append(f"| {size_label(c['size'])} | **ratio** | {ratio(g.get('base_p50'), n.get('base_p50'))} "
                        f"| {ratio(g.get('p50'), n.get('p50'))} | {ratio(g.get('base_p99'), n.get('base_p99'))} "
                        f"| {ratio(g.get('p99'), n.get('p99'))} | {ratio(g.get('p99_x'), n.get('p99_x'))} | | | | |")
    return rows


def table_pair(cases):
    """Pair kinds: each server without and with the disturbance, and the
    share of its own throughput it keeps."""
    stall = cases[0]["kind"] == "stall"
    h = ("| size | server | msgs/s without | msgs/s with | with / without | CPU s/M msgs without "
         f"| CPU s/M msgs with | {'stalled cut' if stall else 'churn pairs/s'} | server CPU % "
         "| client CPU % | clean runs |")
    rows = [h, "|" + "---|" * 11]
    for c in cases:
        m = summarize(c)
        for s in SERVERS:
            x = m[s]
            ex = cell(x, "cut") if stall else cell(x, "churn_s", "int")
            if stall and not x["failed"] and x["n"]:
                ex = f"{100 * x['cut']:.0f}%" + ("†" if x["noisy"] else "")
            rows.append(f"| {size_label(c['size'])} | {LABEL[s]} | {cell(x, 'base_msgs_s', 'int', True)} "
                        f"| {cell(x, 'msgs_s', 'int', True)} | {cell(x, 'keep')} "
                        f"| {cell(x, 'base_cpu_per_m')} | {cell(x, 'cpu_per_m')} | {ex} "
                        f"| {cell(x, 'srv_pct')} | {cell(x, 'cli_pct')} | {x['clean']} |")
        if both_ok(m):
            g, n = m["gannet"], m["nats"]
            rows.append(f"| {size_label(c['size'])} | **ratio** | {ratio(g.get('base_msgs_s'), n.get('base_msgs_s'))} "
                        f"| {ratio(g.get('msgs_s'), n.get('msgs_s'))} | {ratio(g.get('keep'), n.get('keep'))} "
                        f"| {ratio(g.get('base_cpu_per_m'), n.get('base_cpu_per_m'))} "
                        f"| {ratio(g.get('cpu_per_m'), n.get('cpu_per_m'))} | | | | |")
    return rows


def conns_of(c):
    a = c["argv"] or []
    return a[a.index("--conns") + 1] if "--conns" in a else "?"


def size_label(n):
    return f"{n // 1024} KiB" if n >= 1024 else f"{n} B"


def failures(cases):
    out = []
    for c in cases:
        for s in SERVERS:
            if c["failed"][s]:
                out.append(f"- **{LABEL[s]} FAILED** in {c['layout']}/{c['name']} "
                           f"{size_label(c['size'])}: {c['failed'][s]}")
                if c["repro"][s]:
                    env = "GOMAXPROCS=1 " if s == "nats" and c["layout"] == "pinned" else ""
                    conf = (" (the -c file holds `" + c["conf"].strip().replace("\n", "; ") + "`)"
                            if c.get("conf") else "")
                    out.append(f"  - reproduce: `{env}{c['repro'][s][0]} &` then "
                               f"`{c['repro'][s][1]}` "
                               f"(--server-pid: the server's PID){conf}")
    return out


def scenario_table(cases):
    kind = cases[0]["kind"]
    rows = {"tput": table_tput, "lat": table_lat, "conns": table_conns, "stall": table_pair,
            "churn": table_pair, "auth": table_auth}[kind](cases)
    notes = []
    if cases[0].get("conf"):
        notes.append("server configuration, both servers: `" + cases[0]["conf"].strip().replace("\n", "; ") + "`")
    if cases[0].get("gannet_cluster"):
        notes.append("gannet nodes only, inside `cluster {}`: `" + cases[0]["gannet_cluster"].strip().replace("\n", "; ")
                     + "` (nats-server 2.9.10 has no such key)")
    if cases[0].get("why"):
        notes.append(f"fewer clients than wanted: {cases[0]['why']}")
    if cases[0]["layout"] == "cluster":
        notes += cluster_notes(cases)
    return rows + [""] + ([f"- {x}" for x in notes] + [""] if notes else []) + failures(cases)


def cluster_notes(cases):
    """Per-node CPU and what the nodes logged about their routes."""
    out = []
    for c in cases:
        m = summarize(c)
        parts = []
        for s in SERVERS:
            x = m[s]
            if x["n"] and not x["failed"] and x.get("srv_A_pct") is not None:
                parts.append(f"{LABEL[s]} " + " / ".join(f"{x['srv_' + k + '_pct']:.0f}" for k in "ABC"))
        if parts:
            out.append(f"{size_label(c['size'])}: server CPU % per node A / B / C (medians): " + "; ".join(parts))
        wire = [f"{LABEL[s]} {m[s]['wire_b_msg']:.0f} B/msg ({m[s]['wire_per_payload']:.3f} of the payload)"
                for s in SERVERS if m[s]["n"] and not m[s]["failed"] and m[s].get("wire_b_msg") is not None]
        if wire:
            out.append(f"{size_label(c['size'])}: TCP bytes A sent on its route sockets per delivered message "
                       "(medians): " + "; ".join(wire))
        for s in SERVERS:
            if (c.get("routez") or {}).get(s):
                out.append(f"{size_label(c['size'])}: {LABEL[s]} /routez at the end: {routez_summary(c['routez'][s])}")
        for s in SERVERS:
            ev = (c.get("events") or {}).get(s) or []
            if ev:
                shown = "; ".join(f"`{e[:160]}`" for e in ev[:8])
                out.append(f"{size_label(c['size'])}: **{LABEL[s]} nodes logged {len(ev)} route event(s) / "
                           f"error(s) during the case**: {shown}" + (" …" if len(ev) > 8 else ""))
            elif "events" in c:
                out.append(f"{size_label(c['size'])}: {LABEL[s]}: no slow consumer, route close or error "
                           "in the node logs during the case")
    return out


# Goals of the cluster scenarios (the routes issue): (scenario, size, what,
# figure, test on the figure, text).
CLUSTER_GOALS = [
    ("pubsub", 128, "msgs/s ratio", "msgs_s", "ratio", lambda r: r >= 1.5, "≥ 1.5×"),
    ("pubsub", 128, "CPU/msg ratio", "cpu_per_m", "ratio", lambda r: r <= 0.67, "≤ 0.67×"),
    ("pubsub", 16384, "msgs/s ratio", "msgs_s", "ratio", lambda r: r >= 1.5, "≥ 1.5×"),
    ("pubsub", 16384, "CPU/msg ratio", "cpu_per_m", "ratio", lambda r: r <= 0.67, "≤ 0.67×"),
    ("fanout", 128, "msgs/s ratio", "msgs_s", "ratio", None, "(no goal)"),
    ("fanout", 128, "CPU/msg ratio", "cpu_per_m", "ratio", None, "(no goal)"),
    ("reqrep", 128, "p50 ratio", "p50", "ratio", lambda r: r <= 0.8, "≤ 0.8×"),
    ("reqrep", 128, "p99 ratio", "p99", "ratio", None, "(no goal)"),
    ("oneway", 16384, "gannet p99 µs", "p99", "gannet", lambda v: v <= 1000, "≤ 1,000 µs"),
    ("oneway", 16384, "p99.9 ratio", "p999", "ratio", None, "(no goal)"),
    ("acc3", 128, "msgs/s ratio", "msgs_s", "ratio", lambda r: r >= 2.0, "≥ 2×"),
    ("acc3", 128, "CPU/msg ratio", "cpu_per_m", "ratio", None, "(no goal)"),
    ("acc3-nopool", 128, "msgs/s ratio", "msgs_s", "ratio", None, "(no goal)"),
    ("acc3-nopool", 128, "CPU/msg ratio", "cpu_per_m", "ratio", None, "(no goal)"),
    ("acc3-2t", 128, "msgs/s ratio", "msgs_s", "ratio", lambda r: r >= 2.0, "≥ 2×"),
    ("acc3-nopool-2t", 128, "msgs/s ratio", "msgs_s", "ratio", None, "(no goal)"),
]
# TLS goals (pinned layout, libnats over TLS to both servers)
TLS_GOALS = [
    ("tls-pubsub", 1024, "msgs/s ratio", "msgs_s", "ratio", lambda r: r >= 1.5, "≥ 1.5×"),
    ("tls-pubsub", 1024, "CPU/msg ratio", "cpu_per_m", "ratio", lambda r: r <= 0.67, "≤ 0.67×"),
    ("tls-pubsub", 16384, "msgs/s ratio", "msgs_s", "ratio", lambda r: r >= 1.5, "≥ 1.5×"),
    ("tls-pubsub", 16384, "CPU/msg ratio", "cpu_per_m", "ratio", lambda r: r <= 0.67, "≤ 0.67×"),
    ("tls-reqrep", 128, "p50 ratio", "p50", "ratio", lambda r: r <= 0.8, "≤ 0.8×"),
    ("tls-reqrep", 128, "p99 ratio", "p99", "ratio", None, "(no goal)"),
]
# Compression goal: route bytes at a level ≤ 0.35× those of compression: off
COMP_GOAL = 0.35


def goals_table(groups, layout="cluster", goals=None):
    """The cluster goals (or the TLS goals: layout pinned, TLS_GOALS), each
    cell met or not (empty if no case of theirs ran)."""
    goals = goals or CLUSTER_GOALS
    by = {(c["name"], c["size"]): c for (lay, _), cs in groups if lay == layout for c in cs}
    if not any(k in by for k in {(g[0], g[1]) for g in goals}):
        return []
    rows = ["| scenario | size | figure | gannet | nats-server | ratio | goal | met |", "|" + "---|" * 8]
    for name, size, what, key, how, test, text in goals:
        c = by.get((name, size))
        if not c:
            continue
        m = summarize(c)
        g, n = m["gannet"], m["nats"]
        fmt = lambda x, k=key: cell(x, k, "int" if k == "msgs_s" else "")
        if not both_ok(m):
            who = " and ".join(LABEL[s] for s in SERVERS if m[s]["failed"]) or "no run"
            verdict = f"**not measured: {who} FAILED**" if any(m[s]["failed"] for s in SERVERS) else "–"
            rows.append(f"| {name} | {size_label(size)} | {what} | {fmt(g)} | {fmt(n)} | – | {text} | {verdict} |")
            continue
        r = g[key] / n[key] if n[key] else None
        v = r if how == "ratio" else g[key]
        met = "–" if test is None or v is None else ("**yes**" if test(v) else "**no**")
        if met != "–" and (g["noisy"] or n["noisy"]):
            met += " (noisy†)"
        rows.append(f"| {name} | {size_label(size)} | {what} | {fmt(g)} | {fmt(n)} "
                    f"| {f'{r:.2f}×' if r is not None else '–'} | {text} | {met} |")
    if goals is CLUSTER_GOALS:
        rows += pool_goal_rows(by) + comp_goal_rows(by)
    return rows


def gannet_fig(c, key):
    """gannet's median of key in case c, its marks, or None (failed, no run)."""
    if not c:
        return None, "not run"
    g = summarize(c)["gannet"]
    if g["failed"]:
        return None, "**not measured: gannet FAILED**"
    if not g["n"] or g.get(key) is None:
        return None, "–"
    return g[key], "noisy†" if g["noisy"] else ""


def pool_goal_rows(by):
    """Pooled / no-pool: gannet's acc3 msgs/s over its acc3-nopool msgs/s
    (two cases, each gannet's median), with one thread per node and with two."""
    rows = []
    for pooled, nopool in (("acc3", "acc3-nopool"), ("acc3-2t", "acc3-nopool-2t")):
        a, b = by.get((pooled, 128)), by.get((nopool, 128))
        if not a and not b:
            continue
        (va, na), (vb, nb) = gannet_fig(a, "msgs_s"), gannet_fig(b, "msgs_s")
        head = f"| {pooled} / {nopool} | 128 B | gannet msgs/s pooled / pool_size -1 | "
        if va is None or vb is None:
            rows.append(head + f"{fmt_num(va, 'int')} / {fmt_num(vb, 'int')} | | – | ≥ 2× | "
                        f"{na if va is None else nb} |")
            continue
        r = va / vb
        met = ("**yes**" if r >= 2.0 else "**no**") + (" (noisy†)" if na or nb else "")
        rows.append(head + f"{fmt_num(va, 'int')} / {fmt_num(vb, 'int')} | | {r:.2f}× | ≥ 2× | {met} |")
    return rows


def comp_goal_rows(by):
    """Route bytes per message at each gannet level over those at off."""
    off, _ = gannet_fig(by.get(("comp-off", 1024)), "wire_b_msg")
    rows = []
    for lv in COMP_LEVELS[1:]:
        c = by.get((f"comp-{lv}", 1024))
        if not c:
            continue
        v, note = gannet_fig(c, "wire_b_msg")
        n = summarize(c)["nats"]
        nb = fmt_num(n.get("wire_b_msg")) if n["n"] and not n["failed"] else "–"
        goal = lv != "s2_uncompressed"
        if v is None or not off:
            rows.append(f"| comp-{lv} | 1 KiB | route bytes/msg, × gannet off | {fmt_num(v)} | {nb} | – "
                        f"| {'≤ 0.35×' if goal else '(no goal)'} | {note if v is None else 'comp-off not measured'} |")
            continue
        r = v / off
        met = ("**yes**" if r <= COMP_GOAL else "**no**") + (f" ({note})" if note else "") if goal else "–"
        rows.append(f"| comp-{lv} | 1 KiB | route bytes/msg, × gannet off | {fmt_num(v)} | {nb} | {r:.3f}× "
                    f"| {'≤ 0.35×' if goal else '(no goal)'} | {met} |")
    return rows


def compression_table(groups):
    """One row per gannet compression level (the comp-* cases): the level
    /routez shows on A's routes to B, route bytes, CPU per message, against
    gannet at off and nats-server (uncompressed, its median over all the
    comp-* cases)."""
    cs = [c for (lay, _), cases in groups if lay == "cluster" for c in cases if c.get("comp")]
    if not cs:
        return []
    by = {c["comp"]: c for c in cs}
    off = summarize(by["off"])["gannet"] if "off" in by else None
    off_ok = off and off["n"] and not off["failed"]
    h = ("| gannet compression (config) | /routez A→B compression | gannet msgs/s | route bytes/msg "
         "| route bytes / payload byte | route bytes × off | gannet CPU s/M msgs (3 nodes) | CPU × off "
         "| CPU s/M msgs on A / B | clean runs |")
    rows = [h, "|" + "---|" * 10]
    nats = []
    for lv in COMP_LEVELS:
        c = by.get(lv)
        if not c:
            continue
        m = summarize(c)
        g = m["gannet"]
        if m["nats"]["n"] and not m["nats"]["failed"]:
            nats.append(m["nats"])
        seen = comp_seen(c)
        if g["failed"] or not g["n"]:
            rows.append(f"| {lv} | {seen} | {cell(g, 'msgs_s')} | | | | | | | {g['clean']} |")
            continue
        x_off = lambda k: ratio(g.get(k), off.get(k)) if off_ok else "–"
        rows.append(f"| {lv} | {seen} | {cell(g, 'msgs_s', 'int')} | {cell(g, 'wire_b_msg')} "
                    f"| {cell(g, 'wire_per_payload')} | {x_off('wire_b_msg')} | {cell(g, 'cpu_per_m')} "
                    f"| {x_off('cpu_per_m')} | {cell(g, 'cpu_A_per_m')} / {cell(g, 'cpu_B_per_m')} | {g['clean']} |")
    if nats:
        med_of = lambda k: statistics.median(x[k] for x in nats if x.get(k) is not None)
        rows.append(f"| nats-server 2.9.10 (none; median of {len(nats)} cases) | – | {fmt_num(med_of('msgs_s'), 'int')} "
                    f"| {fmt_num(med_of('wire_b_msg'))} | {fmt_num(med_of('wire_per_payload'))} "
                    f"| {ratio(med_of('wire_b_msg'), off.get('wire_b_msg')) if off_ok else '–'} "
                    f"| {fmt_num(med_of('cpu_per_m'))} | {ratio(med_of('cpu_per_m'), off.get('cpu_per_m')) if off_ok else '–'} "
                    f"| {fmt_num(med_of('cpu_A_per_m'))} / {fmt_num(med_of('cpu_B_per_m'))} "
                    f"| {sum(x['clean'] for x in nats)} |")
    return rows


def comp_seen(c):
    """The compression values A's /routez showed on its connections to B
    at the case's end (start if the end reading is missing)."""
    rz = (c.get("routez") or {}).get("gannet") or {}
    snap = rz.get("end") or rz.get("start") or {}
    vals = [x["compression"] or "(none)" for x in (snap.get("A") or []) if x["peer"] == "B"]
    if not vals:
        return "?"
    return ", ".join(f"{k} ×{vals.count(k)}" for k in dict.fromkeys(vals))


def summary_table(groups):
    rows = ["| layout | scenario | size | msgs/s ratio | CPU/msg ratio | p50 ratio | p99 ratio "
            "| status |", "|" + "---|" * 8]
    for (lay, name), cases in groups:
        for c in cases:
            m = summarize(c)
            g, n = m["gannet"], m["nats"]
            st = "; ".join(f"{LABEL[s]} FAILED" for s in SERVERS if m[s]["failed"]) or \
                ", ".join(x for x, on in (("noisy†", g["noisy"] or n["noisy"]),
                                          ("client-bound‡", g["client_bound"] or n["client_bound"])) if on) \
                or "ok"
            ev = [LABEL[s] for s in SERVERS if (c.get("events") or {}).get(s)]
            if ev:
                st += "; route events: " + ", ".join(ev)
            ok = both_ok(m)
            lat = c["kind"] == "lat"
            if c["kind"] == "auth":
                st += "; p99 with/without " + " / ".join(
                    f"{LABEL[s][0]} {m[s]['p99_x']:.2f}" for s in SERVERS if m[s]["n"] and not m[s]["failed"])
            elif c["kind"] in PAIR_KINDS:
                st += "; with/without " + " / ".join(
                    f"{LABEL[s][0]} {m[s]['keep']:.2f}" for s in SERVERS if m[s]["n"] and not m[s]["failed"])
            rows.append(
                f"| {lay} | {name} | {size_label(c['size'])} "
                f"| {ratio(g.get('msgs_s'), n.get('msgs_s')) if ok else '–'} "
                f"| {ratio(g.get('cpu_per_m'), n.get('cpu_per_m')) if ok else '–'} "
                f"| {ratio(g.get('p50'), n.get('p50')) if ok and lat else '–'} "
                f"| {ratio(g.get('p99'), n.get('p99')) if ok and lat else '–'} | {st} |")
    return rows


def client_headroom(groups):
    """The client must not be the bottleneck: its CPU share in the pinned raw
    1:1 runs (one core of its own) next to the server's."""
    lines = []
    for (lay, name), cases in groups:
        if lay != "pinned" or name != "pubsub":
            continue
        for c in cases:
            m = summarize(c)
            parts = []
            for s in SERVERS:
                x = m[s]
                if x["n"]:
                    parts.append(f"{LABEL[s]} run: client {x['cli_pct']:.0f}% of a core, "
                                 f"server {x['srv_pct']:.0f}%")
            verdict = ""
            if all(m[s]["n"] for s in SERVERS):
                worst = max(m[s]["cli_pct"] for s in SERVERS)
                verdict = (" — client has headroom" if worst < 85 else
                           " — **client near a full core: these numbers may be client-bound**")
            lines.append(f"- {size_label(c['size'])}: " + ("; ".join(parts) or "no clean run") + verdict)
    bound = []
    for (lay, name), cases in groups:
        for c in cases:
            m = summarize(c)
            who = [f"{LABEL[s]} run {m[s]['cli_pct']:.0f}%" for s in SERVERS
                   if lay == "pinned" and m[s]["client_bound"]]
            if who:
                bound.append(f"{name} {size_label(c['size'])} ({', '.join(who)})")
    if bound:
        lines.append(f"- client near a full core (≥ {CLIENT_BOUND:.0f}%), so msgs/s there may be the "
                     "client's limit: " + "; ".join(bound))
    return lines


# --------------------------------------------------------------------------
# environment


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def git_head():
    """The checked-out commit, read from .git without running git."""
    try:
        git = os.path.join(ROOT, ".git")
        common = git
        if os.path.isfile(git):  # a worktree: .git names its folder, refs live in the main one
            git = open(git).read().split("gitdir:", 1)[1].strip()
            cd = os.path.join(git, "commondir")
            common = os.path.normpath(os.path.join(git, open(cd).read().strip())) if os.path.exists(cd) else git
        head = open(os.path.join(git, "HEAD")).read().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        p = os.path.join(common, ref)
        if os.path.exists(p):
            return open(p).read().strip() + f" ({ref})"
        for line in open(os.path.join(common, "packed-refs")):
            if line.strip().endswith(" " + ref):
                return line.split()[0] + f" ({ref})"
    except OSError:
        pass
    return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = proc_meminfo()
    return [
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("machine", f"{platform.node()}, {os.cpu_count()} CPUs, {mem} RAM"),
        ("kernel", f"{platform.system()} {platform.release()} {platform.version()}"),
        ("CPU model", model),
        ("gannet", sh([GANNET, "-v"]) + f", commit {git_head()}"),
        ("nats-server", sh([NATS, "--version"])),
        ("libnats", "libnats-dev " + sh(["dpkg-query", "-W", "-f", "${Version}", "libnats-dev"])),
        ("client compiler", sh(["cc", "--version"]).splitlines()[0] if sh(["cc", "--version"]) else "?"),
        ("python", platform.python_version()),
    ]


def proc_meminfo():
    with open("/proc/meminfo") as f:
        kb = int(f.readline().split()[1])
    return f"{kb / 1048576:.1f} GiB"


# --------------------------------------------------------------------------
# plot


def plot(groups, outpng, title, tmp):
    """Throughput by size and latency percentiles, both servers (gnuplot)."""
    by = {(lay, name): cases for (lay, name), cases in groups}
    panels = []

    def tput_file(key, fname):
        cases = by.get(key)
        if not cases:
            return None
        path, rows = os.path.join(tmp, fname), []
        for c in cases:
            m = summarize(c)
            rows.append((c["size"], [m[s].get("msgs_s") if not m[s]["failed"] and m[s]["n"] else None
                                     for s in SERVERS]))
        if all(x is None for _, v in rows for x in v):
            return None
        with open(path, "w") as f:
            for size, v in rows:
                f.write(f"{size} " + " ".join("NaN" if x is None else f"{x:.1f}" for x in v) + "\n")
        return path

    def lat_file(key, fname):
        cases = [c for c in by.get(key, []) if c["size"] == 128] or by.get(key, [])[:1]
        if not cases:
            return None
        m = summarize(cases[0])
        if not any(m[s]["n"] and not m[s]["failed"] for s in SERVERS):
            return None
        noisy = " (noisy runs†)" if any(m[s]["noisy"] for s in SERVERS) else ""
        path = os.path.join(tmp, fname)
        with open(path, "w") as f:
            for k, lab in (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max")):
                v = [m[s].get(k) if not m[s]["failed"] and m[s]["n"] else None for s in SERVERS]
                f.write(f'"{lab}" ' + " ".join("NaN" if x is None else f"{x:.2f}" for x in v) + "\n")
        return path, size_label(cases[0]["size"]) + noisy

    series = []
    for name, lab in (("pubsub", "1:1"), ("pub", "pub-only"), ("nats-pubsub", "libnats 1:1")):
        p = tput_file(("pinned", name), f"t_{name}.dat")
        if p:
            series.append((p, lab))
    if series:
        panels.append(tput_panel("Pinned throughput: 1:1, publish-only, libnats", series))
    series = []
    for name, lab in (("fanout", "fan-out 1:4 (delivered)"), ("queue", "queue of 4")):
        p = tput_file(("pinned", name), f"t_{name}.dat")
        if p:
            series.append((p, lab))
    if series:
        panels.append(tput_panel("Pinned throughput: fan-out and queue group", series))
    for name, lab in (("reqrep", "request/reply"), ("oneway", "one-way at fixed rate")):
        r = lat_file(("pinned", name), f"l_{name}.dat")
        if r:
            panels.append(lat_panel(f"Pinned {lab} latency, {r[1]}, raw client", r[0]))
    if not panels:
        return False
    rows = (len(panels) + 1) // 2
    script = [f"set terminal pngcairo size 1400,{500 * rows} font 'sans,10'",
              f"set output '{outpng}'", "set datafile missing 'NaN'", "set grid",
              f"set multiplot layout {rows},2 title '{title}'"]
    for p in panels:
        script += p + ["reset", "set grid", "set datafile missing 'NaN'"]
    script.append("unset multiplot")
    gp = os.path.join(tmp, "plot.gp")
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode:
        print(f"gnuplot failed: {r.stderr[-500:]}", file=sys.stderr)
    return r.returncode == 0


def tput_panel(title, series):
    lines = [f"set title '{title}'", "set logscale xy", "set xlabel 'payload bytes'",
             "set ylabel 'messages/s'", "set format y '%.0s%c'", "set key top right",
             "set xtics ('16' 16, '128' 128, '1K' 1024, '16K' 16384)", "set xrange [10:26000]"]
    plots = []
    # colour tells the server, point and dash the scenario
    for i, (path, lab) in enumerate(series):
        pt = (7, 9, 13)[i % 3]
        plots.append(f"'{path}' u 1:2 w lp lw 2 ps 1.3 pt {pt} dt {i + 1} lc rgb '#1f77b4' t 'gannet {lab}'")
        plots.append(f"'{path}' u 1:3 w lp lw 2 ps 1.3 pt {pt - 1} dt {i + 1} lc rgb '#d62728' t 'nats-server {lab}'")
    return lines + ["plot " + ", ".join(plots)]


def lat_panel(title, path):
    return [f"set title '{title}'", "set style data histograms",
            "set style histogram clustered gap 1", "set style fill solid 0.8 border -1",
            "set logscale y", "set ylabel 'µs (log)'", "set key top left", "set yrange [10:*]",
            f"plot '{path}' u 2:xtic(1) lc rgb '#1f77b4' t 'gannet', '' u 3 lc rgb '#d62728' t 'nats-server'"]


# --------------------------------------------------------------------------
# main


def parse_args():
    ap = argparse.ArgumentParser(description="gannet vs nats-server benchmarks (bench/README.md)")
    ap.add_argument("--quick", action="store_true", help="under a minute: subset, 1 clean repetition")
    ap.add_argument("--scenario", default="", help="comma list of names or globs: pubsub, nats-*, pinned/queue")
    ap.add_argument("--layout", default="all", choices=["all", "pinned", "unpinned", "cluster"],
                    help="all: pinned, unpinned and (not in --quick) cluster")
    ap.add_argument("--cluster", action="store_true", help="only the 3-node cluster scenarios (--layout cluster)")
    ap.add_argument("--size", default="", help="comma list of payload sizes to keep")
    ap.add_argument("--reps", type=int, help="clean repetitions per server (3; quick 1)")
    ap.add_argument("--noise", type=float, default=10.0, help="max other CPU use, %% of a core (10)")
    ap.add_argument("--duration", type=float, help="seconds of publishing per run (1.5; quick 0.3)")
    ap.add_argument("--warmup", type=float, help="untimed seconds before (0.2; quick 0.1)")
    ap.add_argument("--cap", type=float, help="time cap of one client run, s (30; quick 10)")
    ap.add_argument("--out", help="results folder (bench/results; quick: build/bench/results)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--replot", metavar="JSON", help="write the report and plot again from a run's .json")
    o = ap.parse_args()
    if o.cluster:
        o.layout = "cluster"
    q = o.quick
    o.reps = o.reps or (1 if q else 3)
    o.duration = o.duration or (0.3 if q else 1.5)
    o.warmup = o.warmup if o.warmup is not None else (0.1 if q else 0.2)
    o.cap = o.cap or (10.0 if q else 30.0)
    o.extra = 2 if q else 2 * o.reps
    o.case_cap = 20.0 if q else 90.0
    o.budget_end = time.time() + (40.0 if q else 1e9)
    o.out = o.out or os.path.join(ROOT, "build/bench/results" if q else "bench/results")
    return o


def selected(o):
    pats = [p.strip() for p in o.scenario.split(",") if p.strip()]
    sizes = {int(x) for x in o.size.split(",") if x.strip()}
    out = []
    for lay, L in layouts().items():
        if o.layout not in ("all", lay) or (lay == "cluster" and o.layout == "all" and o.quick):
            continue
        for sp in specs(lay, o.quick):
            name = sp[0]
            if pats and not any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(f"{lay}/{name}", p) for p in pats):
                continue
            if sp[5].get("by_name") and not any(p not in ("*", f"{lay}/*") and
                                                (fnmatch.fnmatch(name, p) or fnmatch.fnmatch(f"{lay}/{name}", p))
                                                for p in pats):
                continue  # run only when a pattern names it
            sz = [s for s in sp[4] if not sizes or s in sizes]
            if sz:
                out.append((lay, L, sp, sz))
    return out


def replot(path):
    """Report and plot again from the runs a .json file kept."""
    with open(path) as f:
        saved = json.load(f)
    o = argparse.Namespace(**saved["options"])
    o.out = os.path.dirname(os.path.abspath(path))
    groups = []
    for c in saved["cases"]:
        key = (c["layout"], c["name"])
        if not groups or groups[-1][0] != key:
            groups.append((key, []))
        groups[-1][1].append(c)
    stamp = os.path.basename(path)[:-len(".json")]
    seconds = saved.get("seconds") or sum(c.get("seconds", 0) for c in saved["cases"])
    report(o, groups, stamp, tempfile.mkdtemp(prefix="gannet-bench-"), seconds, 0, saved.get("meta"))
    return 0


def main():
    o = parse_args()
    if o.replot:
        return replot(o.replot)
    sel = selected(o)
    if o.list or not sel:
        for lay, _, sp, sz in sel:
            print(f"{lay}/{sp[0]:12s} {sp[2]}  sizes {','.join(map(str, sz))}")
        if not sel:
            print("no scenario matches", file=sys.stderr)
            return 2
        return 0
    for path in (CLIENT, GANNET, NATS):
        if not os.access(path, os.X_OK):
            print(f"missing {path}: run `make` and `make -C bench` (bench/run does both)", file=sys.stderr)
            return 2
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    os.makedirs(o.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H%M") + ("-quick" if o.quick else "")
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix="gannet-bench-")
    groups, status = [], 0
    try:
        status = run_all(o, sel, tmp, groups)
    except KeyboardInterrupt as e:
        print(f"\ninterrupted ({e}); stopping every process started", file=sys.stderr)
        status = 130
    finally:
        TRACK.kill_all()
    if groups:
        report(o, groups, stamp, tmp, time.time() - t_start, status)
    if status == 0:
        shutil.rmtree(tmp, ignore_errors=True)  # server logs are kept only when something failed
    else:
        print(f"server logs: {tmp}")
    return status


def run_all(o, sel, tmp, groups):
    n_cases = sum(len(sz) for *_, sz in sel)
    print(f"{n_cases} cases, {o.reps} clean repetition(s) per server each; noise limit "
          f"{o.noise:.0f}% of a core; logs in {tmp}", flush=True)
    i = 0
    for lay, L, sp, sizes in sel:
        cases = []
        print(f"\n## {lay} / {sp[0]}: {sp[2]}", flush=True)
        for size in sizes:
            i += 1
            print(f"  [{i}/{n_cases}] {size_label(size)}", flush=True)
            cases.append(run_case(lay, L, sp, size, o, tmp, lambda s: print(s, flush=True)))
        groups.append(((lay, sp[0]), cases))
        print("\n" + "\n".join(scenario_table(cases)), flush=True)
    return 1 if any(c["failed"][s] for _, cs in groups for c in cs for s in SERVERS) else 0


KEEP = ("ok", "error", "client_cpus", "published", "delivered", "elapsed_s", "window_s",
        "server_cpu_s", "client_cpu_s", "softirqd_s", "steal_s", "noise_s", "noise_limit_s",
        "lat_us", "members", "conns", "rss_before_kb", "rss_after_kb", "connect_s", "conns_ok",
        "src_addrs", "idle_s", "idle_server_cpu_s", "idle_noise_s", "stalled", "stalled_cut",
        "stalled_bytes", "churn", "churn_pairs", "storm", "storm_logins", "storm_refused", "base",
        "server_cpu_each_s", "sub_ports", "probes", "barrier_s", "acct_users", "payload", "wire_port",
        "wire_socks", "wire_tx_bytes", "wire_rx_bytes", "derived")


def rounded(x):
    """Floats to 7 significant digits, through lists and dicts."""
    if isinstance(x, float):
        return float(f"{x:.7g}")
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def slim(case):
    """The record of a case without what every run repeats (parameters are
    in argv) or what only served to cross-check the noise measure."""
    def keep(r, fields):
        out = {f: r[f] for f in fields if r.get(f) not in (None, 0, "", [])
               and not (f == "lat_us" and not r[f].get("count"))}
        if "base" in out:  # a pair kind's run without the disturbance
            out["base"] = keep(out["base"], [f for f in KEEP if f != "derived"])
        return rounded(out)
    c = dict(case)
    c["runs"] = {s: [keep(r, KEEP) for r in case["runs"][s]] for s in SERVERS}
    # a discarded run only ever stands in for a missing clean one
    c["discarded"] = {s: [keep(r, ("noise_s", "noise_limit_s", "derived", "rss_before_kb",
                                   "rss_after_kb", "client_cpus")) for r in case["discarded"][s]]
                      for s in SERVERS}
    return c


def report(o, groups, stamp, tmp, seconds, status, meta=None):
    md = os.path.join(o.out, stamp + ".md")
    png = os.path.join(o.out, stamp + ".png")
    title = f"gannet vs nats-server, {stamp[:10]} {stamp[11:13]}:{stamp[13:15]}"
    have_png = plot(groups, png, title, tmp)
    L = layouts()
    out = [f"# {title}{' (quick)' if o.quick else ''}", ""]
    meta = meta or dict(machine())
    out += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in meta.items()]
    out += [f"| run | {seconds:.0f} s, {o.reps} clean repetition(s) per server, {o.duration} s publishing "
            f"+ {o.warmup} s warm-up per throughput run, noise limit {o.noise:.0f}% of a core"
            f"{', interrupted' if status == 130 else ''} |", ""]
    out += ["## Ratios gannet / nats-server", "",
            "msgs/s: above 1 is gannet faster. CPU/msg and latency: below 1 is gannet cheaper or "
            "faster. † medians of noisy runs (no clean one could be had). ‡ the client used "
            f"≥ {CLIENT_BOUND:.0f}% of its core: msgs/s may be the client's limit (CPU/msg is "
            "still the server's own). FAILED: the run lost, duplicated or garbled messages, "
            "was refused, or the server died; see below.", ""]
    out += summary_table(groups) + [""]
    goals = goals_table(groups)
    if goals:
        out += ["## Cluster goals", "",
                "3-node clusters (layout `cluster` below): ratios gannet / nats-server of the medians; "
                "CPU/msg is the server CPU summed over the 3 nodes per delivered message.", ""] + goals + [""]
    tls_goals = goals_table(groups, "pinned", TLS_GOALS)
    if tls_goals:
        out += ["## TLS goals", "",
                "Pinned layout, libnats (`natsbench --mode nats --tls-ca`) to both servers with the same "
                "`tls { cert_file, key_file }` block: an ECDSA P-256 CA and server certificate (SAN "
                "DNS:localhost, IP:127.0.0.1) made with the openssl CLI for the run; the client verifies "
                "the server as localhost. Ratios gannet / nats-server of the medians.", ""] + tls_goals + [""]
    comp = compression_table(groups)
    if comp:
        out += ["## Compression", "",
                "3-node clusters, 1:1 A → B, 1 KiB JSON-like payloads (`natsbench --payload json`). "
                "Route bytes: TCP bytes the seed A sent on the sockets of its cluster port (the routes B "
                "and C dialled; `tcpi_bytes_acked` from sock_diag, as `ss -ti` shows it) over the timed "
                "window, per message delivered to B. CPU: server CPU summed over the 3 nodes per "
                "delivered message (A compresses, B decompresses). Medians of the clean runs.", ""] + comp + [""]
    if have_png:
        out += [f"![throughput and latency]({os.path.basename(png)})", ""]
    out += ["## Client headroom (pinned layout)", ""] + (client_headroom(groups) or ["- not run"]) + [""]
    out += ["## Layouts and CPU placement", ""]
    for lay in dict.fromkeys(l for (l, _), _ in groups):
        pl = next((c["placement"] for (l, _), cs in groups if l == lay for c in cs if c["placement"]), {})
        out.append(f"- **{lay}**: {L[lay]['desc']}.")
        for s in SERVERS:
            p = pl.get(s)
            if p:
                out.append(f"  - {LABEL[s]}: Cpus_allowed {p['cpus_allowed']}, {p['threads']} threads, "
                           f"threads last ran on CPU {p['ran_on']}")
        cl = next((r.get("client_cpus") for (l, _), cs in groups if l == lay for c in cs
                   for s in SERVERS for r in c["runs"][s]), None)
        if cl:
            out.append(f"  - client: Cpus_allowed {cl}, {L[lay]['threads']} event-loop thread(s) in raw mode")
    out.append("")
    for (lay, name), cases in groups:
        out += [f"## {lay} / {name}: {cases[0]['title']}", ""] + scenario_table(cases)
        if cases[0]["argv"]:
            out += [f"client: `{' '.join(cases[0]['argv'])}`", ""]
    out += ["How to read this: bench/README.md.", ""]
    with open(md, "w") as f:
        f.write("\n".join(out))
    with open(os.path.join(o.out, stamp + ".json"), "w") as f:
        json.dump({"meta": meta, "options": vars(o), "seconds": seconds,
                   "cases": [slim(c) for _, cs in groups for c in cs]}, f, separators=(",", ":"),
                  default=str)
    print("\n" + "\n".join(summary_table(groups)))
    if goals:
        print("\nCluster goals:\n" + "\n".join(goals))
    if tls_goals:
        print("\nTLS goals:\n" + "\n".join(tls_goals))
    if comp:
        print("\nCompression:\n" + "\n".join(comp))
    print("\n" + "\n".join(["Client headroom (pinned):"] + client_headroom(groups)))
    print(f"\nresults: {md}" + (f"\nplot:    {png}" if have_png else "") + f"\ntotal:   {seconds:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
