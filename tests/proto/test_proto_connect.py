"""CONNECT options: defaults, verbose, pedantic, protocol checks
(nats-compat.md 1.3, 1.4, 11 "CONNECT")."""
import pytest

from proto import Conn, client, connect_line


def test_defaults_before_connect_are_verbose_and_pedantic(server):
    """Without CONNECT the defaults apply: verbose (+OK) and pedantic."""
    c = Conn(server.port)
    c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPUB foo..bar 2\r\nhi\r\n")
    assert [c.frame().raw for _ in range(5)] == [
        b"+OK\r\n",
        b"+OK\r\n", b"MSG foo 1 2\r\nhi\r\n",
        b"-ERR 'Invalid Publish Subject'\r\n", b"+OK\r\n",
    ]
    c.expect_nothing()


def test_empty_connect_keeps_defaults(server):
    c = Conn(server.port)
    c.send(b"CONNECT {}\r\n")
    c.expect_frame(b"+OK\r\n")
    c.send(b"PUB foo..bar 2\r\nhi\r\n")
    c.expect_frame(b"-ERR 'Invalid Publish Subject'\r\n")
    c.expect_frame(b"+OK\r\n")
    c.expect_nothing()


def test_verbose_then_invalid_publish_subject(server):
    c = Conn(server.port)
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect_frame(b"+OK\r\n")
    c.send(b"PUB foo..bar 2\r\nhi\r\n")
    c.expect_frame(b"-ERR 'Invalid Publish Subject'\r\n")
    c.expect_frame(b"+OK\r\n")
    c.expect_nothing()


def test_verbose_ok_after_each_op(server):
    c = Conn(server.port)
    c.send(b'CONNECT {"verbose":true,"pedantic":false,"headers":true,"protocol":1}\r\n')
    c.expect_frame(b"+OK\r\n")
    steps = [
        (b"SUB foo 1\r\n", [b"+OK\r\n"]),
        (b"SUB bar q 2\r\n", [b"+OK\r\n"]),
        (b"PUB foo 2\r\nhi\r\n", [b"+OK\r\n", b"MSG foo 1 2\r\nhi\r\n"]),
        (b"PUB nobody 2\r\nhi\r\n", [b"+OK\r\n"]),
        (b"HPUB bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", [b"+OK\r\n", b"HMSG bar 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"]),
        (b"UNSUB 1\r\n", [b"+OK\r\n"]),
        (b"UNSUB 99\r\n", [b"+OK\r\n"]),         # unknown sid is fine
        (b"UNSUB 2 5\r\n", [b"+OK\r\n"]),
        (b"PONG\r\n", []),                      # no +OK for PONG
        (b"PING\r\n", [b"PONG\r\n"]),           # PONG only, no +OK
        (b"CONNECT {}\r\n", [b"+OK\r\n"]),
    ]
    for op, want in steps:
        c.send(op)
        got = [c.frame().raw for _ in want]
        assert got == want, op
        c.expect_nothing()


def test_second_connect_keeps_earlier_options(server):
    """A later CONNECT is applied on top of the current options, not of the
    defaults: after verbose:false, `CONNECT {}` stays non-verbose."""
    c = Conn(server.port)
    c.send(b'CONNECT {"verbose":false}\r\nCONNECT {}\r\nSUB foo 1\r\n')
    c.expect_nothing()
    c.send(b'CONNECT {"verbose":true}\r\n')
    c.expect_frame(b"+OK\r\n")


def test_pedantic_invalid_subject_still_delivered(server):
    """Pedantic: -ERR 'Invalid Publish Subject', then +OK, and the message is
    still routed (a wildcard subject reaches the matching wildcard subs)."""
    sub = client(server)
    sub.send(b"SUB foo.* 1\r\nSUB > 2\r\nSUB foo.bar 3\r\n")
    sub.expect_nothing()
    p = Conn(server.port)
    p.send(b'CONNECT {"verbose":true,"pedantic":true}\r\n')
    p.expect_frame(b"+OK\r\n")
    p.send(b"PUB foo.* 2\r\nhi\r\n")
    p.expect_frame(b"-ERR 'Invalid Publish Subject'\r\n")
    p.expect_frame(b"+OK\r\n")
    p.expect_nothing()
    got = sorted(f.raw for f in sub.flush())
    assert got == [b"MSG foo.* 1 2\r\nhi\r\n", b"MSG foo.* 2 2\r\nhi\r\n"]


