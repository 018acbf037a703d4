"""SUB / UNSUB semantics (nats-compat.md 1.5, 2, 11 "subs")."""
import pytest

from proto import client, msg


def pubs(pub, subject, n, start=0):
    """Publish n messages ("0", "1", ...) and wait until they are routed."""
    pub.send(b"".join(b"PUB %s %d\r\n%d\r\n" % (subject.encode(), len(b"%d" % i), i)
                      for i in range(start, start + n)))
    pub.expect_nothing()


def received(sub):
    return [f.raw for f in sub.flush()]


@pytest.mark.parametrize("subject", [
    b"foo..bar", b".foo", b"foo.", b"foo.>.bar", b">.foo", b"..", b".",
], ids=repr)
def test_invalid_subject_keeps_connection(server, subject):
    c = client(server)
    c.send(b"SUB %s 3\r\n" % subject)
    c.expect_frame(b"-ERR 'Invalid Subject'\r\n")
    c.expect_nothing()  # PING -> PONG: still open
    # The sid was not taken: a valid SUB with it works.
    c.send(b"SUB ok 3\r\nPUB ok 1\r\nx\r\n")
    assert received(c) == [b"MSG ok 3 1\r\nx\r\n"]


def test_invalid_subjects_in_a_row(server):
    c = client(server)
    c.send(b"SUB foo..bar 3\r\nSUB .foo 1\r\nSUB foo.>.bar 3\r\nPING\r\n")
    for _ in range(3):
        c.expect_frame(b"-ERR 'Invalid Subject'\r\n")
    c.expect_frame(b"PONG\r\n")


def test_invalid_queue_subject(server):
    c = client(server)
    c.send(b"SUB foo..bar q 1\r\n")
    c.expect_frame(b"-ERR 'Invalid Subject'\r\n")
    c.expect_nothing()


