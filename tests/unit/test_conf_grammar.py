"""Config grammar conformance: gannet's parser (core/conf.c, through
build/tool_confdump) against the reference nats-server.

Each case is a config text. gannet's tree, dumped as JSON, must equal the
expected value exactly (types included: 1 is not 1.0 nor True), and gannet's
accept/reject must match `nats-server -t -c FILE`:

  VALID    nats-server -t accepts the file;
  PARSES   nats-server parses it but rejects a value's type for its option
           (a positioned "file:line:col: ..." error), for values no option
           takes (datetimes, ints in string lists...);
  ERR(msg) both reject it as a syntax error; msg, when given, must appear in
           gannet's error and (EOF spelt as nats-server's NUL) in nats-server's.

Keys are ones nats-server knows (port, server_name, pid_file, authorization,
server_tags, max_connections...), or variables, since -t rejects unknown keys.
Run: /usr/bin/python3 -m pytest tests/unit/test_conf_grammar.py
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "build", "tool_confdump")
NATS = os.environ.get("NATS_REFERENCE_BIN", "/usr/sbin/nats-server")

VALID, PARSES = "valid", "parses"


class ERR:
    def __init__(self, msg=None, nats_msg=True):
        self.msg = msg            # expected in gannet's error
        self.nats_msg = nats_msg  # and in nats-server's too


def dt(text, epoch):
    return {"$datetime": text, "$epoch": epoch}


# (id, config text, expected tree or ERR, mode, extra) where extra may hold
# "files" (relative path -> text, written next to the config) and "env".
CASES = [
    # --- key/value separators, terminators, comments
    ("sep-equal", "port = 4333; debug yes", {"port": 4333, "debug": True}, VALID, {}),
    ("sep-colon", "port: 4333", {"port": 4333}, VALID, {}),
    ("sep-space", "port 4333", {"port": 4333}, VALID, {}),
    ("sep-tight", "port=4333", {"port": 4333}, VALID, {}),
    ("sep-newline", "port\n4222", {"port": 4222}, VALID, {}),
    ("sep-nbsp", "port\u00a04222", {"port": 4222}, VALID, {}),
    ("one-line", "port = 1, debug = true; trace = false",
     {"port": 1, "debug": True, "trace": False}, VALID, {}),
    ("comments", "# hash\nport = 1 # after\n// slashes\ndebug: true // after\n",
     {"port": 1, "debug": True}, VALID, {}),
    ("crlf", "port = 1\r\ndebug = true\r\n", {"port": 1, "debug": True}, VALID, {}),
    ("empty", "", {}, VALID, {}),
    ("only-comments", "# nothing\n// here\n", {}, VALID, {}),
    ("quoted-keys", "\"server_name\" = x\n'port': 5", {"server_name": "x", "port": 5}, VALID, {}),
    ("stray-braces", "{{port = 1}", {"port": 1}, VALID, {}),
    ("lone-slash-top", "port = 1 / ", {"port": 1}, VALID, {}),
    ("trailing-key", "port = 1\nfoo", {"port": 1}, VALID, {}),
    # --- JSON
    ("json", '{"port": 4222, "debug": false, "server_name": "srv",\n'
             ' "authorization": {"user": "u", "password": "p", "timeout": 2.5},\n'
             ' "server_tags": ["a", "b"]}',
     {"port": 4222, "debug": False, "server_name": "srv",
      "authorization": {"user": "u", "password": "p", "timeout": 2.5},
      "server_tags": ["a", "b"]}, VALID, {}),
    ("json-int-array", '{"server_tags": [1, 2]}', ERR("but got '}' instead."), None, {}),
    # --- strings
    ("dq-escapes", 'pid_file = "a\\tb\\n\\"q\\"\\\\\\x41"', {"pid_file": "a\tb\n\"q\"\\A"}, VALID, {}),
    ("sq-raw", "pid_file = 'C:\\dir\\x'", {"pid_file": "C:\\dir\\x"}, VALID, {}),
    ("unquoted", "pid_file = /var/run/g.pid", {"pid_file": "/var/run/g.pid"}, VALID, {}),
    ("unquoted-escape", "pid_file = a\\x41", {"pid_file": "aA"}, VALID, {}),
    ("unquoted-hash", "pid_file = a#b", {"pid_file": "a#b"}, VALID, {}),
    ("unquoted-quote-end", "server_name = foo'", {"server_name": "foo"}, VALID, {}),
    ("unquoted-empty", "server_name =", {"server_name": ""}, VALID, {}),
    ("block", "pid_file = (\nline one\nline two\n)\nport = 1",
     {"pid_file": "\nline one\nline two\n", "port": 1}, VALID, {}),
    ("block-eof", "pid_file = (\nx\n)", {"pid_file": "\nx\n)"}, VALID, {}),
    ("eof-after-quote", 'port = 1\nserver_name = "', {"port": 1}, VALID, {}),
    # --- digit-led values
    ("ip", "host = 127.0.0.1", {"host": "127.0.0.1"}, VALID, {}),
    ("host-port", "client_advertise = 10.0.0.1:4222", {"client_advertise": "10.0.0.1:4222"}, VALID, {}),
    ("digit-strings", "server_name = 12abc\nhost = 1kx\npid_file = 1:2",
     {"server_name": "12abc", "host": "1kx", "pid_file": "1:2"}, VALID, {}),
    ("float", "authorization { timeout: 1.5 }", {"authorization": {"timeout": 1.5}}, VALID, {}),
    ("datetime", "authorization { user = u, password = 2006-01-02T15:04:05Z }",
     {"authorization": {"user": "u", "password": dt("2006-01-02T15:04:05Z", 1136214245)}}, PARSES, {}),
    ("int-in-string-list", "server_tags = [1 ]", {"server_tags": [1]}, PARSES, {}),
    ("suffix-in-list", "server_tags = [1k]", {"server_tags": ["1k"]}, VALID, {}),
    # --- integers and size suffixes
    ("k", "max_payload = 1K", {"max_payload": 1000}, VALID, {}),
    ("kb", "max_payload = 1KB", {"max_payload": 1024}, VALID, {}),
    ("ki-kib", "max_payload = 2ki\nmax_pending = 3KiB", {"max_payload": 2048, "max_pending": 3072}, VALID, {}),
    ("m-mb-mi", "max_connections = 2m\nmax_payload = 1mb\nmax_pending = 1Mi",
     {"max_connections": 2000000, "max_payload": 1048576, "max_pending": 1048576}, VALID, {}),
    ("g", "max_connections = 1g", {"max_connections": 10**9}, VALID, {}),
    ("gb-gib", "max_connections = 1gb\nmax_pending = 1GiB", {"max_connections": 2**30, "max_pending": 2**30}, VALID, {}),
    ("t-tb", "max_connections = 1t\nmax_pending = 1tb", {"max_connections": 10**12, "max_pending": 2**40}, VALID, {}),
    ("p-pb", "max_connections = 1p\nmax_pending = 1pb", {"max_connections": 10**15, "max_pending": 2**50}, VALID, {}),
    ("e-eb", "max_connections = 1e\nmax_pending = 1eb", {"max_connections": 10**18, "max_pending": 2**60}, VALID, {}),
    ("negative", "max_connections = -5k", {"max_connections": -5000}, VALID, {}),
    ("leading-zero", "port = 007", {"port": 7}, VALID, {}),
    ("wraps-like-go", "max_connections = 10e", {"max_connections": 10 * 10**18 - 2**64}, VALID, {}),
    # --- booleans
    ("bools", "debug = yes\ntrace = Off\nlogtime = TRUE\nsyslog = no\ntrace_verbose = on\nno_header_support = false",
     {"debug": True, "trace": False, "logtime": True, "syslog": False, "trace_verbose": True,
      "no_header_support": False}, VALID, {}),
    ("quoted-bool-is-string", 'server_name = "true"', {"server_name": "true"}, VALID, {}),
    # --- durations (the loader's business, but the types matter here)
    ("duration-quoted", 'ping_interval: "1m30s"', {"ping_interval": "1m30s"}, VALID, {}),
    ("duration-unquoted-s", "ping_interval: 2s\nwrite_deadline: 500ms",
     {"ping_interval": "2s", "write_deadline": "500ms"}, VALID, {}),
    ("duration-2m-pitfall", "ping_interval: 2m", {"ping_interval": 2000000}, PARSES, {}),
    # --- maps and arrays
    ("map-newlines", "authorization {\n user\n =\n u\n password = p }",
     {"authorization": {"user": "u", "password": "p"}}, VALID, {}),
    ("map-separators", "authorization { user = u; password = p, timeout = 1 }",
     {"authorization": {"user": "u", "password": "p", "timeout": 1}}, VALID, {}),
    ("map-lone-slash", "authorization { user = a / password = b }",
     {"authorization": {"user": "a", "password": "b"}}, VALID, {}),
    ("map-trailing-comma", "authorization { user = a, }", {"authorization": {"user": "a"}}, VALID, {}),
    ("array", "server_tags = [a, \"b\", 'c']", {"server_tags": ["a", "b", "c"]}, VALID, {}),
    ("array-multiline", "server_tags = [\n  a # one\n  b // two\n  c,\n]", {"server_tags": ["a", "b", "c"]}, VALID, {}),
    ("array-lone-slash", "server_tags: [a / b]", {"server_tags": ["a", "b"]}, VALID, {}),
    ("array-of-maps", "authorization { users = [ {user: a, password: b}\n {user: c, password: d} ] }",
     {"authorization": {"users": [{"user": "a", "password": "b"}, {"user": "c", "password": "d"}]}}, VALID, {}),
    ("duplicates", "port = 1\ndebug = true\nport = 2", {"debug": True, "port": 2}, VALID, {}),
    # --- variables
    ("var", "x = 4222\nport = $x", {"x": 4222, "port": 4222}, VALID, {}),
    ("var-scopes", "tok = outer\nauthorization { tok = inner, user = u, password = $tok }\nserver_name = $tok",
     {"tok": "outer", "authorization": {"tok": "inner", "user": "u", "password": "inner"},
      "server_name": "outer"}, VALID, {}),
    ("var-last-definition", "p = 4222\np = 4223\nport = $p", {"p": 4223, "port": 4223}, VALID, {}),
    ("var-env-int", "port = $GANNET_T_PORT", {"port": 4321}, VALID, {"env": {"GANNET_T_PORT": "4321"}}),
    ("var-env-suffix", "max_payload = $GANNET_T_SIZE", {"max_payload": 1000}, VALID, {"env": {"GANNET_T_SIZE": "1k"}}),
    # nats-server parses it, then wants positioned tokens in the list
    ("var-env-array", "server_tags = $GANNET_T_TAGS", {"server_tags": ["a", "b"]}, PARSES,
     {"env": {"GANNET_T_TAGS": "[a, b]"}}),
    ("var-env-chain", "port = $GANNET_T_A", {"port": 5}, VALID, {"env": {"GANNET_T_A": "$GANNET_T_B", "GANNET_T_B": "5"}}),
    ("bcrypt", "authorization { user = u, password = $2a$10$abcdefghijklmnopqrstuv }",
     {"authorization": {"user": "u", "password": "$2a$10$abcdefghijklmnopqrstuv"}}, VALID, {}),
    ("quoted-dollar", 'server_name = "$x"', {"server_name": "$x"}, VALID, {}),
    # --- includes
    ("include", "include inc/a.conf\ndebug = true", {"port": 5555, "debug": True}, VALID,
     {"files": {"inc/a.conf": "port = 5555\n"}}),
    ("include-quoted-upper", 'INCLUDE "inc/a.conf"', {"port": 5555}, VALID, {"files": {"inc/a.conf": "port = 5555\n"}}),
    ("include-in-map", "authorization {\n  include auth.conf\n}",
     {"authorization": {"user": "u", "password": "p"}}, VALID, {"files": {"auth.conf": "user = u\npassword = p\n"}}),
    ("include-nested-relative", "include inc/outer.conf", {"port": 6000}, VALID,
     {"files": {"inc/outer.conf": "include inner.conf\n", "inc/inner.conf": "port = 6000\n"}}),
    ("include-vars", "include vars.conf\nport = $pp", {"pp": 7777, "port": 7777}, VALID,
     {"files": {"vars.conf": "pp = 7777\n"}}),
    ("include-then-override", "include inc/a.conf\nport = 1", {"port": 1}, VALID, {"files": {"inc/a.conf": "port = 5555\n"}}),
    # --- errors
    ("err-dq", 'server_name = "abc', ERR("Unexpected EOF."), None, {}),
    ("err-sq", "server_name = 'abc", ERR("Unexpected EOF."), None, {}),
    ("err-map-eof", "authorization {", ERR("Unexpected EOF processing map."), None, {}),
    ("err-map-open", "authorization { user = u", ERR("Expected a map value terminator \",\" or a map terminator \"}\", but got 'EOF' instead."), None, {}),
    ("err-map-key", "authorization { user", ERR("Unexpected EOF processing map key."), None, {}),
    ("err-map-dqkey", 'authorization { "user', ERR("Unexpected EOF processing double quoted map key."), None, {}),
    ("err-map-sqkey", "authorization { 'user", ERR("Unexpected EOF processing quoted map key."), None, {}),
    ("err-map-comma", "authorization { user = , }", ERR("Unexpected map value terminator \",\"."), None, {}),
    ("err-map-sep", "authorization { = u }", ERR("Unexpected key separator '='."), None, {}),
    ("err-map-bracket", "authorization { ] }", ERR("Unexpected array end ']' processing map."), None, {}),
    ("err-array-open", "server_tags = [a, b", ERR("Expected an array value terminator \",\" or an array terminator \"]\", but got 'EOF' instead."), None, {}),
    ("err-array-int", "server_tags = [1]", ERR("but got 'EOF' instead."), None, {}),
    ("err-array-comma", "server_tags = [a,,b]", ERR("Unexpected array value terminator ','."), None, {}),
    ("err-array-junk", "server_tags = [a b]", ERR("but got 'b' instead."), None, {}),
    ("err-escape", 'pid_file = "a\\qb"', ERR("Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."), None, {}),
    ("err-hex", 'pid_file = "\\x4g"', ERR("Expected two hexadecimal digits after '\\x', but got '4g'"), None, {}),
    ("err-hex-eol", 'pid_file = "\\x4\n"', ERR("Expected two hexadecimal digits after '\\x', but hit end of line"), None, {}),
    ("err-block", "pid_file = (\nabc", ERR("Unexpected EOF processing block."), None, {}),
    ("err-var", "port = $GANNET_NOPE", ERR("variable reference for 'GANNET_NOPE' on line 1 can not be found"), None, {}),
    ("err-var-later", "port = $p\np = 5", ERR("variable reference for 'p' on line 1 can not be found"), None, {}),
    ("err-var-self", "authorization { timeout = $authorization }", ERR("variable reference for 'authorization' on line 1 can not be found"), None, {}),
    ("err-var-env-parse", "port = $GANNET_T_BAD", ERR("variable reference for 'GANNET_T_BAD' on line 1 could not be parsed: "), None,
     {"env": {"GANNET_T_BAD": "foo bar"}}),
    ("err-include-missing", "include ./nope.conf", ERR("error parsing include file './nope.conf', open nope.conf: no such file or directory"), None, {}),
    ("err-include-bad", "include bad.conf", ERR("error parsing include file 'bad.conf', "), None,
     {"files": {"bad.conf": "a = 1\nfoo bar baz\n"}}),
    ("err-include-array", "include [", ERR("Expected include value but found start of an array"), None, {}),
    ("err-include-number", "include 5", ERR("Expected include value but found start of a number"), None, {}),
    ("err-include-eof", 'include "x.conf', ERR("Unexpected EOF in double quoted include"), None, {}),
    ("err-top-sep", "= 1", ERR("Unexpected key separator '='"), None, {}),
    ("err-top-junk", "port = 1 2", ERR("Expected a top-level value to end with a new line, comment or EOF, but got '2' instead."), None, {}),
    ("err-top-slash", "/x = 1", ERR("Unexpected EOF."), None, {}),
    ("err-newline", "port = \n", ERR("Expected value but found new line"), None, {}),
    ("err-dot", "port = .5", ERR("Floats must start with a digit"), None, {}),
    ("err-neg", "port = -x", ERR("Expected a digit but got 'x'."), None, {}),
    ("err-float", "port = 1.", ERR("Floats must have a digit after the '.', but got 'EOF' instead."), None, {}),
    ("err-float-exp", "port = 1.5e3", ERR("but got 'e' instead."), None, {}),
    ("err-date-short", "port = 12-3", ERR("All ISO8601 dates must be in full Zulu form."), None, {}),
    ("err-date-digit", "port = 2006-0", ERR("Expected digit in ISO8601 datetime, but found 'EOF' instead."), None, {}),
    ("err-date-range", "port = 2006-02-30T15:04:05Z", ERR("expected Zulu formatted DateTime, but got '2006-02-30T15:04:05Z'"), None, {}),
    ("err-int-range", "max_connections = 99999999999999999999", ERR("integer '99999999999999999999' is out of the range"), None, {}),
]

# Where gannet deliberately differs from nats-server 2.9.10 (conf.c header):
# gannet rejects, nats-server accepts with a silently dropped or misfiled value.
KNOWN_DIFFERENCES = [
    ("bad-suffix", "max_payload = 1kbb", "invalid size suffix in integer '1kbb'"),
    ("valueless-map-key", "authorization { authorization }", "Expected a value for key 'authorization'"),
    ("nul-byte", "port = 1\0", "unexpected NUL byte"),
    ("too-deep", "server_tags = " + "[" * 70 + "a" + "]" * 70, "maximum nesting depth of 64 exceeded"),
]


def same(a, b):
    """Equality that also requires equal types and equal key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="session")