@pytest.mark.parametrize("subject", [b"foo..bar", b".foo", b"foo.", b"foo.>.bar", b"foo.*", b">"], ids=repr)
def test_pedantic_rejects_non_literal_subjects(server, subject):
    p = Conn(server.port)
    p.send(b'CONNECT {"verbose":false,"pedantic":true}\r\n')
    p.send(b"PUB %s 1\r\nx\r\n" % subject)
    p.expect_frame(b"-ERR 'Invalid Publish Subject'\r\n")
    p.expect_nothing()


def test_pedantic_accepts_literal_subjects(server):
    p = Conn(server.port)
    p.send(b'CONNECT {"verbose":false,"pedantic":true}\r\n'
           b"PUB foo 1\r\nx\r\nPUB foo.bar.baz 1\r\nx\r\nPUB foo*.b>r 1\r\nx\r\nPUB $SYS_x 1\r\nx\r\n")
    p.expect_nothing()


def test_non_pedantic_wildcard_publish(server):
    """Non-pedantic `PUB foo.*`: no error; matches subs with `*` or `>` there,
    never the literal foo.bar. An empty token matches nothing at all."""
    sub = client(server)
    sub.send(b"SUB foo.* 1\r\nSUB foo.bar 2\r\nSUB foo.> 3\r\nSUB > 4\r\n")
    sub.expect_nothing()
    p = client(server)
    p.send(b"PUB foo.* 1\r\na\r\n")
    p.expect_nothing()
    assert sorted(f.raw for f in sub.flush()) == [
        b"MSG foo.* 1 1\r\na\r\n", b"MSG foo.* 3 1\r\na\r\n", b"MSG foo.* 4 1\r\na\r\n"]
    p.send(b"PUB foo..bar 1\r\nb\r\nPUB .foo 1\r\nb\r\nPUB foo. 1\r\nb\r\n")
    p.expect_nothing()
    assert sub.flush() == []


def test_protocol_0_and_1_accepted(server):
    for proto in (0, 1):
        c = Conn(server.port)
        c.send(connect_line(verbose=True, protocol=proto))
        c.expect_frame(b"+OK\r\n")
        c.expect_nothing()


@pytest.mark.parametrize("opts,err", [
    ({"protocol": 2}, "invalid client protocol"),
    ({"protocol": -1}, "invalid client protocol"),
    ({"no_responders": True}, "no responders requires headers support"),
    ({"headers": False, "no_responders": True}, "no responders requires headers support"),
    ({"account": "x"}, "Authorization Violation"),
    ({"new_account": True}, "Authorization Violation"),
], ids=lambda v: repr(v))
def test_connect_rejected(server, opts, err):
    c = Conn(server.port)
    c.send(connect_line(opts))
    c.expect_close(err)


def test_unknown_connect_keys_ignored(server):
    c = Conn(server.port)
    c.send(b'CONNECT {"foo":1,"bar":{"x":[1,2]},"verbose":true,"lang":"python","name":"t","version":"0"}\r\n')
    c.expect_frame(b"+OK\r\n")
    c.expect_nothing()


@pytest.mark.parametrize("connect", [
    b'CONNECT {"verbose":false}\r\n',
    b'CONNECT {"verbose":false,"headers":false,"protocol":1}\r\n',
], ids=repr)
def test_hpub_without_headers_closes_silently(server, connect):
    c = Conn(server.port)
    c.send(connect)
    c.send(b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    c.expect_close()


def test_hpub_before_connect_closes_silently(server):
    c = Conn(server.port)
    c.send(b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    c.expect_close()


def test_headers_without_protocol_field(server):
    """headers:true is enough to use HPUB (protocol defaults to 0)."""
    sub = client(server)
    sub.send(b"SUB foo 1\r\n")
    sub.expect_nothing()
    c = client(server, connect=b'CONNECT {"verbose":false,"headers":true}\r\n')
    c.send(b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    c.expect_nothing()
    assert [f.raw for f in sub.flush()] == [b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"]
