"""Handing a connection over to another shard (core/shard.c "handing a
connection over", docs/design.md §17): the old owner stops the input after
the op being processed, drains the output and passes the connection, fd,
parser state and unread input included, to the new owner, which goes on
reading. Route pool connections will move this way once their pool index
is known; until then the test knob GANNET_HANDOVER_TEST=1 hands every
client over to the next shard right after its CONNECT, which exercises the
hardest case: the rest of a pipelined burst is already read.
gannet only (nats-server has no shards)."""
import json
import re
import signal
import socket
import threading
import time
import urllib.request

import pytest

from proto import Conn, connect_line
from servers import GANNET_BIN, Server, free_port, poll, wait_port

MOVED = r"cid:(\d+) - handed over from shard (\d) to shard (\d)"


@pytest.fixture
def hserver(monkeypatch):
    started = []

    def start(shards=2, conf=None):
        monkeypatch.setenv("GANNET_HANDOVER_TEST", "1")
        mport = free_port()
        s = Server(GANNET_BIN, conf=conf, args=("-D", "--shards", str(shards), "-m", str(mport)))
        wait_port(mport, proc=s.proc)
        s.mport = mport
        started.append(s)
        return s

    yield start
    for s in started:
        assert s.stop() == 0, s.log()[-3000:]
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                     "runtime error:"):
            assert mark not in s.log(), s.log()[-6000:]


SYS_SUBS = 5  # gannet's internal $SYS.REQ subscriptions (core/events.c)


def mon(server, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (server.mport, path), timeout=5) as r:
        return json.load(r)


def moves(server):
    return [(int(c), int(a), int(b)) for c, a, b in re.findall(MOVED, server.log())]


def shard_counts(server, field):
    return [s[field] for s in mon(server, "/shardz")["shards"]]


def test_pipelined_burst_after_connect_is_read_in_order_by_the_new_owner(hserver):
    srv = hserver()
    c = Conn(srv.port)
    n = 20000
    pubs = b"".join(b"PUB foo 6\r\nm%05d\r\n" % i for i in range(n))
    # one write: CONNECT, SUB, 20000 PUBs and a PING, most of it read before the move
    c.send(connect_line(verbose=False) + b"SUB foo 1\r\n" + pubs + b"PING\r\n")
    for i in range(n):
        c.expect(b"MSG foo 1 6\r\nm%05d\r\n" % i)
    c.expect(b"PONG\r\n")
    (cid, src, dst), = poll(lambda: moves(srv), 5)
    assert src != dst
    # the subscription was made by the new owner, which holds the connection
    counts = shard_counts(srv, "subscriptions")
    counts[0] -= SYS_SUBS  # shard 0 holds the system account's request subscriptions
    assert counts[dst] == 1 and counts[src] == 0, counts
    conns = shard_counts(srv, "connections")
    assert conns[dst] == 1 and conns[src] == 0, conns
    assert mon(srv, "/connz")["connections"][0]["cid"] == cid


def test_verbose_acks_before_and_after_the_move_keep_their_order(hserver):
    srv = hserver()
    c = Conn(srv.port)
    c.send(connect_line(verbose=True) + b"SUB a 1\r\nPUB a 2\r\nhi\r\nUNSUB 1\r\nPING\r\n")
    c.expect(b"+OK\r\n+OK\r\n+OK\r\nMSG a 1 2\r\nhi\r\n+OK\r\nPONG\r\n")
    c.expect_nothing()
    assert len(poll(lambda: moves(srv), 5)) == 1


def test_connect_split_across_writes(hserver):
    """The CONNECT arrives in pieces and the next ops in a later write: the move
    happens with nothing unread, the new owner's recv gets the rest."""
    srv = hserver()
    c = Conn(srv.port)
    line = connect_line(verbose=False)
    c.send_bytewise(line)
    assert len(poll(lambda: moves(srv), 5)) == 1
    c.send(b"SUB x 9\r\nPUB x 1\r\nz\r\nPING\r\n")
    c.expect(b"MSG x 9 1\r\nz\r\nPONG\r\n")


