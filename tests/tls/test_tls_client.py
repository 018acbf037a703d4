"""TLS on the client port: INFO, handshake, verification, failures, mapping.

Observed with nats-server 2.9.10 (Debian /usr/sbin/nats-server, Go 1.19.8),
Python's ssl (OpenSSL 3.0) as the client; gannet must do the same:

INFO
- With `tls { cert_file, key_file }` the server first sends the usual
  plaintext `INFO {...} \\r\\n`, keys in this order:
  server_id, server_name, version, proto, go, host, port, headers,
  tls_required, max_payload, client_id, client_ip -- i.e. the bytes
  `"headers":true,"tls_required":true,"max_payload":1048576`. With
  `verify: true` (or verify_and_map) `"tls_verify":true` follows
  tls_required; with users, `"auth_required":true` precedes tls_required.
  Then it waits for the client's ClientHello; after the handshake,
  CONNECT/PING/SUB/PUB work as usual inside TLS.
- Startup log line: `TLS required for client connections`.
- `allow_non_tls: true` + tls: INFO has `"tls_available":true` (in place of
  tls_required, right after headers) and both plaintext and TLS clients work.
- The python client negotiates TLSv1.3 with TLS_AES_128_GCM_SHA256 (Go picks
  AES-128-GCM first among the client's TLS 1.3 suites).

Failures (all end with /connz?state=closed reason "TLS Handshake Failure")
- verify: true and no client cert / a cert of an unknown CA: with TLS 1.3 the
  client's side of the handshake completes, then its first read gets a fatal
  bad_certificate alert (ssl reason SSLV3_ALERT_BAD_CERTIFICATE); with a
  TLS 1.2 client the alert comes during the handshake. Log:
  `TLS handshake error: tls: client didn't provide a certificate` /
  `...: tls: failed to verify client certificate: x509: certificate signed
  by unknown authority`.
- Plaintext CONNECT+PING after INFO: nothing is sent back, the connection is
  closed at once (log `TLS handshake error: tls: first record does not look
  like a TLS handshake`); the same for any first bytes that are not a TLS
  handshake/alert record (no alert is sent).
- A client that reads INFO and then stays silent: closed after tls.timeout
  (0.5 s here), nothing sent; log `cid:N - TLS handshake timeout` (Go logs
  that from its timer; when the handshake's read deadline fires first, only
  `TLS handshake error: read tcp ...: i/o timeout` -- either is accepted).
  The same for a partial ClientHello.
- TLS-looking garbage: an SSLv2-style hello (first byte 0x80) gets a fatal
  protocol_version alert (description 70), a handshake record longer than
  2^14+256 a fatal record_overflow alert (22), then EOF. (The alert record's
  version bytes are 03 01 from Go; any 03 0x is accepted here.)
- TLS 1.1 client: fatal protocol_version alert (TLSV1_ALERT_PROTOCOL_VERSION);
  TLS 1.2 minimum.
- Cipher suite / curve mismatch: fatal handshake_failure alert
  (SSLV3_ALERT_HANDSHAKE_FAILURE). Without cipher_suites, TLS 1.2 offers
  only ECDHE AEAD suites (ECDHE-RSA-AES128/256-GCM, ECDHE-RSA-CHACHA20 work;
  AES128-GCM-SHA256, ECDHE-RSA-AES128-SHA, AES256-SHA are refused);
  cipher_suites restricts TLS 1.2 only (TLS 1.3 keeps its suites);
  curve_preferences [CurveP384]: a client offering only P-256 is refused,
  one with P-384 (or the default list, via HelloRetryRequest) works.
- pinned_certs, cert not pinned: the handshake completes on the client side,
  then the server closes with a close_notify (no error alert, no -ERR); log `TLS handshake error:
  certificate not pinned`. Pins are hex sha256 of the SPKI, case-insensitive.
  Without verify the server does not ask for a client cert, so every client
  is "not pinned".
- An expired server certificate is loaded and served (the server starts); a
  verifying client fails with "certificate has expired".

Auth timeout
- With tls, the default auth_timeout (/varz) is tls timeout + 1 s: 3 by
  default, 1.5 with timeout 0.5; `authorization { timeout: 5 }` overrides.
  A TLS client that completes the handshake and sends no CONNECT gets
  `-ERR 'Authentication Timeout'` (then close_notify) about 1.5 s after
  connecting (users configured, tls timeout 0.5).

Closing after the handshake
- Every close by the server of an established TLS connection sends a TLS
  close_notify alert before the TCP FIN: after `-ERR 'Authorization
  Violation'`, `-ERR 'Maximum Payload Violation'`, `-ERR 'Unknown Protocol
  Operation'`, `PING\\r\\n-ERR 'Stale Connection'\\r\\n` (ping_interval 200ms,
  ping_max 1), a pinned_certs refusal (no -ERR), and at server shutdown
  (SIGTERM, no -ERR).

Non-TLS server
- CONNECT with "tls_required":true to a server without TLS: ignored, PONG
  (and +OK when verbose).
- A TLS ClientHello sent to a server without TLS: `-ERR 'Unknown Protocol
  Operation'\\r\\n`, then close.

verify_and_map (users in authorization)
- The identity tried first is each email SAN, then DNS SANs, then the subject
  DN; the DN matches in RFC 4514 form "CN=alice,O=Gannet Test", also
  reversed ("O=Gannet Test,CN=bob") and with lowercase attribute types and
  spaces ("cn=bob, o=Gannet Test"). /connz?auth=1 authorized_user is the
  matching user entry as written.
- A cert that maps to no user: `-ERR 'Authorization Violation'\\r\\n` then
  close (reason "Authentication Failure"); a mapped cert with user/pass in
  CONNECT: the same (log `User "x" found in connect proto, but user required
  from cert`). tls_verify is true in INFO and /varz.

monitoring: /connz of an open TLS connection has "tls_version" ("1.3",
"1.2") and "tls_cipher_suite" (Go's names: "TLS_AES_128_GCM_SHA256",
"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"); /varz has tls_required: true,
tls_verify: true (absent when false), tls_timeout (seconds as a number: 2 by
default, 0.5, `"1s"` gives 1, `"500ms"` 0.5, 0 gives the default 2).
Connections still in the handshake count in /varz "connections" (200
half-open ones: 200) until the handshake timeout closes them (back to 0).
"""
import os
import re
import ssl
import subprocess
import time

