"""Queue groups (nats-compat.md 2, 11 "queues").

Distribution among members is random; the tests check exactly-once delivery
per group and that every member got some of 1000 messages (the chance that a
fair random choice starves one of 3 members is (2/3)^1000), never timing or
evenness thresholds.
"""
import collections

from proto import client, connect_line

N = 1000


def member(server, *subs, connect=None):
    c = client(server) if connect is None else client(server, connect=connect)
    c.send(b"".join(b"SUB " + s.encode() + b"\r\n" for s in subs))
    c.expect_nothing()
    return c


def publish_numbered(pub, subject, n=N):
    pub.send(b"".join(b"PUB %s %d\r\n%d\r\n" % (subject, len(b"%d" % i), i) for i in range(n)))
    pub.expect_nothing()


def payloads(conn, sid=None):
    """Payloads (as ints) received by conn, optionally only for one sid."""
    out = []
    for f in conn.flush():
        assert f.op == "MSG", f
        if sid is None or f.sid == sid:
            out.append(int(f.payload))
    return out


def assert_exactly_once(per_member, n=N):
    total = [i for got in per_member for i in got]
    dupes = [i for i, k in collections.Counter(total).items() if k > 1]
    assert not dupes, "delivered more than once: %r" % dupes[:20]
    assert sorted(total) == list(range(n)), "missing: %r" % sorted(set(range(n)) - set(total))[:20]
    assert all(per_member), "a member got nothing: %r" % [len(g) for g in per_member]


def test_queue_spread_over_three_members(server):
    members = [member(server, "work q %d" % i) for i in range(3)]
    pub = client(server)
    publish_numbered(pub, b"work")
    assert_exactly_once([payloads(m) for m in members])


def test_queue_spread_over_two_members_same_connection(server):
    c = member(server, "work q 1", "work q 2")
    pub = client(server)
    publish_numbered(pub, b"work")
    frames = c.flush()
    per_sid = collections.defaultdict(list)
    for f in frames:
        per_sid[f.sid].append(int(f.payload))
    assert set(per_sid) == {"1", "2"}
    assert_exactly_once(list(per_sid.values()))


def test_queue_group_merged_across_patterns(server):
    """SUB foo.bar q, SUB foo.* q, SUB foo.> q form ONE group."""
    members = [member(server, s) for s in ("foo.bar q 1", "foo.* q 2", "foo.> q 3")]
    pub = client(server)
    publish_numbered(pub, b"foo.bar")
    assert_exactly_once([payloads(m) for m in members])
    # foo.baz matches only the two wildcard members.
    publish_numbered(pub, b"foo.baz", 200)
    got = [payloads(m) for m in members]
    assert got[0] == []
    assert_exactly_once(got[1:], 200)


def test_queue_and_plain_on_same_subject(server):
    plain = member(server, "foo 1")
    q1 = member(server, "foo q 2")
    q2 = member(server, "foo q 3")
    pub = client(server)
    publish_numbered(pub, b"foo")
    assert payloads(plain) == list(range(N))  # every plain sub gets every message, in order
    assert_exactly_once([payloads(q1), payloads(q2)])


def test_queue_and_plain_on_same_connection(server):
    c = member(server, "foo 1", "foo q 2", "foo.* 3", "foo.* r 4")
    pub = client(server)
    publish_numbered(pub, b"foo", 10)
    frames = c.flush()
    assert [(f.sid, int(f.payload)) for f in frames if f.sid == "1"] == [("1", i) for i in range(10)]
    assert [int(f.payload) for f in frames if f.sid == "2"] == list(range(10))
    assert {f.sid for f in frames} == {"1", "2"}


def test_each_group_gets_one_copy(server):
    a1 = member(server, "foo a 1")
    a2 = member(server, "foo a 1")
    b1 = member(server, "foo b 1")
    b2 = member(server, "foo.* b 1")  # different subject, same group name: no match for foo
    pub = client(server)
    publish_numbered(pub, b"foo", 300)
    assert_exactly_once([payloads(a1), payloads(a2)], 300)
    assert payloads(b1) == list(range(300))
    assert payloads(b2) == []


def test_queue_names_are_case_sensitive(server):
    m1 = member(server, "foo q 1")
    m2 = member(server, "foo Q 1")
    pub = client(server)
    publish_numbered(pub, b"foo", 50)
    assert payloads(m1) == list(range(50))
    assert payloads(m2) == list(range(50))


def test_queue_member_unsubscribed(server):
    m1 = member(server, "foo q 1")
    m2 = member(server, "foo q 1")
    m2.send(b"UNSUB 1\r\n")
    m2.expect_nothing()
    pub = client(server)
    publish_numbered(pub, b"foo", 100)
    assert payloads(m1) == list(range(100))
    assert payloads(m2) == []


def test_queue_echo_false_member_skipped(server):
    """A no-echo publisher's own queue member is skipped, another member of
    the group gets every message (no message lost to the skipped member)."""
    own = member(server, "foo q 1", connect=connect_line(verbose=False, echo=False))
    other = member(server, "foo q 1")
    publish_numbered(own, b"foo", 100)
    assert payloads(own) == []
    assert payloads(other) == list(range(100))


def test_queue_echo_false_only_member(server):
    own = member(server, "foo q 1", connect=connect_line(verbose=False, echo=False))
    watcher = member(server, "foo 9")
    publish_numbered(own, b"foo", 20)
    assert payloads(own) == []
    assert payloads(watcher) == list(range(20))
