#!/bin/sh
# The S2 codec, gannet (net/s2.c via build/tool_s2) against the Go reference
# (klauspost/compress/s2 via build/s2ref), on the same machine and the same
# data, stream format as a route carries it. Prints MB/s of encode and
# decode per level and the compression ratio, side by side. See README.md.
#   sh bench/s2.sh [SECONDS per measurement, default 1]
set -e
cd "$(dirname "$0")/.."
secs=${1:-1}
out=build/bench/s2
mkdir -p "$out" build/go-cache
make -s build/tool_s2 >/dev/null
(cd tests/s2ref && GOPATH=/usr/share/gocode GO111MODULE=off CGO_ENABLED=0 \
    GOCACHE="$PWD/../../build/go-cache" go build -o ../../build/s2ref .)
/usr/bin/python3 - "$out" <<'PY'
import json, random, sys
out = sys.argv[1]
r = random.Random(42)
# ~1 KiB JSON payloads in RMSG lines, 1 MiB of them: flushed 64 KiB at a time.
msgs, n = [], 0
while n < 1 << 20:
    body = json.dumps({"id": r.randint(0, 10**12), "account": "ACC%04d" % r.randint(0, 50),
                       "event": r.choice(["order.created", "order.paid", "order.shipped"]),
                       "items": [{"sku": "SKU-%06d" % r.randint(0, 10**6), "qty": r.randint(1, 9),
                                  "price": round(r.uniform(1, 500), 2), "note": r.choice(["", "gift", "express"])}
                                 for _ in range(8)], "ts": 1700000000000 + n}).encode()
    body = body + b" " * max(0, 1000 - len(body))
    m = b"RMSG $G orders.%d _INBOX.%d %d\r\n" % (r.randint(0, 999), r.randint(0, 10**9), len(body)) + body + b"\r\n"
    msgs.append(m)
    n += len(m)
open(out + "/nats.bin", "wb").write(b"".join(msgs)[:1 << 20])
# 1 MiB mixed: text, random bytes, runs, far repeats.
b = bytearray()
while len(b) < 1 << 20:
    k = r.randrange(4)
    if k == 0: b += bytes(r.getrandbits(8) for _ in range(r.randint(16, 4096)))
    elif k == 1: b += bytes([r.getrandbits(8)]) * r.randint(8, 2048)
    elif k == 2: b += (" ".join(r.choice(["alpha", "beta", "gamma", "delta", "route", "subject"]) for _ in range(200))).encode()
    elif len(b) > 65536:
        o = r.randint(0, len(b) - 4096); b += b[o:o + r.randint(64, 4096)]
open(out + "/mixed.bin", "wb").write(bytes(b[:1 << 20]))
PY
for data in nats:65536 mixed:0; do
    f=${data%%:*}; flush=${data##*:}
    for lv in none fast better best; do
        build/tool_s2 bench $lv $flush "$out/$f.bin" "$secs"
        build/s2ref bench $lv $flush "$out/$f.bin" "$secs"
    done
done > "$out/results.jsonl"
/usr/bin/python3 - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
key = lambda r: (r["in"], r["flush"], r["level"])
go = {key(r): r for r in rows if r["impl"] == "go"}
print("%-22s %-6s | %9s %9s %5s | %9s %9s %5s | %6s %6s" % (
    "data (flush)", "level", "enc gnt", "enc go", "x", "dec gnt", "dec go", "x", "ratio", "go"))
for r in rows:
    if r["impl"] != "gannet":
        continue
    g = go[key(r)]
    name = "nats 1KiB msgs (64KiB)" if r["flush"] else "mixed 1MiB (1 stream)"
    print("%-22s %-6s | %9.0f %9.0f %5.2f | %9.0f %9.0f %5.2f | %6.2f %6.2f" % (
        name, r["level"], r["enc_mbs"], g["enc_mbs"], r["enc_mbs"] / g["enc_mbs"],
        r["dec_mbs"], g["dec_mbs"], r["dec_mbs"] / g["dec_mbs"], r["ratio"], g["ratio"]))
print("MB/s of plaintext; x = gannet / Go; ratio = plaintext / wire bytes.")
PY
