"""Messages across routes: what clients of different members see
(nats-compat.md 3.2, 1.11, 6.3).

Most tests run on one 3-node cluster per topology (A seed, B and C routed
to A, B-C an implicit route) and check each direction over the pairs
PAIRS: B->A (towards the seed), A->B (from the seed) and C->B (over the
gossiped route), each with its own subjects. "pub on X, sub on Y" means
client connections to those nodes.

Interest is waited for with cluster.sync_interest: the subscriber
subscribes a fresh subject and the publisher probes it until it arrives;
since a server sends one connection's interest changes over a route in
order, the subscriber's earlier SUB/UNSUB are then known on the other side
too. The same barrier, with `drain`/`nothing_from`, collects everything
the publisher's messages produced at the subscriber.

The contract checked here, as nats-server 2.9.10 behaves:
- Plain subjects, replies and wildcards (`foo.*`, `foo.>`) deliver across
  a route exactly as locally: `MSG <subj> <sid> [reply] <n>` with the
  subscriber's sid.
- A subscription made before the route forms is sent at registration: a
  publisher on a node that joins later reaches it.
- Queue groups are cluster-wide: every message reaches exactly one member
  of each group, wherever the members are; members on other servers get
  their share even when the publisher's server has a member itself: there
  is no local preference in 2.9.10 (600 messages from A to one member each
  on A, B, C: about 200 each; with no member on the publisher's server,
  split evenly between the others).
- Request/reply: a requester's `SUB inbox` then `PUB svc inbox` on the same
  connection is enough for the reply to find its way back from a
  responder on another server (the inbox interest crosses before the
  request). no_responders: with nobody subscribed anywhere the requester's
  server answers `HMSG <inbox> <sid> 16 16\\r\\nNATS/1.0 503\\r\\n\\r\\n\\r\\n`;
  with a responder only on another server there is no 503, the request
  reaches it and the answer comes back; after the responder leaves (UNSUB
  propagated) the 503 comes back.
- Headers cross a route unchanged: `HPUB` on one server is `HMSG` for a
  header-capable subscriber on another and `MSG` with the payload only for
  a subscriber that did not announce headers.
- A 1 MiB payload (max_payload, 1048576 bytes) crosses intact.
- One publisher's messages arrive in order (10 000 messages).
- One hop: in a full mesh each subscriber gets each message once; a
  server does not pass on what it received over a route to other routes.
- UNSUB propagates: once the remote knows, nothing arrives; with two
  subscriptions on the subject, removing one keeps the other served; an
  auto-unsubscribe (`UNSUB <sid> 3`) stops delivery after 3 messages also
  when they come over a route.
- Accounts (the same `accounts {}` on every node): interest and messages
  carry the account across routes; A's subscriber on B gets A's messages
  from A's publisher on another node and never B's, and vice versa.
"""

import pytest

from cluster import ACCOUNTS_AB, drain, login, managed, nothing_from, probe, sync_interest, topologies, uniq
from proto import connect_line, msg

PAIRS = [(1, 0), (0, 1), (2, 1)]  # (publisher node, subscriber node)
BASE = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}
STATUS_503 = b"NATS/1.0 503\r\n\r\n"


@pytest.fixture(scope="module", params=topologies(3))
def c3(request):
    yield from managed(request.param)


def pairs(c):
    for p, s in PAIRS:
        yield c[p], c[s]


def send(conn, *lines):
    conn.send(b"".join(l if isinstance(l, bytes) else l.encode() for l in lines))


def pub(conn, subject, payload, reply=None):
    if isinstance(payload, str):
        payload = payload.encode()
    mid = (" " + reply) if reply else ""
    conn.send(("PUB %s%s %d\r\n" % (subject, mid, len(payload))).encode() + payload + b"\r\n")


# ---- plain subjects ----------------------------------------------------------------------------

def test_pubsub_across(c3):
    for pn, sn in pairs(c3):
        s = uniq("plain.")
        sub, p = sn.client(), pn.client()
        send(sub, "SUB %s 1\r\n" % s)
        sync_interest(sub, p)
        pub(p, s, "hello")
        pub(p, s, "hi", reply="rep.x")
        sub.expect_frame(msg(s, 1, "hello"))
        sub.expect_frame(msg(s, 1, "hi", reply="rep.x"))
        nothing_from(sub, p)