import pytest

from proto import C0, Conn, client, msg
from servers import poll
from tlshelp import (CERT_REFUSED_ALERTS, TLSConn, attempt, client_ctx, closed_conn, get_json, mon_conf, open_conn, read_to_close, tls_block,
                     wait_log)

INFO_KEYS_TLS = ["server_id", "server_name", "version", "proto", "go", "host", "port", "headers", "tls_required",
                 "max_payload", "client_id", "client_ip"]
INFO_KEYS_VERIFY = INFO_KEYS_TLS[:9] + ["tls_verify"] + INFO_KEYS_TLS[9:]
HANDSHAKE_FAILURE = "TLS Handshake Failure"

# OpenSSL name -> Go (IANA) name of the TLS 1.2 suites used here
SUITES_12 = {
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
}
TLS12 = ssl.TLSVersion.TLSv1_2


def tls_server(make_server, certs, extra="", monitor=True, **tls):
    """Server with a tls block (opts as tls_block keywords) and, if monitor,
    an http listener; returns (server, monitoring port or None)."""
    mline, mport = mon_conf() if monitor else ("", None)
    s = make_server(conf=mline + tls_block(certs, **tls) + extra)
    return s, mport


def pubsub_roundtrip(c, subject="tls.x", payload=b"hello over tls", sid=1):
    c.send(b"SUB %s %d\r\n" % (subject.encode(), sid))
    c.send(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))
    c.expect_frame(msg(subject, sid, payload))
    c.expect_nothing()


# ---- 1. INFO and a working TLS connection ------------------------------------------------------

def test_info_plaintext_tls_required_then_tls(make_server, certs):
    s, _ = tls_server(make_server, certs, monitor=False)
    c = Conn(s.port)
    assert list(c.info) == INFO_KEYS_TLS, c.info_line
    assert b',"headers":true,"tls_required":true,"max_payload":1048576,' in c.info_line
    assert c.info["tls_required"] is True
    assert wait_log(s, r"TLS required for client connections$")
    c.close()

    t = TLSConn(s.port, client_ctx(certs), server_hostname="localhost")
    assert t.version == "TLSv1.3"
    assert t.cipher == "TLS_AES_128_GCM_SHA256"
    t.send(b"PING\r\n")
    t.expect_frame(b"PONG\r\n")
    pubsub_roundtrip(t)


