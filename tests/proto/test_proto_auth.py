"""Client authentication: user/password, tokens, bcrypt, timeout
(nats-compat.md 1.3, 6.1, 11 "auth").

nkeys, permissions and accounts are covered elsewhere.
"""
import pytest

from proto import Conn, client, connect_line

USER_CONF = "authorization { user: alice, password: s3cr3t }\n"
TOKEN_CONF = 'authorization { token: "tok123" }\n'

# bcrypt hash of the plaintext "s3cr3t" (cost 10, salt "abcdefghijklmnopqrstuu"),
# made with Python's crypt.crypt("s3cr3t", "$2a$10$abcdefghijklmnopqrstuu")
# (libxcrypt) and hard-coded because the crypt module is gone in Python 3.13.
# nats-server 2.9.10 accepts "s3cr3t" against it (test_bcrypt_password_ok).
BCRYPT_PLAIN = "s3cr3t"
BCRYPT_HASH = "$2a$10$abcdefghijklmnopqrstuu/38FEmIU7Hp2rxowjrUXyQTiJ2lnMTu"


def auth_ok(server, **opts):
    """CONNECT with the options must be accepted: PING gets PONG, and the
    connection can publish and subscribe."""
    c = client(server, connect=connect_line(verbose=False, **opts))
    c.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
    assert [f.raw for f in c.flush()] == [b"MSG foo 1 2\r\nhi\r\n"]
    return c


def auth_fails(server, line):
    c = Conn(server.port)
    assert c.info["auth_required"] is True
    c.send(line)
    c.expect_close("Authorization Violation")


# ---- user / password -------------------------------------------------------------------

def test_user_password_ok(make_server):
    s = make_server(conf=USER_CONF)
    auth_ok(s, user="alice", password="s3cr3t")


def test_user_password_verbose_ok(make_server):
    s = make_server(conf=USER_CONF)
    c = Conn(s.port)
    c.send(connect_line(verbose=True, user="alice", password="s3cr3t"))
    c.expect_frame(b"+OK\r\n")
    c.expect_nothing()


@pytest.mark.parametrize("opts", [
    {"user": "alice", "pass": "wrong"},
    {"user": "alice", "pass": ""},
    {"user": "alice"},
    {"user": "bob", "pass": "s3cr3t"},
    {"user": "Alice", "pass": "s3cr3t"},
    {"pass": "s3cr3t"},
    {"auth_token": "s3cr3t"},
    {},
], ids=lambda o: repr(o))
def test_user_password_rejected(make_server, opts):
    s = make_server(conf=USER_CONF)
    auth_fails(s, connect_line(dict(opts, verbose=False)))


@pytest.mark.parametrize("op", [
    b"PING\r\n", b"SUB foo 1\r\n", b"PUB foo 1\r\nx\r\n", b"UNSUB 1\r\n", b"FOO\r\n",
], ids=repr)
def test_op_before_connect_rejected(make_server, op):
    s = make_server(conf=USER_CONF)
    auth_fails(s, op)


def test_nothing_delivered_from_rejected_client(make_server):
    s = make_server(conf=USER_CONF)
    sub = auth_ok(s, user="alice", password="s3cr3t")
    bad = Conn(s.port)
    bad.send(b'CONNECT {"user":"alice","pass":"nope"}\r\nPUB foo 1\r\nx\r\n')
    bad.expect_close("Authorization Violation")
    assert sub.flush() == []


def test_second_connect_is_checked_again(make_server):
    s = make_server(conf=USER_CONF)
    c = auth_ok(s, user="alice", password="s3cr3t")
    c.send(connect_line(verbose=False, user="alice", password="wrong"))
    c.expect_close("Authorization Violation")


# ---- tokens -----------------------------------------------------------------------------

def test_token_from_config(make_server):
    s = make_server(conf=TOKEN_CONF)
    assert Conn(s.port).info["auth_required"] is True
    auth_ok(s, auth_token="tok123")


@pytest.mark.parametrize("opts", [
    {"auth_token": "tok1234"}, {"auth_token": "TOK123"}, {"auth_token": ""},
    {"user": "tok123", "pass": "tok123"}, {},
], ids=lambda o: repr(o))
def test_token_from_config_rejected(make_server, opts):
    s = make_server(conf=TOKEN_CONF)
    auth_fails(s, connect_line(dict(opts, verbose=False)))


def test_token_from_command_line(make_server):
    s = make_server(args=("--auth", "tok456"))
    auth_ok(s, auth_token="tok456")


@pytest.mark.parametrize("opts", [{"auth_token": "tok123"}, {"auth_token": "tok45"}, {}],
                         ids=lambda o: repr(o))
def test_token_from_command_line_rejected(make_server, opts):
    s = make_server(args=("--auth", "tok456"))
    auth_fails(s, connect_line(dict(opts, verbose=False)))


def test_ping_before_connect_with_token(make_server):
    s = make_server(args=("--auth", "tok456"))
    auth_fails(s, b"PING\r\n")


