"""Command-line flags: every flag of `nats-server --help` (2.9.10) is
recognised; the implemented ones take effect and override the config file,
the others are refused by name; flag syntax errors print Go's flag package
messages and the usage (exit 1: nats-server exits 0 there, see README)."""
import re
import socket
import time

import pytest

from opshelp import GANNET_BIN, HAVE_NATS, REFERENCE_BIN, Server, probe_load, run

# nats-server 2.9.10 --help, flag by flag
NATS_FLAGS = ["a", "addr", "net", "p", "port", "n", "name", "server_name", "P", "pid", "m", "http_port", "ms",
              "https_port", "c", "config", "t", "sl", "signal", "client_advertise", "ports_file_dir", "l", "log",
              "T", "logtime", "s", "syslog", "r", "remote_syslog", "D", "debug", "V", "trace", "VV", "DV", "DVV",
              "log_size_limit", "max_traced_msg_len", "js", "jetstream", "sd", "store_dir", "user", "pass", "auth",
              "tls", "tlscert", "tlskey", "tlsverify", "tlscacert", "routes", "cluster", "cluster_name",
              "no_advertise", "cluster_advertise", "connect_retries", "cluster_listen", "profile", "h", "help", "v",
              "version", "help_tls"]

UNSUPPORTED = {  # flag: an argument (None: boolean)
    "max_traced_msg_len": "10", "js": None, "jetstream": None, "sd": "/tmp/js", "store_dir": "/tmp/js",
    "profile": "6060",
}

# flag args -> fields (as tests/ops/probe.c prints them)
EFFECTS = [
    (["-a", "127.0.0.2"], {"host": "127.0.0.2"}), (["--addr", "h"], {"host": "h"}), (["--net=h2"], {"host": "h2"}),
    (["-p", "4333"], {"port": "4333"}), (["--port=-1"], {"port": "-1"}), (["-p", "0x10"], {"port": "16"}),
    (["-n", "a"], {"server_name": "a"}), (["--name", "b"], {"server_name": "b"}),
    (["--server_name", "c"], {"server_name": "c"}),
    (["-P", "/tmp/p"], {"pid_file": "/tmp/p"}), (["--pid", "/tmp/q"], {"pid_file": "/tmp/q"}),
    (["--ports_file_dir", "/tmp"], {"ports_file_dir": "/tmp"}),
    (["-l", "/tmp/l"], {"log_file": "/tmp/l"}), (["--log", "/tmp/m"], {"log_file": "/tmp/m"}),
    (["-T=false"], {"logtime": "0"}), (["--logtime=0"], {"logtime": "0"}), (["-T"], {"logtime": "1"}),
    (["--logtime_utc"], {"logtime_utc": "1"}),
    (["-s"], {"syslog": "1"}), (["--syslog"], {"syslog": "1"}),
    (["-r", "udp://h:514"], {"remote_syslog": "udp://h:514"}), (["--remote_syslog=tcp://h:1"], {"remote_syslog": "tcp://h:1"}),
    (["-D"], {"debug": "1", "trace": "0"}), (["--debug"], {"debug": "1"}),
    (["-V"], {"trace": "1", "debug": "0"}), (["--trace"], {"trace": "1"}),
    (["-VV"], {"trace": "1", "debug": "0"}), (["-DV"], {"debug": "1", "trace": "1"}),
    (["-DVV"], {"debug": "1", "trace": "1"}), (["-DV=false"], {"debug": "0", "trace": "0"}),
    (["--log_size_limit", "1000000"], {"log_size_limit": "1000000"}),
    (["--user", "u", "--pass", "p"], {"user": "u", "pass": "p"}), (["--auth", "tok"], {"token": "tok"}),
    (["--shards", "3"], {"shards": "3"}),
    (["-m", "8222"], {"http_port": "8222", "http_host": "0.0.0.0"}), (["--http_port=-1"], {"http_port": "-1"}),
    (["-a", "127.0.0.1", "-m", "1"], {"http_host": "127.0.0.1"}),
    (["-p", "4333", "--", "-p", "5"], {"port": "4333"}),
    (["--routes", "nats://a:6222,nats://b:6222"], {"cluster.nroutes": "2"}),
    (["--cluster", "nats://127.0.0.1:6333"], {"cluster.configured": "1", "cluster.host": "127.0.0.1", "cluster.port": "6333"}),
    (["--cluster_listen", "nats://0.0.0.0:7222"], {"cluster.port": "7222"}),
    (["--cluster_name", "c"], {"cluster.name": "c"}), (["--no_advertise"], {"cluster.no_advertise": "1"}),
    (["--cluster_advertise", "h:1"], {"cluster.advertise": "h:1"}), (["--connect_retries", "3"], {"cluster.connect_retries": "3"}),
    (["--client_advertise", "h:1"], {"client_advertise": "h:1"}),
]


def test_help_lists_every_nats_server_flag():
    rc, out, err = run(GANNET_BIN, ["-h"])
    assert rc == 0 and err == ""
    assert "Usage: gannet [options]" in out
    listed = set(re.findall(r"(?:^|[\s,])--?([A-Za-z_]+)", out))
    missing = [f for f in NATS_FLAGS if f not in listed]
    assert not missing, missing


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
def test_flag_list_is_nats_servers():
    rc, out, err = run(REFERENCE_BIN, ["--help"])
    listed = set(re.findall(r"(?:^|[\s,])--?([A-Za-z_]+)", out))
    listed -= {"e"}  # "(e.g." in a description
    assert listed <= set(NATS_FLAGS) | {"g"}, listed - set(NATS_FLAGS)
    assert set(NATS_FLAGS) <= listed


