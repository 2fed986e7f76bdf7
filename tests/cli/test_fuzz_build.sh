#!/bin/sh
# The fuzz build (clang, -O1, ASan + UBSan, -Werror) compiles every library
# source: a source it cannot compile would leave its parsers unfuzzed.
# Skipped where clang is not installed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v "${CC_FUZZ:-clang}" >/dev/null 2>&1; then
    echo "skipped: clang not found, the fuzz build is not checked"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
if FUZZ_OUT="$T" CC="${CC_FUZZ:-clang}" "$root/tests/fuzz/build-fuzzers.sh" --compile-only >"$T/log" 2>&1; then
    n_src=$(ls "$root"/src/*.c "$root"/src/cpu/*.c | wc -l)
    n_obj=$(ls "$T"/obj/*.o | wc -l)
    if [ "$n_obj" -eq "$n_src" ]; then
        echo "[  PASSED  ] the fuzz build compiles all $n_src library sources"
        exit 0
    fi
    echo "FAILED: $n_obj objects for $n_src sources"
else
    echo "FAILED: the fuzz build does not compile:"
    sed 's/^/    /' "$T/log" | head -40
fi
exit 1
