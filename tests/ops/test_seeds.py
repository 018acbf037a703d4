"""The seed documents' configurations (etc/seeds/, see its README.md).

For each file: gannet accepts the forms nats-server rejects, with one
warning line per extension that names it, says nats-server 2.9.10 rejects it
and what gannet reads it as; then refuses the file by naming the first
capability it cannot serve yet (`-t` exits 1). nats-server -t on the same
file rejects exactly the extensions (`unknown field`)."""
import glob
import os
import re

import pytest

from opshelp import GANNET_BIN, HAVE_NATS, REFERENCE_BIN, ROOT, run

SEEDS = os.path.join(ROOT, "etc", "seeds")

ROUTES_NO_BLOCK = ('top-level ', "routes", "cluster { listen: 0.0.0.0:6222, routes }")
GW_HOST = ("gateways entry ", "host", "the host of the gateway url")
GW_PORT = ("gateways entry ", "port", "the port of the gateway url")

# file: (extension warnings as (where, key, meaning), first refused key (None: the file is valid),
#        keys nats-server calls unknown)
EXPECT = {
    "supercluster-aws.json": ([("cluster ", "connect_timeout", "the timeout for dialling a route"),
                               ("cluster ", "ping_interval", "the ping interval of routes"),
                               ("cluster ", "ping_max", "the unanswered pings after which a route is closed")],
                              None, ["connect_timeout", "ping_interval", "ping_max"]),
    "supercluster-us-east-1.conf": ([], None, []),
    "supercluster-eu-west-2.conf": ([], None, []),
    "cluster-toplevel-routes-1.conf": ([ROUTES_NO_BLOCK], None, ["routes"]),
    "cluster-toplevel-routes-2.conf": ([ROUTES_NO_BLOCK], None, ["routes"]),
    "gateway-gw-a.conf": ([GW_HOST, GW_PORT, ROUTES_NO_BLOCK], "gateway", ["host", "port", "routes"]),
    "gateway-gw-b.conf": ([GW_HOST, GW_PORT, ROUTES_NO_BLOCK], "gateway", ["host", "port", "routes"]),
    "gateway-exports.conf": ([("gateway ", "exports", "the subjects this cluster sends to the other clusters")],
                             "gateway", ["exports"]),
    "gateway-imports.conf": ([("gateway ", "imports", "the subjects this cluster accepts from the named cluster")],
                             "gateway", ["imports"]),
    "cluster-server-1.conf": ([], None, []),
    "cluster-server-2.conf": ([], None, []),
    "cluster-basic.conf": ([], None, []),
    # as nats-server 2.9.10 says it, word for word: the seed names certificate files it does not ship
    "cluster-tls.conf": ([], "!cluster-tls.conf:8:3: error parsing X509 certificate/key pair: "
                             "open ./certs/server-cert.pem: no such file or directory", []),
    "cluster-auth.conf": ([], None, []),
}


def test_every_seed_file_is_tested():
    files = {os.path.basename(f) for f in glob.glob(os.path.join(SEEDS, "*")) if not f.endswith(".md")}
    assert files == set(EXPECT)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_seed_extension_accepted_then_capability_refused(name):
    warns, refused, _ = EXPECT[name]
    rc, out, err = run(GANNET_BIN, ["-t", "-c", name], cwd=SEEDS)
    assert rc == (0 if refused is None else 1), err
    lines = err.splitlines()
    ext = [l for l in lines if "is a gannet extension" in l]
    assert len(ext) == len(warns), err
    for where, key, meaning in warns:
        pat = r'^%s:\d+:\d+: %s"%s" is a gannet extension.*: nats-server 2\.9\.10 rejects it \(unknown field "%s"\); ' \
              r'read as .*%s' % (re.escape(name), re.escape(where), key, key, re.escape(meaning))
        assert sum(bool(re.match(pat, l)) for l in ext) == 1, (pat, err)
    errors = [l for l in lines if l not in ext]
    if refused is None:
        assert errors == ["gannet: configuration file %s is valid" % name], err
        return
    if refused.startswith("!"):  # an error nats-server gives too
        assert errors == ["gannet: " + refused[1:]], err
        return
    assert re.match(r'^gannet: %s:\d+:\d+: (cluster )?"%s" is not supported yet by gannet \(' % (re.escape(name), refused),
                    errors[0]), err
    assert "unknown field" not in "\n".join(errors)


@pytest.mark.parametrize("name", sorted(n for n in EXPECT if EXPECT[n][1]))
def test_seed_warnings_when_starting(name):
    """Started rather than checked: the same warnings, then the same refusal, exit 1."""
    warns, refused, _ = EXPECT[name]
    rc, out, err = run(GANNET_BIN, ["-c", name, "-p", "-1"], cwd=SEEDS)
    assert rc == 1
    assert err.count("is a gannet extension") == len(warns)
    if refused.startswith("!"):
        assert refused[1:] in err
        return
    assert '"%s" is not supported yet by gannet' % refused in err


@pytest.mark.skipif(not HAVE_NATS, reason="no reference nats-server")
@pytest.mark.parametrize("name", sorted(EXPECT))
def test_nats_server_rejects_exactly_the_extensions(name):
    _, _, unknown = EXPECT[name]
    rc, out, err = run(REFERENCE_BIN, ["-t", "-c", name], cwd=SEEDS)
    found = sorted(re.findall(r'unknown field "(\w+)"', err))
    assert found == sorted(unknown), err
    refused = EXPECT[name][1]
    if refused and refused.startswith("!"):  # the same words as gannet's
        assert rc == 1 and "nats-server: " + refused[1:] in err, err
    elif not unknown:
        assert rc == 0, err
