"""Configuring the monitoring port: the `http`, `http_port`, `monitor_port`
and `http_base_path` keys, the -m/--http_port flag, a random port (-1), the
ports file's "monitoring" entry, a port already taken, and a reload that
tries to change any of it. Each test runs against gannet and nats-server.
"""
import glob
import json
import os
import re
import signal
import socket
import subprocess

import pytest

from monhelp import get_json, http, wait_for
from servers import free_port, wait_port


def monitor_port_from_log(s):
    m = wait_for(lambda: re.search(r"Starting http monitor on ([\d.]+):(\d+)", s.log()))
    return m.group(1), int(m.group(2))


@pytest.mark.parametrize("form", ["http-hostport", "http-port", "http_port", "monitor_port", "flag-m",
                                  "flag-http_port"])
def test_monitor_port_forms(make_server, form):
    port = free_port()
    conf, args = None, []
    if form == "http-hostport":
        conf = 'http: "127.0.0.1:%d"\n' % port
    elif form == "http-port":
        conf = "http: %d\n" % port
    elif form in ("http_port", "monitor_port"):
        conf = "%s: %d\n" % (form, port)
    elif form == "flag-m":
        args = ["-m", str(port)]
    else:
        args = ["--http_port=%d" % port]
    s = make_server(conf=conf, args=args)
    wait_port(port, proc=s.proc)
    v = get_json(port, "/varz")
    assert (v["http_host"], v["http_port"]) == ("127.0.0.1", port)
    assert monitor_port_from_log(s) == ("127.0.0.1", port)


def test_flag_overrides_file(make_server):
    a, b = free_port(), free_port()
    s = make_server(conf="http_port: %d\n" % a, args=["-m", str(b)])
    wait_port(b, proc=s.proc)
    assert get_json(b, "/varz")["http_port"] == b


def test_random_port(make_server):
    """-m -1: a port of the kernel's choosing, in the log; /varz says -1
    as nats-server's does (it reports the option)."""
    s = make_server(args=["-m", "-1"])
    host, port = monitor_port_from_log(s)
    wait_port(port, proc=s.proc)
    v = get_json(port, "/varz")
    assert (host, v["http_host"], v["http_port"]) == ("127.0.0.1", "127.0.0.1", -1)


def test_no_monitoring_by_default(make_server):
    s = make_server()
    assert "monitor" not in s.log()


def test_base_path(make_server):
    port = free_port()
    s = make_server(conf='http: "127.0.0.1:%d"\nhttp_base_path: "nats/"\n' % port)
    wait_port(port, proc=s.proc)
    v = get_json(port, "/nats/varz")
    assert v["http_base_path"] == "nats/"
    for p in ("/varz", "/", "/nats/", "/nats/varz/"):
        assert http(port, p).status == 404, p
    r = http(port, "/nats")
    assert r.status == 200
    assert re.findall(r"<a href=(\./[^\s>]+)>", r.body.decode())[:3] == ["./nats/varz", "./nats/jsz", "./nats/connz"]
    assert http(port, "/nats/healthz").body == b'{"status":"ok"}'
    assert get_json(port, "/nats/varz")["http_req_stats"] == {"/": 1, "/healthz": 1, "/varz": 2}


@pytest.mark.parametrize("mflag", ["fixed", "random"])
def test_ports_file_monitoring_entry(make_server, tmp_path, mflag):
    port = free_port() if mflag == "fixed" else -1
    s = make_server(args=["-m", str(port), "--ports_file_dir", str(tmp_path)])
    _, bound = monitor_port_from_log(s)
    files = wait_for(lambda: [f for f in glob.glob(str(tmp_path / "*.ports"))
                              if os.path.getsize(f) and "monitoring" in open(f).read()])
    (path,) = files
    assert os.path.basename(path).endswith("_%d.ports" % s.proc.pid)
    text = open(path).read()
    assert json.loads(text) == {"nats": ["nats://127.0.0.1:%d" % s.port],
                                "monitoring": ["http://127.0.0.1:%d" % bound]}
    assert text == '{"nats":["nats://127.0.0.1:%d"],"monitoring":["http://127.0.0.1:%d"]}' % (s.port, bound)


def test_port_taken(server_bin, tmp_path):
    """Another listener on the monitoring port: the server does not start."""
    hold = socket.socket()
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hold.bind(("127.0.0.1", 0))
    hold.listen(1)
    mport = hold.getsockname()[1]
    try:
        p = subprocess.run([server_bin, "-a", "127.0.0.1", "-p", str(free_port()), "-m", str(mport)],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 1
        assert ("Can't start monitoring: can't listen to the monitor port: listen tcp 127.0.0.1:%d: "
                "bind: address already in use" % mport) in p.stderr
    finally:
        hold.close()


@pytest.mark.parametrize("new,field", [
    ('http: "127.0.0.1:%(other)d"\n', "HTTPPort: old=%(port)d, new=%(other)d"),
    ('http: "127.0.0.2:%(port)d"\n', "HTTPHost: old=127.0.0.1, new=127.0.0.2"),
    ('http: "127.0.0.1:%(port)d"\nhttp_base_path: "/x"\n', "HTTPBasePath: old=, new=/x"),
])
def test_reload_cannot_change_monitoring(make_server, new, field):
    port, other = free_port(), free_port()
    v = {"port": port, "other": other}
    s = make_server(conf='http: "127.0.0.1:%d"\n' % port)
    wait_port(port, proc=s.proc)
    with open(s.conf_path, "w") as f:
        f.write(new % v)
    s.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "config reload not supported for " + field % v in s.log())
    assert http(port, "/healthz").status == 200  # still monitoring where it was


def test_reload_same_monitoring_ok(make_server):
    port = free_port()
    s = make_server(conf='http: "127.0.0.1:%d"\n' % port)
    wait_port(port, proc=s.proc)
    with open(s.conf_path, "w") as f:
        f.write("http_port: %d\nmax_payload: 2KB\n" % port)  # the host defaults to -a's: the same
    s.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "Reloaded server configuration" in s.log())
    v = get_json(port, "/varz")
    assert v["max_payload"] == 2048
    # nats-server marks the reload in config_load_time; gannet notices it within its 1 s tick
    wait_for(lambda: get_json(port, "/varz")["config_load_time"] != v["start"])
