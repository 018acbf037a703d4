"""Connection lifecycle edge cases, against both servers (nats-server 2.9.10
proves each expectation):

- a connection closed with an -ERR that cannot be flushed (its reader has
  stopped and the socket buffers are full) is still dropped once
  write_deadline passes: the server releases the socket, /connz lists the
  connection as closed, and the client, once it reads again, gets what the
  kernel had buffered and then EOF, never the unflushable rest;
- subjects, reply subjects, sids and queue names longer than 65535 bytes
  (with max_control_line raised) work like short ones: nats-server 2.9.10
  delivers `PUB <70000-byte subject> 2` to `>`, `t.>`, `t.*` and to a SUB on
  that literal subject, echoes a 70000-byte reply and a 70000-byte sid in
  MSG, honours UNSUB (and UNSUB max) of a long sid, and treats a long queue
  name as one group. Observed bytes, e.g. for a subject of n bytes:
  `MSG t.xxx…(n-2 x) 1 2\\r\\nhi\\r\\n` for n = 65535, 65536, 65537, 131072,
  250000;
- the reason /connz?state=closed gives for a connection the server closed
  because of what the client sent: nats-server 2.9.10 records "Protocol
  Violation" for an unknown or server-only op, a payload not followed by
  CRLF and an argument error, "Maximum Message Payload Exceeded",
  "Maximum Control Line Exceeded", "Parse Error" for a client's -ERR,
  "Bad Client Protocol Version" for CONNECT protocol 2, "Client Closed".

Every wait is a poll or a read with a deadline; nothing sleeps for a fixed
time to let something happen.
"""
import json
import time
import urllib.request

import pytest

from proto import Conn, client, connect_line, msg
from servers import free_port, poll, wait_port

# ---- helpers -------------------------------------------------------------------------


def start_monitored(make_server, conf):
    """A server (make_server) with a monitoring port, as .mport."""
    mport = free_port()
    s = make_server(conf=conf, args=["-m", str(mport)])
    wait_port(mport, proc=s.proc)
    s.mport = mport
    return s


def connz(server, query=""):
    url = "http://127.0.0.1:%d/connz%s" % (server.mport, query)
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def by_name(server, name, query=""):
    """The /connz entries (open by default) whose name is name."""
    return [c for c in connz(server, query)["connections"] if c.get("name") == name]




def server_socket(server, client_port):
    """(state, inode) of the server's end of the TCP connection from
    client_port, from /proc/net/tcp; None when the kernel has forgotten it.
    inode 0: no process holds the socket any more (the server closed it;
    the kernel may still be trying to deliver what it had buffered)."""
    with open("/proc/net/tcp") as f:
        lines = f.read().splitlines()[1:]
    for line in lines:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server.port and int(remote.split(":")[1], 16) == client_port:
            return fields[3], int(fields[9])
    return None


def named(server, name, **kw):
    opts = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1, "name": name}
    return client(server, connect=connect_line(opts), **kw)


# ---- a closing connection that cannot flush still times out ----------------------------

WRITE_DEADLINE = 2.0
CLOSE_SLACK = 5.0  # beyond write_deadline: timer granularity, a loaded machine
STUCK_CONF = 'write_deadline: "2s"\n'  # max_pending stays 64MB: never a slow consumer by size

