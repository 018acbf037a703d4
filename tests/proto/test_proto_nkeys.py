"""nkey users (nats-compat.md §6.1): with nkey users configured the INFO
carries a `nonce`; a client authenticates with CONNECT `nkey` (its public
key) and `sig`, the ed25519 signature of the nonce (base64url, no padding).
Keys are generated per test (tests/lib/nkeys.py). Both servers."""
import base64
import subprocess

import pytest

from nkeys import PREFIX_ACCOUNT, KeyPair
from proto import Conn, connect_line

BASE = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}


def nkey_conf(*users, extra=""):
    entries = ", ".join(users)
    return "authorization { users: [ %s ] }\n%s" % (entries, extra)


def nkey_login(server, kp, sig=None, nonce_override=None, **opts):
    c = Conn(server.port)
    nonce = c.info.get("nonce")
    assert nonce, c.info
    s = sig if sig is not None else kp.sign(nonce_override or nonce)
    c.send(connect_line(dict(BASE, nkey=kp.public, sig=s, **opts)))
    return c


def works(c):
    c.send(b"SUB n.x 1\r\nPUB n.x 2\r\nok\r\nPING\r\n")
    c.expect(b"MSG n.x 1 2\r\nok\r\nPONG\r\n")


def test_nonce_only_with_nkey_users(make_server):
    plain = make_server(conf="authorization { users: [ {user: a, password: a} ] }\n")
    assert "nonce" not in Conn(plain.port).info
    kp = KeyPair()
    s = make_server(conf=nkey_conf('{nkey: "%s"}' % kp.public))
    info = Conn(s.port).info
    assert info["auth_required"] is True
    assert len(info["nonce"]) == 15  # 11 random bytes, base64url
    assert Conn(s.port).info["nonce"] != info["nonce"]  # one per connection


def test_nkey_user_signs_the_nonce(make_server):
    kp = KeyPair()
    s = make_server(conf=nkey_conf('{nkey: "%s"}' % kp.public))
    works(nkey_login(s, kp))


def test_standard_base64_signature_accepted(make_server):
    kp = KeyPair()
    s = make_server(conf=nkey_conf('{nkey: "%s"}' % kp.public))
    c = Conn(s.port)
    sig = base64.b64encode(kp.key.sign(c.info["nonce"].encode())).decode()
    c.send(connect_line(dict(BASE, nkey=kp.public, sig=sig)))
    works(c)


@pytest.mark.parametrize("how", ["other_key", "wrong_nonce", "garbage_sig", "no_sig", "unknown_nkey"])
def test_bad_nkey_login_refused(make_server, how):
    kp, other = KeyPair(), KeyPair()
    s = make_server(conf=nkey_conf('{nkey: "%s"}' % kp.public))
    c = Conn(s.port)
    nonce = c.info["nonce"]
    nk, sig = kp.public, kp.sign(nonce)
    if how == "other_key":
        sig = other.sign(nonce)
    elif how == "wrong_nonce":
        sig = kp.sign(nonce + "x")
    elif how == "garbage_sig":
        sig = "not-base64-$$$"
    elif how == "no_sig":
        sig = None
    else:
        nk, sig = other.public, other.sign(nonce)
    opts = dict(BASE, nkey=nk)
    if sig is not None:
        opts["sig"] = sig
    c.send(connect_line(opts))
    c.expect_close("Authorization Violation")


def test_nkey_and_password_users_side_by_side(make_server):
    kp = KeyPair()
    s = make_server(conf=nkey_conf('{nkey: "%s"}' % kp.public, "{user: a, password: a}"))
    works(nkey_login(s, kp))
    c = Conn(s.port)
    c.send(connect_line(dict(BASE, user="a", **{"pass": "a"})))
    works(c)
    bad = Conn(s.port)
    bad.send(connect_line(dict(BASE, user="a", **{"pass": "b"})))
    bad.expect_close("Authorization Violation")


def test_nkey_user_in_account_with_permissions(make_server):
    kp = KeyPair()
    conf = ("accounts { A { users: [ {nkey: \"%s\", permissions: {publish: \"n.>\", subscribe: \"n.>\"}},"
            " {user: a, password: a} ] } }\n" % kp.public)
    s = make_server(conf=conf)
    peer = Conn(s.port)
    peer.send(connect_line(dict(BASE, user="a", **{"pass": "a"})) + b"SUB n.y 7\r\nPING\r\n")
    peer.expect(b"PONG\r\n")
    c = nkey_login(s, kp)
    works(c)
    c.send(b"PUB n.y 1\r\nz\r\nPUB other 1\r\nz\r\nPING\r\n")
    c.expect_err('Permissions Violation for Publish to "other"')
    peer.expect(b"MSG n.y 7 1\r\nz\r\n")


@pytest.mark.parametrize("key,ok", [
    ("UBAD", False),
    (None, False),  # an account key where a user key belongs
    ("valid", True),
], ids=["short", "account_key", "valid"])
def test_nkey_config_checked(server_bin, tmp_path, key, ok):
    if key is None:
        key = KeyPair(PREFIX_ACCOUNT).public
    elif key == "valid":
        key = KeyPair().public
    path = tmp_path / "n.conf"
    path.write_text(nkey_conf('{nkey: "%s"}' % key))
    r = subprocess.run([server_bin, "-t", "-c", str(path)], capture_output=True, text=True, timeout=10)
    if ok:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 1 and "Not a valid public nkey for a user" in r.stderr, r.stderr


def test_duplicate_nkey_refused(server_bin, tmp_path):
    kp = KeyPair()
    path = tmp_path / "n.conf"
    path.write_text(nkey_conf('{nkey: "%s"}' % kp.public, '{nkey: "%s"}' % kp.public))
    r = subprocess.run([server_bin, "-t", "-c", str(path)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and 'Duplicate nkey "%s" detected' % kp.public in r.stderr, r.stderr
