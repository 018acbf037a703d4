"""Helpers of the TLS tests: config blocks, Python ssl client contexts, a raw
NATS connection upgraded to TLS after the plaintext INFO, one-shot attempts
that report how a handshake ended, and monitoring over HTTP or HTTPS.

Every wait is bounded (proto.TIMEOUT unless told).
"""
import dataclasses
import http.client
import json
import socket
import ssl
import time

from proto import C0, TIMEOUT, Conn, ProtoError, parse_info
from servers import free_port, poll

PING_LINE = b"PING\r\n"


def conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(conf_value(x) for x in v) + "]"
    return json.dumps(v)


def tls_block(certs, pair=None, ca=False, name="tls", **opts):
    """`tls { cert_file, key_file[, ca_file], opts... }` (pair defaults to
    the RSA server cert; ca=True adds the test CA as ca_file)."""
    pair = pair or certs.server
    items = {"cert_file": pair.cert, "key_file": pair.key}
    if ca:
        items["ca_file"] = certs.ca.cert
    items.update(opts)
    return name + " {\n" + "".join("  %s: %s\n" % (k, conf_value(v)) for k, v in items.items()) + "}\n"


def client_ctx(certs, cert=None, verify=True, max_version=None, min_version=None, ciphers=None, curve=None,
               check_hostname=True):
    """Client SSLContext trusting the test CA (verify=False: trusting
    nothing), presenting cert (a tlscerts.Pair) if given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(certs.ca.cert)
        ctx.check_hostname = check_hostname
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(cert.cert, cert.key)
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if curve is not None:
        ctx.set_ecdh_curve(curve)
    return ctx


class TLSConn(Conn):
    """A NATS connection: plaintext INFO read, then the TLS handshake, then
    (unless connect is None) CONNECT confirmed by PING/PONG over TLS.

    .info_line/.info are the plaintext INFO."""

    def __init__(self, port, ctx, server_hostname="localhost", connect=C0, timeout=TIMEOUT,
                 suppress_ragged_eofs=True, **kw):
        super().__init__(port, timeout=timeout, **kw)
        if self.buf:
            raise ProtoError("bytes after INFO before the handshake: %r" % bytes(self.buf))
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname,
                                    suppress_ragged_eofs=suppress_ragged_eofs)
        if connect is not None:
            self.send(connect)
            got = self.flush()
            verbose = json.loads(connect[len(b"CONNECT "):]).get("verbose", True)
            want = [b"+OK\r\n"] if verbose else []
            if [f.raw for f in got] != want:
                raise ProtoError("CONNECT answered %r, expected %r" % (got, want))

    @property
    def version(self):
        return self.sock.version()

    @property
    def cipher(self):
        return self.sock.cipher()[0]

    @property
    def local_port(self):
        return self.sock.getsockname()[1]


@dataclasses.dataclass
class Attempt:
    """How one TLS client attempt ended.

    info: the plaintext INFO (dict); handshake: True if the client side of
    the handshake completed; alert: ssl.SSLError reason ("SSLV3_ALERT_...",
    "CERTIFICATE_VERIFY_FAILED", ...) if one was raised, during the
    handshake or when reading after it; verify_message: the certificate
    verification message when the client refused the server; data: bytes
    read over TLS after sending `send`; eof: the server closed; close: how
    (see read_to_close: "close_notify", "ragged" or "reset")."""
    info: dict = None
    handshake: bool = False
    alert: str = None
    verify_message: str = None
    data: bytes = b""
    eof: bool = False
    close: str = None
    local_port: int = None


def attempt(port, ctx, server_hostname="localhost", send=C0 + PING_LINE, until=b"PONG\r\n", timeout=TIMEOUT):
    """Connect, read INFO, handshake, send `send`, read until `until` or EOF
    or an error (all bounded by timeout); return an Attempt."""
    a = Attempt()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    a.local_port = s.getsockname()[1]
    try:
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = s.recv(1)
            if not chunk:
                raise ProtoError("EOF before INFO: %r" % buf)
            buf += chunk
        a.info = parse_info(buf)
        try:
            t = ctx.wrap_socket(s, server_hostname=server_hostname, suppress_ragged_eofs=False)
        except ssl.SSLCertVerificationError as e:
            a.alert, a.verify_message = e.reason, e.verify_message
            return a
        except ssl.SSLError as e:
            a.alert = e.reason
            return a
        except (ConnectionResetError, BrokenPipeError):
            a.eof = True
            return a
        a.handshake = True
        s = t
        deadline = time.monotonic() + timeout
        try:
            if send:
                t.sendall(send)
            while until is None or until not in a.data:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProtoError("timeout; got %r" % a.data)
                t.settimeout(left)
                chunk = t.recv(65536)
                if not chunk:
                    a.eof, a.close = True, "close_notify"
                    break
                a.data += chunk
        except ssl.SSLEOFError:
            a.eof, a.close = True, "ragged"
        except ssl.SSLError as e:
            a.alert = e.reason
        except (ConnectionResetError, BrokenPipeError):
            a.eof, a.close = True, "reset"
        return a
    finally:
        s.close()


def read_to_close(tsock, timeout=TIMEOUT):
    """Read a TLS socket (wrapped with suppress_ragged_eofs=False) until the
    server closes: (bytes, how), how = "close_notify" (the server sent its
    close_notify alert, then EOF), "ragged" (TCP EOF without close_notify)
    or "reset"."""
    deadline = time.monotonic() + timeout
    out = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProtoError("server did not close; got %r" % out)
        tsock.settimeout(left)
        try:
            chunk = tsock.recv(65536)
        except ssl.SSLEOFError:
            return out, "ragged"
        except (ConnectionResetError, BrokenPipeError):
            return out, "reset"
        except socket.timeout:
            raise ProtoError("server did not close; got %r" % out)
        if not chunk:
            return out, "close_notify"
        out += chunk


def read_info_then_eof(port, after_info=b"", timeout=TIMEOUT):
    """Raw TCP: read INFO, send after_info, read to EOF (bounded).
    Returns (info dict, bytes after INFO, seconds from INFO to EOF)."""
    c = Conn(port, timeout=timeout)
    t0 = time.monotonic()
    if after_info:
        c.send(after_info)
    data = c.read_to_eof(timeout)
    return c.info, data, time.monotonic() - t0


# ---- monitoring --------------------------------------------------------------------------------

def mon_conf(https=False):
    """(config line, port) for a monitoring listener on 127.0.0.1."""
    port = free_port()
    return "%s: 127.0.0.1:%d\n" % ("https" if https else "http", port), port


def http_get(port, path, ctx=None, host="127.0.0.1", timeout=5.0):
    """(status, body) of GET path; HTTPS when ctx is given. A server is up
    once its client port listens; its monitoring port may follow a moment
    later (gannet opens it after the client listener), so a refused
    connection is retried for a bounded time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _http_get(port, path, ctx, host, timeout)
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _http_get(port, path, ctx, host, timeout):
    if ctx is None:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
    else:
        c = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def get_json(port, path, ctx=None):
    status, body = http_get(port, path, ctx)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


def closed_conn(mport, local_port, timeout=5.0):
    """The /connz?state=closed entry of the client that used local_port
    (polled: a connection is listed once the server has closed it)."""
    def find():
        for c in get_json(mport, "/connz?state=closed&limit=100000")["connections"]:
            if c["port"] == local_port:
                return c
        return None
    return poll(find, timeout)


def open_conn(mport, local_port):
    for c in get_json(mport, "/connz?limit=100000")["connections"]:
        if c["port"] == local_port:
            return c
    return None


def wait_log(server, pattern, timeout=5.0):
    import re
    return poll(lambda: re.search(pattern, server.log(), re.M), timeout)


# The fatal alert a server sends when it refuses the client's certificate (or
# its absence). Go (nats-server) always sends bad_certificate; wolfSSL
# (gannet) sends the alert RFC 8446 names for TLS 1.3: certificate_required
# when none came, unknown_ca for an untrusted one. Clients treat every one of
# them as fatal; a handshake that goes on, or ends with no alert, still fails.
CERT_REFUSED_ALERTS = {"SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED", "TLSV1_ALERT_UNKNOWN_CA"}
