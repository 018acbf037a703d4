"""Client protocol parser: framing, case, whitespace, splits, errors
(nats-compat.md 1.1, 11 "parser")."""
import time

import pytest

from proto import Conn, client, msg


def subscriber(server, subject="foo", sid="1"):
    s = client(server)
    s.send("SUB %s %s\r\n" % (subject, sid))
    s.expect_nothing()
    return s


def delivered(sub):
    """Raw frames the subscriber has received (barrier: PING/PONG)."""
    return [f.raw for f in sub.flush()]


# ---- PING / PONG ------------------------------------------------------------

@pytest.mark.parametrize("line", [
    b"PING\r\n", b"ping\r\n", b"PiNg\r\n", b"PING\n", b"PING x\r\n", b"PING\tfoo bar\r\n",
    # Everything after PING up to the newline is ignored, even without a space.
    b"PINGX\r\n",
], ids=repr)
def test_ping_variants(server, line):
    c = Conn(server.port)  # before CONNECT: fine on a server without auth
    c.send(line)
    c.expect_frame(b"PONG\r\n")
    c.expect_nothing()


def test_client_pong_ok_info_are_ignored(server):
    c = client(server)
    c.send(b"PONG\r\npong\r\nPONG x\r\n+OK\r\n+ok\r\n" b'INFO {"server_id":"x"}\r\n' b"INFO {}\r\n")
    c.expect_nothing()
    # Still fully working afterwards.
    c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
    assert delivered(c) == [b"MSG foo 1 2\r\nhi\r\n"]


def test_pipelined_pings(server):
    c = client(server)
    c.send(b"PING\r\n" * 5)
    for _ in range(5):
        c.expect_frame(b"PONG\r\n")
    c.expect_nothing()


# ---- case, whitespace, line ends ---------------------------------------------

def test_ops_case_insensitive(server):
    sub = Conn(server.port)
    sub.send(b'cOnNeCt {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n'
             b"sub foo 1\r\nSuB bar 2\r\n")
    sub.expect_nothing()
    pub = client(server)
    pub.send(b"pub foo 2\r\nhi\r\nPuB bar 2\r\nho\r\n"
             b"hpub foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHpUb bar 12 12\r\nNATS/1.0\r\n\r\n\r\n")
    pub.expect_nothing()
    assert delivered(sub) == [
        b"MSG foo 1 2\r\nhi\r\n",
        b"MSG bar 2 2\r\nho\r\n",
        b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        b"HMSG bar 2 12 12\r\nNATS/1.0\r\n\r\n\r\n",
    ]
    sub.send(b"uNsUb 1\r\nunsub 2\r\n")
    sub.expect_nothing()
    pub.send(b"PUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n")
    pub.expect_nothing()
    assert delivered(sub) == []


def test_tabs_and_runs_of_whitespace(server):
    sub = client(server)
    sub.send(b"SUB\tfoo\t1\r\nSUB  \t bar \t q \t 2 \t\r\n")
    sub.expect_nothing()
    pub = client(server)
    pub.send(b"PUB\tfoo\t2\r\nhi\r\n"
             b"PUB   foo \t rep \t 2\r\nhi\r\n"
             b"PUB bar 2 \r\nho\r\n"
             b"PUB bar 2\t\r\nho\r\n")
    pub.expect_nothing()
    assert delivered(sub) == [
        b"MSG foo 1 2\r\nhi\r\n",
        b"MSG foo 1 rep 2\r\nhi\r\n",
        b"MSG bar 2 2\r\nho\r\n",
        b"MSG bar 2 2\r\nho\r\n",
    ]


def test_bare_newline_line_ends(server):
    c = Conn(server.port)
    c.send(b'CONNECT {"verbose":false,"pedantic":false}\n'
           b"SUB foo 1\n"
           b"PUB foo 2\nhi\r\n"
           b"PUB foo 3\nabc\r\n"
           b"PING\n")
    assert [f.raw for f in [c.frame(), c.frame(), c.frame()]] == [
        b"MSG foo 1 2\r\nhi\r\n", b"MSG foo 1 3\r\nabc\r\n", b"PONG\r\n"]
    c.expect_nothing()


# ---- size token ----------------------------------------------------------------

@pytest.mark.parametrize("pub,expected", [
    (b"PUB foo 02\r\nhi\r\n", b"MSG foo 1 02\r\nhi\r\n"),
    (b"PUB foo 002\r\nhi\r\n", b"MSG foo 1 002\r\nhi\r\n"),
    (b"PUB foo r 02\r\nhi\r\n", b"MSG foo 1 r 02\r\nhi\r\n"),
    (b"PUB foo 00\r\n\r\n", b"MSG foo 1 00\r\n\r\n"),
    (b"PUB foo 0\r\n\r\n", b"MSG foo 1 0\r\n\r\n"),
    (b"HPUB foo 012 014\r\nNATS/1.0\r\n\r\nhi\r\n", b"HMSG foo 1 012 014\r\nNATS/1.0\r\n\r\nhi\r\n"),
], ids=repr)
def test_size_tokens_echoed_verbatim(server, pub, expected):
    sub = subscriber(server)
    p = client(server)
    p.send(pub)
    p.expect_nothing()
    assert delivered(sub) == [expected]


