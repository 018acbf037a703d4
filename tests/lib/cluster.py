"""Clusters of NATS servers joined by routes, for the cluster conformance tests.

Topologies
    A topology is a string of node letters, first letter = the seed: `g` is
    gannet (GANNET_BIN, default build/gannet), `n` is the reference
    nats-server (REFERENCE_BIN, /usr/sbin/nats-server). `gn` is a gannet seed
    with a nats-server peer, `ngn` a gannet node between two nats-servers.
    topologies(n) lists the topologies a test of n nodes runs on:
    - NATS_SERVER_BIN set: that one binary for every node (`nnn` when it is
      nats-server, `ggg` otherwise), like the rest of the suite;
    - else every topology of TOPOLOGIES[n] (gannet only, nats-server only,
      and mixed), filtered by CLUSTER_TOPOLOGIES (a comma list) if set.

Nodes
    Node i is named A, B, C...; its config has `server_name`, `port`,
    `http` (monitoring, for /routez and /varz) and
    `cluster { name, listen: 127.0.0.1:<cport>, routes }`; every node but
    the seed routes to the seed only, so the rest of the mesh comes from
    gossip (implicit routes). Ports come from servers.free_port; a restarted
    node keeps its ports. Nodes are started one after the other, each once
    the previous ones are meshed, so that which side dials which is
    deterministic (see test_cluster_mesh).

Waiting
    Nothing sleeps for a fixed time: wait_mesh() polls /routez on every node
    until num_routes == N-1 (bounded by MESH_TIMEOUT); probe() and
    sync_interest() make sure interest has crossed a route by seeing a
    message cross it, and drain()/nothing_from() use the same barrier to
    collect everything a publisher's earlier messages produced at a
    subscriber (see there). They speak the client protocol only;
    route_interest() is the monitoring view (/routez?subs=detail).
    Every wait is bounded (MESH_TIMEOUT, INTEREST_TIMEOUT, PORT_TIMEOUT).

Fixtures
    start_cluster()/stop_cluster()/managed() register clusters in LIVE, so
    that tests/cluster/conftest.py can print their logs when a test fails.

Fake route peers
    RouteConn speaks the route protocol over a raw socket (INFO, CONNECT,
    PING/PONG, RS+/RS-, RMSG/HMSG, -ERR) so that tests can assert exact bytes.
"""
import http.client
import itertools
import json
import os
import random
import re
import socket
import time

from proto import C0, Conn, ProtoError, client
from servers import GANNET_BIN, REFERENCE_BIN, Server, free_port, poll, wait_port

MESH_TIMEOUT = 10.0
PORT_TIMEOUT = 5.0  # for a started node's monitoring and cluster listeners
INTEREST_TIMEOUT = 10.0
CLUSTER_NAME = "C1"

TOPOLOGIES = {
    1: ["g", "n"],
    2: ["gg", "nn", "gn", "ng"],
    3: ["ggg", "nnn", "gnn", "ngg", "gng", "ngn"],
}

_uniq = itertools.count(1)


def uniq(prefix="u"):
    """A fresh token (for subjects, inboxes) unique within this process."""
    return "%s%d_%d" % (prefix, os.getpid(), next(_uniq))


def _is_reference(binary):
    return os.path.realpath(binary) == os.path.realpath(REFERENCE_BIN)


def topologies(n):
    """Topology strings for an n-node test (see the module docstring)."""
    one = os.environ.get("NATS_SERVER_BIN")
    if one:
        return [("n" if _is_reference(one) else "g") * n]
    tops = TOPOLOGIES[n]
    only = os.environ.get("CLUSTER_TOPOLOGIES")
    if only:
        wanted = {t.strip() for t in only.split(",")}
        tops = [t for t in tops if t in wanted]
    return tops


