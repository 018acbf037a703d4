"""Reload (SIGHUP) and lame duck mode (SIGUSR2), observed from clients.

Runs against gannet and nats-server alike: both must behave the same way
(nats-compat.md §7.4, §9). Waits are bounded; nothing asserts a duration.
"""
import os
import signal
import socket
import time

from proto import Conn, ProtoError, client, connect_line, msg


def wait_log(server, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.log():
            return
        time.sleep(0.05)
    raise AssertionError("%r not in log:\n%s" % (text, server.log()[-3000:]))


def rewrite(server, conf):
    with open(server.conf_path, "w") as f:
        f.write(conf)


def proto_client(server, **creds):
    """A protocol-1 client that has had its first PONG (needed for async INFO)."""
    return client(server, connect=connect_line(verbose=False, pedantic=False, protocol=1, **creds))


# ---- reload ----------------------------------------------------------------------------

# A users list: with a single `user`/`password` nats-server 2.9.10 drops every
# client silently on any reload (it rebuilds its accounts), a quirk gannet
# does not copy; with a users list both servers keep the clients whose
# credentials still hold.
AUTH_B = 'authorization { users: [{user: a, password: b}] }\nmax_payload: 1000\n'
AUTH_C = 'authorization { users: [{user: a, password: c}] }\nmax_payload: 5000\n'


def test_reload_applies_auth_and_limits(make_server):
    s = make_server(conf=AUTH_B)
    old = proto_client(s, user="a", password="b")
    other = proto_client(s, user="a", password="b")
    other.send(b"PUB foo 2000\r\n" + b"x" * 2000 + b"\r\n")
    other.expect_close("Maximum Payload Violation")

    rewrite(s, AUTH_C)
    s.proc.send_signal(signal.SIGHUP)
    wait_log(s, "Reloaded server configuration")
    # A client whose credentials no longer hold is disconnected.
    old.expect_close("Authorization Violation")
    # The new password works and the new limit applies.
    new = proto_client(s, user="a", password="c")
    new.send(b"SUB foo 1\r\nPUB foo 2000\r\n" + b"x" * 2000 + b"\r\n")
    assert [f.raw for f in new.flush()] == [msg("foo", 1, b"x" * 2000)]
    bad = Conn(s.port)
    bad.send(connect_line(verbose=False, user="a", password="b"))
    bad.expect_close("Authorization Violation")


def test_reload_keeps_clients_when_auth_unchanged(make_server):
    s = make_server(conf=AUTH_B)
    c = proto_client(s, user="a", password="b")
    c.send(b"SUB foo 1\r\n")
    c.expect_nothing()
    rewrite(s, AUTH_B.replace("1000", "2000"))
    s.proc.send_signal(signal.SIGHUP)
    wait_log(s, "Reloaded server configuration")
    p = proto_client(s, user="a", password="b")
    p.send(b"PUB foo 1500\r\n" + b"y" * 1500 + b"\r\n")
    p.expect_nothing()
    assert [f.raw for f in c.flush()] == [msg("foo", 1, b"y" * 1500)]


def test_reload_with_bad_file_keeps_running_config(make_server):
    s = make_server(conf=AUTH_B)
    rewrite(s, "authorization { user: a, password: c \n")  # unterminated block
    s.proc.send_signal(signal.SIGHUP)
    wait_log(s, "Failed to reload")
    assert s.proc.poll() is None
    proto_client(s, user="a", password="b").expect_nothing()


def test_reload_without_config_file_is_refused(make_server):
    s = make_server()
    s.proc.send_signal(signal.SIGHUP)
    wait_log(s, "can only reload config when a file is provided using -c or --config")
    assert s.proc.poll() is None
    client(s).expect_nothing()


# ---- lame duck mode ------------------------------------------------------------------------

LDM = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "2s"\n'


def expect_eof_after_pings(c, timeout=15):
    """The server closes the connection; keepalive PINGs may come first."""
    data = c.read_to_eof(timeout=timeout)
    assert data.replace(b"PING\r\n", b"") == b"", data


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_lame_duck_drains_clients_then_exits(make_server):
    s = make_server(conf=LDM)
    c = proto_client(s)
    s.proc.send_signal(signal.SIGUSR2)
    # Clients are told: an INFO with "ldm": true.
    f = c.frame(timeout=5)
    assert f.op == "INFO" and f.info.get("ldm") is True, f
    wait_log(s, "Entering lame duck mode, stop accepting new clients")
    assert refused(s.port)
    # After the grace period the client is closed, then the server exits 0.
    expect_eof_after_pings(c)
    assert s.proc.wait(timeout=15) == 0


def test_lame_duck_without_clients_exits_at_once(make_server):
    s = make_server(conf=LDM)
    s.proc.send_signal(signal.SIGUSR2)
    assert s.proc.wait(timeout=10) == 0


def test_sigterm_in_lame_duck_is_ignored(make_server):
    s = make_server(conf=LDM)
    c = proto_client(s)
    s.proc.send_signal(signal.SIGUSR2)
    wait_log(s, "Entering lame duck mode")
    f = c.frame(timeout=5)
    assert f.op == "INFO" and f.info.get("ldm") is True, f
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # let the signal be handled; a server that obeys it is gone by then
    assert s.proc.poll() is None
    c.expect_nothing()  # still served during the grace period
    expect_eof_after_pings(c)
    assert s.proc.wait(timeout=15) == 0


def test_reload_changing_one_password_keeps_other_users(make_server):
    """Changing one user's password drops only that user's clients."""
    two = 'authorization { users: [{user: a, password: a1}, {user: b, password: %s}] }\n'
    s = make_server(conf=two % "b1")
    ca = proto_client(s, user="a", password="a1")
    cb = proto_client(s, user="b", password="b1")
    ca.send(b"SUB foo 1\r\n")
    ca.expect_nothing()
    rewrite(s, two % "b2")
    s.proc.send_signal(signal.SIGHUP)
    wait_log(s, "Reloaded server configuration")
    cb.expect_close("Authorization Violation")
    p = proto_client(s, user="b", password="b2")
    p.send(b"PUB foo 2\r\nhi\r\n")
    p.expect_nothing()
    assert [f.raw for f in ca.flush()] == [msg("foo", 1, b"hi")]
