"""Raw-socket NATS client for protocol conformance tests.

Speaks bytes to a server on 127.0.0.1 and lets a test assert exactly what came
back. Every read is bounded by a timeout (TIMEOUT seconds by default), so a
server that stays silent fails the test instead of hanging it.

Two levels of reading:
- byte level: read_exact(), read_until(), expect(), expect_eof() see the raw
  stream, nothing skipped;
- frame level: frame() returns the next whole server operation (INFO, MSG,
  HMSG, PING, PONG, +OK, -ERR) with its exact bytes. By default a server PING
  is answered with PONG and skipped there, so that a test that happens to run
  past the server's first keepalive PING (about 2 s after CONNECT) still sees
  the frames it is asserting; keepalive tests pass auto_pong=False.

"Nothing else arrived" is checked with a barrier instead of a sleep: flush()
sends PING and returns every frame received before the PONG. The server
answers a client's ops in order, so everything caused by earlier ops of this
connection (and by ops of other connections that were themselves flushed
first) is queued before that PONG.
"""
import json
import re
import socket
import time

HOST = "127.0.0.1"
TIMEOUT = 5.0

# Compact CONNECT used by most tests: no +OK, no pedantic checks, headers on.
C0 = b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n'


def connect_line(opts=None, **kw):
    """CONNECT line with the given options as compact JSON.

    Options come from the dict opts and/or keywords (`pass` is a Python
    keyword: give it in the dict, or as password=..., which is renamed).
    """
    opts = dict(opts or {})
    if "password" in kw:
        kw["pass"] = kw.pop("password")
    opts.update(kw)
    return b"CONNECT " + json.dumps(opts, separators=(",", ":")).encode() + b"\r\n"


class Frame:
    """One server operation.

    op: "INFO", "MSG", "HMSG", "PING", "PONG", "+OK", "-ERR".
    raw: its exact bytes (control line, and payload for MSG/HMSG).
    For MSG/HMSG: subject, sid, reply (None if absent), hdr (bytes or None),
    payload (bytes). For INFO: info (dict). For -ERR: text (between quotes).
    """

    def __init__(self, op, raw, **kw):
        self.op = op
        self.raw = raw
        self.subject = self.sid = self.reply = self.hdr = self.payload = None
        self.info = self.text = None
        self.__dict__.update(kw)

    def __repr__(self):
        return "Frame(%s %r)" % (self.op, self.raw[:200])


class ProtoError(AssertionError):
    pass


