#!/bin/bash
# bench/score.sh: genome scoring throughput of `mambadna score` (Mb/s, wall
# clock) next to a floor measured on the same machine.
#   bench/score.sh [-n RUNS] [-t THREADS] [-m MODEL]... [-l LOAD] [--cuda] [FASTA]
# FASTA: default the E. coli K-12 MG1655 genome of ../shared/data/genomes
# (NC_000913.3, 4.64 Mb; provenance in ../shared/data/README.md); without
# ../shared and without FASTA the script says so and exits 0.
# -m MODEL: a fine-tuned model file, or `default` for what `mambadna score`
#   uses without -m (the bundled promoter-human); repeatable; default: the
#   E. coli model data/models/promoter-ecoli.safetensors, then `default`.
# -n RUNS: timed runs per model and device, the median is reported (default 3).
#   Runs go in rounds (every model once per round) so that all models meet the
#   same load from other jobs.
# -t THREADS: threads (default: all cores, nproc).
# -l LOAD: before each timed run wait (up to 10 minutes) until the 1-minute
#   load average is below LOAD (default: no waiting).
# --cuda: also time `--device cuda` (./mambadna built by `make`, with the CUDA
#   backend) when nvidia-smi lists a GPU; the floor is a CPU floor and is not
#   applied to these rows.
#
# Every run: mambadna score [-m MODEL] --strand both --device cpu -t THREADS
# --no-progress -o TMP.bedgraph FASTA, at the model's own window and stride.
#
# The floor (per model, CPU): the least work of the forward passes over all
# scored windows, as bench/cpu defines it for one forward: GEMM FLOPs
# (in_proj once, x_proj and dt_proj per direction, out_proj once per layer)
# at the SGEMM rate, plus one state exponential per state element per
# direction at the vectorised-exp rate; both rates are measured by
# build/bench/cpu (its B=64 x 300 workload, run three times before and three
# times after the timed runs, the best of each rate kept). Both strands
# count: a window is two rows of the network, the window and its reverse
# complement (the two d_model streams of a PS model in one pass; plus and
# minus rows for other models). Not counted: the embedding, norms, depthwise
# convolution, pooling and head, reading the FASTA, writing the bedGraph.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=3
THREADS=$(nproc)
MODELS=()
LOAD=
CUDA_RUN=0
FASTA=
usage() {
    sed -n '2,20s/^# \{0,1\}//p' "$0" >&2
    exit "${1:-2}"
}
while [ $# -gt 0 ]; do
    case "$1" in
        -n) RUNS=${2:?}; shift 2 ;;
        -t) THREADS=${2:?}; shift 2 ;;
        -m) MODELS+=("${2:?}"); shift 2 ;;
        -l) LOAD=${2:?}; shift 2 ;;
        --cuda) CUDA_RUN=1; shift ;;
        -h|--help) usage 0 ;;
        -*) echo "bench/score.sh: unknown option $1" >&2; usage ;;
        *) [ -z "$FASTA" ] || usage; FASTA=$1; shift ;;
    esac
