#!/bin/sh
# Install what gannet needs to build (deps.sh build) or to build and test
# (deps.sh test), from Debian's packages and the npm registry, only when
# missing. Safe to run again; prints nothing when everything is present.
set -e
want=${1:-build}
build_pkgs="gcc make pkg-config libcrypt-dev liburing-dev libwolfssl-dev libxxhash-dev liburcu-dev libjansson-dev"
test_pkgs="openssl clang libclang-rt-14-dev nats-server libnats-dev python3 python3-pytest python3-pytest-xdist python3-prometheus-client python3-cryptography chromium golang-go golang-github-nats-io-go-nats-dev golang-github-klauspost-compress-dev"

missing=""
pkgs=$build_pkgs
[ "$want" = test ] && pkgs="$build_pkgs $test_pkgs"
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ "$want" = test ] && ! command -v node >/dev/null 2>&1; then
    missing="$missing nodejs"
fi
if [ "$want" = test ] && ! command -v npm >/dev/null 2>&1; then
    missing="$missing npm"
fi
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# promtool (Prometheus's own exposition-format checker) from Debian's
# prometheus package, unpacked rather than installed: installing it would
# also set up and start a Prometheus daemon.
if [ "$want" = test ] && [ ! -x tests/.tools/promtool ]; then
    echo "deps: unpacking promtool from Debian's prometheus package"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download -qq prometheus; })
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
    mkdir -p tests/.tools
    cp "$tmp/x/usr/bin/promtool" tests/.tools/promtool
    rm -rf "$tmp"
fi
js_missing=""
for m in nats playwright-core; do
    [ -d tests/clients/js/node_modules/$m ] || js_missing=1
done
if [ "$want" = test ] && [ -f tests/clients/js/package.json ] && [ -n "$js_missing" ]; then
    echo "deps: npm install in tests/clients/js"
    (cd tests/clients/js && npm ci --no-audit --no-fund --silent 2>/dev/null || npm install --no-audit --no-fund --silent)
fi
exit 0