def test_moved_clients_exchange_messages_across_shards(hserver):
    srv = hserver()
    k = 24
    clients = []
    for i in range(k):
        c = Conn(srv.port)
        c.send(connect_line(verbose=False) + b"SUB to.%d %d\r\nPING\r\n" % (i, i))
        clients.append(c)
    for c in clients:
        c.expect(b"PONG\r\n")
    assert len(poll(lambda: len(moves(srv)) >= k and moves(srv), 5)) == k
    for i, c in enumerate(clients):
        c.send(b"".join(b"PUB to.%d 4\r\n%04d\r\n" % (j, i) for j in range(k)) + b"PING\r\n")
    for j, c in enumerate(clients):
        got, pong = [], False
        while len(got) < k or not pong:
            f = c.frame()
            if f.raw == b"PONG\r\n":
                pong = True
            else:
                assert f.raw.startswith(b"MSG to.%d %d 4\r\n" % (j, j)), f.raw
                got.append(f.raw[-6:-2])
        assert sorted(got) == [b"%04d" % i for i in range(k)]
    for c in clients:
        c.close()
    assert poll(lambda: sum(shard_counts(srv, "connections")) == 0, 5)


def test_peer_gone_during_the_move_leaks_nothing(hserver):
    """Clients that send CONNECT and close at once, or reset the connection: the
    move meets EOF on either side; every connection is accounted for and the
    server serves others (ASan's leak check at exit covers the memory)."""
    srv = hserver()
    line = connect_line(verbose=False) + b"SUB q 1\r\nPUB q 1\r\nx\r\n" * 50
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(line)
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    # a connection in flight between two shards is in neither's count but in
    # the server's: wait for both to reach 0
    gone = poll(lambda: sum(shard_counts(srv, "connections")) == 0 and mon(srv, "/varz")["connections"] == 0, 20)
    assert gone, (shard_counts(srv, "connections"), mon(srv, "/varz")["connections"])
    c = Conn(srv.port)
    c.send(connect_line(verbose=False) + b"SUB ok 1\r\nPUB ok 2\r\nok\r\nPING\r\n")
    c.expect(b"MSG ok 1 2\r\nok\r\nPONG\r\n")


def test_one_shard_never_moves(hserver):
    srv = hserver(shards=1)
    c = Conn(srv.port)
    c.send(connect_line(verbose=False) + b"PING\r\n")
    c.expect(b"PONG\r\n")
    time.sleep(0.1)
    assert moves(srv) == []


def test_reload_while_a_connection_is_in_flight(hserver):
    """A reload can come while a connection sits in a command queue between
    two shards, where no shard reconfigures it; the grace period does not
    wait for it either, so its permissions pointed into the freed old
    configuration (a use-after-free ASan caught within a second of this
    loop). The new owner now catches up before parsing its input. Reloads
    every 2 ms while clients connect, publish (checked against their
    user's permissions) and ping."""
    conf = 'authorization { users: [ {user: u, password: p, permissions: { publish: { deny: ["d.%d"] } } } ] }\n'
    srv = hserver(conf=conf % 0)
    stop = threading.Event()

    def reloads():
        i = 0
        while not stop.is_set():
            i += 1
            with open(srv.conf_path, "w") as f:
                f.write(conf % i)
            srv.proc.send_signal(signal.SIGHUP)
            time.sleep(0.002)

    t = threading.Thread(target=reloads)
    t.start()
    n, deadline = 0, time.monotonic() + 2
    try:
        while time.monotonic() < deadline:
            c = Conn(srv.port)
            c.send(connect_line(verbose=False, pedantic=False, user="u", password="p")
                   + b"PUB x.1 1\r\nx\r\nPUB x.2 1\r\nx\r\nPING\r\n")
            c.read_until(b"PONG\r\n")
            c.close()
            n += 1
    finally:
        stop.set()
        t.join()
    assert srv.proc.poll() is None
    assert n > 100 and len(moves(srv)) > 100, (n, len(moves(srv)))
