"""Helpers for the monitoring tests: start a server with a monitoring port,
speak HTTP/1.x over raw sockets (so that status lines, header order and
framing can be asserted byte for byte), and build the common scenario.

Every read is bounded by a timeout; nothing here sleeps for a fixed time.
"""
import json
import re
import socket
import time

from proto import client, connect_line
from servers import free_port, wait_port

TIMEOUT = 5.0


def start(make_server, conf=None, args=(), mport=None):
    """A server (from the make_server fixture) monitoring on a free port
    (given as -m); returns it with .mport set once that port answers."""
    mport = mport or free_port()
    s = make_server(conf=conf, args=["-m", str(mport)] + list(args))
    wait_port(mport, proc=s.proc)
    s.mport = mport
    # The harness found the client port open by connecting to it: wait
    # until both servers have seen that connection come and go, so that
    # counts taken now are a stable baseline.
    wait_for(lambda: get_json(mport, "/connz?state=closed")["total"] >= 1)
    return s


class Resp:
    """One HTTP response: version, status, reason, headers (ordered list of
    (name, value)), body (decoded from chunked framing when chunked), raw
    (the exact bytes of the head and body as received)."""

    def __init__(self):
        self.version = self.reason = None
        self.status = 0
        self.headers = []
        self.body = b""
        self.raw = b""
        self.chunked = False

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def names(self):
        return [k for k, _ in self.headers]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Resp(%r)" % self.raw[:600]


class HTTPConn:
    """One TCP connection to the monitoring port."""

    def __init__(self, port, timeout=TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def request(self, path, method="GET", version="HTTP/1.1", headers=None):
        lines = ["%s %s %s" % (method, path, version)]
        hdrs = [("Host", "127.0.0.1")] if version == "HTTP/1.1" else []
        hdrs += list(headers or [])
        lines += ["%s: %s" % kv for kv in hdrs]
        self.send("\r\n".join(lines) + "\r\n\r\n")

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timeout; got so far %r" % bytes(self.buf[:600]))
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("timeout; got so far %r" % bytes(self.buf[:600]))
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _until(self, pat, deadline):
        while True:
            i = self.buf.find(pat)
            if i >= 0:
                out = bytes(self.buf[:i + len(pat)])
                del self.buf[:i + len(pat)]
                return out
            if not self._fill(deadline):
                raise AssertionError("EOF before %r; got %r" % (pat, bytes(self.buf[:600])))

    def _exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise AssertionError("EOF after %d of %d bytes" % (len(self.buf), n))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def response(self, head=False, timeout=None):
        """The next response. head: the request was HEAD (no body follows)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        r = Resp()
        raw = self._until(b"\r\n\r\n", deadline)
        lines = raw[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        assert m, "bad status line %r" % lines[0]
        r.version, r.status, r.reason = m.group(1), int(m.group(2)), m.group(3)
        for l in lines[1:]:
            k, v = l.split(": ", 1)
            r.headers.append((k, v))
        body = b""
        if head or r.status in (204, 304):
            pass
        elif r.header("Transfer-Encoding") == "chunked":
            r.chunked = True
            while True:
                sl = self._until(b"\r\n", deadline)
                raw += sl
                n = int(sl[:-2], 16)
                data = self._exact(n + 2, deadline)
                raw += data
                assert data[-2:] == b"\r\n"
                body += data[:-2]
                if n == 0:
                    break
        elif r.header("Content-Length") is not None:
            body = self._exact(int(r.header("Content-Length")), deadline)
            raw += body
        else:  # delimited by the close
            while self._fill(deadline):
                pass
            body = bytes(self.buf)
            self.buf.clear()
            raw += body
        r.body, r.raw = body, raw
        return r

    def expect_eof(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        assert not self.buf, "expected EOF, got %r" % bytes(self.buf[:300])

    def read_to_eof(self, timeout=None):
        """Everything until the server closes (in time)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def still_open(self):
        """True when the server has not closed (checked with a request)."""
        try:
            self.request("/healthz")
            return self.response().status == 200
        except (AssertionError, OSError):
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def http(port, path, method="GET", version="HTTP/1.1", headers=None):
    """One request on a fresh connection."""
    with HTTPConn(port) as c:
        c.request(path, method, version, headers)
        return c.response(head=method == "HEAD")


def get_json(port, path, status=200):
    r = http(port, path)
    assert r.status == status, r
    return r.json()


def varz(server):
    return get_json(server.mport, "/varz")


def named_client(server, name, conn=None, **kw):
    """A connected client with CONNECT {"name": name, ...kw}; conn: Conn()
    arguments (rcvbuf, ...)."""
    opts = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1, "name": name}
    opts.update(kw)
    return client(server, connect=connect_line(opts), **(conn or {}))


class Scenario:
    """The common scenario, the same on both servers (keep the object: its
    clients close when it goes):
      alpha (name, lang, version): SUB foo 1, SUB bar.* q1 2 (a queue sub)
      beta  (name): SUB foo 7, UNSUB 7 5 (auto-unsubscribe after 5)
      pub   (name): PUB foo "hello", PUB bar.x "hi"  -> alpha gets 2, beta 1
      gamma (name): SUB zzz 3, then closes (Client Closed)
    """

    def __init__(self, server):
        self.alpha = named_client(server, "alpha", lang="python", version="1.2.3")
        self.alpha.send("SUB foo 1\r\nSUB bar.* q1 2\r\n")
        self.alpha.expect_nothing()
        self.beta = named_client(server, "beta")
        self.beta.send("SUB foo 7\r\nUNSUB 7 5\r\n")
        self.beta.expect_nothing()
        self.pub = named_client(server, "pub")
        self.pub.send("PUB foo 5\r\nhello\r\nPUB bar.x 2\r\nhi\r\n")
        self.pub.expect_nothing()
        assert len(self.alpha.flush()) == 2
        assert len(self.beta.flush()) == 1
        self.gamma = named_client(server, "gamma")
        self.gamma.send("SUB zzz 3\r\n")
        self.gamma.expect_nothing()
        self.gamma.close()
        # (the harness's port probe may be among the closed ones too)
        wait_for(lambda: any(c.get("name") == "gamma"
                             for c in get_json(server.mport, "/connz?state=closed")["connections"]))


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("condition not met within %.1fs" % timeout)


def ts(x):
    """Nanoseconds since the epoch of an RFC 3339 UTC time as Go writes it."""
    import calendar
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$", x)
    assert m, x
    secs = calendar.timegm(tuple(int(g) for g in m.groups()[:6]))
    return secs * 10**9 + int((m.group(7) or "0").ljust(9, "0"))


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
UPTIME = re.compile(r"^(\d+y)?(\d+d)?(\d+h)?(\d+m)?\d+s$")
DURATION = re.compile(r"^(0s|[\d.]+(ns|µs|ms|s)|(\d+h)?(\d+m)?[\d.]+s)$")
