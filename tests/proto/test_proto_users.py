"""User entries: the fields a user of `authorization { users }` or of
`accounts { X { users } }` may have, and the errors for the others
(nats-compat.md 6.1, 7.1 "unknown field").

The contract checked here, as nats-server 2.9.10 behaves:
- A user has no `account` field in 2.9.10: `{user: x, password: y,
  account: A}` is refused with `unknown field "account"` at the key, in the
  authorization block and inside an account alike, whether or not A is an
  account of the file. A user belongs to an account by being listed in its
  `accounts { A { users } }`; the others are in $G.
- Any other unknown field of a user is refused with the same words
  (`unknown field "foo"`), and every error of every user is reported, one
  per line (`-t` and a normal start exit 1; only the first line carries
  the program name).

Positions: nats-server counts columns from 0 on the first line of a file
and from 1 on the others; gannet counts from 1 everywhere, so the configs
here start with a blank line.
"""
import os
import re
import signal
import subprocess
import time

import pytest

from nkeys import KeyPair
from proto import C0, Conn, connect_line
from servers import free_port

BASE = {"verbose": False, "pedantic": False, "headers": True, "protocol": 1}


def prog(server_bin):
    return os.path.basename(server_bin)


def check_config(server_bin, tmp_path, conf):
    """`<server> -t -c <file>`: (path, rc, stdout, stderr)."""
    path = tmp_path / "check.conf"
    path.write_text(conf)
    r = subprocess.run([server_bin, "-t", "-c", str(path)], capture_output=True, text=True, timeout=10)
    return str(path), r.returncode, r.stdout, r.stderr


def errors(server_bin, path, err):
    """The error lines of a failed check, each `<line>:<col>: <message>`."""
    assert err.startswith(prog(server_bin) + ": " + path + ":"), err
    body = err[len(prog(server_bin) + ": "):]
    return [ln[len(path) + 1:] for ln in body.splitlines() if ln]


def col(conf, line, text):
    """1-based column of text on 1-based line of conf."""
    return conf.split("\n")[line - 1].index(text) + 1


# ---- `account` in a user ---------------------------------------------------------------------

ACCOUNT_IN_USER = [
    ("known-account", """
accounts { A { users: [ {user: a0, password: a0} ] } }
authorization { users: [ {user: x, password: y, account: A} ] }
"""),
    ("unknown-account", """
accounts { A { users: [ {user: a0, password: a0} ] } }
authorization { users: [ {user: x, password: y, account: B} ] }
"""),
    ("no-accounts-block", """
authorization { users: [ {user: x, password: y, account: A} ] }
"""),
    ("global-account", """
accounts { A { } }
authorization { users: [ {user: x, password: y, account: "$G"} ] }
"""),
    ("inside-an-account", """
accounts { A { users: [ {user: a0, password: a0, account: B} ] }, B {} }
"""),
]


@pytest.mark.parametrize("conf", [c for _, c in ACCOUNT_IN_USER], ids=[i for i, _ in ACCOUNT_IN_USER])
def test_account_in_user_is_unknown_field(server_bin, tmp_path, conf):
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert (rc, out) == (1, ""), err
    line = next(i + 1 for i, ln in enumerate(conf.split("\n")) if "account:" in ln)
    assert errors(server_bin, path, err) == ['%d:%d: unknown field "account"' % (line, col(conf, line, "account:"))]


def test_account_in_user_stops_a_normal_start(server_bin, tmp_path):
    path = tmp_path / "s.conf"
    path.write_text(ACCOUNT_IN_USER[0][1])
    r = subprocess.run([server_bin, "-a", "127.0.0.1", "-p", str(free_port()), "-c", str(path)],
                       capture_output=True, text=True, timeout=5)
    assert r.returncode == 1
    assert re.match(r'^%s: %s:3:\d+: unknown field "account"\n' % (prog(server_bin), re.escape(str(path))),
                    r.stderr), r.stderr


def test_unknown_user_fields_all_reported(server_bin, tmp_path):
    """One error per unknown field, from every user of the list."""
    conf = """
authorization { users: [
  {user: x, password: y, foo: 1}
  {user: z, password: y, bar: 2}
] }
accounts { A { users: [ {user: a, password: a, baz: 3} ] } }
"""
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert (rc, out) == (1, "")
    assert sorted(errors(server_bin, path, err)) == sorted([
        '3:%d: unknown field "foo"' % col(conf, 3, "foo"),
        '4:%d: unknown field "bar"' % col(conf, 4, "bar"),
        '6:%d: unknown field "baz"' % col(conf, 6, "baz"),
    ])