# The stuck client's last words, each answered by a closing -ERR.
GARBAGE = {
    "unknown-op": (b"FOO\r\n", "Unknown Protocol Operation"),
    "max-payload": (b"PUB data 99999999\r\n", "Maximum Payload Violation"),
}


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
def test_closing_connection_that_cannot_flush_times_out(make_server, garbage):
    """A subscriber stops reading (small SO_RCVBUF); 9 MB (below max_pending)
    fill the socket buffers and leave megabytes queued in the server; then
    it sends garbage, so the server queues an -ERR behind those megabytes
    and closes with a flush that can never finish. Within write_deadline
    (+ slack) the server must really drop the connection: its end of the
    socket is released, /connz lists it as closed (not open), with the
    reason the same garbage gets on a healthy connection; and the client,
    reading again, gets EOF (or RST) after at most what the kernel held:
    the unflushable rest, -ERR included, was discarded."""
    data, err = GARBAGE[garbage]
    s = start_monitored(make_server, STUCK_CONF)

    # The reason a healthy connection closed by the same garbage gets.
    ctl = named(s, "control")
    ctl.send(data)
    ctl.expect_close(err)
    ctl_closed = poll(lambda: by_name(s, "control", "?state=closed"), 10)
    assert ctl_closed, "control connection not in /connz?state=closed"
    reason = ctl_closed[0].get("reason")

    stuck = named(s, "stuck", rcvbuf=4096)
    client_port = stuck.sock.getsockname()[1]
    stuck.send(b"SUB data 1\r\n")
    stuck.expect_nothing()
    # From here on the stuck client reads nothing until the end.
    pub = named(s, "pub")
    n, size = 150, 60000
    payload = b"x" * size
    batch = (b"PUB data %d\r\n" % size + payload + b"\r\n") * 10
    for _ in range(n // 10):
        pub.send(batch)
    assert pub.flush(timeout=10) == []
    total = n * len(msg("data", 1, payload))

    # The socket buffers are full: the server holds output it cannot write.
    pend = poll(lambda: [c for c in by_name(s, "stuck") if c["pending_bytes"] > 0], 5)
    assert pend, "no output pending for the stuck client: %r" % by_name(s, "stuck")
    assert by_name(s, "stuck", "?state=closed") == [], "cut before the garbage was sent"

    stuck.send(data)
    t0 = time.monotonic()
    bound = WRITE_DEADLINE + CLOSE_SLACK

    def released():
        st = server_socket(s, client_port)
        return st is None or st[1] == 0

    assert poll(released, bound), (
        "server still holds the socket of the closing connection %.1fs after the garbage "
        "(write_deadline %.0fs): %r; /connz open: %r" % (
            time.monotonic() - t0, WRITE_DEADLINE, server_socket(s, client_port), by_name(s, "stuck")))
    assert by_name(s, "stuck") == [], "still listed as open"
    closed = poll(lambda: by_name(s, "stuck", "?state=closed"), 5)
    assert closed, "not listed in /connz?state=closed"
    assert closed[0].get("reason") == reason, (closed[0], reason)

    # The client sees the close: what the kernel had buffered, then EOF/RST,
    # never the whole backlog nor the -ERR queued behind it.
    got = stuck.read_to_eof(timeout=20)
    assert len(got) < total, "everything was delivered: the connection was not dropped"
    assert b"-ERR" not in got
    pub.expect_nothing()  # the publisher is unharmed


# ---- subjects, replies, sids and queue names longer than 65535 bytes --------------------

LONG_CONF = "max_control_line: 300000\n"


@pytest.fixture
def long_server(make_server):
    return make_server(conf=LONG_CONF)


def subscribed(server, *subs):
    c = client(server)
    c.send("".join("SUB %s\r\n" % s for s in subs))
    c.expect_nothing()
    return c


@pytest.mark.parametrize("n", [65534, 65535, 65536, 65537, 70000, 131072, 250000])
def test_long_subject_delivered(long_server, n):
    """PUB to an n-byte subject reaches `>`, `t.>`, `t.*` and a SUB on the
    literal n-byte subject (byte for byte); a subject differing in its last
    byte reaches only the wildcards."""
    subj = "t." + "x" * (n - 2)
    other = subj[:-1] + "y"
    wild = subscribed(long_server, "> 1", "t.> 2", "t.* 3")
    lit = subscribed(long_server, subj + " 4")
    p = client(long_server)
    p.send(("PUB %s 2\r\nhi\r\nPUB %s 3\r\nbye\r\n" % (subj, other)).encode())
    p.expect_nothing()
    got = sorted(f.raw for f in wild.flush())
    want = sorted([msg(subj, sid, "hi") for sid in (1, 2, 3)] + [msg(other, sid, "bye") for sid in (1, 2, 3)])
    assert got == want, [g[:60] for g in got]
    assert [f.raw for f in lit.flush()] == [msg(subj, 4, "hi")]


def test_long_reply_subject(long_server):
    """A 70000-byte reply subject, with a short and with a 70000-byte subject,
    in PUB and HPUB, is echoed in MSG/HMSG; the responder can publish to it."""
    rep = "_INBOX." + "r" * 70000
    long_subj = "t." + "s" * 70000
    wild = subscribed(long_server, "t.> 1")
    requester = subscribed(long_server, rep + " 9")
    p = client(long_server)
    p.send(("PUB t.a %s 2\r\nhi\r\n" % rep).encode())
    p.send(("PUB %s %s 2\r\nhi\r\n" % (long_subj, rep)).encode())
    p.send(("HPUB t.h %s 12 14\r\nNATS/1.0\r\n\r\nhi\r\n" % rep).encode())
    p.expect_nothing()
    hmsg = ("HMSG t.h 1 %s 12 14\r\n" % rep).encode() + b"NATS/1.0\r\n\r\nhi\r\n"
    assert [f.raw for f in wild.flush()] == [msg("t.a", 1, "hi", reply=rep), msg(long_subj, 1, "hi", reply=rep),
                                            hmsg]
    # The responder answers on the long reply subject.
    p.send(("PUB %s 2\r\nok\r\n" % rep).encode())
    p.expect_nothing()
    assert [f.raw for f in requester.flush()] == [msg(rep, 9, "ok")]


def test_long_hpub_subject(long_server):
    subj = "t." + "h" * 70000
    wild = subscribed(long_server, "> 1")
    p = client(long_server)
    p.send(("HPUB %s 12 14\r\nNATS/1.0\r\n\r\nhi\r\n" % subj).encode())
    p.expect_nothing()
    assert [f.raw for f in wild.flush()] == [("HMSG %s 1 12 14\r\n" % subj).encode() + b"NATS/1.0\r\n\r\nhi\r\n"]


def test_long_sid(long_server):
    """A 70000-byte sid is accepted (no -ERR), echoed in MSG, and found by
    UNSUB with max and by UNSUB; two long sids differing in their last byte
    are two subscriptions."""
    sid = "s" * 70000
    sid2 = "s" * 69999 + "t"
    c = client(long_server)
    c.send("SUB t.a %s\r\nSUB t.a %s\r\n" % (sid, sid2))
    c.expect_nothing()
    p = client(long_server)
    p.send(b"PUB t.a 1\r\nx\r\n")
    p.expect_nothing()
    assert sorted(f.raw for f in c.flush()) == sorted([msg("t.a", sid, "x"), msg("t.a", sid2, "x")])
    # UNSUB max 2 on the first: one more delivery, then gone; the second stays.
    c.send("UNSUB %s 2\r\n" % sid)
    c.expect_nothing()
    for _ in range(3):
        p.send(b"PUB t.a 1\r\ny\r\n")
    p.expect_nothing()
    got = [f.raw for f in c.flush()]
    assert got.count(msg("t.a", sid, "y")) == 1, [g[:40] for g in got]
    assert got.count(msg("t.a", sid2, "y")) == 3
    assert len(got) == 4
    c.send("UNSUB %s\r\n" % sid2)
    c.expect_nothing()
    p.send(b"PUB t.a 1\r\nz\r\n")
    p.expect_nothing()
    assert c.flush() == []
    # The sid is free again.
    c.send("SUB t.b %s\r\n" % sid)
    c.expect_nothing()
    p.send(b"PUB t.b 1\r\nw\r\n")
    p.expect_nothing()
    assert [f.raw for f in c.flush()] == [msg("t.b", sid, "w")]


def test_long_queue_name(long_server):
    """A 70000-byte queue name is accepted; two members of that group get
    each message once between them; a group whose name differs in the last
    byte is another group (one more copy); a long queue name with a long
    sid works too."""
    q = "q" * 70000
    q2 = "q" * 69999 + "r"
    a = subscribed(long_server, "t.q %s 1" % q)
    b = subscribed(long_server, "t.q %s 2" % q)
    other = subscribed(long_server, "t.q %s %s" % (q2, "z" * 70000))
    p = client(long_server)
    n = 20
    p.send(b"PUB t.q 1\r\nx\r\n" * n)
    p.expect_nothing()
    got_a, got_b = [f.raw for f in a.flush()], [f.raw for f in b.flush()]
    assert len(got_a) + len(got_b) == n
    assert set(got_a) <= {msg("t.q", 1, "x")} and set(got_b) <= {msg("t.q", 2, "x")}
    assert [f.raw for f in other.flush()] == [msg("t.q", "z" * 70000, "x")] * n


# ---- why the server closed: /connz?state=closed reasons ----------------------------------

# (what the client sends after CONNECT, what it gets before EOF, the reason
# nats-server 2.9.10 records in /connz?state=closed)
CLOSE_REASONS = {
    "unknown-op": (b"FOO\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", "Protocol Violation"),
    "server-op": (b"MSG foo 1 1\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", "Protocol Violation"),
    "bad-payload-end": (b"PUB foo 3\r\nhello\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", "Protocol Violation"),
    "arg-error": (b"SUB foo\r\n", b"", "Protocol Violation"),
    "max-payload": (b"PUB foo 99999999\r\n", b"-ERR 'Maximum Payload Violation'\r\n",
                    "Maximum Message Payload Exceeded"),
    "max-control-line": (b"SUB " + b"a" * 200 + b" 1\r\n", b"-ERR 'maximum control line exceeded'\r\n",
                         "Maximum Control Line Exceeded"),
    "client-err": (b"-ERR 'bye'\r\n", b"", "Parse Error"),
    "client-close": (None, b"", "Client Closed"),
}


@pytest.mark.parametrize("case", list(CLOSE_REASONS))
def test_closed_reason(make_server, case):
    """The reason /connz?state=closed gives for a connection the server
    closed because of what the client sent (or that the client closed)."""
    data, answer, reason = CLOSE_REASONS[case]
    s = start_monitored(make_server, "max_control_line: 128\n")
    c = named(s, case)
    if data is None:
        c.close()
    else:
        c.send(data)
        assert c.read_to_eof(timeout=5) == answer
    closed = poll(lambda: by_name(s, case, "?state=closed"), 10)
    assert closed, "not in /connz?state=closed"
    assert closed[0].get("reason") == reason


def test_closed_reason_bad_protocol_version(make_server):
    s = start_monitored(make_server, None)
    c = Conn(s.port)
    c.send(b'CONNECT {"protocol":2,"name":"p2"}\r\n')
    assert c.read_to_eof(timeout=5) == b"-ERR 'invalid client protocol'\r\n"
    closed = poll(lambda: by_name(s, "p2", "?state=closed"), 10)
    assert closed, "not in /connz?state=closed"
    assert closed[0].get("reason") == "Bad Client Protocol Version"
