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
import subprocess

import pytest

from servers import free_port


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