# ---- allowed_connection_types ----------------------------------------------------------------
#
# nats-server 2.9.10 (parseAllowedConnectionTypes, convertAllowedConnectionTypes):
# - keys `allowed_connection_types`, `connection_types`, `clients`; a string
#   or an array of strings; names in any case among STANDARD, WEBSOCKET,
#   LEAFNODE, LEAFNODE_WS, MQTT, MQTT_WS; an empty list allows every type;
# - unknown names: one error at the key, `invalid connection types ["FOO"
#   "BAR"]` (Go's %q of the upper-cased names, in order); a value that is no
#   string or array: `error parsing allowed connection types: unsupported
#   type int64` (Go type names) at the key; an element that is no string:
#   `... unsupported type in array bool` at the element, the others still
#   read;
# - a client whose user does not allow STANDARD gets `-ERR 'Authorization
#   Violation'` and is closed (password users, nkey users, users of an
#   account, and the no_auth_user for a CONNECT without credentials alike);
# - on reload, connected clients whose user no longer allows STANDARD are
#   closed the same way; the others stay.

CT_LINE = "\nauthorization { users: [ {user: x, password: y, %s} ] }\n"

CT_VALID = [
    'allowed_connection_types: ["STANDARD"]',
    'allowed_connection_types: ["standard", "Websocket", "leafnode", "LEAFNODE_WS", "mqtt", "MQTT_WS"]',
    'allowed_connection_types: "STANDARD"',
    'allowed_connection_types: websocket',
    'allowed_connection_types: []',
    'connection_types: ["WEBSOCKET"]',
    'clients: ["LEAFNODE"]',
]


@pytest.mark.parametrize("field", CT_VALID)
def test_connection_types_valid(server_bin, tmp_path, field):
    path, rc, out, err = check_config(server_bin, tmp_path, CT_LINE % field)
    assert (rc, out, err) == (0, "", "%s: configuration file %s is valid\n" % (prog(server_bin), path))


CT_KEY_ERRORS = [
    ('allowed_connection_types: ["FOO"]', 'invalid connection types ["FOO"]'),
    ('allowed_connection_types: ["FOO", "bar", "MQTT"]', 'invalid connection types ["FOO" "BAR"]'),
    ('allowed_connection_types: ["STANDARD", "IN_PROCESS"]', 'invalid connection types ["IN_PROCESS"]'),
    ('allowed_connection_types: [ "a", "b", "a" ]', 'invalid connection types ["A" "B" "A"]'),
    ('allowed_connection_types: [ "" ]', 'invalid connection types [""]'),
    ('allowed_connection_types: "a\\"b\\\\c"', 'invalid connection types ["A\\"B\\\\C"]'),
    ('connection_types: ["nope"]', 'invalid connection types ["NOPE"]'),
    ('allowed_connection_types: 5', 'error parsing allowed connection types: unsupported type int64'),
    ('allowed_connection_types: 1.5', 'error parsing allowed connection types: unsupported type float64'),
    ('allowed_connection_types: true', 'error parsing allowed connection types: unsupported type bool'),
    ('allowed_connection_types: {a: 1}',
     'error parsing allowed connection types: unsupported type map[string]interface {}'),
    ('allowed_connection_types: 2020-01-01T00:00:00Z',
     'error parsing allowed connection types: unsupported type time.Time'),
]


@pytest.mark.parametrize("field,error", CT_KEY_ERRORS, ids=[e[0] for e in CT_KEY_ERRORS])
def test_connection_types_errors_at_key(server_bin, tmp_path, field, error):
    conf = CT_LINE % field
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert (rc, out) == (1, ""), err
    key = field.split(":")[0]
    assert errors(server_bin, path, err) == ["2:%d: %s" % (col(conf, 2, key), error)]


def test_connection_types_element_errors(server_bin, tmp_path):
    """A non-string element is reported where it is; the rest is still read."""
    conf = CT_LINE % 'allowed_connection_types: [\n  "STANDARD"\n     true, "bad", 7 ]'
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert (rc, out) == (1, "")
    assert errors(server_bin, path, err) == [
        "4:6: error parsing allowed connection types: unsupported type in array bool",
        "4:%d: error parsing allowed connection types: unsupported type in array int64" % col(conf, 4, "7"),
        '2:%d: invalid connection types ["BAD"]' % col(conf, 2, "allowed_connection_types"),
    ]


