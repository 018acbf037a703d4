"""Helpers for system-account tests: $SYS events and $SYS.REQ requests.

- Events: a raw client (usually a user of the system account) subscribed to
  some $SYS subjects; wait() picks the next event matching a predicate out of
  whatever else arrives (periodic STATSZ, other clients' events), and every
  frame received is kept in .seen.
- Requester: a raw client subscribed to `_INBOX.t.>`; ask() sends a request
  with a fresh inbox and returns the one reply on it; silent() checks that a
  request gets no reply, with a barrier instead of a sleep: a second, answered
  request (the sentinel) is sent right behind it, and the server answers a
  connection's requests in order (nats-server does: 200 pairs of requests of
  every kind here were answered in order), so an answer to the first would
  come before the sentinel's. A reply to an older request arriving later (on
  its own inbox) fails whatever is being waited for.
- Framing: nats-server delivers what the system account itself sends (events,
  replies to requests made in SYS) with an empty reply field, so the MSG
  line has two spaces before the size: `MSG <subject> <sid>  <size>`; a reply
  that reaches another account through a service import is an ordinary
  `MSG <inbox> <sid> <size>`. check_frame() asserts either form.
- go_json(): a payload is compact JSON as Go's encoding/json writes it (no
  whitespace outside strings; <, > and & escaped as \\u003c, \\u003e,
  \\u0026), parsed with the keys kept in order.
"""
import json
import re

from proto import ProtoError, client, connect_line

BASE = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}

NUID = re.compile(r"^[0-9A-Za-z]{22}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
STATUS_503 = b"NATS/1.0 503\r\n\r\n"


def login(server, user, password=None, **opts):
    """Client authenticated as user (password defaults to the user name)."""
    o = dict(BASE, user=user, **opts)
    o["pass"] = user if password is None else password
    return client(server, connect=connect_line(o))


def go_json(payload):
    """payload (bytes) parsed; it must be compact, Go-escaped JSON."""
    outside = _STRING.sub(b'""', payload)
    assert not re.search(rb"\s", outside), "not compact JSON: %r" % payload[:300]
    assert not re.search(rb"[<>&]", payload), "<, > or & not escaped: %r" % payload[:300]
    return json.loads(payload)


def check_frame(f, empty_reply):
    """f is a MSG without reply subject, with the empty reply field (two
    spaces) when empty_reply, else the plain three-argument form."""
    assert f.op == "MSG", f
    gap = b"  " if empty_reply else b" "
    line = b"MSG %s %s%s%d\r\n" % (f.subject.encode(), f.sid.encode(), gap, len(f.payload))
    assert f.raw.startswith(line), (line, f.raw[:200])


def keys(d):
    return list(d.keys())


class Events:
    """Subscriber to $SYS subjects (each SUB gets its own sid)."""

    def __init__(self, server, *subjects, user="sys"):
        self.conn = login(server, user)
        self.conn.send(b"".join(b"SUB %s %d\r\n" % (s.encode(), i + 1) for i, s in enumerate(subjects)))
        self.conn.flush()
        self.seen = []

    def frame(self, timeout=5.0):
        f = self.conn.frame(timeout)
        if f.op not in ("MSG", "HMSG"):
            raise ProtoError("unexpected %r" % f)
        self.seen.append(f)
        return f

    def wait(self, pred, timeout=5.0):
        """The next frame for which pred(frame) is true; others are skipped."""
        while True:
            f = self.frame(timeout)
            if pred(f):
                return f

    def event(self, subject, cid=None, timeout=5.0):
        """(frame, parsed payload) of the next event on exactly this subject,
        about client id cid if given (client.id, or absent for CONNS)."""
        def match(f):
            if f.subject != subject:
                return False
            if cid is None:
                return True
            return json.loads(f.payload).get("client", {}).get("id") == cid
        f = self.wait(match, timeout)
        check_frame(f, empty_reply=True)
        return f, go_json(f.payload)

    def drain(self):
        """Barrier on the subscriber's own connection; frames before it are
        kept in .seen and returned."""
        got = self.conn.flush()
        self.seen.extend(got)
        return got


class Requester:
    """A connection that sends requests and reads their replies."""

    def __init__(self, conn, system=True):
        """system: conn is a client of the system account (replies come with
        the empty reply field)."""
        self.conn = conn
        self.system = system
        self.n = 0
        conn.send(b"SUB _INBOX.t.> 99\r\n")
        conn.flush()

    def send(self, subject, payload=b""):
        if isinstance(payload, str):
            payload = payload.encode()
        self.n += 1
        inbox = "_INBOX.t.%d" % self.n
        self.conn.send(b"PUB %s %s %d\r\n%s\r\n" % (subject.encode(), inbox.encode(), len(payload), payload))
        return inbox

    def reply(self, inbox, timeout=5.0):
        """The frame on inbox; a frame on any other inbox fails."""
        while True:
            f = self.conn.frame(timeout)
            if f.op not in ("MSG", "HMSG"):
                raise ProtoError("unexpected %r" % f)
            if f.subject != inbox:
                raise ProtoError("reply on %s while waiting for %s: %r" % (f.subject, inbox, f.raw[:300]))
            return f

    def ask_frame(self, subject, payload=b""):
        return self.reply(self.send(subject, payload))

    def ask(self, subject, payload=b""):
        """Parsed reply (a MSG without reply subject)."""
        f = self.ask_frame(subject, payload)
        check_frame(f, self.system)
        return go_json(f.payload)

    def silent(self, subject, payload=b"", sentinel=("$SYS.REQ.SERVER.PING.HEALTHZ", b"")):
        """subject gets no reply: the sentinel request sent right after it is
        answered first (and nothing else comes before the sentinel's answer)."""
        first = self.send(subject, payload)
        second = self.send(*sentinel)
        f = self.conn.frame()
        if f.subject == first:
            raise ProtoError("%s %r was answered: %r" % (subject, payload, f.raw[:400]))
        if f.subject != second:
            raise ProtoError("unexpected %r" % f.raw[:300])
        return f

    def status(self, subject, payload=b""):
        """The reply must be a no-responders status (HMSG 503)."""
        f = self.ask_frame(subject, payload)
        assert f.op == "HMSG" and f.hdr == STATUS_503 and f.payload == b"", f
        return f