# ---- payload framing -------------------------------------------------------------

def test_payload_is_binary_and_length_delimited(server):
    """The payload may contain CR, LF, NUL and text that looks like ops."""
    sub = subscriber(server)
    p = client(server)
    payload = b"PING\r\nPUB x 1\r\n\x00\xff\r\n-ERR 'x'\r\n"
    p.send(b"PUB foo %d\r\n" % len(payload) + payload + b"\r\n")
    p.expect_nothing()
    assert delivered(sub) == [msg("foo", 1, payload)]


@pytest.mark.parametrize("bad", [
    b"PUB foo 3\r\nhello\r\n",     # payload longer than the size
    b"PUB foo 2\r\nhi\n",          # only LF after the payload
    b"PUB foo 2\r\nhiX\r\n",
    b"PUB foo 2\r\nhi\rX",
], ids=repr)
def test_payload_not_followed_by_crlf(server, bad):
    sub = subscriber(server)
    c = client(server)
    c.send(bad)
    c.expect_close("Unknown Protocol Operation")
    assert delivered(sub) == []


def test_good_message_then_bad_terminator(server):
    sub = subscriber(server)
    c = Conn(server.port)
    c.send(b"PUB foo 2\r\nhi\r\nPUB foo 2\r\nho\n")
    c.expect_frame(b"+OK\r\n")
    c.expect_close("Unknown Protocol Operation")
    assert delivered(sub) == [b"MSG foo 1 2\r\nhi\r\n"]


# ---- unknown operations -------------------------------------------------------------

@pytest.mark.parametrize("line", [
    b"FOO\r\n", b"P\r\n", b"PUBX foo 2\r\nhi\r\n", b"OK\r\n",
    # PUB, HPUB, SUB, UNSUB directly followed by the line end (but see
    # CONNECT and INFO below, and "PUB \r\n", which close silently).
    b"PUB\r\n", b"HPUB\r\n", b"SUB\r\n", b"UNSUB\r\n",
    # A blank line or leading whitespace is not an operation.
    b"\r\n", b"\n", b" PING\r\n",
    # Server-only operations sent by a client.
    b"MSG foo 1 2\r\nhi\r\n", b"HMSG foo 1 12 12\r\n", b"RS+ $G foo\r\n", b"RS- $G foo\r\n",
    b"LS+ foo\r\n", b"LS- foo\r\n", b"A+ $G\r\n", b"A- $G\r\n", b"RMSG $G foo 2\r\nhi\r\n",
    b"LMSG foo 2\r\nhi\r\n",
], ids=repr)
def test_unknown_operation(server, line):
    c = client(server)
    c.send(line)
    c.expect_close("Unknown Protocol Operation")


def test_unknown_operation_before_connect(server):
    c = Conn(server.port)
    c.send(b"FOO\r\n")
    c.expect_close("Unknown Protocol Operation")


def test_blank_line_between_ops(server):
    sub = subscriber(server)
    c = client(server)
    c.send(b"PUB foo 2\r\nhi\r\n\r\nPUB foo 2\r\nho\r\n")
    c.expect_close("Unknown Protocol Operation")
    assert delivered(sub) == [b"MSG foo 1 2\r\nhi\r\n"]


# ---- argument errors close silently -------------------------------------------------

@pytest.mark.parametrize("line", [
    b"SUB foo\r\n", b"SUB foo q1 q2 1\r\n", b"SUB \r\n",
    b"PUB foo -1\r\n", b"PUB foo 2x\r\n", b"PUB foo +2\r\n", b"PUB foo\r\n", b"PUB 2\r\n",
    b"PUB foo a b 2\r\n", b"PUB \r\n", b"PUB foo 2\r\r\nhi\r\n",
    b"UNSUB 1 2 3\r\n", b"UNSUB \r\n",
    b"HPUB foo 14 12\r\n",        # header size larger than total
    b"HPUB foo 12\r\n", b"HPUB foo -1 12\r\n",
], ids=repr)
def test_argument_errors_close_silently(server, line):
    c = client(server)
    c.send(line)
    c.expect_close()


