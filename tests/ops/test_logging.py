"""Logging: log file, size-limit rotation (named as nats-server names its
backups), reopen, timestamps, local syslog (syslog(3), checked inside a mount
namespace whose /dev/log is the test's socket), remote syslog in Go's
log/syslog format, and log_reconfigure racing with writers."""
import glob
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from opshelp import GANNET_BIN, HAVE_NATS, REFERENCE_BIN, Server, can_unshare, run, wait_for, wait_log

LINE = re.compile(r"^\[\d+\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} \[(INF|DBG|TRC|WRN|ERR|FTL)\] ")
BACKUP = re.compile(r"\.\d{4}\.\d\d\.\d\d\.\d\d\.\d\d\.\d\d\.\d{9}$")


def churn(port, n):
    """n short client connections: debug/trace lines to fill the log."""
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.recv(4096)
        s.sendall(b"CONNECT {}\r\nPING\r\n")
        s.recv(4096)
        s.close()


def test_log_file_instead_of_stderr(tmp_path):
    log = str(tmp_path / "g.log")
    with Server(GANNET_BIN, args=["-l", log]) as s:
        assert wait_log(log, r"\[INF\] Server is ready")
        stderr = s.log()
    assert stderr == ""
    for line in open(log):
        assert LINE.match(line), line


def check_rotation(binary, tmp_path, limit, how):
    d = tmp_path / os.path.basename(binary)
    d.mkdir()
    log = str(d / "s.log")
    if how == "flag":
        s = Server(binary, args=["-l", log, "--log_size_limit", str(limit), "-DV"])
    else:
        s = Server(binary, conf='log_file: "%s"\n%s: %d\ndebug: true\ntrace: true\n' % (log, how, limit))
    try:
        churn(s.port, 25)
        assert wait_for(lambda: len(glob.glob(log + ".*")) >= 2)
    finally:
        s.stop()
    backups = sorted(glob.glob(log + ".*"))
    for b in backups:
        assert BACKUP.search(b), b
        size = os.path.getsize(b)
        assert limit < size < limit + 1024, (b, size)  # rotated by the write that crossed the limit
    first = open(log).readline()
    m = re.match(r'^\[\d+\] \S+ \S+ \[INF\] Rotated log, backup saved as "(.*)"$', first)
    assert m and m.group(1) == backups[-1], first
    for b in backups[1:]:
        assert "Rotated log, backup saved as" in open(b).readline()
    return backups


@pytest.mark.parametrize("how", ["flag", "log_size_limit", "logfile_size_limit"])
def test_rotation(tmp_path, how):
    check_rotation(GANNET_BIN, tmp_path, 2000, how)


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
def test_rotation_like_nats_server(tmp_path):
    """The same checks hold for nats-server itself: same names, same first line."""
    check_rotation(REFERENCE_BIN, tmp_path, 2000, "flag")


def test_reopen_after_move(tmp_path):
    log = str(tmp_path / "g.log")
    with Server(GANNET_BIN, args=["-l", log, "-D"]) as s:
        assert wait_log(log, r"Server is ready")
        os.rename(log, log + ".old")
        rc, _, err = run(GANNET_BIN, ["--signal", "reopen=%d" % s.proc.pid])
        assert rc == 0, err
        assert wait_for(lambda: os.path.exists(log))
        time.sleep(0.1)  # the wait_port probe's "connection closed" line may still be on its way
        before = open(log + ".old").read()
        churn(s.port, 1)
        assert wait_log(log, r"Client connection created")
    assert open(log + ".old").read() == before  # nothing more went to the moved file


def test_logtime_off_and_utc(tmp_path, monkeypatch):
    with Server(GANNET_BIN, args=["-T=false"]) as s:
        assert wait_log(s, r"Server is ready")
    assert re.search(r"^\[\d+\] \[INF\] Server is ready$", s.log(), re.M)
    monkeypatch.setenv("TZ", "XYZ-9")  # 9 hours east of UTC, no tzdata needed
    for utc in (True, False):
        with Server(GANNET_BIN, args=["--logtime_utc=%s" % str(utc).lower()]) as s:
            m = wait_log(s, r"^\[\d+\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\.\d{6} \[INF\] Server is ready")
        stamp = time.mktime(time.strptime(m.group(1), "%Y/%m/%d %H:%M:%S")) - time.timezone
        want = time.time() + (0 if utc else 9 * 3600)
        assert abs(stamp - want) < 120, (utc, m.group(0))


def test_log_file_open_error():
    rc, out, err = run(GANNET_BIN, ["-l", "/nonexistent/dir/g.log"])
    assert rc == 1
    assert err.strip() == "gannet: error opening file: open /nonexistent/dir/g.log: no such file or directory"


# ---- syslog

def udp_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


REMOTE = re.compile(r"^<(\d+)>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d) \S+ ([\w.-]+)\[(\d+)\]: (.*)\n$")


def remote_lines(binary, n):
    sock = udp_listener()
    s = Server(binary, args=["-r", "udp://127.0.0.1:%d" % sock.getsockname()[1], "-D"])
    try:
        churn(s.port, 1)
        got = []
        while len(got) < n:
            got.append(sock.recv(4096).decode())
    finally:
        s.stop()
        sock.close()
    return s, got


