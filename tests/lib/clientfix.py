"""Fixtures and helpers the real-client tests share (tests/clients,
tests/tls): the libnats test program, node with nats.js, and the check of a
client program's report. Test modules import the fixtures by name."""
import os
import shutil
import subprocess

import pytest

from servers import ROOT

JS_DIR = os.path.join(ROOT, "tests", "clients", "js")


@pytest.fixture(scope="session")
def natsc_bin():
    path = os.environ.get("NATSC_TEST_BIN")
    if not path:
        path = os.path.join(ROOT, "build", "natsc_test")
        os.makedirs(os.path.dirname(path), exist_ok=True)
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
        pytest.fail("nats.js missing: run `npm ci` in tests/clients/js (scripts/deps.sh test does)")
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