def test_wildcards_across(c3):
    for pn, sn in pairs(c3):
        base = uniq("wc")
        sub, p = sn.client(), pn.client()
        send(sub, "SUB %s.* 1\r\nSUB %s.> 2\r\n" % (base, base))
        sync_interest(sub, p)
        pub(p, base + ".a", "one")
        pub(p, base + ".a.b", "two")
        pub(p, base, "three")
        got = sorted(f.raw for f in drain(sub, p))
        assert got == sorted([msg(base + ".a", 1, "one"), msg(base + ".a", 2, "one"),
                              msg(base + ".a.b", 2, "two")])


@pytest.mark.parametrize("topology", topologies(2))
def test_interest_sent_at_route_registration(make_cluster, topology):
    """Subscriptions made before the peer joins reach it when the route forms."""
    c = make_cluster.unstarted(topology)
    c.start(1)
    sub = c[0].client()
    send(sub, "SUB early 1\r\nSUB early.q g 2\r\n")
    sub.flush()
    c.start()
    p = c[1].client()
    probe(p, sub, "early", 1)
    probe(p, sub, "early.q", 2)
    pub(p, "early", "after")
    pub(p, "early.q", "afterq")
    assert sorted(f.raw for f in drain(sub, p)) == sorted([msg("early", 1, "after"), msg("early.q", 2, "afterq")])


# ---- queue groups ------------------------------------------------------------------------------

def test_queue_groups_cluster_wide(c3):
    """g1: a member on A, B and C; g2: members on B and C only; plus a plain
    subscriber on A. Messages from A and from B: one delivery per group."""
    s = uniq("q.")
    g1 = [c3[i].client() for i in range(3)]
    g2 = [c3[1].client(), c3[2].client()]
    plain = c3[0].client()
    for conn in g1:
        send(conn, "SUB %s g1 1\r\n" % s)
    for conn in g2:
        send(conn, "SUB %s g2 1\r\n" % s)
    send(plain, "SUB %s 1\r\n" % s)
    pubs = [c3[0].client(), c3[1].client()]
    members = g1 + g2 + [plain]
    for conn in members:
        for p in pubs:
            sync_interest(conn, p)
    n = 300
    for k, p in enumerate(pubs):
        p.send(b"".join(b"PUB %s %d\r\n%s\r\n" % (s.encode(), len(b"m%d.%d" % (k, i)), b"m%d.%d" % (k, i))
                        for i in range(n)))
    got = {id(conn): [] for conn in members}
    for conn in members:
        for p in pubs:
            got[id(conn)] += [f.payload for f in drain(conn, p)]
    want = sorted(b"m%d.%d" % (k, i) for k in range(len(pubs)) for i in range(n))
    for group in (g1, g2):
        payloads = [x for conn in group for x in got[id(conn)]]
        assert sorted(payloads) == want, "each message exactly once per group"
        assert all(got[id(conn)] for conn in group), [len(got[id(conn)]) for conn in group]
    assert sorted(got[id(plain)]) == want


def test_queue_no_local_preference(c3):
    """A member on the publisher's server and one on each other server:
    all three get messages (nats-server 2.9.10 picks among all members)."""
    s = uniq("qlp.")
    members = [c3[i].client() for i in range(3)]
    for conn in members:
        send(conn, "SUB %s grp 1\r\n" % s)
    p = c3[0].client()
    for conn in members:
        sync_interest(conn, p)
    n = 600
    p.send(b"".join(b"PUB %s 1\r\nx\r\n" % s.encode() for _ in range(n)))
    counts = [len(drain(conn, p)) for conn in members]
    assert sum(counts) == n
    assert all(counts), counts


# ---- request / reply -----------------------------------------------------------------------------

def test_request_reply_across(c3):
    for pn, sn in pairs(c3):
        svc = uniq("svc.")
        inbox = uniq("_INBOX.")
        resp, req = sn.client(), pn.client()
        send(resp, "SUB %s 1\r\n" % svc)
        sync_interest(resp, req)
        # The requester does not wait: SUB inbox then PUB request at once.
        send(req, "SUB %s 5\r\n" % inbox)
        pub(req, svc, "ping", reply=inbox)
        f = resp.expect_frame(msg(svc, 1, "ping", reply=inbox))
        pub(resp, f.reply, "pong")
        req.expect_frame(msg(inbox, 5, "pong"))
        nothing_from(req, resp)