def tool(tmp_path_factory):
    """build/tool_confdump, or a private build of it when make has not made one."""
    if os.path.exists(TOOL):
        return TOOL
    out = str(tmp_path_factory.mktemp("tool") / "tool_confdump")
    subprocess.run(["gcc", "-std=gnu17", "-O1", "-D_GNU_SOURCE", "-I" + ROOT, "-I" + os.path.join(ROOT, "core"),
                    "-o", out, os.path.join(ROOT, "tests/unit/tool_confdump.c"),
                    os.path.join(ROOT, "core/conf.c"), "-lm"], check=True)
    return out


def write_case(tmp, text, extra):
    for rel, body in extra.get("files", {}).items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(body)
    conf = os.path.join(tmp, "t.conf")
    with open(conf, "wb") as f:
        f.write(text.encode("utf-8"))
    env = dict(os.environ)
    env.update(extra.get("env", {}))
    return conf, env


def run_gannet(tool, tmp, env):
    r = subprocess.run([tool, "t.conf"], cwd=tmp, env=env, capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def run_nats(tmp, env):
    """('valid' | 'parses' | 'parse-error', message) from nats-server -t."""
    r = subprocess.run([NATS, "-t", "-c", "t.conf"], cwd=tmp, env=env, capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    if r.returncode == 0:
        return VALID, out
    msg = out.split("nats-server: ", 1)[-1].strip()
    if re.match(r"[^\s:]+:\d+:\d+: ", msg):
        return PARSES, msg
    m = re.match(r"Parse error on line \d+: '(.*)'$", msg, re.S)
    if m:
        msg = m.group(1)
    return "parse-error", msg.replace("\0", "EOF")


@pytest.mark.parametrize("case_id,text,expected,mode,extra", CASES, ids=[c[0] for c in CASES])
def test_grammar(tool, tmp_path, case_id, text, expected, mode, extra):
    tmp = str(tmp_path)
    conf, env = write_case(tmp, text, extra)
    rc, out, err = run_gannet(tool, tmp, env)
    if isinstance(expected, ERR):
        assert rc == 1, "gannet accepted %r: %s" % (text, out)
        assert re.match(r"t\.conf:\d+:\d+: ", err), err
        if expected.msg:
            assert expected.msg in err, err
    else:
        assert rc == 0, "gannet rejected %r: %s" % (text, err)
        got = json.loads(out)
        assert same(got, expected), "got %r, expected %r" % (got, expected)

    if not os.path.exists(NATS):
        pytest.skip("no reference nats-server at %s" % NATS)
    verdict, msg = run_nats(tmp, env)
    if isinstance(expected, ERR):
        assert verdict == "parse-error", "nats-server: %s (%s)" % (verdict, msg)
        if expected.msg and expected.nats_msg:
            assert expected.msg in msg, "nats-server said: %s" % msg
    elif mode == VALID:
        assert verdict == VALID, "nats-server rejected it: %s" % msg
    else:
        assert verdict in (VALID, PARSES), "nats-server: %s" % msg


@pytest.mark.parametrize("case_id,text,msg", KNOWN_DIFFERENCES, ids=[c[0] for c in KNOWN_DIFFERENCES])
def test_known_differences(tool, tmp_path, case_id, text, msg):
    tmp = str(tmp_path)
    conf, env = write_case(tmp, text, {})
    rc, out, err = run_gannet(tool, tmp, env)
    assert rc == 1 and msg in err, (rc, out, err)
    if not os.path.exists(NATS):
        pytest.skip("no reference nats-server at %s" % NATS)
    verdict, nmsg = run_nats(tmp, env)
    assert verdict != "parse-error", "nats-server now rejects it too (%s): drop the difference" % nmsg


def test_positions(tool, tmp_path):
    """Values, keys and include-aware file names as the loader sees them (-p)."""
    tmp = str(tmp_path)
    conf, env = write_case(tmp, "x = 5\nauthorization {\n  timeout: $x\n  include inc/u.conf\n}\n",
                           {"files": {"inc/u.conf": "\n  user = 'bob'\n"}})
    r = subprocess.run([tool, "-p", "t.conf"], cwd=tmp, env=env, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    root = json.loads(r.stdout)
    x = root["value"]["x"]
    assert (x["pos"], x["key_pos"], x["used_as_var"]) == ("t.conf:1:5", "1:1", True)
    auth = root["value"]["authorization"]
    assert (auth["pos"], auth["key_pos"]) == ("t.conf:2:15", "2:1")
    t = auth["value"]["timeout"]
    assert (t["kind"], t["pos"], t["key_pos"], t["value"]) == ("int", "t.conf:3:12", "3:3", 5)
    u = auth["value"]["user"]
    assert (u["pos"], u["key_pos"], u["quoted"], u["value"]) == ("inc/u.conf:2:10", "2:3", True, "bob")
