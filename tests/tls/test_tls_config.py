"""TLS configuration: `-t -c` errors of the tls block, command-line TLS
flags, --help_tls.

Observed with nats-server 2.9.10 (`nats-server -t -c c.conf` in the config's
directory; stderr is "<prog>: c.conf:LINE:COL: <message>", rc 1; a valid file
gives "<prog>: configuration file c.conf is valid", rc 0). Messages and
positions (line:col, 1-based) for the configs below:

- unknown key in tls{} (position of the key):
  `c.conf:5:3: error parsing tls config, unknown field ["foo"]`; one bad key
  of the block only (with two, either, in Go map order), then other
  top-level errors are still reported
  (`c.conf:8:1: unknown field "baz"` on another line; the first line gets
  the "<prog>: " prefix, and the order is Go's map order, i.e. random).
  2.10-only keys are unknown in 2.9.10: handshake_first, min_version,
  ocsp_peer, cert_store (`unknown field ["handshake_first"]`, ...).
- cipher_suites: `c.conf:7:5: unrecognized cipher TLS_FOO_BAR` (position of
  the list item); curve_preferences: `c.conf:5:34: unrecognized curve
  preference FooCurve`.
- missing key_file / cert_file (position of the `tls` key):
  `c.conf:2:1: missing 'key_file' in TLS configuration` (cert_file alike).
- nonexistent cert file: `c.conf:2:1: error parsing X509 certificate/key
  pair: open /nonexistent/c.pem: no such file or directory`; a key of another
  type than the cert: `error parsing X509 certificate/key pair: tls: private
  key type does not match public key type` (only the prefix is checked).
- ca_file missing (position of the `tls` key): `c.conf:2:1: open
  /nonexistent/ca.pem: no such file or directory`; not a certificate:
  `c.conf:2:1: failed to parse root ca certificate`.
- timeout: `error parsing tls config, 'timeout' time: invalid duration "abc"`;
  `timeout: true`: `error parsing tls config, 'timeout' wrong type`.
- pinned_certs: `c.conf:5:19: error parsing tls config, 'pinned_certs' key
  abc does not look like hex-encoded sha256 of DER encoded
  SubjectPublicKeyInfo`.
- verify: "yes": `error parsing tls config, expected 'verify' to be a
  boolean`; cert_file: 5: `error parsing tls config, expected 'cert_file' to
  be filename`.
- verify_cert_and_check_known_urls in the client tls block:
  `c.conf:6:3: verify_cert_and_check_known_urls not supported in this
  context` (position of the key; valid in
  cluster{tls{}}).
- In cluster { tls {} }: the same texts (`c.conf:7:5: error parsing tls
  config, unknown field ["foo"]`, `c.conf:4:3: missing 'key_file' in TLS
  configuration`).
- Valid: cipher_suites with Go names (TLS 1.3 names accepted too),
  curve_preferences [CurveP256, X25519], insecure: true, verify_and_map with
  verify, timeout as int, float or duration string, `tls {}` (empty: -t says
  valid), allow_non_tls.
- The server itself (not -t) refuses to start on the same errors, e.g. an
  unknown tls field: rc 1, stderr `... error parsing tls config, unknown
  field ["foo"]`.

Flags
- `--tls --tlscert C --tlskey K`: TLS required (INFO tls_required), no
  verify. `--tlscert C --tlskey K` without --tls: the same.
- `--tlsverify --tlscert C --tlskey K --tlscacert CA`: tls_verify, client
  cert required.
- `--tls` alone: exits 1, stderr `<prog>: TLS Server certificate must be
  present and valid`; `--tls --tlscert C`: `TLS Server private key must be
  present and valid`; `--tlscacert /nonexistent.pem` with --tlsverify:
  `open /nonexistent.pem: no such file or directory`.
- `--help_tls`: rc 0, on stdout: the example tls block, "Available cipher
  suites include:" then the 24 names of Go's cipher map, one per line
  indented 4 spaces (in random map order), "Available curve preferences
  include:" then X25519, CurveP256, CurveP384, CurveP521 (random order too).
- `--help`: "TLS Options:" block with the five flags.
"""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from proto import Conn
from servers import free_port
from tlshelp import CERT_REFUSED_ALERTS, TLSConn, attempt, client_ctx