def test_request_reply_queue_responders(c3):
    """Responders in one queue group on B and C: one answer per request."""
    svc = uniq("qsvc.")
    resps = [c3[1].client(), c3[2].client()]
    req = c3[0].client()
    for r in resps:
        send(r, "SUB %s workers 1\r\n" % svc)
        sync_interest(r, req)
    inbox = uniq("_INBOX.")
    send(req, "SUB %s 9\r\n" % inbox)
    for i in range(20):
        pub(req, svc, "q%d" % i, reply=inbox)
    asked = []
    for r in resps:
        for f in drain(r, req):
            asked.append(f.payload)
            pub(r, f.reply, b"a" + f.payload)
    assert sorted(asked) == sorted(b"q%d" % i for i in range(20))
    answers = []
    for r in resps:
        answers += [f.payload for f in drain(req, r)]
    assert sorted(answers) == sorted(b"aq%d" % i for i in range(20))


def test_no_responders_across(c3):
    a, b = c3[0], c3[1]
    svc = uniq("nr.")
    req = a.client(connect=connect_line(BASE, no_responders=True))
    send(req, "SUB _INBOX.nr 7\r\n")
    pub(req, svc, "", reply="_INBOX.nr")
    req.expect_frame(b"HMSG _INBOX.nr 7 16 16\r\n" + STATUS_503 + b"\r\n")
    # A responder on B only: no 503, the request crosses and is answered.
    resp = b.client()
    send(resp, "SUB %s 1\r\n" % svc)
    sync_interest(resp, req)
    pub(req, svc, "ping", reply="_INBOX.nr")
    f = resp.expect_frame(msg(svc, 1, "ping", reply="_INBOX.nr"))
    pub(resp, f.reply, "pong")
    req.expect_frame(msg("_INBOX.nr", 7, "pong"))
    nothing_from(req, resp)
    # The responder leaves: 503 again once A knows.
    send(resp, "UNSUB 1\r\n")
    sync_interest(resp, req)
    pub(req, svc, "ping", reply="_INBOX.nr")
    req.expect_frame(b"HMSG _INBOX.nr 7 16 16\r\n" + STATUS_503 + b"\r\n")
    req.expect_nothing()


# ---- headers, size, order --------------------------------------------------------------------

def test_headers_across(c3):
    hdr = b"NATS/1.0\r\nX-K: v\r\n\r\n"
    for pn, sn in pairs(c3):
        s = uniq("hdr.")
        hs = sn.client()
        plain = sn.client(connect=connect_line(verbose=False, pedantic=False, headers=False))
        p = pn.client()
        send(hs, "SUB %s 1\r\n" % s)
        send(plain, "SUB %s 2\r\n" % s)
        sync_interest(hs, p)
        sync_interest(plain, p)
        p.send(b"HPUB %s %d %d\r\n%shi\r\n" % (s.encode(), len(hdr), len(hdr) + 2, hdr))
        p.send(b"HPUB %s r.1 %d %d\r\n%sho\r\n" % (s.encode(), len(hdr), len(hdr) + 2, hdr))
        hs.expect_frame(b"HMSG %s 1 %d %d\r\n%shi\r\n" % (s.encode(), len(hdr), len(hdr) + 2, hdr))
        hs.expect_frame(b"HMSG %s 1 r.1 %d %d\r\n%sho\r\n" % (s.encode(), len(hdr), len(hdr) + 2, hdr))
        plain.expect_frame(msg(s, 2, "hi"))
        plain.expect_frame(msg(s, 2, "ho", reply="r.1"))
        nothing_from(hs, p)
        nothing_from(plain, p)


def test_max_payload_across(c3):
    size = 1048576
    for k, (pn, sn) in enumerate(pairs(c3)):
        s = uniq("big.")
        body = bytes((i * 7 + k) % 251 for i in range(size))
        sub, p = sn.client(), pn.client()
        send(sub, "SUB %s 1\r\n" % s)
        sync_interest(sub, p)
        pub(p, s, body)
        f = sub.frame(timeout=10)
        assert f.op == "MSG" and f.subject == s and f.sid == "1"
        assert len(f.payload) == size and f.payload == body
        nothing_from(sub, p)


def test_order_10k(c3):
    n = 10000
    for pn, sn in pairs(c3):
        s = uniq("ord.")
        sub, p = sn.client(), pn.client()
        send(sub, "SUB %s 1\r\n" % s)
        sync_interest(sub, p)
        p.send(b"".join(b"PUB %s %d\r\n%d\r\n" % (s.encode(), len(b"%d" % i), i) for i in range(n)))
        got = [int(sub.frame(timeout=10).payload) for _ in range(n)]
        assert got == list(range(n))
        nothing_from(sub, p)


