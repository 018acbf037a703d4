"""Config files: every nats-server 2.9.10 top-level option is either applied
or refused by name, errors carry file:line:col and nats-server's wording,
`-t` exits 0 or 1 as nats-server's does.

Where nats-server's own behaviour is the reference, the same file is given to
/usr/sbin/nats-server -t as well (skipped when it is not installed).
"""
import re

import pytest

from opshelp import GANNET_BIN, HAVE_NATS, REFERENCE_BIN, check_conf, first_error, probe_load

# Every top-level key nats-server 2.9.10 knows (server/opts.go,
# processConfigFileLine), with a value of the type it takes.
NATS_KEYS = {
    "listen": '"127.0.0.1:4333"', "client_advertise": '"h:1"', "port": "4333", "server_name": "n",
    "host": '"127.0.0.1"', "net": '"127.0.0.1"', "debug": "true", "trace": "true", "trace_verbose": "true",
    "logtime": "false", "mappings": "{}", "maps": "{}", "disable_sublist_cache": "true",
    "no_sublist_cache": "true", "accounts": "{}", "authorization": "{ token: t }", "http": "8222",
    "https": "8222", "http_port": "8222", "monitor_port": "8222", "https_port": "8222",
    "http_base_path": '"/x"', "cluster": "{ listen: 6222 }", "gateway": "{ name: g }", "leaf": "{}",
    "leafnodes": "{}", "store_dir": '"/tmp/js"', "storedir": '"/tmp/js"', "jetstream": "false",
    "logfile": '"/tmp/x.log"', "log_file": '"/tmp/x.log"', "logfile_size_limit": "1000",
    "log_size_limit": "1000", "syslog": "false", "remote_syslog": '"udp://127.0.0.1:514"',
    "pidfile": '"/tmp/x.pid"', "pid_file": '"/tmp/x.pid"', "ports_file_dir": '"/tmp"', "prof_port": "6060",
    "max_control_line": "4096", "max_payload": "1024", "max_pending": "2MB", "max_connections": "10",
    "max_conn": "10", "max_traced_msg_len": "10", "max_subscriptions": "10", "max_subs": "10",
    "max_sub_tokens": "10", "max_subscription_tokens": "10", "ping_interval": '"1m"', "ping_max": "3",
    "tls": "{}", "ocsp": "false", "allow_non_tls": "true", "write_deadline": '"5s"',
    "lame_duck_duration": '"45s"', "lame_duck_grace_period": '"5s"', "operator": '"op.jwt"',
    "operators": '"op.jwt"', "roots": '"op.jwt"', "root": '"op.jwt"', "root_operators": '"op.jwt"',
    "root_operator": '"op.jwt"', "resolver": "MEMORY", "account_resolver": "MEMORY",
    "accounts_resolver": "MEMORY", "resolver_tls": "{}", "resolver_preload": "{}",
    "resolver_pinned_accounts": "[]", "no_auth_user": "u", "system_account": "SYS", "system": "SYS",
    "no_system_account": "true", "no_system": "true", "no_sys_acc": "true", "no_header_support": "true",
    "trusted": "[]", "trusted_keys": "[]", "connect_error_reports": "5", "reconnect_error_reports": "5",
    "websocket": "{}", "ws": "{}", "mqtt": "{}", "server_tags": '["a"]', "default_js_domain": "{}",
}

