"""Differential tests of gannet's S2 codec (build/tool_s2) against the Go
reference, klauspost/compress/s2 (tests/s2ref, built here into
build/s2ref): Go encodes -> gannet decodes, gannet encodes -> Go decodes,
byte-exact, for every level, block and stream (Snappy-framed too), on
inputs from empty to 4 MiB; nats-server-style streams (one complete
stream per flush, concatenated); and a bounded random differential run
(s2ref diff) that also feeds both decoders the same corrupted blocks.

Needs golang-go and golang-github-klauspost-compress-dev (scripts/deps.sh
test); without them the tests fail, they do not skip."""
import json
import os
import random
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GANNET_BUILD", os.path.join(ROOT, "build"))
TOOL = os.path.join(BUILD, "tool_s2")
S2REF = os.path.join(ROOT, "build", "s2ref")
GOPATH = "/usr/share/gocode"
KLAUSPOST = os.path.join(GOPATH, "src/github.com/klauspost/compress/s2")
HINT = "install with: sh scripts/deps.sh test (apt-get install golang-go golang-github-klauspost-compress-dev)"


@pytest.fixture(scope="module")
def s2ref():
    assert shutil.which("go"), "go not found; " + HINT
    assert os.path.isdir(KLAUSPOST), KLAUSPOST + " missing; " + HINT
    assert os.path.exists(TOOL), TOOL + " not built (make unit)"
    env = dict(os.environ, GOPATH=GOPATH, GO111MODULE="off", CGO_ENABLED="0",
               GOCACHE=os.path.join(ROOT, "build", "go-cache"), GOFLAGS="")
    r = subprocess.run(["go", "build", "-o", S2REF, "."], cwd=os.path.join(ROOT, "tests", "s2ref"),
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "building s2ref failed: " + r.stderr
    return S2REF


def run(cmd, data):
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=120)
    assert r.returncode == 0, "%s failed: %s" % (" ".join(cmd), r.stderr.decode(errors="replace"))
    return r.stdout


def nats_payloads(n, seed=1):
    """JSON-like NATS traffic as a route carries it: RMSG lines + payloads."""
    rng = random.Random(seed)
    out, size = [], 0
    while size < n:
        body = json.dumps({"id": rng.randint(0, 10**9), "user": rng.choice(["alice", "bob", "carol"]),
                           "items": [{"sku": "SKU-%05d" % rng.randint(0, 99999), "qty": rng.randint(1, 9)}
                                     for _ in range(rng.randint(1, 4))], "ts": 1700000000 + size})
        line = "RMSG $G orders.%s.%d %d\r\n%s\r\n" % (rng.choice(["eu", "us"]), rng.randint(0, 99), len(body), body)
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def inputs():
    rng = random.Random(7)
    return {
        "empty": b"",
        "one": b"x",
        "random64k": bytes(rng.getrandbits(8) for _ in range(65536)),
        "repetitive": b"abcabcabd" * 20000,
        "zeros4m": bytes(4 << 20),
        "nats": nats_payloads(200000),
        "64k+1": nats_payloads(65537, seed=2),
        "1m": nats_payloads(1 << 20, seed=3),
        "4m": nats_payloads(4 << 20, seed=4),
    }


INPUTS = inputs()
LEVELS = ["fast", "better", "best"]


@pytest.mark.parametrize("name", list(INPUTS))
def test_go_encodes_gannet_decodes(s2ref, name):
    data = INPUTS[name]
    for level in LEVELS + ["snappy"]:
        blk = run([s2ref, "enc-block", level], data)
        assert run([TOOL, "dec-block"], blk) == data, "block %s" % level
        strm = run([s2ref, "enc-stream", level], data)
        assert run([TOOL, "dec-stream", "random"], strm) == data, "stream %s" % level
    strm = run([s2ref, "enc-stream", "none"], data)
    assert run([TOOL, "dec-stream", "1000"], strm) == data


@pytest.mark.parametrize("name", list(INPUTS))
def test_gannet_encodes_go_decodes(s2ref, name):
    data = INPUTS[name]
    for level in LEVELS:
        blk = run([TOOL, "enc-block", level], data)
        assert run([s2ref, "dec-block"], blk) == data, "block %s" % level
        if name in ("nats", "1m", "4m", "repetitive"):
            assert len(blk) < len(data) / 2, "%s block did not compress" % level
    for level in ["none"] + LEVELS:
        strm = run([TOOL, "enc-stream", level], data)
        assert run([s2ref, "dec-stream"], strm) == data, "stream %s" % level


def test_flush_streams_both_ways(s2ref):
    """nats-server writes each flush as a complete stream on one connection:
    the decoders must take identifier after identifier."""
    data = nats_payloads(300000, seed=5)
    for level in ["none"] + LEVELS:
        go = run([s2ref, "enc-stream", level, "65536"], data)
        assert go.count(b"\xff\x06\x00\x00S2sTwO") == 5
        assert run([TOOL, "dec-stream", "random"], go) == data
        ours = run([TOOL, "enc-stream", level, "65536"], data)
        assert ours.count(b"\xff\x06\x00\x00S2sTwO") == 5
        assert run([s2ref, "dec-stream"], ours) == data


def test_ratios_near_go(s2ref):
    """Each level compresses NATS-like data within 10% of Go's same level."""
    data = INPUTS["1m"]
    for level in LEVELS:
        ours = len(run([TOOL, "enc-stream", level, "65536"], data))
        go = len(run([s2ref, "enc-stream", level, "65536"], data))
        assert ours < go * 1.10, "%s: gannet %d bytes, go %d" % (level, ours, go)


def test_corrupt_stream_rejected(s2ref):
    data = INPUTS["nats"]
    strm = bytearray(run([s2ref, "enc-stream", "fast"], data))
    strm[len(strm) // 2] ^= 0x40
    r = subprocess.run([TOOL, "dec-stream"], input=bytes(strm), capture_output=True, timeout=60)
    assert r.returncode != 0 and b"s2:" in r.stderr
    r = subprocess.run([TOOL, "dec-stream"], input=bytes(strm[:-3]), capture_output=True, timeout=60)
    assert r.returncode != 0  # cut inside the last chunk


def test_random_differential(s2ref):
    """s2ref diff: random inputs through both codecs both ways at every level,
    and corrupted Go blocks that both decoders must accept or refuse alike."""
    count = int(os.environ.get("S2_DIFF_COUNT", "300"))
    seed = int(os.environ.get("S2_DIFF_SEED", "1"))
    r = subprocess.run([s2ref, "diff", TOOL, str(seed), str(count)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failures" in r.stdout
