"""HTTPS monitoring (`https: host:port` or `-ms port`, with the tls block's
certificate).

Observed with nats-server 2.9.10:
- `https: 127.0.0.1:P` + tls {cert_file, key_file}: log `Starting https
  monitor on 127.0.0.1:P`; GET /varz over TLS (client verifying the CA, by
  IP SAN or name localhost) -> 200, Content-Type application/json, varz has
  "https_port": P and "http_port": 0; /healthz -> 200 `{"status":"ok"}`.
- `-ms P` on the command line does the same.
- A plain HTTP request to the https port: Go's answer, exactly
  `HTTP/1.0 400 Bad Request\\r\\n\\r\\nClient sent an HTTP request to an HTTPS
  server.\\n`, then close (log `monitoring: TLS handshake error from ...:
  tls: first record does not look like a TLS handshake`). Other non-TLS
  bytes: no answer, close.
- The https listener uses the tls block's certificate but never asks for a
  client certificate: with verify: true, GET /varz without a client cert,
  or with one from an untrusted CA, still gets 200.
- `https:` without a tls block: the server does not start (rc 1), log
  `[FTL] Can't start monitoring: TLS cert and key required for HTTPS`
  (though -t says the file is valid).
"""
import os
import socket
import subprocess

import pytest

from servers import free_port, wait_port
from tlshelp import client_ctx, get_json, http_get, mon_conf, tls_block, wait_log

PLAIN_HTTP_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


def read_all(sock, timeout=5.0):
    sock.settimeout(timeout)
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


@pytest.mark.parametrize("how", ["config", "flag"])
def test_https_varz(make_server, certs, how):
    if how == "config":
        mline, mport = mon_conf(https=True)
        s = make_server(conf=mline + tls_block(certs))
    else:
        mport = free_port()
        s = make_server(conf=tls_block(certs), args=("-ms", str(mport)))
    assert wait_log(s, r"Starting https monitor on 127\.0\.0\.1:%d$" % mport)
    v = get_json(mport, "/varz", ctx=client_ctx(certs))
    assert v["https_port"] == mport and v["http_port"] == 0 and v["tls_required"] is True
    status, body = http_get(mport, "/healthz", ctx=client_ctx(certs), host="localhost")
    assert (status, body) == (200, b'{"status":"ok"}')


def test_https_content_type(make_server, certs):
    import http.client
    mline, mport = mon_conf(https=True)
    make_server(conf=mline + tls_block(certs))
    wait_port(mport)  # gannet opens its monitoring port just after its client port
    c = http.client.HTTPSConnection("127.0.0.1", mport, timeout=5, context=client_ctx(certs))
    try:
        c.request("GET", "/varz")
        r = c.getresponse()
        r.read()
        assert r.status == 200 and r.getheader("Content-Type") == "application/json"
    finally:
        c.close()


def test_plain_http_to_https_port(make_server, certs):
    mline, mport = mon_conf(https=True)
    make_server(conf=mline + tls_block(certs))
    sock = socket.create_connection(("127.0.0.1", mport), timeout=5)
    sock.sendall(b"GET /varz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_all(sock) == PLAIN_HTTP_ANSWER
    sock.close()
    sock = socket.create_connection(("127.0.0.1", mport), timeout=5)
    sock.sendall(b"\x01\x02 not tls\r\n\r\n")
    assert read_all(sock) == b""
    sock.close()
    # still serving
    assert get_json(mport, "/varz", ctx=client_ctx(certs))["https_port"] == mport


def test_https_does_not_ask_client_certs(make_server, certs):
    """verify: true is for NATS clients: the https listener asks no client
    certificate (an untrusted one is not looked at either)."""
    mline, mport = mon_conf(https=True)
    make_server(conf=mline + tls_block(certs, ca=True, verify=True))
    for cert in (None, certs.alice, certs.mallory):
        assert get_json(mport, "/varz", ctx=client_ctx(certs, cert=cert))["tls_verify"] is True


def test_https_without_tls_block(server_bin, tmp_path):
    mport = free_port()
    (tmp_path / "c.conf").write_text("https: 127.0.0.1:%d\n" % mport)
    r = subprocess.run([os.path.abspath(server_bin), "-c", "c.conf", "-a", "127.0.0.1", "-p", str(free_port())], cwd=str(tmp_path),
                       capture_output=True, timeout=10)
    assert r.returncode == 1
    assert "[FTL] Can't start monitoring: TLS cert and key required for HTTPS" in r.stderr.decode(), r.stderr