def test_connection_types_errors_of_every_user(server_bin, tmp_path):
    conf = """
authorization { users: [
  {user: x, password: y, allowed_connection_types: ["a"]}
  {user: z, password: y, allowed_connection_types: ["STANDARD"]}
] }
accounts { A { users: [ {user: q, password: y, clients: ["b"]} ] } }
"""
    path, rc, out, err = check_config(server_bin, tmp_path, conf)
    assert (rc, out) == (1, "")
    assert sorted(errors(server_bin, path, err)) == sorted([
        '3:%d: invalid connection types ["A"]' % col(conf, 3, "allowed"),
        '6:%d: invalid connection types ["B"]' % col(conf, 6, "clients"),
    ])


def connect(server, **creds):
    """A raw connection that sent CONNECT (with nkey=KeyPair: signed nonce)."""
    c = Conn(server.port)
    o = dict(BASE)
    kp = creds.pop("nkey", None)
    if kp is not None:
        o.update(nkey=kp.public, sig=kp.sign(c.info["nonce"]))
    if "password" in creds:
        creds["pass"] = creds.pop("password")
    o.update(creds)
    c.send(connect_line(o))
    return c


def works(c):
    """c is served: it gets its own message back (on a subject of its own)."""
    subj = b"t.%d" % id(c)
    c.send(b"SUB " + subj + b" 1\r\nPUB " + subj + b" 2\r\nok\r\nPING\r\n")
    c.expect(b"MSG " + subj + b" 1 2\r\nok\r\nPONG\r\n")


def refused(c):
    c.expect_close("Authorization Violation")


NK_ALLOWED, NK_REFUSED = KeyPair(), KeyPair()
CT_CONF = """
authorization { users: [
  {user: ws, password: p, allowed_connection_types: ["WEBSOCKET"]}
  {user: std, password: p, allowed_connection_types: ["standard"]}
  {user: all, password: p, allowed_connection_types: []}
  {user: other, password: p, allowed_connection_types: ["MQTT", "LEAFNODE", "LEAFNODE_WS", "MQTT_WS"]}
  {nkey: %s, allowed_connection_types: ["WEBSOCKET"]}
  {nkey: %s, allowed_connection_types: "STANDARD"}
] }
accounts { A { users: [
  {user: a_ws, password: p, clients: ["websocket"]}
  {user: a_std, password: p, connection_types: ["STANDARD", "MQTT"]}
] } }
""" % (NK_REFUSED.public, NK_ALLOWED.public)


@pytest.mark.parametrize("creds,ok", [
    ({"user": "ws", "password": "p"}, False),
    ({"user": "other", "password": "p"}, False),
    ({"user": "std", "password": "p"}, True),
    ({"user": "all", "password": "p"}, True),
    ({"user": "ws", "password": "wrong"}, False),
    ({"nkey": NK_REFUSED}, False),
    ({"nkey": NK_ALLOWED}, True),
    ({"user": "a_ws", "password": "p"}, False),
    ({"user": "a_std", "password": "p"}, True),
], ids=["websocket-only", "no-standard", "standard", "empty-list", "wrong-password", "nkey-websocket",
        "nkey-standard", "account-websocket", "account-standard"])
def test_connection_type_enforced(make_server, creds, ok):
    s = make_server(conf=CT_CONF)
    c = connect(s, **creds)
    works(c) if ok else refused(c)


def test_no_auth_user_without_standard_refused(make_server):
    """A CONNECT without credentials becomes the no_auth_user, whose types
    apply; credentials of a user that allows STANDARD still work."""
    s = make_server(conf="""
no_auth_user: n
authorization { users: [
  {user: n, password: p, allowed_connection_types: ["WEBSOCKET"]}
  {user: u, password: p}
] }
""")
    c = Conn(s.port)
    c.send(C0)
    refused(c)
    works(connect(s, user="u", password="p"))


def wait_log(server, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.05)


def test_reload_closes_clients_no_longer_allowed(make_server):
    v1 = """
authorization { users: [
  {user: u, password: p, allowed_connection_types: ["STANDARD"]}
  {user: v, password: p}
  {user: w, password: p, allowed_connection_types: ["WEBSOCKET"]}
] }
"""
    v2 = v1.replace('["STANDARD"]', '["MQTT"]').replace("{user: v, password: p}",
                                                       '{user: v, password: p, clients: ["standard"]}')
    v2 = v2.replace('["WEBSOCKET"]', '["WEBSOCKET", "STANDARD"]')
    s = make_server(conf=v1)
    u, v = connect(s, user="u", password="p"), connect(s, user="v", password="p")
    works(u), works(v)
    refused(connect(s, user="w", password="p"))
    with open(s.conf_path, "w") as f:
        f.write(v2)
    s.proc.send_signal(signal.SIGHUP)
    wait_log(s, "Reloaded server configuration")
    refused(u)
    works(v)
    refused(connect(s, user="u", password="p"))
    works(connect(s, user="w", password="p"))