@pytest.mark.parametrize("args", [["--help"], ["help"], ["-help"]])
def test_help_forms(args):
    rc, out, err = run(GANNET_BIN, args)
    assert rc == 0 and "Usage: gannet [options]" in out


@pytest.mark.parametrize("args", [["-v"], ["--version"], ["version"], ["VERSION"]])
def test_version(args):
    rc, out, err = run(GANNET_BIN, args)
    assert rc == 0 and out.startswith("nats-server: v2.9.10")


@pytest.mark.parametrize("args,msg", [
    (["--bogus"], "flag provided but not defined: -bogus"),
    (["-x=1"], "flag provided but not defined: -x"),
    (["-p"], "flag needs an argument: -p"),
    (["-sl"], "flag needs an argument: -sl"),
    (["-p", "abc"], 'invalid value "abc" for flag -p: parse error'),
    (["--log_size_limit", "1MB"], 'invalid value "1MB" for flag -log_size_limit: parse error'),
    (["-D=maybe"], 'invalid boolean value "maybe" for -D: parse error'),
    (["---x"], "bad flag syntax: ---x"),
])
def test_flag_syntax_errors(args, msg):
    rc, out, err = run(GANNET_BIN, args)
    assert rc == 1 and out == ""
    assert err.splitlines()[0] == msg
    assert "Usage: gannet [options]" in err
    if HAVE_NATS:  # same first line from nats-server (which prints the usage on stdout and exits 0)
        _, _, nerr = run(REFERENCE_BIN, args)
        assert nerr.splitlines()[0] == msg


def test_unrecognized_command():
    rc, out, err = run(GANNET_BIN, ["extra"])
    assert rc == 1 and err.strip() == 'gannet: unrecognized command: "extra"'
    rc, out, err = run(GANNET_BIN, ["-D", "true"])  # a boolean flag takes no separate value, as in Go
    assert rc == 1 and 'unrecognized command: "true"' in err


@pytest.mark.parametrize("flag", sorted(UNSUPPORTED))
def test_unsupported_flag_refused_by_name(flag):
    arg = UNSUPPORTED[flag]
    rc, out, err = run(GANNET_BIN, ["--" + flag] + ([arg] if arg else []))
    assert rc == 1
    assert err.startswith("gannet: flag -%s is not supported yet by gannet (" % flag), err
    rc, out, err = run(GANNET_BIN, ["-" + flag] + ([arg] if arg else []))
    assert rc == 1 and "is not supported yet" in err


@pytest.mark.parametrize("args,want", EFFECTS, ids=[" ".join(a) for a, _ in EFFECTS])
def test_flag_takes_effect(probe, args, want):
    rc, err, f = probe_load(probe, *args)
    assert rc == 0, err
    for k, v in want.items():
        assert f[k] == v, (k, f[k])


def test_flags_override_the_file(probe, tmp_path):
    (tmp_path / "c.conf").write_text(
        "port: 1111\nhost: 10.0.0.1\ndebug: true\nlogtime: true\nlog_file: a.log\nlog_size_limit: 5\n"
        "server_name: file\nauthorization { token: ft }\nports_file_dir: /var\npid_file: f.pid\n")
    rc, err, f = probe_load(probe, "-c", "c.conf", "-p", "2222", "-a", "127.0.0.1", "-D=false", "-T=false",
                            "-l", "b.log", "--log_size_limit", "9", "-n", "flag", "--auth", "t2",
                            "--ports_file_dir", "/tmp", "-P", "g.pid", cwd=str(tmp_path))
    assert rc == 0, err
    assert (f["port"], f["host"], f["debug"], f["logtime"], f["log_file"], f["log_size_limit"]) == \
        ("2222", "127.0.0.1", "0", "0", "b.log", "9")
    assert (f["server_name"], f["token"], f["ports_file_dir"], f["pid_file"]) == ("flag", "t2", "/tmp", "g.pid")
    # without the flags, the file's values stand
    rc, err, f = probe_load(probe, "-c", "c.conf", cwd=str(tmp_path))
    assert (f["port"], f["debug"], f["log_file"], f["server_name"]) == ("1111", "1", "a.log", "file")


def test_flag_order_last_wins(probe):
    rc, err, f = probe_load(probe, "-p", "1", "--port", "2", "-D", "-D=false")
    assert rc == 0 and f["port"] == "2" and f["debug"] == "0"


def test_config_flag_forms(probe, tmp_path):
    (tmp_path / "c.conf").write_text("port: 3333\n")
    for args in (["-c", "c.conf"], ["--config", "c.conf"], ["--config=c.conf"], ["-c=c.conf"]):
        rc, err, f = probe_load(probe, *args, cwd=str(tmp_path))
        assert rc == 0 and f["port"] == "3333" and f["config_file"] == "c.conf", args


def connect_once(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.recv(4096)
    s.sendall(b"CONNECT {}\r\nPING\r\n")
    s.recv(4096)
    s.close()


def test_running_server_flags_override_file():
    """The file says debug on and another port; the flags (Server passes -a and -p) win."""
    with Server(GANNET_BIN, conf="port: 1\ndebug: true\n", args=["-D=false", "-T=false"]) as s:
        connect_once(s.port)
        time.sleep(0.2)
        log = s.log()
    assert "[DBG]" not in log
    assert re.search(r"^\[\d+\] \[INF\] ", log, re.M), log  # no timestamp with -T=false
    with Server(GANNET_BIN, conf="debug: true\n") as s:
        connect_once(s.port)
        time.sleep(0.2)
        assert "[DBG]" in s.log()