HEADER = "port: 4222\n"


def run(binary, args, cwd=None, timeout=20):
    r = subprocess.run([os.path.abspath(binary)] + list(args), cwd=cwd, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def check_conf(binary, text):
    """`binary -t -c c.conf` in a fresh directory: (rc, stdout, stderr)."""
    d = tempfile.mkdtemp(prefix="gannet-tls-")
    try:
        with open(os.path.join(d, "c.conf"), "w") as f:
            f.write(text)
        return run(binary, ["-t", "-c", "c.conf"], cwd=d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def prog(binary):
    return os.path.basename(binary)


def cert_lines(certs, pair=None, indent="  "):
    pair = pair or certs.server
    return '%scert_file: "%s"\n%skey_file: "%s"\n' % (indent, pair.cert, indent, pair.key)


# ---- 7. config errors --------------------------------------------------------------------------

def error_cases(certs):
    S = cert_lines(certs)
    S4 = cert_lines(certs, indent="    ")
    return {
        "unknown": (HEADER + "tls {\n" + S + "  foo: 1\n}\n",
                    'c.conf:5:3: error parsing tls config, unknown field ["foo"]'),
        "handshake_first": (HEADER + "tls {\n" + S + "  handshake_first: true\n}\n",
                            'c.conf:5:3: error parsing tls config, unknown field ["handshake_first"]'),
        "min_version": (HEADER + "tls {\n" + S + '  min_version: "1.3"\n}\n',
                        'c.conf:5:3: error parsing tls config, unknown field ["min_version"]'),
        "ocsp_peer": (HEADER + "tls {\n" + S + "  ocsp_peer: true\n}\n",
                      'c.conf:5:3: error parsing tls config, unknown field ["ocsp_peer"]'),
        "cert_store": (HEADER + "tls {\n" + S + '  cert_store: "WindowsCurrentUser"\n}\n',
                       'c.conf:5:3: error parsing tls config, unknown field ["cert_store"]'),
        "cipher": (HEADER + "tls {\n" + S + "  cipher_suites: [\n    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                   "    TLS_FOO_BAR\n  ]\n}\n", "c.conf:7:5: unrecognized cipher TLS_FOO_BAR"),
        "curve": (HEADER + "tls {\n" + S + "  curve_preferences: [CurveP256, FooCurve]\n}\n",
                  "c.conf:5:34: unrecognized curve preference FooCurve"),
        "missing_key": (HEADER + 'tls {\n  cert_file: "%s"\n}\n' % certs.server.cert,
                        "c.conf:2:1: missing 'key_file' in TLS configuration"),
        "missing_cert": (HEADER + 'tls {\n  key_file: "%s"\n}\n' % certs.server.key,
                         "c.conf:2:1: missing 'cert_file' in TLS configuration"),
        "cert_nonexistent": (HEADER + 'tls {\n  cert_file: "/nonexistent/c.pem"\n  key_file: "%s"\n}\n'
                             % certs.server.key,
                             "c.conf:2:1: error parsing X509 certificate/key pair: open /nonexistent/c.pem: "
                             "no such file or directory"),
        "key_nonexistent": (HEADER + 'tls {\n  cert_file: "%s"\n  key_file: "/nonexistent/k.pem"\n}\n'
                            % certs.server.cert,
                            "c.conf:2:1: error parsing X509 certificate/key pair: open /nonexistent/k.pem: "
                            "no such file or directory"),
        "key_mismatch": (HEADER + 'tls {\n  cert_file: "%s"\n  key_file: "%s"\n}\n'
                         % (certs.server.cert, certs.server_ec.key),
                         "c.conf:2:1: error parsing X509 certificate/key pair: "),
        "ca_nonexistent": (HEADER + "tls {\n" + S + '  ca_file: "/nonexistent/ca.pem"\n  verify: true\n}\n',
                           "c.conf:2:1: open /nonexistent/ca.pem: no such file or directory"),
        "ca_not_a_cert": (HEADER + "tls {\n" + S + '  ca_file: "%s"\n  verify: true\n}\n' % certs.server.key,
                          "c.conf:2:1: failed to parse root ca certificate"),
        "timeout_bad_duration": (HEADER + "tls {\n" + S + '  timeout: "abc"\n}\n',
                                 "c.conf:5:3: error parsing tls config, 'timeout' time: invalid duration \"abc\""),
        "timeout_bool": (HEADER + "tls {\n" + S + "  timeout: true\n}\n",
                         "c.conf:5:3: error parsing tls config, 'timeout' wrong type"),
        "pinned_not_hex": (HEADER + "tls {\n" + S + '  pinned_certs: ["abc"]\n}\n',
                           "c.conf:5:19: error parsing tls config, 'pinned_certs' key abc does not look like "
                           "hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"),
        "verify_string": (HEADER + "tls {\n" + S + '  verify: "yes"\n}\n',
                          "c.conf:5:3: error parsing tls config, expected 'verify' to be a boolean"),
        "cert_file_int": (HEADER + 'tls {\n  cert_file: 5\n  key_file: "x"\n}\n',
                          "c.conf:3:3: error parsing tls config, expected 'cert_file' to be filename"),
        "known_urls_client": (HEADER + "tls {\n" + S + '  ca_file: "%s"\n  verify_cert_and_check_known_urls: true\n}\n'
                              % certs.ca.cert, "c.conf:6:3: verify_cert_and_check_known_urls not supported in this context"),
        "cluster_unknown": (HEADER + "cluster {\n  listen: 127.0.0.1:6222\n  tls {\n" + S4 + "    foo: 1\n  }\n}\n",
                            'c.conf:7:5: error parsing tls config, unknown field ["foo"]'),
        "cluster_missing_key": (HEADER + 'cluster {\n  listen: 127.0.0.1:6222\n  tls {\n    cert_file: "%s"\n  }\n}\n'
                                % certs.server.cert, "c.conf:4:3: missing 'key_file' in TLS configuration"),
    }


ERROR_IDS = ["unknown", "handshake_first", "min_version", "ocsp_peer", "cert_store", "cipher", "curve", "missing_key",
             "missing_cert", "cert_nonexistent", "key_nonexistent", "key_mismatch", "ca_nonexistent",
             "ca_not_a_cert", "timeout_bad_duration", "timeout_bool", "pinned_not_hex", "verify_string",
             "cert_file_int", "known_urls_client", "cluster_unknown", "cluster_missing_key"]


@pytest.mark.parametrize("case", ERROR_IDS)
def test_config_error(server_bin, certs, case):
    text, message = error_cases(certs)[case]
    rc, out, err = check_conf(server_bin, text)
    assert rc == 1, (rc, out, err)
    first = err.splitlines()[0] if err else ""
    assert first.startswith(prog(server_bin) + ": " + message), err


def test_config_error_first_of_block_then_others(server_bin, certs):
    text = HEADER + "tls {\n" + cert_lines(certs) + "  foo: 1\n  bar: 2\n}\nbaz: 3\n"
    rc, _, err = check_conf(server_bin, text)
    assert rc == 1
    lines = err.strip().splitlines()
    # nats-server walks the keys in Go map order: either line comes first,
    # and the one bad tls key reported is foo or bar
    assert lines[0].startswith(prog(server_bin) + ": "), err
    lines[0] = lines[0][len(prog(server_bin)) + 2:]
    assert len(lines) == 2 and 'c.conf:8:1: unknown field "baz"' in lines, err
    lines.remove('c.conf:8:1: unknown field "baz"')
    assert lines[0] in ('c.conf:5:3: error parsing tls config, unknown field ["foo"]',
                        'c.conf:6:3: error parsing tls config, unknown field ["bar"]'), err


def valid_cases(certs):
    S = cert_lines(certs)
    return {
        "cipher_suites": "tls {\n" + S + "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "
                         "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n}\n",
        "tls13_suite_name": "tls {\n" + S + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n}\n",
        "curves": "tls {\n" + S + "  curve_preferences: [CurveP256, X25519, CurveP384, CurveP521]\n}\n",
        "verify_ca": "tls {\n" + S + '  ca_file: "%s"\n  verify: true\n}\n' % certs.ca.cert,
        "verify_and_map": "tls {\n" + S + '  ca_file: "%s"\n  verify_and_map: true\n  verify: true\n}\n'
                          % certs.ca.cert,
        "insecure": "tls {\n" + S + "  insecure: true\n}\n",
        "timeout_int": "tls {\n" + S + "  timeout: 3\n}\n",
        "timeout_float": "tls {\n" + S + "  timeout: 0.5\n}\n",
        "timeout_duration": "tls {\n" + S + '  timeout: "1s"\n}\n',
        "pinned": "tls {\n" + S + '  ca_file: "%s"\n  verify: true\n  pinned_certs: ["%s"]\n}\n'
                  % (certs.ca.cert, "ab" * 32),
        "empty_block": "tls {}\n",
        "allow_non_tls": "allow_non_tls: true\ntls {\n" + S + "}\n",
        "ecdsa": "tls {\n" + cert_lines(certs, certs.server_ec) + "}\n",
        "expired": "tls {\n" + cert_lines(certs, certs.server_expired) + "}\n",
        "cluster_known_urls": "cluster {\n  listen: 127.0.0.1:6222\n  tls {\n" + cert_lines(certs, indent="    ")
                              + '    ca_file: "%s"\n    verify_cert_and_check_known_urls: true\n  }\n}\n'
                              % certs.ca.cert,
    }


