"""The option half of config reload (the server half, SIGHUP and lame duck,
is tested with core/server.c): opts_load_quiet re-reads the file and the
same flags without printing, and opts_reload_check names the first option a
running server cannot change, in nats-server's words."""
import subprocess

import pytest

from opshelp import probe_load


def reload_check(probe, tmp_path, old, new):
    (tmp_path / "old.conf").write_text(old)
    (tmp_path / "new.conf").write_text(new)
    r = subprocess.run([probe, "reload", "old.conf", "new.conf"], cwd=str(tmp_path), capture_output=True, text=True)
    out = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    return int(out["check"]), out["err"]


BASE = "port: 4222\nserver_name: a\n"


@pytest.mark.parametrize("change", [
    "debug: true", "trace: true", "logtime: false", "logtime_utc: true", 'log_file: "/tmp/x.log"',
    "log_size_limit: 1MB", "syslog: true", 'remote_syslog: "udp://127.0.0.1:514"', "max_payload: 2MB",
    "max_pending: 128MB", "max_control_line: 8KB", "max_connections: 5", "max_subscriptions: 5",
    'ping_interval: "1m"', "ping_max: 5", 'write_deadline: "2s"', "authorization { user: u, password: p }",
    "authorization { token: t, timeout: 5 }", "authorization { users: [ { user: u, password: p } ] }\nno_auth_user: u",
    'lame_duck_duration: "45s"', 'lame_duck_grace_period: "3s"',
])
def test_reloadable(probe, tmp_path, change):
    rc, err = reload_check(probe, tmp_path, BASE, BASE + change + "\n")
    assert rc == 0 and err == "", err


@pytest.mark.parametrize("change,msg", [
    ("port: 4223\nserver_name: a\n", "config reload not supported for Port: old=4222, new=4223"),
    (BASE.replace("server_name: a", "server_name: b"), "config reload not supported for ServerName: old=a, new=b"),
    (BASE + "host: 127.0.0.1\n", "config reload not supported for Host: old=0.0.0.0, new=127.0.0.1"),
    (BASE + "shards: 3\n", "config reload not supported for Shards: old=0, new=3"),
    (BASE + 'pid_file: "/tmp/a.pid"\n', "config reload not supported for PidFile: old=, new=/tmp/a.pid"),
    (BASE + 'ports_file_dir: "/tmp"\n', "config reload not supported for PortsFileDir: old=, new=/tmp"),
    (BASE + "http_port: 8222\n", "config reload not supported for HTTPPort: old=0, new=8222"),
    (BASE + 'http: "127.0.0.2:0"\n', "config reload not supported for HTTPHost: old=0.0.0.0, new=127.0.0.2"),
    (BASE + 'http_base_path: "/x"\n', "config reload not supported for HTTPBasePath: old=, new=/x"),
    (BASE.replace("port: 4222", "port: 4223") + "http_port: 1\n", "config reload not supported for Port: old=4222, new=4223"),
    # the first difference in nats-server's field order is the one named
    ("port: 5\nserver_name: b\n", "config reload not supported for ServerName: old=a, new=b"),
])
def test_not_reloadable(probe, tmp_path, change, msg):
    rc, err = reload_check(probe, tmp_path, BASE, change)
    assert rc == -1 and err == msg


def test_quiet_load_reports_errors_without_printing(probe, tmp_path):
    (tmp_path / "c.conf").write_text("foo: 1\nport: x\nprof_port: 6060\n")
    r = subprocess.run([probe, "load", "-c", "c.conf"], cwd=str(tmp_path), capture_output=True, text=True)
    assert r.stderr == ""
    assert 'err=c.conf:1:1: unknown field "foo" || c.conf:2:7: ' in r.stdout
    assert '|| c.conf:3:1: "prof_port" is not supported yet by gannet' in r.stdout
    assert "rc=-1" in r.stdout


def test_quiet_load_logs_warnings(probe, tmp_path):
    (tmp_path / "c.conf").write_text("ping_interval: 30\n")
    r = subprocess.run([probe, "load", "-c", "c.conf"], cwd=str(tmp_path), capture_output=True, text=True)
    assert "rc=0" in r.stdout and "ping_interval_ms=30000" in r.stdout
    assert "[WRN] c.conf:1:16: invalid use of field \"ping_interval\"" in r.stderr  # through the log


def test_quiet_load_ignores_one_shot_flags(probe, tmp_path):
    (tmp_path / "c.conf").write_text("port: 1234\n")
    rc, err, f = probe_load(probe, "-c", "c.conf", "-t", "-v", "-h", "--signal", "reload", "-D", cwd=str(tmp_path))
    assert rc == 0, err
    assert f["port"] == "1234" and f["debug"] == "1"


def test_quiet_load_flag_errors(probe):
    rc, err, f = probe_load(probe, "--bogus")
    assert rc == -1 and err == "flag provided but not defined: -bogus"
    rc, err, f = probe_load(probe, "--profile", "6060")
    assert rc == -1 and err.startswith("flag -profile is not supported yet by gannet")


@pytest.mark.parametrize("ms,s", [(0, "0s"), (1, "1ms"), (500, "500ms"), (1000, "1s"), (1500, "1.5s"),
                                  (29500, "29.5s"), (60000, "1m0s"), (90500, "1m30.5s"), (120000, "2m0s"),
                                  (3600000, "1h0m0s"), (3723004, "1h2m3.004s"), (-2000, "-2s")])
def test_go_duration_format(probe, ms, s):
    r = subprocess.run([probe, "dur", str(ms)], capture_output=True, text=True)
    assert r.stdout.strip() == s


ACC = "accounts { A { users: [ {user: a, password: a, %s} ], exports: [ {stream: \"ev.>\"} ] }, B { %s } }\n"


@pytest.mark.parametrize("new", [
    ACC % ("", "imports: [ {stream: {account: A, subject: \"ev.>\"}} ]"),  # an import added
    "accounts { A { users: [ {user: a, password: a} ] } }\n",  # an account removed
    ACC % ("", "") + "system_account: B\n",
])
def test_accounts_change_refused(probe, tmp_path, new):
    """gannet builds accounts at start: a reload that changes them is refused
    (nats-server would apply it; README "Differences")."""
    rc, err = reload_check(probe, tmp_path, BASE + ACC % ("", ""), BASE + new)
    assert rc == -1 and err.startswith("config reload not supported for Accounts"), err


def test_account_user_permissions_reloadable(probe, tmp_path):
    new = ACC % ('permissions: { publish: "x" }', "")
    rc, err = reload_check(probe, tmp_path, BASE + ACC % ("", ""), BASE + new)
    assert rc == 0 and err == "", err
