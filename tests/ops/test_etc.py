"""etc/: every example config loads (`-t`), the commented options in
gannet.conf are valid once uncommented, the systemd unit reloads through
`gannet --signal reload=<pid file>`, and the man page documents every flag
and config key gannet takes."""
import glob
import os
import re
import shlex
import shutil
import subprocess

import pytest

from opshelp import GANNET_BIN, HAVE_NATS, REFERENCE_BIN, ROOT, Server, check_conf, run, wait_for, wait_log

ETC = os.path.join(ROOT, "etc")
CONFS = sorted(os.path.basename(f) for f in glob.glob(os.path.join(ETC, "*.conf")))
GANNET_ONLY_KEYS = ("shards", "logtime_utc", "xshard_max_pending")


def test_there_are_examples():
    assert "gannet.conf" in CONFS and len(CONFS) >= 2


@pytest.mark.parametrize("name", CONFS)
def test_example_config_is_valid(name):
    rc, out, err = run(GANNET_BIN, ["-t", "-c", name], cwd=ETC)
    assert rc == 0, err
    assert err.strip() == "gannet: configuration file %s is valid" % name


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
@pytest.mark.parametrize("name", CONFS)
def test_example_config_is_valid_for_nats_server(name):
    rc, out, err = run(REFERENCE_BIN, ["-t", "-c", name], cwd=ETC)
    assert rc == 0, err


def uncommented(text):
    """gannet.conf with its commented-out settings switched on."""
    from test_config import IMPLEMENTED
    keys = "|".join(sorted(IMPLEMENTED) + ["shards", "logtime_utc", "xshard_max_pending", "user", "password"])
    pat = r"^# (\s*(?:(?:%s):\s|authorization \{|\}))" % keys
    return "\n".join(re.sub(pat, r"\1", line) for line in text.splitlines()) + "\n"


def test_commented_options_are_valid():
    text = uncommented(open(os.path.join(ETC, "gannet.conf")).read())
    assert "\nlog_size_limit:" in text and "\nlame_duck_duration:" in text and "\nauthorization {" in text
    rc, _, err = check_conf(GANNET_BIN, text)
    assert rc == 0, err + text
    if HAVE_NATS:
        nats_text = "\n".join(l for l in text.splitlines() if not l.startswith(GANNET_ONLY_KEYS))
        rc, _, err = check_conf(REFERENCE_BIN, nats_text)
        assert rc == 0, err


def test_example_config_runs():
    with Server(GANNET_BIN, conf=open(os.path.join(ETC, "gannet.conf")).read()) as s:
        assert wait_log(s, "Server is ready")


# ---- systemd unit

def unit():
    sections, cur = {}, None
    for line in open(os.path.join(ETC, "gannet.service")):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            cur = sections.setdefault(line.strip("[]"), {})
        else:
            k, _, v = line.partition("=")
            cur[k] = v
    return sections


def pid_file_of(exec_start):
    args = shlex.split(exec_start)
    for i, a in enumerate(args):
        if a in ("-P", "--pid", "-pid"):
            return args[i + 1]
        if a.startswith(("--pid=", "-P=")):
            return a.split("=", 1)[1]
    return None


def test_unit_reloads_with_gannet_signal():
    svc = unit()["Service"]
    pidf = pid_file_of(svc["ExecStart"])
    assert pidf, "ExecStart writes no pid file"
    assert shlex.split(svc["ExecReload"])[1:] == ["--signal", "reload=%s" % pidf]
    assert svc["KillSignal"] == "SIGUSR2"  # lame duck on stop, as nats-server's unit


def test_unit_commands_work(tmp_path):
    """ExecStart and ExecReload as written, with the paths moved into a temp dir."""
    svc = unit()["Service"]
    start = shlex.split(svc["ExecStart"])
    pidf = pid_file_of(svc["ExecStart"])
    conf = start[start.index("-c") + 1]
    sub = {start[0]: os.path.abspath(GANNET_BIN), pidf: str(tmp_path / "gannet.pid"),
           conf: os.path.join(ETC, "gannet.conf")}
    args = [sub.get(a, a) for a in start[1:]]
    with Server(GANNET_BIN, args=args) as s:
        assert wait_for(lambda: os.path.exists(sub[pidf]))
        reload_cmd = [sub.get(a, a.replace(pidf, sub[pidf])) for a in shlex.split(svc["ExecReload"])]
        r = subprocess.run(reload_cmd, capture_output=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert wait_log(s, r"(?i)reload"), s.log()  # SIGHUP arrived and was handled
        assert s.proc.poll() is None


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_unit_verifies(tmp_path):
    text = open(os.path.join(ETC, "gannet.service")).read().replace("/usr/local/bin/gannet",
                                                                     os.path.abspath(GANNET_BIN))
    (tmp_path / "gannet.service").write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "gannet.service")], capture_output=True,
                       text=True, timeout=60)
    problems = [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and "man" not in l]
    assert not problems, problems


# ---- man page

MAN = os.path.join(ETC, "gannet.8")


def man_text():
    return open(MAN).read().replace("\\-", "-")


def test_man_page_renders_cleanly():
    if not shutil.which("groff"):
        pytest.skip("no groff")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_man_page_documents_every_flag():
    rc, out, _ = run(GANNET_BIN, ["-h"])
    flags = set(re.findall(r"(?:^|[\s,])(--?[A-Za-z_]+)", out))
    text = man_text()
    missing = [f for f in sorted(flags) if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(f), text)]
    assert not missing, missing


def test_man_page_documents_every_config_key():
    from test_config import IMPLEMENTED
    text = man_text()
    keys = set(IMPLEMENTED) | {"no_auth_user", "shards", "logtime_utc", "xshard_max_pending"}
    missing = [k for k in sorted(keys) if not re.search(r"(?<![\w-])%s(?![\w])" % re.escape(k), text)]
    assert not missing, missing


def test_readme_lists_what_is_refused():
    """Every key and flag the README says is not supported yet is refused by name."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme.split("## Not yet supported", 1)[1].split("\n## ", 1)[0]
    keys, flags = set(), set()
    for row in section.splitlines():
        if not row.startswith("|") or row.startswith("|---") or row.startswith("| what"):
            continue
        for item in re.findall(r"`([^`]+)`", row.split("|")[2].split("; inside")[0]):
            if item.startswith("-"):
                flags.add(item.split()[0])
            elif re.fullmatch(r"[a-z_]+", item):
                keys.add(item)
    assert len(keys) > 30 and len(flags) > 4  # the table as it is: a parse that finds little is a bug
    for k in sorted(keys):
        val = {"cluster": "{}", "gateway": "{}", "routes": "[]"}.get(k, "1")
        rc, _, err = check_conf(GANNET_BIN, "%s: %s\n" % (k, val))
        assert rc == 1 and '"%s" is not supported yet by gannet' % k in err, (k, err)
    for f in sorted(flags):
        rc, _, err = run(GANNET_BIN, [f, "1"] if f not in BOOL_FLAGS else [f])
        assert rc == 1 and "flag -%s is not supported yet by gannet" % f.lstrip("-") in err, (f, err)


BOOL_FLAGS = {"-js", "--jetstream", "--tls", "--tlsverify", "--no_advertise", "--help_tls"}
