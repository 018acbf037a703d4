"""`gannet --signal <cmd>[=<pid|pidfile>]` (also -sl): nats-server's
ProcessSignal. stop=SIGKILL, quit=SIGINT, term=SIGTERM, reopen=SIGUSR1,
reload=SIGHUP, ldm=SIGUSR2; with no pid, the single running gannet is found
through /proc (tested inside a PID namespace, so that other gannet processes
on the machine do not count)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from opshelp import GANNET_BIN, ROOT, Server, can_unshare, run, wait_for

COMMANDS = {"stop": "SIGKILL", "quit": "SIGINT", "term": "SIGTERM", "reopen": "SIGUSR1", "reload": "SIGHUP",
            "ldm": "SIGUSR2"}

CATCHER = r"""
import signal, sys, time
def h(sig, frame):
    print(signal.Signals(sig).name, flush=True)
for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(s, h)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def catcher():
    """A process that prints the name of each signal it receives."""
    p = subprocess.Popen([sys.executable, "-c", CATCHER], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    yield p
    if p.poll() is None:
        p.kill()
    p.wait()


def received(p):
    line = p.stdout.readline().strip()
    return line


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
@pytest.mark.parametrize("flag", ["--signal", "-sl"])
def test_signal_to_pid(catcher, cmd, flag):
    rc, out, err = run(GANNET_BIN, [flag, "%s=%d" % (cmd, catcher.pid)])
    assert rc == 0 and out == "" and err == "", err
    if cmd == "stop":
        assert catcher.wait(5) == -signal.SIGKILL
    else:
        assert received(catcher) == COMMANDS[cmd]


@pytest.mark.parametrize("content", ["%d", "%d\n", " %d \n"])
def test_signal_to_pid_file(catcher, tmp_path, content):
    pf = tmp_path / "x.pid"
    pf.write_text(content % catcher.pid)
    rc, out, err = run(GANNET_BIN, ["--signal=reload=%s" % pf])
    assert rc == 0, err
    assert received(catcher) == "SIGHUP"


@pytest.mark.parametrize("arg,msg", [
    ("reload=abc", "gannet: invalid pid: abc"),
    ("reload=0", "gannet: invalid pid: 0"),
    ("reload=-1", "gannet: invalid pid: -1"),
    ("foo=1", 'gannet: unknown signal "foo"'),
    ("a=b=c", "gannet: invalid signal parameters: [c]"),
    ("a=b=c=d", "gannet: invalid signal parameters: [c d]"),
    ("reload=4194304", "gannet: no such process"),
])
def test_signal_errors(arg, msg):
    rc, out, err = run(GANNET_BIN, ["--signal", arg])
    assert rc == 1 and err.strip() == msg


def test_signal_ignores_a_broken_config(catcher, tmp_path):
    """As nats-server: the signal is sent before the config file is read."""
    (tmp_path / "bad.conf").write_text("foo: 1\n")
    rc, out, err = run(GANNET_BIN, ["-c", str(tmp_path / "bad.conf"), "-sl", "reopen=%d" % catcher.pid])
    assert rc == 0, err
    assert received(catcher) == "SIGUSR1"


def test_term_and_quit_stop_a_real_server(tmp_path):
    for cmd in ("term", "quit"):
        pf = str(tmp_path / ("%s.pid" % cmd))
        s = Server(GANNET_BIN, args=["-P", pf])
        assert wait_for(lambda: os.path.exists(pf) and open(pf).read().strip() == str(s.proc.pid))
        rc, out, err = run(GANNET_BIN, ["--signal", "%s=%s" % (cmd, pf)])
        assert rc == 0, err
        assert s.proc.wait(10) == 0
        s.stop()


def test_stop_kills_a_real_server(tmp_path):
    s = Server(GANNET_BIN)
    rc, out, err = run(GANNET_BIN, ["--signal", "stop=%d" % s.proc.pid])
    assert rc == 0
    assert s.proc.wait(10) == -signal.SIGKILL
    s.stop()


# ---- no pid: find the single running gannet (inside a PID namespace)

NS_SCRIPT = r"""
import json, os, socket, subprocess, sys, time
gannet, nats_link, port1, port2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
out = {}
def sig(cmd):
    r = subprocess.run([gannet, "--signal", cmd], capture_output=True, text=True)
    return [r.returncode, r.stderr.strip()]
def start(binary, port):
    p = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.01)
    return p
out["none"] = sig("reload")
z = start(gannet, port1)                    # a zombie gannet does not count
z.terminate()
while open("/proc/%d/stat" % z.pid).read().split(")")[1].split()[0] != "Z":
    time.sleep(0.01)
out["zombie"] = sig("reload")
z.wait()
a = start(gannet, port1)
out["empty_target"] = sig("reopen=")        # "cmd=" with nothing after: find it, as nats-server
out["one"] = sig("term")
out["one_rc"] = a.wait(10)
b = start(nats_link, port1)                 # started through the nats-server symlink
out["link"] = sig("quit")
out["link_rc"] = b.wait(10)
a = start(gannet, port1)
b = start(gannet, port2)
out["two"] = sig("reload")
out["two_pids"] = sorted([a.pid, b.pid])
for p in (a, b):
    p.terminate()
    p.wait(10)
print(json.dumps(out))
"""


@pytest.mark.skipif(not can_unshare("-pf", "--mount-proc"), reason="no PID namespaces here")
def test_signal_finds_the_single_gannet(tmp_path):
    from opshelp import free_port
    link = tmp_path / "nats-server"
    link.symlink_to(os.path.abspath(GANNET_BIN))
    r = subprocess.run(["unshare", "-pf", "--mount-proc", sys.executable, "-c", NS_SCRIPT,
                        os.path.abspath(GANNET_BIN), str(link), str(free_port()), str(free_port())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["none"] == [1, "gannet: no gannet processes running"]
    assert out["zombie"] == [1, "gannet: no gannet processes running"]
    assert out["empty_target"] == [0, ""]
    assert out["one"] == [0, ""] and out["one_rc"] == 0          # SIGTERM: clean exit
    assert out["link"] == [0, ""] and out["link_rc"] == 0        # SIGINT: clean exit
    rc, msg = out["two"]
    assert rc == 1
    assert msg == "gannet: multiple gannet processes running:\n%d\n%d" % tuple(out["two_pids"])