def binary_for(letter):
    """Binary of a node letter; NATS_SERVER_BIN, when set, for every letter."""
    one = os.environ.get("NATS_SERVER_BIN")
    if one:
        return one
    if letter == "g":
        return GANNET_BIN
    if letter == "n":
        return REFERENCE_BIN
    raise ValueError("unknown node letter %r" % letter)


# ---- HTTP monitoring -------------------------------------------------------------------------

def http_get(port, path, timeout=5.0):
    """(status, body bytes) of GET path on 127.0.0.1:port (no proxies)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def get_json(port, path):
    status, body = http_get(port, path)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


# ---- nodes and clusters ----------------------------------------------------------------------

class Node:
    """One cluster member. .server is the running servers.Server (None while
    stopped); port/cport/mport are its client, cluster and monitoring ports."""

    def __init__(self, letter, name, cluster_name=CLUSTER_NAME, routes=(), extra_conf="", args=()):
        self.letter = letter
        self.name = name
        self.binary = binary_for(letter)
        self.kind = "nats-server" if _is_reference(self.binary) else "gannet"
        self.port = free_port()
        self.cport = free_port()
        self.mport = free_port()
        self.cluster_name = cluster_name
        self.routes = list(routes)
        self.extra_conf = extra_conf
        self.args = list(args)
        self.cluster_conf = ""  # extra lines inside cluster {}
        self.route_userinfo = ""  # user:pass for the route URLs it dials
        # gannet only (nats-server 2.9.10 has no such keys): cluster.pool_size
        # (None: the default, 3; -1: no pooling, one connection per peer as
        # 2.9.10) and cluster.accounts (pinned, each a connection of its own)
        self.pool_size = None
        self.pinned = []
        self.compression = None  # gannet only: cluster.compression (None: the default, accept)
        self.server = None
        self.old_logs = []  # logs of earlier runs of this node (before restarts)
        self._server_id = None

    def conf(self):
        ui = self.route_userinfo + "@" if self.route_userinfo else ""
        routes = ", ".join("nats-route://%s127.0.0.1:%d" % (ui, p) for p in self.routes)
        lines = [
            "server_name: %s" % self.name,
            "port: %d" % self.port,
            "http: 127.0.0.1:%d" % self.mport,
            "cluster {",
            "  name: %s" % self.cluster_name if self.cluster_name else "",
            "  listen: 127.0.0.1:%d" % self.cport,
            "  routes: [%s]" % routes if routes else "",
            "  pool_size: %d" % self.pool_size if self.kind == "gannet" and self.pool_size is not None else "",
            "  accounts: [%s]" % ", ".join(self.pinned) if self.kind == "gannet" and self.pinned else "",
            '  compression: "%s"' % self.compression if self.kind == "gannet" and self.compression else "",
            self.cluster_conf,
            "}",
            self.extra_conf,
        ]
        return "\n".join(l for l in lines if l) + "\n"

    def start(self):
        assert self.server is None or self.server.proc.poll() is not None
        if self.server is not None:
            self.old_logs.append(self.server.log())
        self._server_id = None
        self.server = Server(self.binary, conf=self.conf(), args=self.args, name=self.name, port=self.port)
        for what, port in (("monitoring", self.mport), ("cluster", self.cport)):
            try:
                wait_port(port, timeout=PORT_TIMEOUT, proc=self.server.proc)
            except RuntimeError as e:
                raise RuntimeError("node %s (%s): %s port %d: %s; log:\n%s"
                                   % (self.name, self.kind, what, port, e, self.server.log()[-3000:]))
        return self

    def stop(self, sig=None):
        if self.server is not None:
            return self.server.stop(sig)

    @property
    def running(self):
        return self.server is not None and self.server.proc.poll() is None

    @property
    def server_id(self):
        if self._server_id is None:
            self._server_id = get_json(self.mport, "/varz")["server_id"]
        return self._server_id

    def get(self, path):
        return get_json(self.mport, path)

    def routez(self, query=""):
        return self.get("/routez" + query)

    def varz(self):
        return self.get("/varz")

    def num_routes(self):
        """The servers this node has routes to (a pooling peer counts once,
        whatever its connections); -1 if /routez does not answer."""
        try:
            return len({r["remote_id"] for r in self.routez()["routes"]})
        except (OSError, AssertionError, ValueError, KeyError):
            return -1

    def route_conns(self):
        """remote_id -> how many route connections this node has to it."""
        try:
            out = {}
            for r in self.routez()["routes"]:
                out[r["remote_id"]] = out.get(r["remote_id"], 0) + 1
            return out
        except (OSError, AssertionError, ValueError, KeyError):
            return {}

    def pooling(self):
        return self.kind == "gannet" and (self.pool_size is None or self.pool_size > 0)

    def conns_with(self, other):
        """The route connections this node and other make once settled: a
        pool (nats-server 2.10's, which gannet speaks) plus one per pinned
        account ($SYS among them) when both pool, else one (2.9.10)."""
        if not (self.pooling() and other.pooling()):
            return 1
        pool = self.pool_size if self.pool_size is not None else 3
        return pool + 1 + len([a for a in self.pinned if a != "$SYS"])

    def client(self, connect=C0, **kw):
        return client(self.server, connect=connect, **kw)

    def log(self):
        cur = self.server.log() if self.server is not None else ""
        return "\n".join(self.old_logs + [cur])

    def __repr__(self):
        return "Node(%s %s port=%d cport=%d)" % (self.name, self.kind, self.port, self.cport)


class Cluster:
    """N nodes of the given topology, meshed through the seed (node 0).

    extra_conf: text appended to every node's config (e.g. accounts).
    """

    def __init__(self, topology, cluster_name=CLUSTER_NAME, extra_conf="", start=True, cluster_conf="",
                 route_userinfo="", pool_size=None, pinned=(), compression=None):
        self.topology = topology
        self.nodes = []
        for i, letter in enumerate(topology):
            self.nodes.append(Node(letter, chr(ord("A") + i), cluster_name=cluster_name, extra_conf=extra_conf))
            self.nodes[-1].cluster_conf = cluster_conf
            self.nodes[-1].route_userinfo = route_userinfo
            self.nodes[-1].pool_size = pool_size
            self.nodes[-1].pinned = list(pinned)
            self.nodes[-1].compression = compression
        for n in self.nodes[1:]:
            n.routes = [self.nodes[0].cport]
        if start:
            self.start()

    def __getitem__(self, i):
        return self.nodes[i]

    def __len__(self):
        return len(self.nodes)

    def start(self, count=None):
        """Start the first count nodes (default all) that are not running, in
        order, each once the running ones before it are meshed with it."""
        upto = self.nodes[:len(self.nodes) if count is None else count]
        for i, n in enumerate(upto):
            if not n.running:
                n.start()
                self.wait_mesh([m for m in self.nodes[:i + 1] if m.running])
        return self

    def wait_mesh(self, nodes=None, timeout=MESH_TIMEOUT):
        """Poll /routez until each of nodes (default: all running) has a route
        to each of the others; AssertionError (with every /routez) if not."""
        nodes = [n for n in self.nodes if n.running] if nodes is None else nodes
        want = len(nodes) - 1

        def meshed():
            if not all(n.num_routes() == want for n in nodes):
                return False
            for n in nodes:  # and every pool complete
                conns = n.route_conns()
                if any(conns.get(m.server_id, 0) != n.conns_with(m) for m in nodes if m is not n):
                    return False
            return True

        if not poll(meshed, timeout):
            state = {n.name: n.route_conns() for n in nodes}
            raise AssertionError("no full mesh of %d nodes within %.0fs: num_routes %r" % (len(nodes), timeout, state))

    def stop(self):
        for n in self.nodes:
            n.stop()

    def logs(self):
        out = []
        for n in self.nodes:
            cmd = " ".join(n.server.cmd) if n.server else "(never started)"
            out.append("---- log of %s %s (%s) ----\n%s" % (n.name, n.kind, cmd, n.log()[-8000:]))
        return "\n".join(out)


ACCOUNTS_AB = """
accounts {
  A { users: [ {user: a, password: a} ] }
  B { users: [ {user: b, password: b} ] }
}
"""


def login(node, user, password=None, **opts):
    """Client on node authenticated as user (password defaults to user)."""
    o = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1, "user": user,
         "pass": user if password is None else password}
    o.update(opts)
    return node.client(connect=("CONNECT " + json.dumps(o, separators=(",", ":")) + "\r\n").encode())


# ---- interest propagation --------------------------------------------------------------------

def probe(pub, sub, subject, sid=None, timeout=INTEREST_TIMEOUT, step=0.05, payload=b"probe", collect=None):
    """Publish `subject` on pub until sub receives it, then drain.

    Proves that pub's server knows sub's interest in subject. The probes
    published before the first arrival may or may not be delivered; a last
    sentinel message is then published and sub reads up to it, so that no
    probe is left in flight (pub's messages reach sub in order).
    Frames that are not probes are an error, unless collect is a list: then
    they are appended to it (INFO updates, pushed when members come and go,
    are skipped). Returns the number of probes sub received
    (>= 1). Probe payloads are `<payload>.<n>` and `<payload>.end`.
    """
    deadline = time.monotonic() + timeout
    prefix = payload + b"."

    def is_probe(f):
        return f.op == "MSG" and f.payload.startswith(prefix) and (sid is None or f.sid == str(sid))

    def other(f):
        if f.op == "INFO":
            return  # a membership change pushed to the client: not a message
        if collect is None:
            raise ProtoError("unexpected frame while probing %s: %r" % (subject, f))
        collect.append(f)

    got = 0
    n = 0
    while got == 0:
        if time.monotonic() > deadline:
            raise AssertionError("no probe on %r reached the subscriber within %.0fs" % (subject, timeout))
        n += 1
        p = prefix + b"%d" % n
        pub.send(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(p), p))
        try:
            while True:
                f = sub.frame(timeout=step)
                if is_probe(f):
                    got += 1
                    break
                other(f)
        except ProtoError as e:
            if "timeout" not in str(e):
                raise
    end = prefix + b"end"
    pub.send(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(end), end))
    while True:
        f = sub.frame(timeout=timeout)
        if not is_probe(f):
            other(f)
        elif f.payload == end:
            return got
        else:
            got += 1


def sync_interest(sub, pub, timeout=INTEREST_TIMEOUT, collect=None):
    """Make sure pub's server has seen every subscription change sub made so
    far, and that everything pub published before has reached sub.

    sub (a client of one node) subscribes a fresh subject and pub (a client
    of a node, same account) probes it until it arrives. A server sends a
    connection's interest changes over a route in the order the client made
    them, so once the fresh interest has arrived the earlier SUB/UNSUB have
    too: this is the guarantee request/reply relies on (SUB inbox, then PUB
    request on the same connection: the responder's server must know the
    inbox). pub's messages reach sub in the order pub sent them, so anything
    pub published before the probes arrives before them: a frame other than
    a probe fails (or, if collect is a list, is appended to it). The fresh
    subscription is removed again.
    """
    subj = uniq("_CSYNC.")
    sid = "csync%d" % next(_uniq)
    sub.send(b"SUB %s %s\r\n" % (subj.encode(), sid.encode()))
    probe(pub, sub, subj, sid, timeout=timeout, payload=b"csync", collect=collect)
    sub.send(b"UNSUB %s\r\n" % sid.encode())
    got = [f for f in sub.flush() if f.op != "INFO"]
    if got:
        if collect is None:
            raise ProtoError("unexpected frames after probing: %r" % got)
        collect.extend(got)


def drain(sub, pub, timeout=INTEREST_TIMEOUT):
    """Every frame sub receives up to a sync_interest() barrier with pub:
    all of pub's earlier messages that were going to reach sub."""
    out = []
    sync_interest(sub, pub, timeout=timeout, collect=out)
    return out


def nothing_from(sub, pub):
    """sub got nothing of what pub published so far (barrier: sync_interest)."""
    got = drain(sub, pub)
    assert got == [], "expected nothing, got %r" % got


def route_interest(node, origin, account="$G"):
    """Interest node's routes to origin carry, from /routez?subs=detail, as
    a set of `<subject>` or `<subject> <queue>` strings of that account
    (None if there is no such route). Of a pool, every connection counts; a
    connection pinned to an account ("account" in /routez) has sids
    without it, as nats-server 2.10's."""
    rz = node.routez("?subs=detail")
    out = None
    for r in rz.get("routes") or []:
        if r.get("remote_id") == origin.server_id:
            out = out or set()
            for s in r.get("subscriptions_list_detail") or []:
                sid = s.get("sid", "")
                if r.get("account"):
                    acc, rest = r["account"], sid
                else:
                    acc, _, rest = sid.partition(" ")
                if acc == account:
                    out.add(rest)
    return out


# ---- fake route peers ------------------------------------------------------------------------

def fake_server_id():
    """A server id of the usual form: 'N' + 55 base32 characters, random."""
    return "N" + "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(55))


def route_connect(name, cluster=CLUSTER_NAME, **extra):
    """Exact CONNECT of a 2.9.10 route (nats-compat.md 3.1) with our id as name."""
    o = {"echo": True, "verbose": False, "pedantic": False, "tls_required": False, "headers": True,
         "name": name, "cluster": cluster, "lnoc": True}
    o.update(extra)
    return ("CONNECT " + json.dumps(o, separators=(",", ":")) + "\r\n").encode()


def route_info(server_id, name="fake", cluster=CLUSTER_NAME, port=1, **extra):
    o = {"server_id": server_id, "server_name": name, "version": "2.9.10", "proto": 2, "host": "127.0.0.1",
         "port": port, "headers": True, "max_payload": 1048576, "cluster": cluster, "lnoc": True}
    o.update(extra)
    return ("INFO " + json.dumps(o, separators=(",", ":")) + "\r\n").encode()


class RFrame:
    """One operation a node sent on a route.

    op: INFO, CONNECT, PING, PONG, +OK, -ERR, RS+, RS-, LS+, LS-, RMSG,
    HMSG, LMSG. raw: exact bytes (with the payload for messages). args: the
    control line's arguments (strings). For RMSG/HMSG: account, subject,
    reply, queues (list), hdr, payload. For INFO/CONNECT: info (dict).
    For -ERR: text.
    """

    def __init__(self, op, raw, args, **kw):
        self.op, self.raw, self.args = op, raw, args
        self.account = self.subject = self.reply = self.hdr = self.payload = None
        self.queues = []
        self.info = self.text = None
        self.__dict__.update(kw)

    def __repr__(self):
        return "RFrame(%s %r)" % (self.op, self.raw[:200])


class RouteConn(Conn):
    """A raw connection speaking the route protocol.

    Connect to a node's cluster port: Conn reads the node's INFO at once.
    handshake() sends a 2.9.10 CONNECT and INFO. rframe() reads the next
    operation (node PINGs answered with PONG and skipped unless auto_pong is
    False); rflush() is the barrier: PING, every operation before PONG.
    """

    # The account a connection is pinned to (nats-server 2.10's route_account),
    # when set: its RMSG/HMSG carry no account token, so they are parsed as
    # `RMSG <subject> ...` and the frame's .account is this name. None (the
    # default): every RMSG/HMSG names its account, as on 2.9.10 routes.
    pinned_account = None

    def __init__(self, port, **kw):
        super().__init__(port, **kw)

    @classmethod
    def wrap(cls, sock, timeout=5.0, auto_pong=True):
        """A RouteConn over an accepted socket (a node dialled us)."""
        self = cls.__new__(cls)
        self.timeout = timeout
        self.auto_pong = auto_pong
        self.buf = bytearray()
        self.eof = False
        self.info_line = self.info = None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        self.sock = sock
        return self

    def handshake(self, server_id=None, cluster=CLUSTER_NAME, name="fake", connect_extra=None, info_extra=None):
        self.server_id = server_id or fake_server_id()
        self.send(route_connect(self.server_id, cluster=cluster, **(connect_extra or {})))
        self.send(route_info(self.server_id, name=name, cluster=cluster, **(info_extra or {})))
        return self

    def rframe(self, timeout=None, auto_pong=None):
        auto_pong = self.auto_pong if auto_pong is None else auto_pong
        deadline = self._deadline(timeout)
        while True:
            f = self._rframe(deadline)
            if f.op == "PING" and auto_pong:
                try:
                    self.send(b"PONG\r\n")
                except OSError:
                    pass
                continue
            return f

    def _rframe(self, deadline):
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                raise ProtoError("EOF while waiting for a route frame; partial %r" % bytes(self.buf[:500]))
        line = self._take(self.buf.index(b"\n") + 1)
        if not line.endswith(b"\r\n"):
            raise ProtoError("route line not CRLF-terminated: %r" % line)
        head = line[:-2]
        op = head.split(b" ", 1)[0].upper().decode(errors="replace")
        if head in (b"PING", b"PONG", b"+OK"):
            return RFrame(head.decode(), line, [])
        if op == "-ERR":
            m = re.match(rb"^-ERR '(.*)'$", head)
            if not m:
                raise ProtoError("malformed -ERR: %r" % line)
            return RFrame("-ERR", line, [], text=m.group(1).decode())
        if op in ("INFO", "CONNECT"):
            body = head[len(op) + 1:]
            return RFrame(op, line, [], info=json.loads(body))
        args = [a.decode() for a in head.split(b" ")[1:]]
        if op in ("RS+", "RS-", "LS+", "LS-"):
            return RFrame(op, line, args)
        if op in ("RMSG", "HMSG", "LMSG"):
            a = list(args)
            origin = a.pop(0) if op == "LMSG" else None
            if self.pinned_account is not None and op != "LMSG":  # no account token (2.10 pinned)
                a.insert(0, self.pinned_account)
            account, subject = a[0], a[1]
            mid = a[2:]
            if op == "RMSG":
                hdr_len, total = None, int(mid.pop())
            else:
                total = int(mid.pop())
                hdr_len = int(mid.pop())
            reply, queues = None, []
            if mid and mid[0] == "+":
                reply, queues = mid[1], mid[2:]
            elif mid and mid[0] == "|":
                queues = mid[1:]
            elif len(mid) == 1:
                reply = mid[0]
            elif mid:
                raise ProtoError("malformed %s line %r" % (op, line))
            body = self.read_exact(total + 2, deadline - time.monotonic())
            if body[-2:] != b"\r\n":
                raise ProtoError("payload of %r not followed by CRLF: %r" % (line, body[-20:]))
            data = body[:-2]
            hdr = data[:hdr_len] if hdr_len is not None else None
            payload = data[hdr_len:] if hdr_len is not None else data
            return RFrame(op, line + body, args, origin=origin, account=account, subject=subject,
                          reply=reply, queues=queues, hdr=hdr, payload=payload)
        raise ProtoError("unknown route operation %r" % line)

    def expect_rframe(self, raw, timeout=None):
        if isinstance(raw, str):
            raw = raw.encode()
        f = self.rframe(timeout)
        if f.raw != raw:
            raise ProtoError("expected %r, got %r" % (raw, f.raw))
        return f

    def rflush(self, timeout=None):
        """Barrier: send PING, return the operations received before PONG."""
        self.send(b"PING\r\n")
        out = []
        while True:
            f = self.rframe(timeout)
            if f.op == "PONG":
                return out
            out.append(f)

    def rnothing(self, accounts_only=True):
        """Barrier that must find nothing pending (ignoring $SYS interest
        when accounts_only, since internal subscriptions differ)."""
        got = [f for f in self.rflush() if not (accounts_only and is_sys(f))]
        if got:
            raise ProtoError("expected nothing before PONG, got %r" % got)

    def read_close(self, timeout=None):
        """Operations until the node closes; list of RFrames (PINGs kept)."""
        deadline = self._deadline(timeout)
        out = []
        while True:
            try:
                out.append(self._rframe(deadline))
            except ProtoError as e:
                if "EOF" in str(e) and not self.buf:
                    return out
                raise


def is_sys(f):
    """An RS+/RS-/RMSG of the system account (internal subscriptions)."""
    if f.op in ("RS+", "RS-", "LS+", "LS-"):
        return bool(f.args) and f.args[0] == "$SYS"
    if f.op in ("RMSG", "HMSG"):
        return f.account == "$SYS"
    return False


def fnv1a32(name):
    """32-bit FNV-1a of an account name (Go's hash/fnv New32a)."""
    h = 2166136261
    for b in name.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def pool_idx(account, pool_size):
    """The route pool connection an unpinned account travels on, as
    nats-server 2.10's computeRoutePoolIdx: fnv1a32(name) % pool_size."""
    return 0 if pool_size <= 1 else fnv1a32(account) % pool_size


def rmsg(account, subject, payload, reply=None, queues=None):
    """Exact bytes of an RMSG: plain `RMSG a s [reply] n`, or with queues
    `RMSG a s + reply q... n` (reply given) / `RMSG a s | q... n`.
    account None: without the account token, as on a connection pinned to
    it (nats-server 2.10's route_account)."""
    if isinstance(payload, str):
        payload = payload.encode()
    parts = ["RMSG"] + ([] if account is None else [account]) + [subject]
    if queues:
        if reply:
            parts += ["+", reply]
        else:
            parts += ["|"]
        parts += list(queues)
    elif reply:
        parts.append(reply)
    parts.append(str(len(payload)))
    return " ".join(parts).encode() + b"\r\n" + payload + b"\r\n"


class FakeListener:
    """A listening socket on 127.0.0.1 a node can be told to route to."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]

    def accept(self, timeout=5.0):
        self.sock.settimeout(timeout)
        s, _ = self.sock.accept()
        return RouteConn.wrap(s)

    def close(self):
        self.sock.close()


# ---- lifecycle for fixtures ------------------------------------------------------------------

LIVE = []  # clusters started by managed()/make_cluster and not stopped yet

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:")


def check_sanitizer_reports(c):
    """Under a sanitizer build (GANNET_SANITIZER=1) a report in a node's log fails."""
    if not os.environ.get("GANNET_SANITIZER"):
        return
    for n in c.nodes:
        log = n.log()
        for mark in SANITIZER_MARKS:
            assert mark not in log, "sanitizer report in the log of %s:\n%s" % (n, log[-6000:])


def start_cluster(topology, **kw):
    """A started Cluster registered in LIVE; if it cannot start, it is
    stopped and its logs are printed before the error propagates."""
    c = Cluster(topology, start=False, **kw)
    LIVE.append(c)
    try:
        c.start()
    except Exception:
        stop_cluster(c, check=False)
        print(c.logs())
        raise
    return c


def stop_cluster(c, check=True):
    c.stop()
    if c in LIVE:
        LIVE.remove(c)
    if check:
        check_sanitizer_reports(c)


def managed(topology, **kw):
    """Generator body for a (module-scoped) fixture: yields a started
    cluster, stops it afterwards. Logs are printed by the tests/cluster
    conftest when a test using it fails."""
    c = start_cluster(topology, **kw)
    try:
        yield c
    finally:
        stop_cluster(c)