def test_tls_via_ip_san(make_server, certs):
    s, _ = tls_server(make_server, certs, monitor=False)
    t = TLSConn(s.port, client_ctx(certs), server_hostname="127.0.0.1")
    pubsub_roundtrip(t, "tls.ip")


def test_tls_verbose_connect_and_two_clients(make_server, certs):
    s, _ = tls_server(make_server, certs, monitor=False)
    a = TLSConn(s.port, client_ctx(certs), connect=b'CONNECT {"verbose":true}\r\n')
    b = TLSConn(s.port, client_ctx(certs))
    a.send(b"SUB tls.two 7\r\n")
    a.expect_frame(b"+OK\r\n")
    a.flush()
    big = bytes(range(256)) * 1000  # 256000 bytes: many TLS records each way
    b.send(b"PUB tls.two reply.x %d\r\n" % len(big) + big + b"\r\n")
    b.flush()
    f = a.frame()
    assert f.op == "MSG" and f.subject == "tls.two" and f.sid == "7" and f.reply == "reply.x"
    assert f.payload == big


def test_tls_connect_line_split_across_records(make_server, certs):
    """Each byte is its own TLS record: the parser sees every split point."""
    s, _ = tls_server(make_server, certs, monitor=False)
    t = TLSConn(s.port, client_ctx(certs), connect=None)
    t.send_bytewise(C0 + b"SUB a.b 1\r\nPUB a.b 2\r\nhi\r\nPING\r\n")
    t.expect_frame(msg("a.b", 1, b"hi"))
    t.expect_frame(b"PONG\r\n")


