#!/bin/sh
# The whole test suite, as `make test` runs it (after building build/ and the
# unit binaries). Phases:
#   main  — every pytest test: unit binaries, protocol conformance (each test
#           against gannet AND Debian's nats-server), real clients, stress,
#           config grammar
#   handover — the message-path protocol tests once more, on gannet alone,
#           with every client handed over to another shard after CONNECT
#   asan  — gannet and the unit tests built with ASan+UBSan; unit, protocol,
#           stress, real-client, monitoring, cluster and TLS tests against that build
#   tsan  — ThreadSanitizer build; the stress, fault-injection, unit and protocol tests,
#           the route protocol, routes-under-load and compression tests, TLS clients and routes
#           (but the single-connection checks: parser, permissions, mappings, nkeys,
#           limits, keepalive, signals, connect, which ASan covers)
#   fuzz  — each libFuzzer target for a short fixed time on its seed corpus
# main, asan and tsan run on one pytest-xdist worker per core (see XDIST).
# Prints one closing line: "N passed, N failed". Exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
R=build/results
mkdir -p "$R"
rm -f "$R"/*.xml "$R"/extra
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
NCPU=$(nproc 2>/dev/null || echo 2)
J=-j$NCPU # the sanitizer and fuzz builds on every core
# The long phases run one pytest worker per core (pytest-xdist), a file's
# tests on one worker (module-scoped clusters stay one); most of a test's
# time is waiting on servers, not CPU. tests/lib/servers.py gives each
# worker ports of its own. TEST_WORKERS=1 runs them one by one.
W=${TEST_WORKERS:-$NCPU}
[ "$W" -gt 4 ] && W=4
XDIST=""
if [ "$W" -gt 1 ] && "$PY" -c 'import xdist' 2>/dev/null; then
    XDIST="-n $W --dist loadfile"
fi
status=0

pytest_phase() { # name, "VAR=value ..." (environment), pytest args...
    name=$1
    vars=$2
    shift 2
    echo "=== phase $name"
    # shellcheck disable=SC2086 # $vars is a list of assignments
    env $vars "$PY" -m pytest -q -p no:cacheprovider --junitxml="$R/$name.xml" "$@" || status=1
}
record() { # name ok|fail
    echo "$1 $2" >>"$R/extra"
    [ "$2" = ok ] || status=1
}

# shellcheck disable=SC2086 # $XDIST is a list of arguments
pytest_phase main "" $XDIST tests
pytest_phase handover "GANNET_HANDOVER_TEST=1 NATS_SERVER_BIN=build/gannet" tests/proto/test_proto_pubsub.py \
    tests/proto/test_proto_queues.py tests/proto/test_proto_request.py tests/proto/test_proto_flow.py

echo "=== phase asan (build)"
if make -s $J asan >"$R/asan-build.log" 2>&1; then
    record asan-build ok
    pytest_phase asan "GANNET_BIN=build-asan/gannet NATS_SERVER_BIN=build-asan/gannet GANNET_BUILD=build-asan
        GANNET_SANITIZER=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
        STRESS_SCALE=0.5" $XDIST tests/unit/test_unit.py tests/proto tests/stress tests/clients tests/monitor tests/cluster tests/tls
else
    cat "$R/asan-build.log"
    record asan-build fail
fi

echo "=== phase tsan (build)"
if make -s $J tsan >"$R/tsan-build.log" 2>&1; then
    record tsan-build ok
    pytest_phase tsan "GANNET_BIN=build-tsan/gannet NATS_SERVER_BIN=build-tsan/gannet GANNET_BUILD=build-tsan
        GANNET_SANITIZER=1 TSAN_OPTIONS=suppressions=$(pwd)/tests/tsan.supp:halt_on_error=0
        STRESS_SCALE=0.2" $XDIST tests/stress tests/unit/test_unit.py tests/proto \
        tests/cluster/test_cluster_route_proto.py tests/cluster/test_cluster_load.py tests/cluster/test_cluster_compress.py \
        tests/cluster/test_cluster_spread.py \
        tests/tls/test_tls_client.py tests/tls/test_tls_routes.py \
        --deselect tests/proto/test_proto_permissions.py --deselect tests/proto/test_proto_mappings.py \
        --deselect tests/proto/test_proto_nkeys.py --deselect tests/proto/test_proto_parser.py \
        --deselect tests/proto/test_proto_limits.py --deselect tests/proto/test_proto_keepalive.py \
        --deselect tests/proto/test_proto_signals.py --deselect tests/proto/test_proto_connect.py
else
    cat "$R/tsan-build.log"
    record tsan-build fail
fi

echo "=== phase fuzz (${FUZZ_SECONDS}s each)"
if make -s $J fuzz >"$R/fuzz-build.log" 2>&1; then
    for f in build-fuzz/fuzz_*; do
        t=$(basename "$f")
        corpus=tests/fuzz/corpus/${t#fuzz_}
        work=$(mktemp -d)
        [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
        dict=""
        [ -f "tests/fuzz/${t#fuzz_}.dict" ] && dict="-dict=tests/fuzz/${t#fuzz_}.dict"
        if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 $dict "$work" \
            >"$R/$t.log" 2>&1; then
            record "$t" ok
        else
            tail -40 "$R/$t.log"
            record "$t" fail
        fi
        rm -rf "$work"
    done
else
    cat "$R/fuzz-build.log"
    record fuzz-build fail
fi

"$PY" - "$R" <<'PYEOF'
import glob, os, sys
import xml.etree.ElementTree as ET
r = sys.argv[1]
passed = failed = skipped = 0
for x in glob.glob(os.path.join(r, "*.xml")):
    root = ET.parse(x).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for s in suites:
        t, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += t - f - e - sk
        failed += f + e
        skipped += sk
extra = os.path.join(r, "extra")
if os.path.exists(extra):
    for line in open(extra):
        name, res = line.split()
        if res == "ok":
            passed += 1
        else:
            failed += 1
            print("FAILED:", name)
line = "%d passed, %d failed" % (passed, failed)
if skipped:
    line += ", %d skipped" % skipped
print(line)
PYEOF
exit $status
