"""Real-client tests: the C client (libnats, build/natsc_test) and nats.js v2
(tests/clients/js/client_test.mjs) run their checks against the server under
test. Each program prints one PASS/FAIL line per check and exits non-zero on
any failure; these wrappers start the servers, run the programs (killed at a
bounded timeout) and, for the reconnect tests, stop the server once the
program is connected and start a new one on the same port.

Environment: NATSC_TEST_BIN names a prebuilt C client program (e.g. from a
sanitizer build); otherwise `make build/natsc_test` is run first.
"""
import os
import queue
import subprocess
import tempfile
import threading
import time

import pytest

from clientfix import JS_DIR, check_output, natsc_bin, node_bin  # noqa: F401 (fixtures)
from servers import Server

CLIENT_TIMEOUT = 120  # seconds for a whole client run (sanitizer builds are slow)
READY_TIMEOUT = 30

# Checks each program must have reported (and passed); guards against a
# program that exits 0 without running everything.
BASIC_CHECKS = [
    "connect",
    "connect.server_id",
    "connect.headers_supported",
    "pubsub.wildcard[w.*.x]",
    "pubsub.wildcard[w.>]",
    "pubsub.wildcard[w.a.x]",
    "pubsub.wildcard[*.a.>]",
    "queue.exactly_once",
    "queue.spread",
    "queue.plain_sub_alongside",
    "request_reply",
    "request_reply.headers",
    "headers.roundtrip",
    "headers.multi_value",
    "headers.empty_body",
    "headers.none_on_plain_msg",
    "no_responders",
    "auto_unsubscribe.client",
    "auto_unsubscribe.server",
    "drain.subscription",
    "drain.subscription.unsubscribed",
    "drain.connection",
    "drain.connection.closed",
]
RECONNECT_CHECKS = [
    "reconnect.before",
    "reconnect.disconnected",
    "reconnect.reconnected",
    "reconnect.resubscribed",
    "reconnect.new_subscription",
    "reconnect.headers_renegotiated",
]
C_RECONNECT_CHECKS = RECONNECT_CHECKS + ["reconnect.buffered_delivered"]


@pytest.fixture(scope="session")
def node_client(node_bin):
    return [node_bin, os.path.join(JS_DIR, "client_test.mjs")]


def run_client(cmd, cwd=None):
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired as e:  # subprocess.run killed the child
        pytest.fail("%s timed out after %ss\n--- stdout\n%s\n--- stderr\n%s"
                    % (cmd, CLIENT_TIMEOUT, _text(e.stdout), _text(e.stderr)))
    return r.returncode, r.stdout, r.stderr


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def run_with_restart(cmd, srv, server_bin, cwd=None):
    """Run a client in reconnect mode: once it prints READY, stop `srv` and
    start a new server on the same port; return (rc, stdout, stderr)."""
    errf = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=errf, text=True)
    lines = queue.Queue()
    out = []

    def reader():
        for line in proc.stdout:
            out.append(line)
            lines.put(line)
        lines.put(None)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    new = None
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        ready = False
        while not ready:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            ready = line.strip() == "READY"
        if not ready:
            proc.kill()
            proc.wait()
            t.join(5)
            errf.seek(0)
            pytest.fail("client never printed READY\n--- stdout\n%s\n--- stderr\n%s"
                        % ("".join(out), errf.read().decode(errors="replace")))
        srv.stop()
        new = Server(server_bin, port=srv.port)
        try:
            proc.wait(CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            t.join(5)
            pytest.fail("client did not finish within %ss after the restart\n--- stdout\n%s"
                        % (CLIENT_TIMEOUT, "".join(out)))
        t.join(10)
        errf.seek(0)
        return proc.returncode, "".join(out), errf.read().decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if new is not None:
            new.stop()
        errf.close()


def test_c_client(server, natsc_bin):
    check_output(*run_client([natsc_bin, server.url]), BASIC_CHECKS)


def test_c_client_reconnect(server_bin, make_server, natsc_bin):
    srv = make_server()
    check_output(*run_with_restart([natsc_bin, srv.url, "reconnect"], srv, server_bin), C_RECONNECT_CHECKS)


def test_js_client(server, node_client):
    check_output(*run_client(node_client + [server.url], cwd=JS_DIR), BASIC_CHECKS + ["request_reply.concurrent"])


def test_js_client_reconnect(server_bin, make_server, node_client):
    srv = make_server()
    check_output(*run_with_restart(node_client + [srv.url, "reconnect"], srv, server_bin, cwd=JS_DIR),
                 RECONNECT_CHECKS)
