"""Helpers for the operations tests (tests/ops): run gannet or nats-server
with -t or flags, start servers, wait for log lines.

GANNET_BIN picks the gannet binary (default build/gannet), as tests/lib/servers.py.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

from servers import GANNET_BIN, REFERENCE_BIN, ROOT, Server, free_port  # noqa: F401

HAVE_NATS = os.path.exists(REFERENCE_BIN)


def run(binary, args, cwd=None, timeout=20, env=None):
    """Run to completion: (rc, stdout, stderr) as text."""
    r = subprocess.run([binary] + list(args), cwd=cwd, capture_output=True, timeout=timeout, env=env)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def check_conf(binary, text, name="c.conf", extra=()):
    """`binary -t -c name` on a config text written in a fresh directory:
    (rc, stdout, stderr, dir)."""
    d = tempfile.mkdtemp(prefix="gannet-ops-")
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
    rc, out, err = run(binary, ["-t", "-c", name] + list(extra), cwd=d)
    shutil.rmtree(d, ignore_errors=True)
    return rc, out, err


def first_error(stderr, prog="gannet"):
    """The first error line ("<prog>: <message>") with the prefix removed."""
    for line in stderr.splitlines():
        if line.startswith(prog + ": "):
            return line[len(prog) + 2:]
    return None


def wait_for(pred, timeout=5.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def wait_log(server_or_path, pattern, timeout=5.0):
    """Wait until the log (a Server's, or a file path) matches pattern; return the match."""
    def text():
        if isinstance(server_or_path, str):
            try:
                with open(server_or_path, errors="replace") as f:
                    return f.read()
            except OSError:
                return ""
        return server_or_path.log()
    return wait_for(lambda: re.search(pattern, text(), re.M), timeout)


def can_unshare(*flags):
    """Whether `unshare FLAGS true` works here (namespaces need privileges)."""
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare"] + list(flags) + ["true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def probe_load(probe, *args, cwd=None):
    """opts_load_quiet over args: (rc, err, {field: value})."""
    r = subprocess.run([probe, "load"] + list(args), capture_output=True, cwd=cwd, timeout=20)
    out = r.stdout.decode()
    fields = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        fields.setdefault(k, v)
    return int(fields.pop("rc")), fields.pop("err"), fields