done
case "$RUNS$THREADS" in *[!0-9]*) usage ;; esac
[ "$RUNS" -ge 1 ] && [ "$THREADS" -ge 1 ] || usage
[ ${#MODELS[@]} -gt 0 ] || MODELS=(data/models/promoter-ecoli.safetensors default)

if [ -z "$FASTA" ]; then
    if [ ! -d ../shared/data/genomes ]; then
        echo "bench/score.sh: ../shared/data/genomes is absent (no default genome):" \
             "nothing to time; give a FASTA" >&2
        exit 0
    fi
    FASTA=$(ls ../shared/data/genomes/ecoli_k12_mg1655*.f*a* 2>/dev/null | head -1 || true)
    if [ -z "$FASTA" ]; then
        echo "bench/score.sh: no E. coli K-12 MG1655 FASTA in ../shared/data/genomes:" \
             "nothing to time; give a FASTA" >&2
        exit 0
    fi
fi
[ -r "$FASTA" ] || { echo "bench/score.sh: cannot read $FASTA" >&2; exit 1; }

# CPU runs and bench/cpu from a CUDA-free build directory of their own (as
# bench/compare_torch.sh), so that a CUDA build in build/ does not get in the
# way; --cuda runs use ./mambadna from `make`.
BUILD_DIR=build/cpu-bench
make -s BUILD=$BUILD_DIR CUDA=0 $BUILD_DIR/mambadna $BUILD_DIR/bench/cpu >&2
DEVICES=(cpu)
if [ "$CUDA_RUN" = 1 ]; then
    if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
        make -s mambadna >&2
        DEVICES+=(cuda)
    else
        echo "bench/score.sh: --cuda: no GPU listed by nvidia-smi, CPU only" >&2
    fi
fi
binary() { [ "$1" = cpu ] && echo $BUILD_DIR/mambadna || echo ./mambadna; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The model file `mambadna score` loads without -m (its usage text names it).
default_file=$($BUILD_DIR/mambadna score --help 2>&1 |
               sed -n 's/.*-m, --model.*\[bundled \([^]]*\)\].*/\1/p')
default_file=data/models/${default_file:-promoter-human.safetensors}

# Sequence lengths, for windows shorter than the model's window (sequences
# shorter than it are one short window).
zcat -f "$FASTA" | awk '/^>/ { if (n) print len; n = 1; len = 0; next }
                         { sub(/\r$/, ""); len += length($0) }
                         END { if (n) print len }' > "$tmp/lengths"

# One setting of `mambadna info` ($tmp/info): get KEY [DEFAULT].
get() { awk -v k="$1" -v d="${2:-}" '$1 == k { v = $2 } END { print v == "" ? d : v }' "$tmp/info"; }

wait_load() {
    [ -n "$LOAD" ] || return 0
    local t=0
    while awk -v l="$LOAD" '{ exit !($1 >= l) }' /proc/loadavg && [ $t -lt 600 ]; do
        sleep 10; t=$((t + 10))
    done
    [ $t -lt 600 ] || echo "bench/score.sh: load average still $(cut -d' ' -f1 /proc/loadavg)" \
                           "after 10 minutes; timing anyway" >&2
}

# Rates from build/bench/cpu, the best of three runs: "SGEMM_GFLOPS EXP_GEXPS".
# (Its exp rate with 2 threads on the 2-core development machine came out
# either ~28 or ~8.5 Gexp/s from one process to the next, idle machine.)
rates() {
    for _ in 1 2 3; do
        $BUILD_DIR/bench/cpu "$THREADS" 1 3 |
            sed -n 's/^machine:.*SGEMM \([0-9.]*\) GFLOP\/s, vectorised exp \([0-9.]*\) Gexp\/s.*/\1 \2/p'
    done | awk '$1 > g { g = $1 } $2 > e { e = $2 } END { if (NR) print g, e }'
}

echo "bench/score.sh: $FASTA, ${#MODELS[@]} model(s), devices ${DEVICES[*]}, $THREADS threads," \
     "median of $RUNS; $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" >&2
load0=$(cut -d' ' -f1-3 /proc/loadavg)
wait_load
read -r g0 e0 <<< "$(rates)"
[ -n "${e0:-}" ] || { echo "bench/score.sh: no rates from $BUILD_DIR/bench/cpu" >&2; exit 1; }

# Model settings: "label arch d_model n_layer d_state expand dt_rank combine window stride".
nm=${#MODELS[@]}
for i in $(seq 0 $((nm - 1))); do
    m=${MODELS[$i]}
    if [ "$m" = default ]; then f=$default_file; label="$(basename "$f" .safetensors) (default)"
    else f=$m; label=$(basename "$f" .safetensors); fi
    $BUILD_DIR/mambadna info "$f" > "$tmp/info"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$(get arch)" "$(get d_model)" \
        "$(get n_layer)" "$(get d_state)" "$(get expand)" "$(get dt_rank)" "$(get combine add)" \
        "$(get window)" "$(get stride)" > "$tmp/model.$i"
done

# Timed runs, in rounds.
for r in $(seq "$RUNS"); do
    for i in $(seq 0 $((nm - 1))); do
        m=${MODELS[$i]}
        margs=(); [ "$m" = default ] || margs=(-m "$m")
        for dev in "${DEVICES[@]}"; do
            wait_load
            echo "== round $r/$RUNS: $(cut -f1 "$tmp/model.$i"), $dev (load average" \
                 "$(cut -d' ' -f1-3 /proc/loadavg))" >&2
            t0=$(date +%s.%N)
            "$(binary "$dev")" score "${margs[@]}" --strand both --device "$dev" -t "$THREADS" \
                --no-progress -o "$tmp/out.bedgraph" "$FASTA" 2> "$tmp/log"
            t1=$(date +%s.%N)
            cat "$tmp/log" >&2
            [ -s "$tmp/out.bedgraph" ] || { echo "bench/score.sh: empty output" >&2; exit 1; }
            # "seconds windows bases"
            sed -n 's/.* \([0-9][0-9]*\) windows scored, .* \([0-9][0-9]*\) bases in .*/\1 \2/p' \
                "$tmp/log" | awk -v t0="$t0" -v t1="$t1" '{ print t1 - t0, $1, $2 }' >> "$tmp/times.$i.$dev"
            rm -f "$tmp/out.bedgraph"
        done
    done
done

wait_load
read -r g1 e1 <<< "$(rates)"
[ -n "${e1:-}" ] || { echo "bench/score.sh: no rates from $BUILD_DIR/bench/cpu" >&2; exit 1; }
load1=$(cut -d' ' -f1-3 /proc/loadavg)
gemm=$(echo "$g0 $g1" | awk '{ print ($1 > $2 ? $1 : $2) }')
expr=$(echo "$e0 $e1" | awk '{ print ($1 > $2 ? $1 : $2) }')

echo
echo "$(basename "$FASTA"), $THREADS threads, median of $RUNS runs (wall clock)," \
     "load average $load0 before, $load1 after"
echo "rates (build/bench/cpu, best of 3 runs before and 3 after): SGEMM $gemm GFLOP/s," \
     "vectorised exp $expr Gexp/s (before: $g0 / $e0, after: $g1 / $e1)"
echo
echo "| genome | Mb | model | device | window/stride | windows | s (median) | s (min) | Mb/s | GEMM floor s | exp floor s | s / floor | min s / floor |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for i in $(seq 0 $((nm - 1))); do
    for dev in "${DEVICES[@]}"; do
        sort -g "$tmp/times.$i.$dev" | awk -v dev="$dev" -v genome="$(basename "$FASTA")" \
            -v gemm="$gemm" -v expr="$expr" -v lenfile="$tmp/lengths" \
            -v model="$(cat "$tmp/model.$i")" '
            { t[NR] = $1; win = $2; bases = $3 }
            END {
                n = NR; med = n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
                split(model, m, "\t")
                label = m[1]; arch = m[2]; D = m[3]; nl = m[4]; N = m[5]; E = m[6] * D; R = m[7]
                W = m[9]; S = m[10]
                dirs = arch == "mamba" ? 1 : 2
                outs = (arch == "mamba" || m[8] == "add") ? 1 : 2
                # positions: windows x window, less what sequences shorter
                # than the window lack; two rows (both strands) each
                short = 0
                while ((getline len < lenfile) > 0) if (len > 0 && len < W) short += W - len
                rows = 2 * (win * W - short)
                flops = 2 * rows * nl * (D * 2 * E + dirs * (E * (R + 2 * N) + R * E) + outs * E * D)
                exps = rows * nl * dirs * E * N
                fg = flops / (gemm * 1e9); fe = exps / (expr * 1e9)
                mb = bases / 1e6
                if (dev == "cpu")
                    printf "| %s | %.2f | %s | %s | %d/%d | %d | %.1f | %.1f | %.4f | %.1f | %.1f | %.2f | %.2f |\n",
                        genome, mb, label, dev, W, S, win, med, t[1], mb / med, fg, fe,
                        med / (fg + fe), t[1] / (fg + fe)
                else
                    printf "| %s | %.2f | %s | %s | %d/%d | %d | %.1f | %.1f | %.4f | | | | |\n",
                        genome, mb, label, dev, W, S, win, med, t[1], mb / med
            }'
    done
done
echo
echo "Floor: the forward passes' least work for all windows on both strands (each window" \
     "two rows: the window and its reverse complement, the two streams of a PS model)," \
     "as build/bench/cpu counts it: GEMM FLOPs (in_proj once, x_proj and dt_proj per" \
     "direction, out_proj once, per layer) at the SGEMM rate plus one state exponential" \
     "per state element per direction at the vectorised-exp rate. Not counted: embedding," \
     "norms, convolution, pooling, head, reading the FASTA, writing the bedGraph."