# The ones gannet implements: the field each sets (as tests/ops/probe.c prints it) and the value expected.
IMPLEMENTED = {
    "cluster": [("cluster.configured", "1"), ("cluster.port", "6222")],
    "tls": [("tls.configured", "1"), ("tls.timeout_ms", "2000")],
    "allow_non_tls": [("allow_non_tls", "1")],
    "https": [("https_port", "8222")],
    "https_port": [("https_port", "8222")],
    "client_advertise": [("client_advertise", "h:1")],
    "connect_error_reports": [("connect_error_reports", "5")],
    "reconnect_error_reports": [("reconnect_error_reports", "5")],
    "listen": [("host", "127.0.0.1"), ("port", "4333")],
    "port": [("port", "4333")],
    "server_name": [("server_name", "n")],
    "host": [("host", "127.0.0.1")],
    "net": [("host", "127.0.0.1")],
    "debug": [("debug", "1")],
    "trace": [("trace", "1")],
    "trace_verbose": [("trace", "1")],
    "logtime": [("logtime", "0")],
    "authorization": [("token", "t")],
    "logfile": [("log_file", "/tmp/x.log")],
    "log_file": [("log_file", "/tmp/x.log")],
    "logfile_size_limit": [("log_size_limit", "1000")],
    "log_size_limit": [("log_size_limit", "1000")],
    "syslog": [("syslog", "0")],
    "remote_syslog": [("remote_syslog", "udp://127.0.0.1:514")],
    "pidfile": [("pid_file", "/tmp/x.pid")],
    "pid_file": [("pid_file", "/tmp/x.pid")],
    "ports_file_dir": [("ports_file_dir", "/tmp")],
    "max_control_line": [("max_control_line", "4096")],
    "max_payload": [("max_payload", "1024")],
    "max_pending": [("max_pending", "2097152")],
    "max_connections": [("max_connections", "10")],
    "max_conn": [("max_connections", "10")],
    "max_subscriptions": [("max_subs", "10")],
    "max_subs": [("max_subs", "10")],
    "ping_interval": [("ping_interval_ms", "60000")],
    "ping_max": [("ping_max", "3")],
    "write_deadline": [("write_deadline_ms", "5000")],
    "lame_duck_duration": [("lame_duck_duration_ms", "45000")],
    "lame_duck_grace_period": [("lame_duck_grace_ms", "5000")],
    "http": [("http_port", "8222"), ("http_host", "0.0.0.0")],
    "http_port": [("http_port", "8222")],
    "monitor_port": [("http_port", "8222")],
    "http_base_path": [("http_base_path", "/x")],
    "accounts": [("naccounts", "0")],
    "system_account": [("system_account", "SYS")],
    "system": [("system_account", "SYS")],
    "no_system_account": [("no_system_account", "1")],
    "no_system": [("no_system_account", "1")],
    "no_sys_acc": [("no_system_account", "1")],
    "mappings": [("nmaps", "0")],
    "maps": [("nmaps", "0")],
}
SPECIAL = {  # keys that need a companion to be valid on their own
    "no_auth_user": "authorization { users: [ { user: u, password: p } ] }\n",
}
REFUSED = sorted(set(NATS_KEYS) - set(IMPLEMENTED) - set(SPECIAL))


def conf_for(key):
    return SPECIAL.get(key, "") + "%s: %s\n" % (key, NATS_KEYS[key])


@pytest.mark.parametrize("key", sorted(IMPLEMENTED))
def test_implemented_key_takes_effect(probe, key, tmp_path):
    (tmp_path / "c.conf").write_text(conf_for(key))
    rc, err, fields = probe_load(probe, "-c", "c.conf", cwd=str(tmp_path))
    assert rc == 0, err
    for field, want in IMPLEMENTED[key]:
        assert fields[field] == want, (key, field, fields[field])
    rc, _, err = check_conf(GANNET_BIN, conf_for(key))
    assert rc == 0, err


def test_no_auth_user_takes_effect(probe, tmp_path):
    (tmp_path / "c.conf").write_text(conf_for("no_auth_user"))
    rc, err, fields = probe_load(probe, "-c", "c.conf", cwd=str(tmp_path))
    assert rc == 0 and fields["no_auth_user"] == "u" and fields["users[0]"] == "u", err


@pytest.mark.parametrize("key", REFUSED)
def test_unimplemented_key_refused_by_name(key):
    rc, _, err = check_conf(GANNET_BIN, conf_for(key))
    assert rc == 1
    assert first_error(err) .startswith('c.conf:1:1: "%s" is not supported yet by gannet (' % key), err
    assert "unknown field" not in err


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
@pytest.mark.parametrize("key", sorted(NATS_KEYS))
def test_key_list_matches_nats_server(key):
    """Each key of the list is one nats-server knows: it never says `unknown field` for it."""
    rc, _, err = check_conf(REFERENCE_BIN, conf_for(key))
    assert 'unknown field "%s"' % key not in err, err