# valid for nats-server; gannet refuses them by name (README, "Not yet supported")
GANNET_REFUSES = {
    "curves": 'tls "curve_preferences" is not supported yet by gannet',
    "cluster_known_urls": 'tls "verify_cert_and_check_known_urls" inside cluster {} is not supported yet by gannet',
}


@pytest.mark.parametrize("case", ["cipher_suites", "tls13_suite_name", "curves", "verify_ca", "verify_and_map",
                                  "insecure", "timeout_int", "timeout_float", "timeout_duration", "pinned",
                                  "empty_block", "allow_non_tls", "ecdsa", "expired", "cluster_known_urls"])
def test_config_valid(server_bin, certs, case):
    rc, out, err = check_conf(server_bin, HEADER + valid_cases(certs)[case])
    if prog(server_bin) == "gannet" and case in GANNET_REFUSES:
        assert rc == 1 and GANNET_REFUSES[case] in err, err
        return
    assert rc == 0, err
    assert err.strip() == prog(server_bin) + ": configuration file c.conf is valid"


@pytest.mark.parametrize("case", ["unknown", "handshake_first", "missing_key"])
def test_server_refuses_to_start(server_bin, certs, case, tmp_path):
    text, message = error_cases(certs)[case]
    (tmp_path / "c.conf").write_text(text)
    rc, out, err = run(server_bin, ["-c", "c.conf", "-a", "127.0.0.1", "-p", str(free_port())],
                       cwd=str(tmp_path), timeout=10)
    assert rc == 1
    assert message in err, err


