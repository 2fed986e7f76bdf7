#!/bin/sh
# Build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, AddressSanitizer
# and UBSan into build-fuzz/ (or $FUZZ_OUT), then run each for SECONDS (default 30).
#   tests/fuzz/build-fuzzers.sh [SECONDS] [TARGET...]
#   tests/fuzz/build-fuzzers.sh --compile-only   (compile the library with the
#                                                  fuzz flags, nothing else)
# Each target starts from its committed seed corpus tests/fuzz/corpus/NAME
# (fuzz_bed.c -> corpus/bed) and grows a working corpus in build-fuzz/corpus/NAME;
# htslib allocates what a BAM record claims (up to 2 GB) before reading it,
# hence a malloc limit above the RSS limit. Crashing inputs are written to build-fuzz/crash-NAME-*: add them to the
# committed corpus once fixed. Exits non-zero if a target fails.
# Every library source is compiled into build-fuzz/libmambadna-fuzz.a; one that
# does not compile stops the build. -Wno-pass-failed: under the sanitizers'
# instrumentation clang cannot vectorize the loops marked `omp ... simd` and
# says so; the hint is for speed only.
set -eu
secs=${1:-30}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${FUZZ_OUT:-build-fuzz}
CC=${CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS_F="-std=c11 -D_GNU_SOURCE -g -O1 -march=native -fopenmp -Wall -Wextra -Werror -Wno-pass-failed -Isrc \
$(pkg-config --cflags openblas 2>/dev/null || true) $SAN"
LIBS="-lhts -lBigWig -ljansson -lopenblas -lz -lm -lpthread"

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "build-fuzzers: $CC not found (install clang)" >&2
    exit 1
fi
mkdir -p "$out/obj"
rm -f "$out/libmambadna-fuzz.a"
sources=$(ls src/*.c src/cpu/*.c | sort)
objs=$(for s in $sources; do echo "$out/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')"; done)
export CC CFLAGS_F out
# one compiler per core; a source that fails stops xargs (exit 255)
echo "$sources" | xargs -P "$(nproc)" -I{} sh -c '
    o="$out/obj/$(echo "{}" | tr / _ | sed "s/\.c\$/.o/")"
    $CC $CFLAGS_F -fsanitize=fuzzer-no-link -c "{}" -o "$o" 2>"$o.log" && exit 0
    echo "build-fuzzers: {} does not compile:" >&2
    cat "$o.log" >&2
    exit 255' || exit 1
ar rcs "$out/libmambadna-fuzz.a" $objs
if [ "$secs" = --compile-only ]; then
    echo "build-fuzzers: $(echo $objs | wc -w) library sources compile with the fuzz flags"
    exit 0
fi

targets=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')}
status=0
for t in $targets; do
    echo "== fuzz_$t: building"
    if ! $CC $CFLAGS_F -fsanitize=fuzzer -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" \
        "$out/libmambadna-fuzz.a" $LIBS; then
        echo "== fuzz_$t: FAILED to build" >&2
        status=1
        continue
    fi
    mkdir -p "$out/corpus/$t"
    echo "== fuzz_$t: running for ${secs}s"
    log="$out/fuzz_$t.log"
    if ASAN_OPTIONS=detect_leaks=1 "$out/fuzz_$t" -max_total_time="$secs" \
        -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=4096 -max_len=65536 \
        -artifact_prefix="$out/crash-$t-" \
        "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
        echo "== fuzz_$t: ok, $runs executions, $cov ($(ls "$out/corpus/$t" | wc -l) inputs in the working corpus)"
    else
        status=1
        echo "== fuzz_$t: FAILED, see $log:" >&2
        grep -A30 "ERROR\|SUMMARY\|deadly signal\|Test unit written" "$log" | head -60 >&2
    fi
done
exit $status