# ---- bcrypt ---------------------------------------------------------------------------------

@pytest.fixture
def bcrypt_server(make_server):
    return make_server(conf='authorization { user: alice, password: "%s" }\n' % BCRYPT_HASH)


def test_bcrypt_password_ok(bcrypt_server):
    auth_ok(bcrypt_server, user="alice", password=BCRYPT_PLAIN)


@pytest.mark.parametrize("password", ["wrong", BCRYPT_HASH, "s3cr3", ""], ids=repr)
def test_bcrypt_password_rejected(bcrypt_server, password):
    # In particular the hash itself is not a valid password.
    auth_fails(bcrypt_server, connect_line(verbose=False, user="alice", password=password))


def test_bcrypt_token(make_server):
    s = make_server(conf='authorization { token: "%s" }\n' % BCRYPT_HASH)
    auth_ok(s, auth_token=BCRYPT_PLAIN)
    auth_fails(s, connect_line(verbose=False, auth_token=BCRYPT_HASH))


def test_bcrypt_in_users_list(make_server):
    s = make_server(conf='authorization { users: [ {user: alice, password: "%s"}, {user: bob, password: plain} ] }\n'
                    % BCRYPT_HASH)
    auth_ok(s, user="alice", password=BCRYPT_PLAIN)
    auth_ok(s, user="bob", password="plain")
    auth_fails(s, connect_line(verbose=False, user="bob", password=BCRYPT_PLAIN))
    auth_fails(s, connect_line(verbose=False, user="alice", password="plain"))


# ---- authentication timeout --------------------------------------------------------------------

TIMEOUT_CONF = "authorization { user: alice, password: s3cr3t, timeout: 1 }\n"


def test_auth_timeout(make_server):
    s = make_server(conf=TIMEOUT_CONF)
    c = Conn(s.port, auto_pong=False)
    c.expect_close("Authentication Timeout", timeout=5)


def test_auth_timeout_partial_connect(make_server):
    """An unfinished CONNECT line does not stop the timer."""
    s = make_server(conf=TIMEOUT_CONF)
    c = Conn(s.port, auto_pong=False)
    c.send(b'CONNECT {"user":"alice",')
    c.expect_close("Authentication Timeout", timeout=5)


def test_auth_timeout_cancelled_by_connect(make_server):
    """A client that authenticated in time is not timed out. Barrier instead
    of a sleep: `late` connects after `ok`, so its timer expires after the
    one `ok` had; once `late` has been timed out, `ok` is checked."""
    s = make_server(conf=TIMEOUT_CONF)
    ok = auth_ok(s, user="alice", password="s3cr3t")
    late = Conn(s.port, auto_pong=False)
    late.expect_close("Authentication Timeout", timeout=5)
    ok.send(b"PUB foo 1\r\nx\r\n")
    assert [f.raw for f in ok.flush()] == [b"MSG foo 1 1\r\nx\r\n"]


# bcrypt of "s3cr3t" at cost 14 (about 1 s here), made with Python's
# crypt.crypt("s3cr3t", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**14)).
SLOW_HASH = "$2b$14$IZ5jpuZ1NKQ50PC0vhYRPOLPcEbK7/CwAgG0GYFN004SsPXHtl4z."


def test_bcrypt_connect_does_not_hold_up_other_clients(make_server, server_bin):
    """A CONNECT whose password takes about a second of bcrypt is checked
    while the server goes on serving the other clients (gannet: on an auth
    worker, with one shard so both clients share it). The check is on
    order: the other client's PINGs are answered before the slow CONNECT's."""
    import os
    import select
    import time
    args = ["--shards", "1"] if os.path.basename(server_bin) == "gannet" else []
    conf = 'authorization { users: [ {user: slow, password: "%s"}, {user: b, password: b} ] }\n' % SLOW_HASH
    s = make_server(conf=conf, args=args)
    b = client(s, connect=connect_line(verbose=False, user="b", password="b"))
    a = Conn(s.port)
    a.send(connect_line(verbose=False, user="slow", password="s3cr3t") + b"PING\r\n")
    time.sleep(0.05)  # a's CONNECT is in the server: its bcrypt has begun
    for _ in range(5):
        b.send(b"PING\r\n")
        b.expect(b"PONG\r\n")
    assert not a.buf and not select.select([a.sock], [], [], 0)[0], "the slow CONNECT was answered first"
    a.expect(b"PONG\r\n", timeout=15)
    a.send(b"SUB x 1\r\nPUB x 1\r\nz\r\nPING\r\n")
    a.expect(b"MSG x 1 1\r\nz\r\nPONG\r\n")


def test_bcrypt_connect_refused_off_the_shard(make_server):
    conf = 'authorization { users: [ {user: slow, password: "%s"} ] }\n' % SLOW_HASH
    s = make_server(conf=conf)
    a = Conn(s.port)
    a.send(connect_line(verbose=False, user="slow", password="wrong") + b"PING\r\n")
    a.expect_close("Authorization Violation", timeout=15)