# ---- 9. command-line flags ---------------------------------------------------------------------

def test_flags_tls(make_server, certs):
    s = make_server(args=("--tls", "--tlscert", certs.server.cert, "--tlskey", certs.server.key))
    c = Conn(s.port)
    assert c.info["tls_required"] is True and "tls_verify" not in c.info
    t = TLSConn(s.port, client_ctx(certs))
    t.send(b"PING\r\n")
    t.expect_frame(b"PONG\r\n")


def test_flags_cert_without_tls_flag(make_server, certs):
    s = make_server(args=("--tlscert", certs.server.cert, "--tlskey", certs.server.key))
    assert Conn(s.port).info["tls_required"] is True
    TLSConn(s.port, client_ctx(certs))


def test_flags_tlsverify(make_server, certs):
    s = make_server(args=("--tlsverify", "--tlscert", certs.server.cert, "--tlskey", certs.server.key,
                          "--tlscacert", certs.ca.cert))
    c = Conn(s.port)
    assert c.info["tls_required"] is True and c.info["tls_verify"] is True
    t = TLSConn(s.port, client_ctx(certs, cert=certs.alice))
    t.send(b"PING\r\n")
    t.expect_frame(b"PONG\r\n")
    a = attempt(s.port, client_ctx(certs))
    assert a.alert in CERT_REFUSED_ALERTS, a


