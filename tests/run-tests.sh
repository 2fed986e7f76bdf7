#!/bin/sh
# Run every unit test binary, fuzz-corpus replay and CLI test of one build
# directory; print a summary line and exit non-zero on any failure.
#   tests/run-tests.sh BUILD_DIR
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${MD_SHARED_DATA:=$root/../shared/data}"
if [ -d "$MD_SHARED_DATA" ]; then
    export MD_SHARED_DATA
else
    echo "note: shared data not found at $MD_SHARED_DATA: tests on the larger real data sets are skipped" >&2
    export MD_SHARED_DATA=
fi
export MD_TEST_DATA="$root/tests/data"
export MAMBADNA="$root/$build/mambadna"
export PYTHON="${PYTHON:-/usr/bin/python3}"
TMPDIR=$(mktemp -d)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

passed=0 failed=0 skipped=0
failures=""
run() { # name command...
    name=$1; shift
    log=$(mktemp)
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        if grep -q "SKIPPED\|skipped:" "$log"; then
            grep -h "skipped:" "$log" | sort -u | sed "s|^|  $name: |" >&2
        fi
        grep -h "PASSED\|SKIPPED" "$log" | sed "s|^|  $name: |"
    else
        failed=$((failed + 1))
        failures="$failures $name"
        echo "FAIL: $name"
        sed 's/^/    /' "$log"
    fi
    rm -f "$log"
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] && run "$(basename "$t")" "$t"
done
for r in "$build"/tests/replay_*; do
    [ -x "$r" ] || continue
    target=${r##*/replay_fuzz_}
    run "$(basename "$r")" "$r" "tests/fuzz/corpus/$target"
done
for c in tests/cli/*.sh; do
    [ -f "$c" ] && run "$(basename "$c")" sh "$c"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "failed:$failures"; exit 1; }
