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
import subprocess

import pytest

from clientfix import JS_DIR, check_output, natsc_bin, node_bin  # noqa: F401 (fixtures)
from tlshelp import tls_block

CLIENT_TIMEOUT = 120

C_CHECKS = ["tls.connect", "tls.server_id", "tls.ping_pong", "tls.pubsub", "tls.large_message", "tls.headers",
            "tls.request_reply"]
JS_CHECKS = ["tls.connect", "tls.info", "tls.pubsub", "tls.large_message", "tls.headers", "tls.request_reply"]
REJECT_CHECKS = ["tls.rejected"]


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
