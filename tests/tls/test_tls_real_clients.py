"""Real clients over TLS: libnats (build/natsc_test `tls` / `tls-reject`
subcommands: natsOptions_SetSecure, LoadCATrustedCertificates,
LoadCertificatesChain, SetExpectedHostname "localhost") and nats.js v2
(tests/clients/js/tls_client.mjs, `tls: { ca, cert, key }`).

Each program prints PASS/FAIL lines; the checks below must all be reported
as passed. Observed with nats-server 2.9.10: both clients connect, pub/sub
(201 messages in order), a 400000-byte message, headers and request/reply
work over TLS, with and without a client certificate (server without
verify), and with alice's certificate under verify: true and under
verify_and_map (user alice@example.com). Under verify: true a client
without a certificate, or with one from an untrusted CA, fails to connect:
libnats reports `Protocol Error ... Expected 'PONG', got ''` (TLS 1.3: the
server's bad_certificate alert arrives after the client's handshake is
done), nats.js `... sslv3 alert bad certificate ... SSL alert number 42`.

Environment: NATSC_TEST_BIN names a prebuilt C client program; otherwise
`make build/natsc_test` is run first.
"""
import os
import shutil
import subprocess

import pytest

from servers import ROOT
from tlshelp import tls_block

JS_DIR = os.path.join(ROOT, "tests", "clients", "js")
CLIENT_TIMEOUT = 120

C_CHECKS = ["tls.connect", "tls.server_id", "tls.ping_pong", "tls.pubsub", "tls.large_message", "tls.headers",
            "tls.request_reply"]
JS_CHECKS = ["tls.connect", "tls.info", "tls.pubsub", "tls.large_message", "tls.headers", "tls.request_reply"]
REJECT_CHECKS = ["tls.rejected"]


@pytest.fixture(scope="session")
def natsc_bin():
    path = os.environ.get("NATSC_TEST_BIN")
    if not path:
        path = os.path.join(ROOT, "build", "natsc_test")
        r = subprocess.run(["make", "-s", "build/natsc_test"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.fail("make build/natsc_test failed:\n%s%s" % (r.stdout, r.stderr))
    if not os.access(path, os.X_OK):
        pytest.fail("C client test program %s missing" % path)
    return path


@pytest.fixture(scope="session")
def node_bin():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not installed (scripts/deps.sh test installs it)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "nats")):
        pytest.fail("nats.js missing: run `npm ci` in tests/clients/js")
    return node


def check_output(rc, out, err, required):
    lines = out.splitlines()
    passed = {l.split(" ", 1)[1].split(":", 1)[0] for l in lines if l.startswith("PASS ")}
    failed = [l for l in lines if l.startswith("FAIL ")]
    missing = [c for c in required if c not in passed]
    report = "rc=%s\n--- stdout\n%s\n--- stderr\n%s" % (rc, out, err[-4000:])
    assert not failed, "failed checks:\n%s\n%s" % ("\n".join(failed), report)
    assert not missing, "checks not reported as passed: %s\n%s" % (missing, report)
    assert rc == 0, report
    assert any(l.startswith("SUMMARY ") for l in lines), report


def run_client(cmd, cwd=None):
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        pytest.fail("%s timed out after %ss\n%s" % (cmd, CLIENT_TIMEOUT, e.stdout))
    return r.returncode, r.stdout, r.stderr


def client_cmd(kind, natsc_bin, node_bin, url, mode, certs, who):
    files = [certs.ca.cert] + ([] if who is None else [getattr(certs, who).cert, getattr(certs, who).key])
    if kind == "c":
        return [natsc_bin, url, mode] + files, None
    return [node_bin, os.path.join(JS_DIR, "tls_client.mjs"), url, mode] + files, JS_DIR


SCENARIOS = {
    # name: (tls block options, extra config, client cert, expected to connect)
    "no-verify": (dict(), "", None, True),
    "no-verify-with-cert": (dict(), "", "alice", True),
    "verify": (dict(ca=True, verify=True), "", "alice", True),
    "verify-no-cert": (dict(ca=True, verify=True), "", None, False),
    "verify-untrusted": (dict(ca=True, verify=True), "", "mallory", False),
    "verify-and-map": (dict(ca=True, verify_and_map=True),
                       'authorization { users = [ {user: "alice@example.com"} ] }\n', "alice", True),
}


@pytest.fixture(params=["c", "js"])
def kind(request):
    return request.param


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_real_client_tls(make_server, certs, natsc_bin, node_bin, kind, scenario):
    opts, extra, who, ok = SCENARIOS[scenario]
    s = make_server(conf=tls_block(certs, **opts) + extra)
    mode = "tls" if ok else "tls-reject"
    cmd, cwd = client_cmd(kind, natsc_bin, node_bin, s.url, mode, certs, who)
    rc, out, err = run_client(cmd, cwd)
    required = REJECT_CHECKS if not ok else C_CHECKS if kind == "c" else JS_CHECKS
    check_output(rc, out, err, required)