def test_keys_case_insensitive(probe, tmp_path):
    (tmp_path / "c.conf").write_text("PORT: 4444\nMax_Payload: 2KB\nAUTHORIZATION { USER: a, PASSWORD: b }\n")
    rc, err, f = probe_load(probe, "-c", "c.conf", cwd=str(tmp_path))
    assert rc == 0, err
    assert (f["port"], f["max_payload"], f["user"], f["pass"]) == ("4444", "2048", "a", "b")


def test_gannet_only_keys(probe, tmp_path):
    (tmp_path / "c.conf").write_text("shards: 3\nlogtime_utc: true\nxshard_max_pending: 1MB\n")
    rc, err, f = probe_load(probe, "-c", "c.conf", cwd=str(tmp_path))
    assert rc == 0, err
    assert (f["shards"], f["logtime_utc"], f["xshard_max_pending"]) == ("3", "1", str(1 << 20))


def test_defaults(probe):
    rc, err, f = probe_load(probe)
    assert rc == 0, err
    assert f["host"] == "0.0.0.0" and f["port"] == "4222"
    assert f["xshard_max_pending"] == str(4 << 20)
    assert f["lame_duck_duration_ms"] == "120000" and f["lame_duck_grace_ms"] == "10000"
    assert f["log_size_limit"] == "0" and f["syslog"] == "0" and f["ports_file_dir"] == "(null)"
    assert f["ping_interval_ms"] == "120000" and f["write_deadline_ms"] == "10000" and f["logtime"] == "1"


# ---- -t and errors

def test_t_valid_message_and_rc():
    rc, out, err = check_conf(GANNET_BIN, "port: 4333\n")
    assert rc == 0 and out == ""
    assert err.strip() == "gannet: configuration file c.conf is valid"


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
def test_t_valid_like_nats_server():
    rc, out, err = check_conf(REFERENCE_BIN, "port: 4333\n")
    assert rc == 0 and err.strip() == "nats-server: configuration file c.conf is valid"


def test_t_without_config():
    rc, out, err = check_conf(GANNET_BIN, "", extra=())  # -t -c c.conf: an empty file is valid
    assert rc == 0
    from opshelp import run
    rc, out, err = run(GANNET_BIN, ["-t"])
    assert rc == 1
    assert err.strip() == "gannet: must specify [-c, --config] option to check configuration file syntax"


def test_missing_file():
    from opshelp import run
    rc, out, err = run(GANNET_BIN, ["-t", "-c", "/nonexistent/x.conf"])
    assert rc == 1 and "no such file or directory" in err.lower()


UNKNOWN = "port: 4333\nfoo: 1\nauthorization { user: a, password: b, bar: 2 }\n"


def test_unknown_fields_all_reported_with_position():
    rc, _, err = check_conf(GANNET_BIN, UNKNOWN)
    assert rc == 1
    lines = err.strip().splitlines()
    assert lines[0] == 'gannet: c.conf:2:1: unknown field "foo"'
    assert lines[1] == 'c.conf:3:39: unknown field "bar"'


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
def test_unknown_field_wording_matches_nats_server():
    rc, _, err = check_conf(REFERENCE_BIN, UNKNOWN)
    assert rc == 1
    assert 'c.conf:2:1: unknown field "foo"' in err  # same text, same position (nats says 1:0 on line 1)
    assert 'unknown field "bar"' in err


def test_variable_keys_are_not_unknown():
    rc, _, err = check_conf(GANNET_BIN, "p = 4333\nport: $p\n")
    assert rc == 0, err


def test_type_errors_name_the_key():
    rc, _, err = check_conf(GANNET_BIN, "port: 1\nmax_payload: \"big\"\n")
    assert rc == 1 and first_error(err).startswith("c.conf:2:") and "max_payload" in err


def test_duration_int_warns_and_t_fails_like_nats_server():
    text = "ping_interval: 10\n"
    rc, _, err = check_conf(GANNET_BIN, text)
    assert rc == 1
    assert 'invalid use of field "ping_interval": ping_interval should be converted to a duration' in first_error(err)
    if HAVE_NATS:
        rc2, _, err2 = check_conf(REFERENCE_BIN, text)
        assert rc2 == 1 and "ping_interval should be converted to a duration" in err2