def test_remote_syslog_udp_format():
    s, got = remote_lines(GANNET_BIN, 3)
    for line in got:
        m = REMOTE.match(line)
        assert m, line
        assert m.group(2) == "gannet" and int(m.group(3)) == s.proc.pid
    assert REMOTE.match(got[0]).group(1) == "5" and REMOTE.match(got[0]).group(4) == "Starting gannet"
    assert s.log() == ""  # nothing on stderr


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
def test_remote_syslog_format_like_nats_server():
    s, got = remote_lines(REFERENCE_BIN, 3)
    m = REMOTE.match(got[0])
    assert m and m.group(1) == "5" and m.group(2) == "nats-server" and m.group(4) == "Starting nats-server"


def test_remote_syslog_debug_priority():
    sock = udp_listener()
    with Server(GANNET_BIN, args=["-r", "udp://127.0.0.1:%d" % sock.getsockname()[1], "-D"]) as s:
        churn(s.port, 1)
        deadline = time.time() + 5
        pri = None
        while time.time() < deadline:
            line = sock.recv(4096).decode()
            if "Client connection created" in line:
                pri = REMOTE.match(line).group(1)
                break
    sock.close()
    assert pri == "7"


def test_remote_syslog_tcp():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(5)
    with Server(GANNET_BIN, conf='remote_syslog: "tcp://127.0.0.1:%d"\n' % ls.getsockname()[1]) as s:
        c, _ = ls.accept()
        c.settimeout(5)
        data = b""
        while b"Server is ready" not in data:
            data += c.recv(4096)
        c.close()
    ls.close()
    for line in data.decode().splitlines(True)[:3]:
        assert REMOTE.match(line), line


@pytest.mark.parametrize("url,msg", [
    ("foo://127.0.0.1:1", 'gannet: error invalid network type: "foo"'),
    ("tcp://127.0.0.1:1", 'gannet: error connecting to syslog: "dial tcp 127.0.0.1:1: connect: connection refused"'),
])
def test_remote_syslog_errors(url, msg):
    rc, out, err = run(GANNET_BIN, ["-r", url])
    assert rc == 1 and err.strip() == msg
    if HAVE_NATS:
        _, _, nerr = run(REFERENCE_BIN, ["-r", url])
        assert msg.split(": ", 1)[1].split(":")[0] in nerr


def test_log_file_wins_over_syslog(tmp_path):
    sock = udp_listener()
    sock.settimeout(0.5)
    log = str(tmp_path / "g.log")
    with Server(GANNET_BIN, args=["-l", log, "-s", "-r", "udp://127.0.0.1:%d" % sock.getsockname()[1]]):
        assert wait_log(log, r"Server is ready")
    with pytest.raises(socket.timeout):
        sock.recv(4096)


NEEDS_MOUNT_NS = pytest.mark.skipif(not can_unshare("-m"), reason="no mount namespaces here")


def in_private_dev(devdir, args):
    """gannet with devdir mounted on /dev, in a mount namespace of its own."""
    return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /dev && exec "$@"', devdir, GANNET_BIN] + args


@NEEDS_MOUNT_NS
def test_local_syslog():
    d = tempfile.mkdtemp(prefix="gannet-dev-")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(os.path.join(d, "log"))
    sock.settimeout(5)
    from opshelp import free_port
    port = free_port()
    p = subprocess.Popen(in_private_dev(d, ["-a", "127.0.0.1", "-p", str(port), "-s", "-D"]),
                         stderr=subprocess.PIPE)
    try:
        got = [sock.recv(4096).decode() for _ in range(2)]
    finally:
        p.terminate()
        _, err = p.communicate(timeout=10)
        sock.close()
    # facility daemon (3), notice (5): <29>; tag = basename of argv[0], with the pid
    m = re.match(r"^<29>\w{3} [ \d]\d \d\d:\d\d:\d\d gannet\[(\d+)\]: Starting gannet$", got[0])
    assert m, got
    assert int(m.group(1)) == p.pid
    assert err == b"" and p.returncode == 0


@NEEDS_MOUNT_NS
def test_local_syslog_unreachable():
    d = tempfile.mkdtemp(prefix="gannet-dev-")  # an empty /dev: no /dev/log
    r = subprocess.run(in_private_dev(d, ["-p", "0", "-s"]), capture_output=True, timeout=20)
    assert r.returncode == 1
    assert r.stderr.decode().strip() == 'gannet: error connecting to syslog: "Unix syslog delivery error"'


# ---- log_reconfigure while shards log

def test_reconfigure_races_with_writers(probe, tmp_path):
    threads, n = 8, 3000
    r = subprocess.run([probe, "logstress", str(tmp_path), str(threads), str(n)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    seen = 0
    texts = [r.stderr.decode()] + [open(f).read() for f in glob.glob(str(tmp_path / "*.log*"))]
    for text in texts:
        for line in text.splitlines():
            # every line whole: "[pid] (time) [INF] writer T line I padding..." or a rotation line
            assert re.match(r"^\[\d+\] (\S+ \S+ )?\[INF\] (writer \d+ line \d+ padding(-padding)*|Rotated log, "
                            r"backup saved as \".*\")$", line), line
            seen += line.find("writer ") >= 0
    assert seen == threads * n  # no line lost, none written twice
    assert glob.glob(str(tmp_path / "a.log.*")), "a.log never rotated"
