#!/bin/bash
# bench/compare_torch.sh: mambadna's CPU forward (build/bench/cpu) against the
# same models in PyTorch with mamba_ssm's reference scan (bench/torch_cpu.py),
# same machine, same thread count, one table.
#   bench/compare_torch.sh [THREADS]        (default: all cores)
# Environment: ROUNDS (rounds of one build/bench/cpu run then one
# bench/torch_cpu.py run, alternated so both meet the same machine load; the
# best tokens/s of each over the rounds is kept; default 3), TORCH_REPEAT
# (timed PyTorch runs per row within a round; default 1), MAX_STEPS
# (bench/torch_cpu.py --max-steps: above this many Python-loop steps per
# forward, layers x directions x L, PyTorch is timed at a shorter L and
# tokens/s reported at it; 0 = full length; default 131072: only the d256 x16
# model, at L=4096), TORCH_THREADS (thread counts tried for PyTorch, e.g.
# "2 1", the best kept per row; default: THREADS only), PYTHON (default
# /usr/bin/python3).
# Needs Debian's python3-torch (apt-get install python3-torch).
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${1:-$(nproc)}
ROUNDS=${ROUNDS:-3}
TORCH_REPEAT=${TORCH_REPEAT:-1}
MAX_STEPS=${MAX_STEPS:-131072}
TORCH_THREADS=${TORCH_THREADS:-$THREADS}
PYTHON=${PYTHON:-/usr/bin/python3}

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    echo "bench/compare_torch.sh: $PYTHON cannot import torch and numpy" \
         "(Debian: apt-get install python3-torch)" >&2
    exit 2
fi

# A build directory of its own: build/ may hold a CUDA build of other work,
# and ./mambadna is left alone.
BUILD_DIR=build/cpu-bench
make -s BUILD=$BUILD_DIR CUDA=0 $BUILD_DIR/bench/cpu $BUILD_DIR/mambadna >&2
MAMBADNA=$BUILD_DIR/mambadna

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The models of build/bench/cpu's workloads (initialised weights; the timing
# does not depend on their values).
$MAMBADNA init -a caduceus-ph -d 256 -l 16 -o "$tmp/ph-d256-l16.safetensors" >/dev/null
$MAMBADNA init -a caduceus-ph -d 128 -l 4 -o "$tmp/ph-d128-l4.safetensors" >/dev/null
$MAMBADNA init -a mamba -d 128 -l 4 -o "$tmp/mamba-d128-l4.safetensors" >/dev/null

# Names exactly as build/bench/cpu prints them.
W1="Caduceus-131k size (BiMamba d256 x16), B=1 L=16384"
W2="small (BiMamba d128 x4), B=1 L=16384"
W3="small (BiMamba d128 x4), B=64 L=300 windows"
W4="small causal (Mamba d128 x4), B=1 L=16384"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
# Rounds alternate the two programs so that both meet the same machine load
# (other jobs on a shared machine); each keeps its best tokens/s per workload.
for r in $(seq "$ROUNDS"); do
    echo "== round $r/$ROUNDS: $BUILD_DIR/bench/cpu $THREADS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    $BUILD_DIR/bench/cpu "$THREADS" | tee "$tmp/cpu.$r.txt"
    echo
    for tt in $TORCH_THREADS; do
        check=(); [ -e "$tmp/checked" ] && check=(--no-check) # the check runs once
        echo "== round $r/$ROUNDS: bench/torch_cpu.py -t $tt --repeat $TORCH_REPEAT --max-steps $MAX_STEPS ${check[*]}"
        "$PYTHON" bench/torch_cpu.py -t "$tt" --repeat "$TORCH_REPEAT" --max-steps "$MAX_STEPS" \
            --mambadna "$MAMBADNA" "${check[@]}" --tsv "$tmp/torch.$r.$tt.tsv" \
            --workload "$tmp/ph-d256-l16.safetensors:1:16384:$W1" \
            --workload "$tmp/ph-d128-l4.safetensors:1:16384:$W2" \
            --workload "$tmp/ph-d128-l4.safetensors:64:300:$W3" \
            --workload "$tmp/mamba-d128-l4.safetensors:1:16384:$W4"
        touch "$tmp/checked"
        echo
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# best mambadna tokens/s per workload over the rounds: "name<TAB>tokens/s"
awk -F'|' 'NF > 3 && $3 ~ /^ *[0-9.]+ *$/ {
               n = $2; gsub(/^ +| +$/, "", n); v = $3 + 0
               if (!(n in best) || v > best[n]) best[n] = v }
           END { for (n in best) printf "%s\t%.0f\n", n, best[n] }' "$tmp"/cpu.*.txt > "$tmp/cpu.tsv"
# best PyTorch tokens/s per workload (over rounds and thread counts), in
# bench/torch_cpu.py's row order: name, tokens/s, B, L, threads
awk -F'\t' '{ if (!($1 in best)) order[++n] = $1
              if (!($1 in best) || $2 + 0 > best[$1]) { best[$1] = $2 + 0; b[$1] = $3; l[$1] = $4; t[$1] = $5 } }
            END { for (i = 1; i <= n; i++) { k = order[i]; printf "%s\t%.1f\t%s\t%s\t%s\n", k, best[k], b[k], l[k], t[k] } }' \
    $(for r in $(seq "$ROUNDS"); do for tt in $TORCH_THREADS; do echo "$tmp/torch.$r.$tt.tsv"; done; done) > "$tmp/torch.tsv"

echo
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'));" \
     "mambadna $THREADS threads, PyTorch threads tried: $TORCH_THREADS; best of $ROUNDS alternated rounds;" \
     "load average before $load0, after $load1"
echo
echo "| workload | mambadna tokens/s | PyTorch tokens/s | PyTorch timed at | speedup |"
echo "|---|---|---|---|---|"
awk -F'\t' 'NR == FNR { md[$1] = $2; next }
            { pt = $2 + 0; m = ($1 in md) ? md[$1] + 0 : 0
              sp = (m > 0 && pt > 0) ? sprintf("%.1fx", m / pt) : "n/a"
              printf "| %s | %s | %.0f | B=%s L=%s, %s threads | %s |\n", $1, (m > 0 ? md[$1] : "missing"), pt, $3, $4, $5, sp }' \
    "$tmp/cpu.tsv" "$tmp/torch.tsv"
echo
echo "PyTorch: mamba_ssm Mamba.forward slow path with selective_scan_ref (Python loop over time"
echo "steps), float32, torch.inference_mode; rows timed at a shorter L report tokens/s at that L"
echo "(from L=4096 on, the reference's cost per token does not fall with L: this does not"
echo "understate PyTorch). Hidden states checked against mambadna embed first."
