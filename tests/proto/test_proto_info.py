"""INFO line sent on connect (nats-compat.md 1.2, 11 "INFO")."""
import json
import re

from proto import Conn, client

# Documented key order of a client INFO (nats-compat.md 1.2). Keys that are
# present must appear in this relative order; unknown keys are an error.
INFO_KEY_ORDER = [
    "server_id", "server_name", "version", "proto", "git_commit", "go", "host", "port",
    "headers", "auth_required", "tls_required", "tls_verify", "tls_available", "max_payload",
    "jetstream", "ip", "client_id", "client_ip", "nonce", "cluster", "cluster_dynamic",
    "domain", "connect_urls", "ws_connect_urls", "ldm", "compression", "connect_info",
    "remote_account", "acc_is_sys", "api_lvl", "xkey",
]


def check_key_order(info):
    keys = list(info)
    unknown = [k for k in keys if k not in INFO_KEY_ORDER]
    assert not unknown, "undocumented INFO keys %r" % unknown
    positions = [INFO_KEY_ORDER.index(k) for k in keys]
    assert positions == sorted(positions), "INFO keys out of order: %r" % keys


def test_info_default(server):
    c = Conn(server.port)
    line = c.info_line
    # Exact framing: "INFO " + compact JSON + " \r\n" (space before CRLF).
    assert re.fullmatch(rb"INFO \{.*\} \r\n", line, re.S), line
    body = line[len(b"INFO "):-len(b" \r\n")]
    info = c.info
    # Compact JSON, no whitespace between tokens: re-encoding gives the same bytes.
    assert json.dumps(info, separators=(",", ":")).encode() == body
    check_key_order(info)

    assert re.fullmatch(r"N[A-Z2-7]{55}", info["server_id"]), info["server_id"]
    assert info["server_name"] == info["server_id"]  # defaults to the id
    assert isinstance(info["version"], str) and re.fullmatch(r"\d+\.\d+\.\d+.*", info["version"])
    assert info["proto"] == 1
    assert isinstance(info["go"], str)
    assert info["host"] == "127.0.0.1"
    assert info["port"] == server.port
    assert info["headers"] is True
    assert info["max_payload"] == 1048576
    assert isinstance(info["client_id"], int) and not isinstance(info["client_id"], bool)
    assert info["client_ip"] == "127.0.0.1"
    for absent in ("auth_required", "tls_required", "tls_verify", "nonce", "connect_urls", "ldm"):
        assert absent not in info, absent
    # The server answers nothing more until spoken to.
    c.expect_nothing()


def test_info_client_id_increases(server):
    a = Conn(server.port)
    b = Conn(server.port)
    assert a.info["server_id"] == b.info["server_id"]
    assert b.info["client_id"] > a.info["client_id"]


def test_info_server_name_and_max_payload_from_config(make_server):
    s = make_server(conf='server_name: "gannet-info-test"\nmax_payload: 1000\n')
    info = Conn(s.port).info
    assert info["server_name"] == "gannet-info-test"
    assert info["max_payload"] == 1000
    assert re.fullmatch(r"N[A-Z2-7]{55}", info["server_id"])
    check_key_order(info)


def test_info_auth_required_with_user(make_server):
    s = make_server(conf="authorization { user: alice, password: pw }\n")
    info = Conn(s.port).info
    assert info["auth_required"] is True
    assert "nonce" not in info  # only with nkey users
    check_key_order(info)


def test_info_auth_required_with_token_flag(make_server):
    s = make_server(args=("--auth", "tok"))
    assert Conn(s.port).info["auth_required"] is True


def test_info_no_auth_user(make_server):
    """no_auth_user: INFO says no auth is required and a client may publish
    without CONNECT (default options: verbose, so +OK)."""
    s = make_server(conf="authorization { users: [{user: a, password: b}] }\nno_auth_user: a\n")
    c = Conn(s.port)
    assert "auth_required" not in c.info
    sub = client(s, connect=b'CONNECT {"verbose":false,"user":"a","pass":"b"}\r\n')
    sub.send(b"SUB foo 1\r\n")
    sub.expect_nothing()
    c.send(b"PUB foo 1\r\na\r\n")
    c.expect_frame(b"+OK\r\n")
    c.expect_nothing()
    assert [f.raw for f in sub.flush()] == [b"MSG foo 1 1\r\na\r\n"]
    # Credentials that are given are still checked.
    bad = Conn(s.port)
    bad.send(b'CONNECT {"user":"a","pass":"wrong"}\r\n')
    bad.expect_close("Authorization Violation")