@pytest.mark.parametrize("flags,message", [
    (["--tls"], "TLS Server certificate must be present and valid"),
    (["--tls", "--tlscert", "CERT"], "TLS Server private key must be present and valid"),
    (["--tlsverify", "--tlscert", "CERT", "--tlskey", "KEY", "--tlscacert", "/nonexistent.pem"],
     "open /nonexistent.pem: no such file or directory"),
], ids=["no-cert", "no-key", "no-ca"])
def test_flags_errors(server_bin, certs, flags, message):
    flags = [certs.server.cert if f == "CERT" else certs.server.key if f == "KEY" else f for f in flags]
    rc, out, err = run(server_bin, ["-a", "127.0.0.1", "-p", str(free_port())] + flags, timeout=10)
    assert rc == 1
    assert err.strip() == prog(server_bin) + ": " + message, err


GO_CIPHERS = {
    "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
}
HELP_TLS_HEAD = """
TLS configuration is specified in the tls section of a configuration file:

e.g.

    tls {
        cert_file:      "./certs/server-cert.pem"
        key_file:       "./certs/server-key.pem"
        ca_file:        "./certs/ca.pem"
        verify:         true
        verify_and_map: true

        cipher_suites: [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        ]
        curve_preferences: [
            "CurveP256",
            "CurveP384",
            "CurveP521"
        ]
    }

Available cipher suites include:
"""


def test_help_tls(server_bin):
    rc, out, err = run(server_bin, ["--help_tls"])
    assert rc == 0, err
    assert out.startswith(HELP_TLS_HEAD), out
    rest = out[len(HELP_TLS_HEAD):].split("\n")
    cut = rest.index("")
    suites = rest[:cut]
    assert all(re.fullmatch(r"    TLS_[A-Z0-9_]+", l) for l in suites), suites
    assert {l.strip() for l in suites} == GO_CIPHERS and len(suites) == len(GO_CIPHERS)
    assert rest[cut:cut + 2] == ["", "Available curve preferences include:"] and rest[-1] == "", rest[cut:]
    # Go map order again
    assert sorted(rest[cut + 2:-1]) == ["    CurveP256", "    CurveP384", "    CurveP521", "    X25519"], rest[cut:]


def test_help_lists_tls_flags(server_bin):
    rc, out, err = run(server_bin, ["--help"])
    text = out + err
    block = ("TLS Options:\n"
             "        --tls                        Enable TLS, do not verify clients (default: false)\n"
             "        --tlscert <file>             Server certificate file\n"
             "        --tlskey <file>              Private key for server certificate\n"
             "        --tlsverify                  Enable TLS, verify client certificates\n"
             "        --tlscacert <file>           Client certificate CA for verification\n")
    assert block in text, text
