"""Files an operator uses: the pid file and nats-server's ports file
(<exe>_<pid>.ports in ports_file_dir, {"nats":["nats://host:port",...]},
removed at shutdown), checked against nats-server's own."""
import glob
import json
import os
import re
import subprocess

import pytest

from opshelp import GANNET_BIN, HAVE_NATS, REFERENCE_BIN, ROOT, Server, wait_for


def test_pid_file_flag_and_config(tmp_path):
    pf = tmp_path / "a.pid"
    with Server(GANNET_BIN, args=["-P", str(pf)]) as s:
        assert wait_for(lambda: pf.exists() and pf.read_text() == str(s.proc.pid))
    pf2 = tmp_path / "b.pid"
    with Server(GANNET_BIN, conf='pid_file: "%s"\n' % pf2) as s:
        assert wait_for(lambda: pf2.exists() and pf2.read_text() == str(s.proc.pid))
    assert pf2.exists()  # nats-server leaves its pid file behind too


def server_writes_ports_file():
    """server.c calls ports_file_write() once listening (the interface in opts.h)."""
    for f in glob.glob(os.path.join(ROOT, "core", "*.c")):
        if not f.endswith("opts.c") and "ports_file_write(" in open(f).read():
            return True
    return False


needs_ports_call = pytest.mark.xfail(not server_writes_ports_file(), strict=True,
                                     reason="core/server.c does not call ports_file_write() yet")


def ports_files(d):
    return sorted(glob.glob(os.path.join(str(d), "*.ports")))


@needs_ports_call
@pytest.mark.parametrize("how", ["flag", "config"])
def test_ports_file_written_and_removed(tmp_path, how):
    if how == "flag":
        s = Server(GANNET_BIN, args=["--ports_file_dir", str(tmp_path)])
    else:
        s = Server(GANNET_BIN, conf='ports_file_dir: "%s"\n' % tmp_path)
    try:
        assert wait_for(lambda: ports_files(tmp_path))
        (path,) = ports_files(tmp_path)
        assert os.path.basename(path) == "gannet_%d.ports" % s.proc.pid
        assert open(path).read() == '{"nats":["nats://127.0.0.1:%d"]}' % s.port
    finally:
        assert s.stop() == 0
    assert ports_files(tmp_path) == []


@needs_ports_call
def test_ports_file_named_after_the_nats_server_link(tmp_path):
    link = tmp_path / "nats-server"
    link.symlink_to(os.path.abspath(GANNET_BIN))
    d = tmp_path / "ports"
    d.mkdir()
    with Server(str(link), args=["--ports_file_dir", str(d)]) as s:
        assert wait_for(lambda: ports_files(d))
        assert os.path.basename(ports_files(d)[0]) == "nats-server_%d.ports" % s.proc.pid


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
def test_ports_file_format_like_nats_server(tmp_path, probe):
    """nats-server's file for -a 127.0.0.1 and for 0.0.0.0 (every interface address)
    against what ports_file_write produces for the same listen address."""
    for host in ("127.0.0.1", "0.0.0.0"):
        d = tmp_path / host
        d.mkdir()
        with Server(REFERENCE_BIN, args=["-a", host, "--ports_file_dir", str(d)]) as s:
            assert wait_for(lambda: ports_files(d))
            want = open(ports_files(d)[0]).read()
        os.remove(ports_files(d)[0]) if ports_files(d) else None
        subprocess.run([probe, "ports", "nats-server", str(d), host, str(s.port)], check=True)
        (path,) = ports_files(d)
        assert re.fullmatch(r"nats-server_\d+\.ports", os.path.basename(path))
        assert open(path).read() == want, host
        assert list(json.loads(want)) == ["nats"]


def test_ports_file_error_is_logged(tmp_path, probe):
    r = subprocess.run([probe, "ports", "gannet", "/nonexistent/dir", "127.0.0.1", "4222"], capture_output=True)
    assert re.search(r"\[ERR\] Error writing ports file \(/nonexistent/dir/gannet_\d+\.ports\): open "
                     r"/nonexistent/dir/gannet_\d+\.ports: no such file or directory", r.stderr.decode())