@pytest.mark.parametrize("line", [
    b"CONNECT {bad\r\n", b"CONNECT\r\n", b"CONNECT \r\n", b"CONNECT []\r\n",
    b"CONNECT {}extra\r\n",
    b'CONNECT {"verbose":"yes"}\r\n', b'CONNECT {"protocol":"1"}\r\n',
    b"INFO x\r\n", b"INFO\r\n",
], ids=repr)
def test_bad_json_closes_silently(server, line):
    c = Conn(server.port)
    c.send(line)
    c.expect_close()


def test_client_err_closes_silently(server):
    c = client(server)
    c.send(b"-ERR 'whatever'\r\n")
    c.expect_close()


# ---- splits: one byte per write ------------------------------------------------------

def test_session_sent_one_byte_at_a_time(server):
    sub = subscriber(server, "foo.>", "9")
    c = Conn(server.port)
    payload = b"split\r\nPING\r\n payload"
    session = (b'CONNECT {"verbose":true,"pedantic":true,"headers":true,"protocol":1}\r\n'
               b"SUB foo.bar 1\r\n"
               b"PUB foo.bar reply.x %d\r\n" % len(payload) + payload + b"\r\n"
               b"HPUB foo.bar 20 23\r\nNATS/1.0\r\nKey: V\r\n\r\nabc\r\n"
               b"PUB foo.bar 0\r\n\r\n"
               b"UNSUB 1\r\n"
               b"PUB foo.bar 1\r\nz\r\n"
               b"PING\r\n")
    c.send_bytewise(session)
    got = []
    while True:
        f = c.frame()
        got.append(f.raw)
        if f.op == "PONG":
            break
    assert got == [
        b"+OK\r\n",                                        # CONNECT
        b"+OK\r\n",                                        # SUB
        b"+OK\r\n", msg("foo.bar", 1, payload, "reply.x"),  # PUB
        b"+OK\r\n", b"HMSG foo.bar 1 20 23\r\nNATS/1.0\r\nKey: V\r\n\r\nabc\r\n",
        b"+OK\r\n", b"MSG foo.bar 1 0\r\n\r\n",
        b"+OK\r\n",                                        # UNSUB
        b"+OK\r\n",                                        # PUB after UNSUB: no MSG
        b"PONG\r\n",
    ]
    assert delivered(sub) == [
        msg("foo.bar", 9, payload, "reply.x"),
        b"HMSG foo.bar 9 20 23\r\nNATS/1.0\r\nKey: V\r\n\r\nabc\r\n",
        b"MSG foo.bar 9 0\r\n\r\n",
        b"MSG foo.bar 9 1\r\nz\r\n",
    ]


@pytest.mark.parametrize("op,expected", [
    (b"PUB foo.bar rep 5\r\nhello\r\n", b"MSG foo.bar 1 rep 5\r\nhello\r\n"),
    (b"HPUB foo.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", b"HMSG foo.bar 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
], ids=["PUB", "HPUB"])
def test_every_split_point(server, op, expected):
    """The operation is sent in two writes, split at each position in turn.
    The short pause only makes separate reads likely; it is not a check."""
    sub = subscriber(server, "foo.*")
    c = client(server)
    for i in range(1, len(op)):
        c.send(op[:i])
        time.sleep(0.002)
        c.send(op[i:])
    c.expect_nothing()
    assert delivered(sub) == [expected] * (len(op) - 1)


def test_crlf_split_between_writes(server):
    """\\r and \\n of control lines and of the payload end in separate writes."""
    sub = subscriber(server)
    c = client(server)
    for chunk in (b"PUB foo 2\r", b"\nhi\r", b"\n", b"PUB foo 2\r\nh", b"o", b"\r", b"\nPI", b"NG\r", b"\n"):
        c.send(chunk)
    c.expect_frame(b"PONG\r\n")
    assert delivered(sub) == [b"MSG foo 1 2\r\nhi\r\n", b"MSG foo 1 2\r\nho\r\n"]


def test_max_payload_message_intact(server):
    """A 1 MiB payload (the default max) spans many reads and arrives intact."""
    sub = subscriber(server)
    c = client(server)
    payload = bytes(range(256)) * 4096
    assert len(payload) == 1048576
    c.send(b"PUB foo 1048576\r\n" + payload + b"\r\n")
    c.expect_nothing()
    f = sub.frame()
    assert f.raw[:len(b"MSG foo 1 1048576\r\n")] == b"MSG foo 1 1048576\r\n"
    assert f.payload == payload
    sub.expect_nothing()


def test_many_messages_in_one_write(server):
    sub = subscriber(server)
    c = client(server)
    c.send(b"".join(b"PUB foo %d\r\n%s\r\n" % (len(b"%d" % i), b"%d" % i) for i in range(500)))
    c.expect_nothing()
    assert delivered(sub) == [msg("foo", 1, b"%d" % i) for i in range(500)]
