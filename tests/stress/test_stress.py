"""Concurrency stress: build/stress (tests/stress/stress.c, libnats) opens 200
subscriber and 20 publisher connections (plus churning ones) to the server
under test, publishes sequence-numbered messages from 20 threads at once and
checks exact delivery counts and per-publisher order; see stress.c.

Environment:
  STRESS_SCALE  multiplies the messages per publisher (e.g. 0.1 against a
                ThreadSanitizer build of gannet); read by the program itself.
  STRESS_ARGS   extra options for the program (e.g. "-s 100 -c 0").
  STRESS_BIN    a prebuilt program; otherwise `make build/stress` runs first.
The server is started with default settings (no special flags).
"""
import os
import shlex
import subprocess

import pytest

from servers import ROOT

WAIT_BOUND = 60          # seconds the program waits for delivery before failing
PROC_TIMEOUT = 300       # hard bound on the whole program run

REQUIRED = [
    "stress.publish",
    "stress.complete",
    "stress.full(sx.>)",
    "stress.star(sx.d.*)",
    "stress.exact(sx.d.N)",
    "stress.queue[qg0]",
    "stress.connections",
]


@pytest.fixture(scope="session")
def stress_bin():
    path = os.environ.get("STRESS_BIN")
    if not path:
        path = os.path.join(ROOT, "build", "stress")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        r = subprocess.run(["make", "-s", "build/stress"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.fail("make build/stress failed:\n%s%s" % (r.stdout, r.stderr))
    if not os.access(path, os.X_OK):
        pytest.fail("stress program %s missing" % path)
    return path


def test_stress(server, stress_bin):
    cmd = [stress_bin, "-t", str(WAIT_BOUND)] + shlex.split(os.environ.get("STRESS_ARGS", "")) + [server.url]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=PROC_TIMEOUT)
    except subprocess.TimeoutExpired as e:  # subprocess.run killed the program
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail("%s did not finish within %ss\n--- stdout\n%s\n--- server log (tail)\n%s"
                    % (cmd, PROC_TIMEOUT, out, server.log()[-3000:]))
    lines = r.stdout.splitlines()
    report = "%s\nrc=%s\n--- stdout\n%s\n--- stderr\n%s\n--- server log (tail)\n%s" % (
        cmd, r.returncode, r.stdout, r.stderr[-4000:], server.log()[-3000:])
    failed = [l for l in lines if l.startswith("FAIL ")]
    passed = {l.split(" ", 1)[1].split(":", 1)[0] for l in lines if l.startswith("PASS ")}
    assert not failed, "failed checks:\n%s\n%s" % ("\n".join(failed), report)
    missing = [c for c in REQUIRED if c not in passed]
    assert not missing, "checks not reported as passed: %s\n%s" % (missing, report)
    assert r.returncode == 0, report
    assert server.proc.poll() is None, "server exited during the stress run\n" + report
