#!/bin/sh
# TLS request/reply (libnats, natsbench --scenario reqrep) with and without
# 1000 half-open TLS connections (INFO read, 3 bytes of a ClientHello, then
# silence; tls timeout 120 s keeps them), gannet (--shards 1) and Debian's
# nats-server side by side. Prints elapsed time and server CPU per run;
# issue 13's goal: the half-open connections slow the established client by
# at most 10%. Run from the repository root after `make` and `make -C bench`.
set -eu
ulimit -n 8192
N=${N:-1000}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/ca-key.pem" -out "$D/ca.pem" \
    -days 2 -subj "/CN=bench CA" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/key.pem" -out "$D/csr.pem" \
    -subj "/CN=localhost" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$D/ext"
openssl x509 -req -in "$D/csr.pem" -CA "$D/ca.pem" -CAkey "$D/ca-key.pem" -CAcreateserial -out "$D/cert.pem" \
    -days 2 -extfile "$D/ext" >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'port: %s\ntls { cert_file: "%s/cert.pem", key_file: "%s/key.pem", timeout: 120 }\n' "$PORT" "$D" "$D" >"$D/s.conf"
cat >"$D/loris.py" <<'PY'
import socket, sys, time
socks = []
for i in range(int(sys.argv[2])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    b = b""
    while not b.endswith(b"\r\n"):
        b += s.recv(4096)
    s.sendall(b"\x16\x03\x01")
    socks.append(s)
print("held", len(socks), flush=True)
time.sleep(600)
PY
run() { # server pid
    build/bench/natsbench --port "$PORT" --server-pid "$1" --mode nats --scenario reqrep --size 128 --count 20000 \
        --tls-ca "$D/ca.pem" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("elapsed %.2f s, server CPU %.2f s" % (d["elapsed_s"], d["server_cpu_s"]))'
}
for srv in build/gannet /usr/sbin/nats-server; do
    extra=""
    case $srv in *gannet) extra="--shards 1" ;; esac
    $srv -c "$D/s.conf" $extra >"$D/log" 2>&1 &
    P=$!
    sleep 0.5
    for phase in warm base loris base loris; do
        L=""
        if [ $phase = loris ]; then
            python3 "$D/loris.py" "$PORT" "$N" >/dev/null &
            L=$!
            sleep 8
        fi
        echo "$(basename $srv) $phase: $(run $P)"
        if [ -n "$L" ]; then kill $L; wait $L 2>/dev/null || true; sleep 1; fi
    done
    kill $P
    wait $P 2>/dev/null || true
done