def test_ecdsa_server_cert(make_server, certs):
    s, mport = tls_server(make_server, certs, pair=certs.server_ec)
    t = TLSConn(s.port, client_ctx(certs))
    pubsub_roundtrip(t, "tls.ec")
    t12 = TLSConn(s.port, client_ctx(certs, max_version=TLS12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
    assert (t12.version, t12.cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    c = open_conn(mport, t12.local_port)
    assert (c["tls_version"], c["tls_cipher_suite"]) == ("1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")


def test_expired_server_cert_is_served(make_server, certs):
    s, _ = tls_server(make_server, certs, monitor=False, pair=certs.server_expired)
    a = attempt(s.port, client_ctx(certs))
    assert not a.handshake and a.alert == "CERTIFICATE_VERIFY_FAILED"
    assert a.verify_message == "certificate has expired"
    t = TLSConn(s.port, client_ctx(certs, verify=False))
    pubsub_roundtrip(t, "tls.expired")


def test_allow_non_tls(make_server, certs):
    s, _ = tls_server(make_server, certs, monitor=False, extra="allow_non_tls: true\n")
    c = client(s)
    assert "tls_required" not in c.info and c.info["tls_available"] is True
    assert b',"headers":true,"tls_available":true,"max_payload":1048576,' in c.info_line
    t = TLSConn(s.port, client_ctx(certs))
    c.send(b"SUB mixed 1\r\n")
    c.flush()
    t.send(b"PUB mixed 2\r\nok\r\n")
    t.flush()
    c.expect_frame(msg("mixed", 1, b"ok"))


# ---- 2. verify: true ---------------------------------------------------------------------------

def test_verify_info_and_client_certs(make_server, certs):
    s, mport = tls_server(make_server, certs, ca=True, verify=True)
    c = Conn(s.port)
    assert list(c.info) == INFO_KEYS_VERIFY, c.info_line
    assert b'"tls_required":true,"tls_verify":true,"max_payload"' in c.info_line
    c.close()
    t = TLSConn(s.port, client_ctx(certs, cert=certs.alice))
    pubsub_roundtrip(t, "tls.verified")


@pytest.mark.parametrize("who", ["none", "untrusted"])
@pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
def test_verify_rejects(make_server, certs, who, tls12):
    s, mport = tls_server(make_server, certs, ca=True, verify=True)
    ctx = client_ctx(certs, cert=None if who == "none" else certs.mallory, max_version=TLS12 if tls12 else None)
    a = attempt(s.port, ctx)
    assert a.alert in CERT_REFUSED_ALERTS, a
    assert a.data == b""
    if tls12:
        assert not a.handshake  # the alert ends the handshake
    c = closed_conn(mport, a.local_port)
    assert c is not None and c["reason"] == HANDSHAKE_FAILURE, c
    assert "tls_version" not in c
    # the server is fine
    pubsub_roundtrip(TLSConn(s.port, client_ctx(certs, cert=certs.alice)), "tls.after")


# ---- 3. plaintext client on a TLS port ---------------------------------------------------------

def test_plaintext_client_on_tls_port(make_server, certs):
    s, mport = tls_server(make_server, certs, timeout=30)  # closed at once, not by the timeout
    c = Conn(s.port)
    port = c.sock.getsockname()[1]
    c.send(C0 + b"PING\r\n")
    assert c.read_to_eof(timeout=5) == b""
    assert closed_conn(mport, port)["reason"] == HANDSHAKE_FAILURE
    assert wait_log(s, r"TLS handshake error: tls: first record does not look like a TLS handshake")


# ---- 4. handshake timeout ----------------------------------------------------------------------

def test_handshake_timeout(make_server, certs):
    s, mport = tls_server(make_server, certs, timeout=0.5)
    assert get_json(mport, "/varz")["tls_timeout"] == 0.5
    c = Conn(s.port)
    port = c.sock.getsockname()[1]
    t0 = time.monotonic()
    data = c.read_to_eof(timeout=5)
    waited = time.monotonic() - t0
    assert data == b""
    assert waited >= 0.3, "closed after %.2fs, before the 0.5s handshake timeout" % waited
    assert closed_conn(mport, port)["reason"] == HANDSHAKE_FAILURE
    # Go logs "TLS handshake timeout" from its timer, or only the handshake's
    # read error when the read deadline fires first
    assert wait_log(s, r"cid:\d+ - TLS handshake (timeout|error: read .*: i/o timeout)$")


def test_partial_client_hello_times_out(make_server, certs):
    s, mport = tls_server(make_server, certs, timeout=0.5)
    c = Conn(s.port)
    c.send(b"\x16\x03\x01\x00\x40" + b"\x01\x00")  # a handshake record header, then nothing
    t0 = time.monotonic()
    assert c.read_to_eof(timeout=5) == b""
    assert time.monotonic() - t0 >= 0.3


@pytest.mark.parametrize("tls_timeout,auth,want", [
    (None, "", 3), (0.5, "", 1.5), (None, "authorization { user: a, password: b }\n", 3),
    (0.5, "authorization { user: a, password: b, timeout: 5 }\n", 5),
], ids=["default", "tls-0.5", "auth-default", "auth-explicit"])
def test_auth_timeout_follows_tls_timeout(make_server, certs, tls_timeout, auth, want):
    opts = {} if tls_timeout is None else {"timeout": tls_timeout}
    s, mport = tls_server(make_server, certs, extra=auth, **opts)
    assert get_json(mport, "/varz")["auth_timeout"] == want


def test_auth_timeout_over_tls(make_server, certs):
    """Handshake done, no CONNECT: the auth timer (tls timeout + 1 s) fires,
    not the handshake timer."""
    s, _ = tls_server(make_server, certs, monitor=False, timeout=0.5,
                      extra="authorization { user: a, password: b }\n")
    t0 = time.monotonic()
    t = TLSConn(s.port, client_ctx(certs), connect=None, suppress_ragged_eofs=False)
    assert read_to_close(t.sock, timeout=6) == (b"-ERR 'Authentication Timeout'\r\n", "close_notify")
    waited = time.monotonic() - t0
    assert waited >= 1.0, "closed after %.2fs, before the 1.5s auth timeout" % waited


# ---- 5. garbage instead of a handshake ---------------------------------------------------------

def alert_record(data):
    """(level, description) of data if it is exactly one TLS alert record."""
    m = re.fullmatch(rb"\x15\x03[\x01-\x04]\x00\x02([\x01\x02])(.)", data, re.S)
    return (m.group(1)[0], m.group(2)[0]) if m else None


@pytest.mark.parametrize("garbage,alert", [
    (b"\x01\x02\x03 not a tls record\r\n" * 10, None),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None),
    (b"\x15\x03\x03\x00\x02\x02\x28", None),  # the client's own fatal alert: nothing back
    (b"\x80\x2e\x01\x03\x01" + b"\x00" * 40, 70),  # SSLv2 hello -> protocol_version
    (b"\x16\x03\x03\xff\xff" + b"a" * 10, 22),  # record longer than 2^14+256 -> record_overflow
], ids=["not-tls", "http", "client-alert", "sslv2", "oversized-record"])
def test_garbage_handshake(make_server, certs, garbage, alert):
    s, mport = tls_server(make_server, certs, timeout=30)
    c = Conn(s.port)
    port = c.sock.getsockname()[1]
    c.send(garbage)
    data = c.read_to_eof(timeout=5)
    if alert is None:
        assert data == b""
    else:
        assert alert_record(data) == (2, alert), data
    assert closed_conn(mport, port)["reason"] == HANDSHAKE_FAILURE
    pubsub_roundtrip(TLSConn(s.port, client_ctx(certs)), "tls.after.garbage")


@pytest.mark.parametrize("garbage", [
    b"\x16\x03\x01\x00\x10" + b"\x00" * 16,
    b"\x16\x03\x01\x00\x10" + b"\xff" * 16,
    b"\x16\x03\x01\x00\x2c\x01\x00\x00\x28" + bytes(range(40)),
], ids=["hello-request", "junk-type", "bad-client-hello"])
def test_malformed_handshake_record(make_server, certs, garbage):
    """A handshake record with a bogus message: at most one fatal alert, then
    close (Go sends unexpected_message / internal_error / decode_error here;
    the exact description is not checked)."""
    s, mport = tls_server(make_server, certs, timeout=30)
    c = Conn(s.port)
    c.send(garbage)
    data = c.read_to_eof(timeout=5)
    assert data == b"" or (alert_record(data) or (0,))[0] == 2, data
    pubsub_roundtrip(TLSConn(s.port, client_ctx(certs)), "tls.after.malformed")


# ---- 6. TLS asked of a server without TLS ------------------------------------------------------

def test_connect_tls_required_to_plain_server(make_server):
    s = make_server()
    c = Conn(s.port)
    assert "tls_required" not in c.info
    c.send(b'CONNECT {"verbose":false,"tls_required":true}\r\nPING\r\n')
    c.expect_frame(b"PONG\r\n")
    v = Conn(s.port)
    v.send(b'CONNECT {"verbose":true,"tls_required":true}\r\nPING\r\n')
    v.expect_frame(b"+OK\r\n")
    v.expect_frame(b"PONG\r\n")


def test_client_hello_to_plain_server(make_server, certs):
    s = make_server()
    c = Conn(s.port)
    out, inc = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx(certs).wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = out.read()
    assert hello[:1] == b"\x16"
    c.send(hello)
    c.expect_frame(b"-ERR 'Unknown Protocol Operation'\r\n")
    c.expect_eof()


# ---- 8. cipher suites, curves, versions, monitoring fields -------------------------------------

def test_connz_and_varz_tls_fields(make_server, certs):
    s, mport = tls_server(make_server, certs, ca=True, verify=True)
    t = TLSConn(s.port, client_ctx(certs, cert=certs.alice))
    c = open_conn(mport, t.local_port)
    assert c["tls_version"] == "1.3" and c["tls_cipher_suite"] == "TLS_AES_128_GCM_SHA256", c
    keys = list(c)
    assert keys[-2:] == ["tls_version", "tls_cipher_suite"], keys  # after subscriptions
    v = get_json(mport, "/varz")
    assert v["tls_required"] is True and v["tls_verify"] is True and v["tls_timeout"] == 2
    port = t.local_port
    t.close()
    c = closed_conn(mport, port)
    assert c["reason"] == "Client Closed" and c["tls_version"] == "1.3"


def test_varz_without_verify(make_server, certs):
    s, mport = tls_server(make_server, certs)
    v = get_json(mport, "/varz")
    assert v["tls_required"] is True and "tls_verify" not in v and v["tls_timeout"] == 2


@pytest.mark.parametrize("value,seconds", [("2", 2), ("0.5", 0.5), ('"1s"', 1), ('"500ms"', 0.5), ("3", 3),
                                           ("0", 2)])
def test_tls_timeout_forms(make_server, certs, value, seconds):
    mline, mport = mon_conf()
    block = tls_block(certs).replace("}\n", "  timeout: %s\n}\n" % value)
    make_server(conf=mline + block)
    assert get_json(mport, "/varz")["tls_timeout"] == seconds


def test_cipher_suites_restricted(make_server, certs):
    s, mport = tls_server(make_server, certs, cipher_suites=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    t = TLSConn(s.port, client_ctx(certs, max_version=TLS12))
    assert (t.version, t.cipher) == ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    c = open_conn(mport, t.local_port)
    assert (c["tls_version"], c["tls_cipher_suite"]) == ("1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    pubsub_roundtrip(t, "tls.suite")
    a = attempt(s.port, client_ctx(certs, max_version=TLS12, ciphers="ECDHE-RSA-AES256-GCM-SHA384"))
    assert not a.handshake and a.alert == "SSLV3_ALERT_HANDSHAKE_FAILURE", a
    # cipher_suites does not apply to TLS 1.3
    t13 = TLSConn(s.port, client_ctx(certs))
    assert (t13.version, t13.cipher) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")


@pytest.mark.parametrize("ossl", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                                  "ECDHE-RSA-CHACHA20-POLY1305"])
def test_default_tls12_suites(make_server, certs, ossl):
    s, mport = tls_server(make_server, certs)
    t = TLSConn(s.port, client_ctx(certs, max_version=TLS12, ciphers=ossl))
    assert (t.version, t.cipher) == ("TLSv1.2", ossl)
    assert open_conn(mport, t.local_port)["tls_cipher_suite"] == SUITES_12[ossl]


@pytest.mark.parametrize("ossl", ["AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "AES256-SHA"])
def test_non_default_tls12_suites_refused(make_server, certs, ossl):
    """Without cipher_suites only the ECDHE AEAD suites are enabled."""
    s, _ = tls_server(make_server, certs, monitor=False)
    a = attempt(s.port, client_ctx(certs, max_version=TLS12, ciphers=ossl))
    assert not a.handshake and a.alert == "SSLV3_ALERT_HANDSHAKE_FAILURE", a


def test_tls11_refused(make_server, certs):
    s, _ = tls_server(make_server, certs, monitor=False)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 is deprecated, but that is the point
        v11 = ssl.TLSVersion.TLSv1_1
        ctx = client_ctx(certs, min_version=v11, max_version=v11, ciphers="ALL:@SECLEVEL=0")
    a = attempt(s.port, ctx)
    assert not a.handshake and a.alert == "TLSV1_ALERT_PROTOCOL_VERSION", a


@pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
def test_curve_preferences(make_server, certs, tls12, server_bin, tmp_path):
    if os.path.realpath(server_bin) != os.path.realpath("/usr/sbin/nats-server"):
        # gannet refuses it by name (README, "Not yet supported"): wolfSSL would order the
        # curves but not refuse a client that offers none of them, as nats-server does
        conf = tmp_path / "c.conf"
        conf.write_text(tls_block(certs, curve_preferences=["CurveP384"]))
        r = subprocess.run([os.path.abspath(server_bin), "-t", "-c", str(conf)], capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 1 and 'tls "curve_preferences" is not supported yet by gannet' in r.stderr, r.stderr
        return
    s, _ = tls_server(make_server, certs, monitor=False, curve_preferences=["CurveP384"])
    mv = TLS12 if tls12 else None
    a = attempt(s.port, client_ctx(certs, curve="prime256v1", max_version=mv))
    assert not a.handshake and a.alert == "SSLV3_ALERT_HANDSHAKE_FAILURE", a
    t = TLSConn(s.port, client_ctx(certs, curve="secp384r1", max_version=mv))
    pubsub_roundtrip(t, "tls.curve")
    if not tls12:
        # a default client offers P-384 too (after X25519): a retry request picks it
        pubsub_roundtrip(TLSConn(s.port, client_ctx(certs)), "tls.curve2")


# ---- closing a TLS connection -----------------------------------------------------------------

@pytest.mark.parametrize("send,err", [
    (b'CONNECT {"verbose":false,"user":"a","pass":"x"}\r\nPING\r\n', "Authorization Violation"),
    (b'CONNECT {"verbose":false,"user":"a","pass":"b"}\r\nPUB x 200\r\n', "Maximum Payload Violation"),
    (b'CONNECT {"verbose":false,"user":"a","pass":"b"}\r\nFOO\r\n', "Unknown Protocol Operation"),
], ids=["auth", "max-payload", "unknown-op"])
def test_server_close_sends_close_notify(make_server, certs, send, err):
    """A close by the server after the handshake: -ERR, then a TLS
    close_notify alert, then EOF."""
    s, _ = tls_server(make_server, certs, monitor=False,
                      extra="max_payload: 100\nauthorization { user: a, password: b }\n")
    t = TLSConn(s.port, client_ctx(certs), connect=None, suppress_ragged_eofs=False)
    t.send(send)
    assert read_to_close(t.sock) == (b"-ERR '%s'\r\n" % err.encode(), "close_notify")


def test_stale_connection_over_tls(make_server, certs):
    s, _ = tls_server(make_server, certs, monitor=False, extra='ping_interval: "200ms"\nping_max: 1\n')
    t = TLSConn(s.port, client_ctx(certs), suppress_ragged_eofs=False)
    assert read_to_close(t.sock, timeout=10) == (b"PING\r\n-ERR 'Stale Connection'\r\n", "close_notify")


def test_shutdown_sends_close_notify(make_server, certs):
    s, _ = tls_server(make_server, certs, monitor=False)
    t = TLSConn(s.port, client_ctx(certs), suppress_ragged_eofs=False)
    s.proc.terminate()
    assert read_to_close(t.sock, timeout=10) == (b"", "close_notify")


def test_bulk_both_ways(make_server, certs):
    """8 MB each way through TLS: every message arrives, in order."""
    s, _ = tls_server(make_server, certs, monitor=False)
    a = TLSConn(s.port, client_ctx(certs))
    b = TLSConn(s.port, client_ctx(certs))
    a.send(b"SUB to.a 1\r\n")
    b.send(b"SUB to.b 1\r\n")
    a.flush()
    b.flush()
    n, size = 2000, 4096
    body = bytes(range(256)) * (size // 256)
    for i in range(n):
        p = b"%06d" % i + body[6:]
        a.send(b"PUB to.b %d\r\n%s\r\n" % (size, p))
        b.send(b"PUB to.a %d\r\n%s\r\n" % (size, p))
        if i % 200 == 199:  # read some as we go, so no one's buffers fill up
            for c in (a, b):
                for j in range(i - 199, i + 1):
                    f = c.frame()
                    assert f.op == "MSG" and f.payload[:6] == b"%06d" % j and len(f.payload) == size
    a.expect_nothing()
    b.expect_nothing()


# ---- 10. verify_and_map ------------------------------------------------------------------------

def vam_server(make_server, certs, users):
    entries = ", ".join('{user: "%s"}' % u for u in users)
    return tls_server(make_server, certs, ca=True, verify_and_map=True,
                      extra="authorization { users = [ %s ] }\n" % entries)


def authorized_user(mport, local_port):
    for c in get_json(mport, "/connz?auth=1&limit=100000")["connections"]:
        if c["port"] == local_port:
            return c.get("authorized_user")
    return None


@pytest.mark.parametrize("users,who,identity", [
    (["alice@example.com"], "alice", "alice@example.com"),
    (["CN=alice,O=Gannet Test"], "alice", "CN=alice,O=Gannet Test"),
    (["CN=alice,O=Gannet Test", "alice@example.com"], "alice", "alice@example.com"),  # email first
    (["CN=bob,O=Gannet Test"], "bob", "CN=bob,O=Gannet Test"),
    (["O=Gannet Test,CN=bob"], "bob", "O=Gannet Test,CN=bob"),
    (["cn=bob, o=Gannet Test"], "bob", "cn=bob, o=Gannet Test"),
], ids=["email", "dn", "email-before-dn", "dn-bob", "dn-reversed", "dn-lowercase"])
def test_verify_and_map_maps(make_server, certs, users, who, identity):
    s, mport = vam_server(make_server, certs, users)
    c = Conn(s.port)
    assert c.info["auth_required"] is True and c.info["tls_verify"] is True
    assert b'"headers":true,"auth_required":true,"tls_required":true,"tls_verify":true,' in c.info_line
    c.close()
    t = TLSConn(s.port, client_ctx(certs, cert=getattr(certs, who)))
    pubsub_roundtrip(t, "tls.mapped")
    assert authorized_user(mport, t.local_port) == identity
    assert get_json(mport, "/varz")["tls_verify"] is True


@pytest.mark.parametrize("users,who", [
    (["alice@example.com"], "bob"),
    (["CN=bob,O=Gannet Test"], "alice"),
    (["bob"], "bob"),
    (["CN=bob"], "bob"),
], ids=["bob-vs-email", "alice-vs-bob-dn", "bare-name", "partial-dn"])
def test_verify_and_map_unmapped(make_server, certs, users, who):
    s, mport = vam_server(make_server, certs, users)
    a = attempt(s.port, client_ctx(certs, cert=getattr(certs, who)))
    assert a.handshake
    assert a.data == b"-ERR 'Authorization Violation'\r\n" and a.close == "close_notify", a
    assert closed_conn(mport, a.local_port)["reason"] == "Authentication Failure"


def test_verify_and_map_rejects_user_in_connect(make_server, certs):
    s, mport = vam_server(make_server, certs, ["alice@example.com"])
    a = attempt(s.port, client_ctx(certs, cert=certs.alice),
                send=b'CONNECT {"verbose":false,"user":"x","pass":"y"}\r\nPING\r\n')
    assert a.data == b"-ERR 'Authorization Violation'\r\n" and a.close == "close_notify", a
    assert wait_log(s, r'User "x" found in connect proto, but user required from cert')


def test_verify_and_map_requires_client_cert(make_server, certs):
    s, mport = vam_server(make_server, certs, ["alice@example.com"])
    a = attempt(s.port, client_ctx(certs))
    assert a.alert in CERT_REFUSED_ALERTS, a
    assert closed_conn(mport, a.local_port)["reason"] == HANDSHAKE_FAILURE


# ---- 11. pinned_certs --------------------------------------------------------------------------

@pytest.mark.parametrize("upper", [False, True], ids=["lower", "upper"])
def test_pinned_certs(make_server, certs, upper):
    pin = certs.pin(certs.alice)
    assert re.fullmatch(r"[0-9a-f]{64}", pin)
    s, mport = tls_server(make_server, certs, ca=True, verify=True, pinned_certs=[pin.upper() if upper else pin])
    pubsub_roundtrip(TLSConn(s.port, client_ctx(certs, cert=certs.alice)), "tls.pinned")
    a = attempt(s.port, client_ctx(certs, cert=certs.bob))
    assert a.handshake and a.alert is None and a.close == "close_notify" and a.data == b"", a
    assert closed_conn(mport, a.local_port)["reason"] == HANDSHAKE_FAILURE
    assert wait_log(s, r"TLS handshake error: certificate not pinned")
    a = attempt(s.port, client_ctx(certs))
    assert a.alert in CERT_REFUSED_ALERTS, a


def test_pinned_certs_without_verify(make_server, certs):
    """No client certificate is asked for, so nobody is pinned."""
    s, mport = tls_server(make_server, certs, ca=True, pinned_certs=[certs.pin(certs.alice)])
    a = attempt(s.port, client_ctx(certs, cert=certs.alice))
    assert a.handshake and a.alert is None and a.close == "close_notify" and a.data == b"", a
    assert closed_conn(mport, a.local_port)["reason"] == HANDSHAKE_FAILURE


# ---- 14. many half-open handshakes -------------------------------------------------------------

def test_many_half_open_connections(make_server, certs):
    n = 200
    s, mport = tls_server(make_server, certs, timeout=1)
    idle = [Conn(s.port) for _ in range(n)]  # each read its INFO and stops
    assert all(c.info["tls_required"] for c in idle)
    # connections in the handshake are counted (and listed in /connz)
    assert get_json(mport, "/varz")["connections"] == n
    t = TLSConn(s.port, client_ctx(certs))
    t.send(b"SUB half.open 1\r\n")
    for i in range(20):
        p = b"m%d" % i
        t.send(b"PUB half.open %d\r\n%s\r\n" % (len(p), p))
        t.expect_frame(msg("half.open", 1, p))
    ports = {c.sock.getsockname()[1] for c in idle}
    # every half-open connection is closed by the handshake timeout
    for c in idle:
        assert c.read_to_eof(timeout=10) == b""

    def gone():
        v = get_json(mport, "/varz")
        return v["connections"] == 1

    assert poll(gone, 10), get_json(mport, "/varz")["connections"]
    closed = {c["port"]: c["reason"] for c in get_json(mport, "/connz?state=closed&limit=100000")["connections"]}
    assert all(closed.get(p) == HANDSHAKE_FAILURE for p in ports)
    pubsub_roundtrip(t, "half.open.after", sid=2)
