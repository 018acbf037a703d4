"""A real nats.js client rides out lame duck mode: told by INFO "ldm", it is
disconnected from A and reconnects to B, where its subscription works.
Runs against gannet and nats-server alike."""
import os
import signal
import subprocess
import time

import pytest

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
LDM_CONF = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n'


def test_js_client_reconnects_elsewhere_on_lame_duck(make_server):
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "nats")):
        pytest.fail("npm package nats missing: run `npm ci` in tests/clients/js (make test does)")
    a = make_server(conf=LDM_CONF)
    b = make_server()
    proc = subprocess.Popen(["node", "ldm_test.mjs", a.url, b.url], cwd=JS_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out = []
        deadline = time.monotonic() + 20
        for line in proc.stdout:
            out.append(line)
            if line.strip() == "READY":
                break
            if time.monotonic() > deadline:
                break
        assert out and out[-1].strip() == "READY", "".join(out)
        a.proc.send_signal(signal.SIGUSR2)
        rest, _ = proc.communicate(timeout=60)
        out.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(out)
    for check in ("connected_to_a", "reconnected", "disconnected", "ldm_status", "reconnected_to_b",
                  "subscription_survives"):
        assert "PASS %s:" % check in text, text
    assert proc.returncode == 0, text
    assert a.proc.wait(timeout=30) == 0
