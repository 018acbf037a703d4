"""tls { connection_rate_limit: N }, against gannet and nats-server.

Observed with nats-server 2.9.10 (its rateCounter): at most N TLS clients
are accepted per one-second window, counted from the first; the others get
their INFO, then `-ERR 'Connection throttling is active. Please try again
later.'` in clear (before any handshake) and EOF. A later window accepts
again.
"""
import socket
import time

from servers import poll
from tlshelp import TLSConn, client_ctx, tls_block

THROTTLED = b"-ERR 'Connection throttling is active. Please try again later.'\r\n"


def after_info(sock, wait=0.5):
    """What the server sent after its INFO line, until EOF or wait seconds of silence."""
    sock.settimeout(wait)
    buf = b""
    try:
        while True:
            d = sock.recv(4096)
            if not d:
                return buf.split(b"\r\n", 1)[1] + b"<EOF>"
            buf += d
    except socket.timeout:
        return buf.split(b"\r\n", 1)[1] if b"\r\n" in buf else None


def test_connection_rate_limit(make_server, certs):
    s = make_server(conf=tls_block(certs, connection_rate_limit=2, timeout=10))  # no handshake times out here
    time.sleep(1.1)  # the start-up probe of the port was a connection too: its window ends
    # four connections at once: two of them (whichever the server takes first: both servers
    # accept on several threads) go on to the handshake, the other two are closed, with the
    # -ERR (nats-server may lose it to the close now and then)
    socks = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(4)]
    got = [after_info(k) for k in socks]
    assert got.count(b"") == 2, got
    closed = [g for g in got if g != b""]
    assert all(g in (THROTTLED + b"<EOF>", b"<EOF>") for g in closed) and THROTTLED + b"<EOF>" in closed, got
    for k in socks:
        k.close()
    # a later window accepts again, and the handshake works
    time.sleep(1.1)
    assert poll(lambda: TLSConn(s.port, client_ctx(certs)) is not None, 5)
