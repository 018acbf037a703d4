"""Start and stop NATS servers (gannet or the reference nats-server) for tests.

Every process started here is tracked by PID and killed at teardown. Servers
listen on 127.0.0.1 only, on a port picked free just before start.
"""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GANNET_BIN = os.environ.get("GANNET_BIN", os.path.join(ROOT, "build", "gannet"))
REFERENCE_BIN = "/usr/sbin/nats-server"


def server_targets():
    """(id, binary) pairs the protocol tests run against.

    NATS_SERVER_BIN names one binary to test alone (gannet or nats-server);
    otherwise every test runs against both gannet and Debian's nats-server, so
    that each protocol test is also a conformance check.
    """
    one = os.environ.get("NATS_SERVER_BIN")
    if one:
        name = "nats-server" if os.path.realpath(one) == os.path.realpath(REFERENCE_BIN) else "gannet"
        return [(name, one)]
    targets = [("gannet", GANNET_BIN)]
    if os.path.exists(REFERENCE_BIN):
        targets.append(("nats-server", REFERENCE_BIN))
    return targets


def poll(cond, timeout, step=0.02):
    """cond()'s first truthy value within timeout seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


_handed_out = set()  # ports free_port() returned in this process


# Ports are taken below the kernel's ephemeral range, so that no outgoing
# connection's local port (a client's, a route's) can take one between
# free_port() and the server's bind; under pytest-xdist each worker takes
# the ports of its own residue, so that two workers never hand out the same.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
_WORKER = int((os.environ.get("PYTEST_XDIST_WORKER") or "gw0")[2:] or 0) % _WORKERS


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORT_LOW, _PORT_HIGH = 10000, max(12000, _ephemeral_low())
_rng = random.Random(os.getpid())


def free_port():
    """A port free on 127.0.0.1 now and not returned before by this process:
    the kernel may hand a just-closed port out again, and a cluster takes
    several ports before its first node binds any."""
    for _ in range(10000):
        port = _rng.randrange(_PORT_LOW, _PORT_HIGH)
        if port in _handed_out or port % _WORKERS != _WORKER:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        break
    else:
        raise RuntimeError("no free port in %d-%d" % (_PORT_LOW, _PORT_HIGH))
    _handed_out.add(port)
    return port


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited early with rc %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("port %d not open after %.1fs" % (port, timeout))


class Server:
    """One running server process.

    conf: text of a config file (nats-server syntax); `port` and `host` are
    always passed on the command line, which overrides the file. port: a
    fixed port (e.g. to restart a server where clients expect it), else free.
    """

    def __init__(self, binary, conf=None, args=(), name="srv", port=None):
        self.binary = binary
        self.kind = "nats-server" if os.path.realpath(binary) == os.path.realpath(REFERENCE_BIN) else "gannet"
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="gannet-test-")
        self.log_path = os.path.join(self.dir, "server.log")
        cmd = [binary, "-a", "127.0.0.1", "-p", str(self.port)]
        if conf is not None:
            self.conf_path = os.path.join(self.dir, "server.conf")
            with open(self.conf_path, "w") as f:
                f.write(conf)
            cmd += ["-c", self.conf_path]
        cmd += list(args)
        self.cmd = cmd
        self._log = open(self.log_path, "wb")
        self._logtext, self._logtext_saved = "", False
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError("%s failed to start; log:\n%s" % (cmd, self.log()))

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def log(self):
        if self._logtext_saved:
            return self._logtext
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=None, timeout=10.0):
        """Stop the process (SIGTERM by default) and return its exit code."""
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if not self._logtext_saved:
            self._logtext = self.log()
            self._logtext_saved = True
            shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