def test_one_hop_full_mesh(c3):
    """A subscriber on every node, a publisher on every node: each message
    reaches each subscriber exactly once (nobody forwards route traffic)."""
    s = uniq("hop.")
    subs = [n.client() for n in c3.nodes]
    pubs = [n.client() for n in c3.nodes]
    for sub in subs:
        send(sub, "SUB %s 1\r\n" % s)
        for p in pubs:
            sync_interest(sub, p)
    m = 50
    for k, p in enumerate(pubs):
        p.send(b"".join(b"PUB %s %d\r\n%s\r\n" % (s.encode(), len(b"%d.%d" % (k, i)), b"%d.%d" % (k, i))
                        for i in range(m)))
    want = sorted(b"%d.%d" % (k, i) for k in range(len(pubs)) for i in range(m))
    for sub in subs:
        got = [f.payload for p in pubs for f in drain(sub, p)]
        assert sorted(got) == want
    # A second round of barriers: anything a server would have passed on to
    # another route during the first round has arrived by now.
    for sub in subs:
        for p in pubs:
            nothing_from(sub, p)


# ---- unsubscribe -----------------------------------------------------------------------------

def test_unsubscribe_propagates(c3):
    for pn, sn in pairs(c3):
        s = uniq("unsub.")
        sub, p = sn.client(), pn.client()
        send(sub, "SUB %s 1\r\nSUB %s 2\r\n" % (s, s))
        sync_interest(sub, p)
        pub(p, s, "both")
        assert sorted(f.raw for f in drain(sub, p)) == sorted([msg(s, 1, "both"), msg(s, 2, "both")])
        send(sub, "UNSUB 1\r\n")
        sync_interest(sub, p)
        pub(p, s, "one")
        assert [f.raw for f in drain(sub, p)] == [msg(s, 2, "one")]
        send(sub, "UNSUB 2\r\n")
        sync_interest(sub, p)
        pub(p, s, "none")
        nothing_from(sub, p)


def test_auto_unsubscribe_across(c3):
    for pn, sn in pairs(c3):
        s = uniq("auto.")
        sub, p = sn.client(), pn.client()
        send(sub, "SUB %s 1\r\nUNSUB 1 3\r\n" % s)
        sync_interest(sub, p)
        for i in range(5):
            pub(p, s, "m%d" % i)
        assert [f.raw for f in drain(sub, p)] == [msg(s, 1, "m%d" % i) for i in range(3)]
        pub(p, s, "late")
        nothing_from(sub, p)


# ---- accounts ----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=topologies(2))
def acc2(request):
    yield from managed(request.param, extra_conf=ACCOUNTS_AB)


def test_accounts_isolated_across_routes(acc2):
    for pi, si in ((0, 1), (1, 0)):
        pn, sn = acc2[pi], acc2[si]
        s = uniq("acc.")
        sa, sb = login(sn, "a"), login(sn, "b")
        pa, pb = login(pn, "a"), login(pn, "b")
        send(sa, "SUB %s 1\r\nSUB %s qa 2\r\n" % (s, s))
        send(sb, "SUB %s 1\r\nSUB %s qa 2\r\n" % (s, s))
        sync_interest(sa, pa)
        sync_interest(sb, pb)
        # Both published (and processed: flush) before either barrier, and
        # one route carries both accounts in order, so a leak into the
        # other account would arrive before that account's barrier probes.
        pub(pb, s, "from-b")
        pb.flush()
        pub(pa, s, "from-a")
        pa.flush()
        got_a = sorted(f.raw for f in drain(sa, pa))
        got_b = sorted(f.raw for f in drain(sb, pb))
        assert got_a == sorted([msg(s, 1, "from-a"), msg(s, 2, "from-a")])
        assert got_b == sorted([msg(s, 1, "from-b"), msg(s, 2, "from-b")])


def test_accounts_request_reply_across(acc2):
    svc = uniq("asvc.")
    resp_a, resp_b = login(acc2[1], "a"), login(acc2[1], "b")
    send(resp_a, "SUB %s 1\r\n" % svc)
    send(resp_b, "SUB %s 1\r\n" % svc)
    req = login(acc2[0], "a")
    sync_interest(resp_a, req)
    sync_interest(resp_b, login(acc2[0], "b"))
    send(req, "SUB _INBOX.acc 3\r\n")
    pub(req, svc, "ping", reply="_INBOX.acc")
    f = resp_a.expect_frame(msg(svc, 1, "ping", reply="_INBOX.acc"))
    pub(resp_a, f.reply, "pong")
    req.expect_frame(msg("_INBOX.acc", 3, "pong"))
    resp_b.expect_nothing()