class Conn:
    """A raw TCP connection to a NATS server.

    By default the server's INFO line is read at once and kept in
    .info_line (bytes) and .info (parsed JSON dict).
    """

    def __init__(self, port, read_info=True, timeout=TIMEOUT, rcvbuf=None, auto_pong=True):
        self.timeout = timeout
        self.auto_pong = auto_pong
        self.buf = bytearray()  # received, not yet consumed
        self.eof = False
        self.info_line = None
        self.info = None
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Must be set before connect() to limit the advertised window.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(timeout)
        s.connect((HOST, port))
        self.sock = s
        if read_info:
            self.info_line = self.read_until(b"\r\n")
            self.info = parse_info(self.info_line)

    # ---- sending -----------------------------------------------------------

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def send_bytewise(self, data):
        """Send one byte per write() (TCP_NODELAY is set).

        Writes this small usually reach the server as separate segments, so
        its parser sees every possible split point. The split is not
        guaranteed by TCP, but a server that mishandles splits fails this
        reliably; a correct one passes whatever the segmentation.
        """
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(self.timeout)
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])

    # ---- byte level --------------------------------------------------------

    def _fill(self, deadline):
        """Read more bytes into self.buf; False at EOF. Raises on timeout."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProtoError("timeout; buffered so far: %r" % bytes(self.buf[:500]))
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise ProtoError("timeout waiting for data; buffered so far: %r" % bytes(self.buf[:500]))
        except ConnectionResetError:
            # A reset is a close too (the server closed with unread input).
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _deadline(self, timeout):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def _take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_exact(self, n, timeout=None):
        deadline = self._deadline(timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ProtoError("EOF after %d of %d bytes: %r" % (len(self.buf), n, bytes(self.buf[:500])))
        return self._take(n)

    def read_until(self, pattern, timeout=None):
        """Bytes up to and including the first match of pattern (bytes or regex)."""
        deadline = self._deadline(timeout)
        rx = re.compile(re.escape(pattern)) if isinstance(pattern, bytes) else pattern
        while True:
            m = rx.search(self.buf)
            if m:
                return self._take(m.end())
            if not self._fill(deadline):
                raise ProtoError("EOF before %r; got %r" % (rx.pattern, bytes(self.buf[:500])))

    def expect(self, data, timeout=None):
        """The next bytes on the wire are exactly data."""
        if isinstance(data, str):
            data = data.encode()
        got = b""
        try:
            got = self.read_exact(len(data), timeout)
        except ProtoError:
            got = self._take(len(self.buf))
        if got != data:
            raise ProtoError("expected %r, got %r" % (data, got))

    def expect_eof(self, timeout=None):
        """The server closes the connection without sending anything more."""
        deadline = self._deadline(timeout)
        while self._fill(deadline):
            pass
        if self.buf:
            raise ProtoError("expected EOF, got %r" % bytes(self.buf[:500]))

    def read_to_eof(self, timeout=None):
        """Everything until the server closes (which must happen in time)."""
        deadline = self._deadline(timeout)
        while self._fill(deadline):
            pass
        return self._take(len(self.buf))

    # ---- frame level -------------------------------------------------------

    def frame(self, timeout=None, auto_pong=None):
        """Next server operation as a Frame (server PINGs answered and skipped
        unless auto_pong is False)."""
        auto_pong = self.auto_pong if auto_pong is None else auto_pong
        deadline = self._deadline(timeout)
        while True:
            f = self._frame(deadline)
            if f.op == "PING" and auto_pong:
                try:
                    self.send(b"PONG\r\n")
                except OSError:
                    pass  # closing; the caller will see EOF
                continue
            return f

    def _frame(self, deadline):
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                raise ProtoError("EOF while waiting for a frame; partial %r" % bytes(self.buf[:500]))
        line = self._take(self.buf.index(b"\n") + 1)
        if not line.endswith(b"\r\n"):
            raise ProtoError("server line not CRLF-terminated: %r" % line)
        head = line[:-2]
        op = head.split(b" ", 1)[0].upper()
        if head in (b"PING", b"PONG", b"+OK"):
            return Frame(head.decode(), line)
        if op == b"-ERR":
            m = re.match(rb"^-ERR '(.*)'$", head)
            if not m:
                raise ProtoError("malformed -ERR: %r" % line)
            return Frame("-ERR", line, text=m.group(1).decode())
        if op == b"INFO":
            return Frame("INFO", line, info=parse_info(line))
        if op in (b"MSG", b"HMSG"):
            args = head.split(b" ")[1:]
            if op == b"MSG":
                if len(args) not in (3, 4):
                    raise ProtoError("malformed MSG line %r" % line)
                hdr_len, total = None, int(args[-1])
                reply = args[2] if len(args) == 4 else None
            else:
                if len(args) not in (4, 5):
                    raise ProtoError("malformed HMSG line %r" % line)
                hdr_len, total = int(args[-2]), int(args[-1])
                reply = args[2] if len(args) == 5 else None
            body = self.read_exact(total + 2, deadline - time.monotonic())
            if body[-2:] != b"\r\n":
                raise ProtoError("payload of %r not followed by CRLF: %r" % (line, body[-20:]))
            data = body[:-2]
            hdr = data[:hdr_len] if hdr_len is not None else None
            payload = data[hdr_len:] if hdr_len is not None else data
            return Frame(op.decode(), line + body, subject=args[0].decode(), sid=args[1].decode(),
                         reply=reply.decode() if reply is not None else None, hdr=hdr, payload=payload)
        raise ProtoError("unknown server operation %r" % line)

    def expect_frame(self, raw, timeout=None):
        """The next frame (server PINGs skipped) has exactly these bytes."""
        if isinstance(raw, str):
            raw = raw.encode()
        f = self.frame(timeout)
        if f.raw != raw:
            raise ProtoError("expected %r, got %r" % (raw, f.raw))
        return f

    def expect_err(self, text, timeout=None):
        """Next frame is -ERR '<text>'."""
        return self.expect_frame(b"-ERR '" + text.encode() + b"'\r\n", timeout)

    def expect_close(self, err=None, timeout=None):
        """The server sends -ERR '<err>' (or nothing, if err is None) and then
        closes the connection."""
        if err is not None:
            self.expect_err(err, timeout)
        self.expect_eof(timeout)

    def flush(self, timeout=None):
        """Barrier: send PING, return the list of frames that came before PONG."""
        self.send(b"PING\r\n")
        out = []
        while True:
            f = self.frame(timeout)
            if f.op == "PONG":
                return out
            out.append(f)

    def expect_nothing(self):
        """Barrier that must find no pending frames."""
        got = self.flush()
        if got:
            raise ProtoError("expected nothing before PONG, got %r" % got)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __del__(self):
        # Tests drop connections without closing them; the server is stopped
        # at teardown anyway. Close here to avoid ResourceWarnings.
        if getattr(self, "sock", None) is not None:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_info(line):
    """JSON object of an `INFO {...} \\r\\n` line (the space before CRLF is required)."""
    m = re.match(rb"^INFO (\{.*\}) \r\n$", line, re.S)
    if not m:
        raise ProtoError("malformed INFO line: %r" % line)
    return json.loads(m.group(1))


def client(server, connect=C0, **kw):
    """Connected client: INFO read, CONNECT sent (unless connect is None) and
    confirmed with a PING/PONG round trip; a verbose CONNECT's +OK is checked
    and consumed."""
    c = Conn(server.port, **kw)
    if connect is not None:
        c.send(connect)
        verbose = json.loads(connect[len(b"CONNECT "):]).get("verbose", True)
        got = [f.raw for f in c.flush()]
        want = [b"+OK\r\n"] if verbose else []
        if got != want:
            raise ProtoError("CONNECT answered %r, expected %r" % (got, want))
    return c


def msg(subject, sid, payload, reply=None):
    """Exact bytes of a MSG frame."""
    if isinstance(payload, str):
        payload = payload.encode()
    mid = (" %s" % reply) if reply else ""
    return ("MSG %s %s%s %d\r\n" % (subject, sid, mid, len(payload))).encode() + payload + b"\r\n"
