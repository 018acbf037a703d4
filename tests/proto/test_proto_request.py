"""Requests: no-responders status, reserved subjects and replies
(nats-compat.md 1.4, 1.11, 11 "no_resp", "reserved")."""
import pytest

from proto import client, connect_line

NR = connect_line(verbose=False, pedantic=False, headers=True, protocol=1, no_responders=True)
STATUS_503 = b"NATS/1.0 503\r\n\r\n"


def requester(server, *subs):
    c = client(server, connect=NR)
    c.send(b"".join(b"SUB " + s.encode() + b"\r\n" for s in subs))
    c.expect_nothing()
    return c


def test_no_responders(server):
    c = requester(server, "_INBOX.x 7")
    c.send(b"PUB svc _INBOX.x 2\r\nhi\r\n")
    c.expect_frame(b"HMSG _INBOX.x 7 16 16\r\n" + STATUS_503 + b"\r\n")
    c.expect_nothing()


def test_no_responders_hpub_request(server):
    c = requester(server, "_INBOX.x 7")
    c.send(b"HPUB svc _INBOX.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    c.expect_frame(b"HMSG _INBOX.x 7 16 16\r\n" + STATUS_503 + b"\r\n")
    c.expect_nothing()


@pytest.mark.parametrize("sub,reply", [
    ("_INBOX.*", "_INBOX.abc"),
    ("_INBOX.>", "_INBOX.abc"),
    ("_INBOX.c1.*", "_INBOX.c1.42"),
], ids=lambda v: v)
def test_no_responders_via_wildcard_reply_sub(server, sub, reply):
    """nats.go's request mux subscribes `_INBOX.<id>.*`: the status goes to
    the matching wildcard sub, with the concrete reply as subject."""
    c = requester(server, sub + " 5")
    c.send(b"PUB svc %s 0\r\n\r\n" % reply.encode())
    c.expect_frame(b"HMSG %s 5 16 16\r\n" % reply.encode() + STATUS_503 + b"\r\n")
    c.expect_nothing()


def test_no_status_when_someone_listens(server):
    svc = client(server)
    svc.send(b"SUB svc 1\r\n")
    svc.expect_nothing()
    c = requester(server, "_INBOX.x 7")
    c.send(b"PUB svc _INBOX.x 2\r\nhi\r\n")
    c.expect_nothing()
    assert [f.raw for f in svc.flush()] == [b"MSG svc 1 _INBOX.x 2\r\nhi\r\n"]
    # The responder answers; the requester gets the plain reply.
    svc.send(b"PUB _INBOX.x 2\r\nok\r\n")
    svc.expect_nothing()
    assert [f.raw for f in c.flush()] == [b"MSG _INBOX.x 7 2\r\nok\r\n"]


def test_no_status_when_own_sub_matches(server):
    c = requester(server, "_INBOX.x 7", "svc 8")
    c.send(b"PUB svc _INBOX.x 2\r\nhi\r\n")
    assert [f.raw for f in c.flush()] == [b"MSG svc 8 _INBOX.x 2\r\nhi\r\n"]


def test_no_status_when_unsubscribed_responder(server):
    c = requester(server, "_INBOX.x 7", "svc 8")
    c.send(b"UNSUB 8\r\nPUB svc _INBOX.x 2\r\nhi\r\n")
    assert [f.raw for f in c.flush()] == [b"HMSG _INBOX.x 7 16 16\r\n" + STATUS_503 + b"\r\n"]


def test_no_status_without_no_responders_option(server):
    c = client(server)
    c.send(b"SUB _INBOX.x 7\r\nPUB svc _INBOX.x 2\r\nhi\r\n")
    c.expect_nothing()


def test_no_status_without_reply(server):
    c = requester(server, "_INBOX.x 7")
    c.send(b"PUB svc 2\r\nhi\r\n")
    c.expect_nothing()


def test_no_status_without_own_sub_on_reply(server):
    """The status only goes to the requester itself, and only through a
    plain subscription of its own on the reply subject."""
    other = client(server)
    other.send(b"SUB _INBOX.x 1\r\n")
    other.expect_nothing()
    c = requester(server, "_INBOX.x q 7")   # queue sub only
    c.send(b"PUB svc _INBOX.x 2\r\nhi\r\nPUB svc _INBOX.none 2\r\nhi\r\n")
    c.expect_nothing()
    assert other.flush() == []


def test_no_status_for_requests_of_other_connections(server):
    c = requester(server, "_INBOX.x 7")
    plain = client(server)
    plain.send(b"PUB svc _INBOX.x 2\r\nhi\r\n")
    plain.expect_nothing()
    assert c.flush() == []


# ---- reserved subjects and replies -------------------------------------------------

@pytest.mark.parametrize("op,err", [
    (b"PUB _GR_.abc.def.foo 1\r\na\r\n", 'Permissions Violation for Publish to "_GR_.abc.def.foo"'),
    (b"PUB _GR_.x 1\r\na\r\n", 'Permissions Violation for Publish to "_GR_.x"'),
    (b"HPUB _GR_.a.b.c 12 12\r\nNATS/1.0\r\n\r\n\r\n", 'Permissions Violation for Publish to "_GR_.a.b.c"'),
    (b"PUB foo _R_.x 1\r\na\r\n", 'Permissions Violation for Publish with Reply of "_R_.x"'),
    (b"PUB foo _GR_.x 1\r\na\r\n", 'Permissions Violation for Publish with Reply of "_GR_.x"'),
    (b"PUB foo $JS.ACK.x.y 1\r\na\r\n", 'Permissions Violation for Publish with Reply of "$JS.ACK.x.y"'),
    (b"HPUB foo _R_.y 12 12\r\nNATS/1.0\r\n\r\n\r\n", 'Permissions Violation for Publish with Reply of "_R_.y"'),
], ids=repr)
def test_reserved_publish_rejected(server, op, err):
    """-ERR, connection stays open, message dropped; in verbose mode no +OK
    follows the -ERR."""
    watcher = client(server)
    watcher.send(b"SUB > 1\r\nSUB foo 2\r\n")
    watcher.expect_nothing()
    c = client(server, connect=connect_line(verbose=True, pedantic=False, headers=True, protocol=1))
    c.send(op)
    c.expect_err(err)
    c.expect_nothing()
    assert watcher.flush() == []
    # The connection still works.
    c.send(b"PUB foo 1\r\nz\r\n")
    c.expect_frame(b"+OK\r\n")
    c.expect_nothing()
    assert sorted(f.raw for f in watcher.flush()) == [b"MSG foo 1 1\r\nz\r\n", b"MSG foo 2 1\r\nz\r\n"]


@pytest.mark.parametrize("op,expected", [
    (b"PUB _R_.x 1\r\na\r\n", b"MSG _R_.x 1 1\r\na\r\n"),       # _R_. only reserved as reply
    (b"PUB _GR_ 1\r\na\r\n", b"MSG _GR_ 1 1\r\na\r\n"),         # prefix needs the dot
    (b"PUB _gr_.x 1\r\na\r\n", b"MSG _gr_.x 1 1\r\na\r\n"),     # case-sensitive
    (b"PUB foo _R_ 1\r\na\r\n", b"MSG foo 1 _R_ 1\r\na\r\n"),
    (b"PUB foo $JS.ACK 1\r\na\r\n", b"MSG foo 1 $JS.ACK 1\r\na\r\n"),
    (b"PUB foo _r_.x 1\r\na\r\n", b"MSG foo 1 _r_.x 1\r\na\r\n"),
    (b"PUB foo _INBOX.x 1\r\na\r\n", b"MSG foo 1 _INBOX.x 1\r\na\r\n"),
], ids=repr)
def test_near_reserved_publish_allowed(server, op, expected):
    watcher = client(server)
    watcher.send(b"SUB > 1\r\n")
    watcher.expect_nothing()
    c = client(server)
    c.send(op)
    c.expect_nothing()
    assert [f.raw for f in watcher.flush()] == [expected]