def test_duplicate_sid_ignored(server):
    c = client(server)
    c.send(b"SUB foo 1\r\nSUB foo 1\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 1)
    assert received(c) == [b"MSG foo 1 1\r\n0\r\n"]


def test_duplicate_sid_with_other_subject_ignored(server):
    """The second SUB with a taken sid does not subscribe to its subject."""
    c = client(server)
    c.send(b"SUB foo 1\r\nSUB bar 1\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "bar", 1)
    pubs(pub, "foo", 1, start=1)
    assert received(c) == [b"MSG foo 1 1\r\n1\r\n"]


def test_unsub(server):
    c = client(server)
    c.send(b"SUB foo 1\r\nSUB foo 2\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 1)
    assert sorted(received(c)) == [b"MSG foo 1 1\r\n0\r\n", b"MSG foo 2 1\r\n0\r\n"]
    c.send(b"UNSUB 1\r\n")
    c.expect_nothing()
    pubs(pub, "foo", 1, start=1)
    assert received(c) == [b"MSG foo 2 1\r\n1\r\n"]


def test_unsub_max_across_publishes(server):
    c = client(server)
    c.send(b"SUB foo 1\r\nUNSUB 1 2\r\n")
    c.expect_nothing()
    pub = client(server)
    for i in range(3):
        pubs(pub, "foo", 1, start=i)
    assert received(c) == [b"MSG foo 1 1\r\n0\r\n", b"MSG foo 1 1\r\n1\r\n"]


def test_unsub_max_one_batch(server):
    c = client(server)
    c.send(b"SUB foo 1\r\nUNSUB 1 3\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 10)
    assert received(c) == [msg("foo", 1, b"%d" % i) for i in range(3)]


def test_unsub_max_counts_earlier_deliveries(server):
    """max counts all deliveries of the subscription, including those
    before the UNSUB."""
    c = client(server)
    c.send(b"SUB foo 4\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 2)
    c.send(b"UNSUB 4 3\r\n")
    got = received(c)  # the two earlier messages, then the UNSUB is in place
    pubs(pub, "foo", 3, start=2)
    got += received(c)
    assert got == [msg("foo", 4, b"%d" % i) for i in range(3)]


@pytest.mark.parametrize("max_", [b"2", b"1", b"0"], ids=lambda m: "max" + m.decode())
def test_unsub_max_not_above_delivered_removes_now(server, max_):
    c = client(server)
    c.send(b"SUB foo 3\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 2)
    c.send(b"UNSUB 3 " + max_ + b"\r\n")
    got = received(c)
    pubs(pub, "foo", 2, start=2)
    got += received(c)
    assert got == [msg("foo", 3, b"0"), msg("foo", 3, b"1")]


def test_unsub_zero_on_fresh_sub(server):
    c = client(server)
    c.send(b"SUB foo 1\r\nUNSUB 1 0\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 3)
    assert received(c) == []


def test_unsub_unknown_sid_is_fine(server):
    c = client(server)
    c.send(b"UNSUB 99\r\nUNSUB 99 5\r\nUNSUB nope\r\n")
    c.expect_nothing()


@pytest.mark.parametrize("max_", [b"x", b"-1"], ids=repr)
def test_unsub_unparsable_max_unsubscribes_now(server, max_):
    """A max that is not a non-negative number is not a protocol error: the
    UNSUB acts as a plain one."""
    c = client(server)
    c.send(b"SUB foo 1\r\nUNSUB 1 " + max_ + b"\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 2)
    assert received(c) == []


def test_sid_reusable_after_auto_unsub(server):
    c = client(server)
    c.send(b"SUB foo 1\r\nUNSUB 1 1\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 2)
    assert received(c) == [b"MSG foo 1 1\r\n0\r\n"]
    c.send(b"SUB bar 1\r\n")
    c.expect_nothing()
    pubs(pub, "bar", 1)
    pubs(pub, "foo", 1)
    assert received(c) == [b"MSG bar 1 1\r\n0\r\n"]


def test_sid_reusable_after_unsub(server):
    c = client(server)
    c.send(b"SUB foo 1\r\nUNSUB 1\r\nSUB bar 1\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 1)
    pubs(pub, "bar", 1)
    assert received(c) == [b"MSG bar 1 1\r\n0\r\n"]


def test_unsub_max_on_queue_subscription(server):
    c = client(server)
    c.send(b"SUB foo q 1\r\nUNSUB 1 2\r\n")
    c.expect_nothing()
    pub = client(server)
    pubs(pub, "foo", 5)
    assert received(c) == [msg("foo", 1, b"0"), msg("foo", 1, b"1")]


def test_burst_of_subs_then_pubs_in_one_write(server):
    """A SUB is matched by a PUB that follows it in the same read (gannet
    batches index writes per turn: they must be in before anything matches),
    and an UNSUB stops delivery to the PUB right behind it."""
    c = client(server)
    n = 2000
    c.send(b"".join(b"SUB s.%d %d\r\n" % (i, i) for i in range(n)) +
           b"".join(b"PUB s.%d 1\r\nx\r\n" % i for i in range(n)) +
           b"UNSUB 7\r\nPUB s.7 1\r\ny\r\nSUB s.7 again\r\nPUB s.7 1\r\nz\r\n")
    got = received(c)
    want = [b"MSG s.%d %d 1\r\nx\r\n" % (i, i) for i in range(n)] + [b"MSG s.7 again 1\r\nz\r\n"]
    assert sorted(got) == sorted(want) and len(got) == len(want)


def test_closing_connection_with_many_subs_stops_delivery(server):
    """A connection with thousands of subscriptions goes: none of them is
    delivered to afterwards, and the subjects can be subscribed again."""
    a = client(server)
    a.send(b"".join(b"SUB t.%d %d\r\n" % (i, i) for i in range(3000)))
    a.expect_nothing()
    a.close()
    b = client(server)
    b.send(b"SUB t.5 1\r\n")
    b.expect_nothing()
    pub = client(server)
    pubs(pub, "t.5", 3)
    assert received(b) == [b"MSG t.5 1 1\r\n%d\r\n" % i for i in range(3)]