def test_duration_int_warning_when_running(probe, tmp_path):
    from opshelp import Server
    with Server(GANNET_BIN, conf="ping_interval: 100\n") as s:
        pass
    assert re.search(r'server\.conf:1:\d+: invalid use of field "ping_interval"', s.log())
    (tmp_path / "c.conf").write_text("ping_interval: 100\n")
    rc, err, f = probe_load(probe, "-c", "c.conf", cwd=str(tmp_path))
    assert rc == 0 and f["ping_interval_ms"] == "100000"


@pytest.mark.parametrize("text,msg", [
    ('lame_duck_duration: "10s"\n', "invalid lame_duck_duration of 10s, minimum is 30 seconds"),
    ('lame_duck_duration: "29.5s"\n', "invalid lame_duck_duration of 29.5s, minimum is 30 seconds"),
    ('lame_duck_grace_period: "-1s"\n', "invalid lame_duck_grace_period, needs to be positive"),
    ('lame_duck_grace_period: "abc"\n', 'error parsing lame_duck_grace_period: time: invalid duration "abc"'),
    ('lame_duck_duration: "30s"\nlame_duck_grace_period: "40s"\n',
     "lame duck grace period (40s) should be strictly lower than lame duck duration (30s)"),
])
def test_lame_duck_validation(text, msg):
    rc, _, err = check_conf(GANNET_BIN, text)
    assert rc == 1 and msg in err, err


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
@pytest.mark.parametrize("text,msg", [
    ('lame_duck_duration: "10s"\n', "invalid lame_duck_duration of 10s, minimum is 30 seconds"),
    ('lame_duck_grace_period: "-1s"\n', "invalid lame_duck_grace_period, needs to be positive"),
])
def test_lame_duck_wording_matches_nats_server(text, msg):
    rc, _, err = check_conf(REFERENCE_BIN, text)
    assert rc == 1 and msg in err, err


def test_lame_duck_grace_zero_is_default(probe, tmp_path):
    (tmp_path / "c.conf").write_text('lame_duck_duration: "1m30s"\nlame_duck_grace_period: "0s"\n')
    rc, err, f = probe_load(probe, "-c", "c.conf", cwd=str(tmp_path))
    assert rc == 0 and f["lame_duck_duration_ms"] == "90000" and f["lame_duck_grace_ms"] == "10000"


def test_max_payload_too_big():
    rc, _, err = check_conf(GANNET_BIN, "max_pending: 10GB\nmax_payload: 3GB\n")
    assert rc == 1 and "max_payload value is too big" in err


def test_authorization_nested_refusals():
    rc, _, err = check_conf(GANNET_BIN, "authorization { permissions: { publish: x } }\n")
    assert rc == 1 and 'authorization "permissions" is not supported yet by gannet' in err
    # not a refusal: nats-server 2.9.10 has no `account` in a user either (tests/proto/test_proto_users.py)
    rc, _, err = check_conf(GANNET_BIN, "authorization { users: [ { user: a, password: b, account: A } ] }\n")
    assert rc == 1 and 'unknown field "account"' in err


def test_cluster_block_is_checked_before_refusal():
    rc, _, err = check_conf(GANNET_BIN, "cluster { listen: 6222, bogus: 1 }\n")
    assert rc == 1 and first_error(err) == 'c.conf:1:25: unknown field "bogus"'


def test_mapping_functions_beyond_wildcard_refused_by_name(tmp_path):
    """gannet maps $n and {{wildcard(n)}}; nats-server 2.9.10's other mapping
    functions are refused by name, never applied wrongly."""
    for fn in ("partition(3,1)", "split(1,-)", "splitFromLeft(1,2)"):
        (tmp_path / "c.conf").write_text('mappings { "a.*": "b.{{%s}}" }\n' % fn)
        rc, _, err = check_conf(GANNET_BIN, (tmp_path / "c.conf").read_text())
        name = fn.split("(")[0]
        assert rc == 1 and 'mapping function "%s" is not supported yet by gannet' % name in err, err
