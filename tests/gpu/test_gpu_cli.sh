#!/bin/sh
# Every command on the GPU against the same command on the CPU, end to end:
# score (fp32 and bf16), embed, finetune + eval, pretrain (loss falls),
# a stopped and resumed GPU run; on the bundled model and sequence and the
# committed fixtures. Needs an NVIDIA GPU, python3 and numpy.
#   tests/gpu/test_gpu_cli.sh MAMBADNA
set -u
M=${1:?usage: test_gpu_cli.sh MAMBADNA}
PY=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
n=0
ok() { n=$((n + 1)); echo "ok: $1"; }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL: $1"; }
run() { # run WHAT CMD...: exit 0 expected
    what=$1
    shift
    if "$@" > "$T/out" 2> "$T/err"; then ok "$what"; else bad "$what (exit $?): $(tail -n 3 "$T/err")"; fi
}

G=$root/data/genomes/22_20-21M.fa
printf '22:20000001-21000000\t0\t200000\n' > "$T/region.bed"
L=$root/tests/data/labelled/gue_tata_dev_head.csv

# score: the same windows, scores within the precision's rounding; one
# bundled model on both devices (without -m, a GPU takes the large one)
printf '22:20000001-21000000\t0\t50000\n' > "$T/region_large.bed"
for dev in cpu cuda; do
    run "score on $dev" "$M" score --device "$dev" --model-size small -R "$T/region.bed" --no-progress -o "$T/$dev.bg" "$G"
    run "score on $dev, large model" "$M" score --device "$dev" --model-size large -R "$T/region_large.bed" --no-progress -o "$T/$dev.large.bg" "$G"
done
run "score on cuda, bf16" "$M" score --device cuda --precision bf16 --model-size small -R "$T/region.bed" --no-progress -o "$T/bf16.bg" "$G"
run "score on cuda without -m" "$M" score --device cuda -R "$T/region_large.bed" --no-progress -o "$T/default.bg" "$G"
cmp_tracks() { # cmp_tracks A B BOUND: same intervals, values within BOUND
    "$PY" - "$1" "$2" "$3" << 'EOF'
import sys
def rows(p):
    return [l.split() for l in open(p) if not l.startswith("track")]
a, b, bound = rows(sys.argv[1]), rows(sys.argv[2]), float(sys.argv[3])
same = len(a) == len(b) and all(x[:3] == y[:3] for x, y in zip(a, b))
diff = max(abs(float(x[3]) - float(y[3])) for x, y in zip(a, b)) if a else 0.0
print(f"  {len(a)} intervals, max |difference| {diff:.2e} (bound {bound:g})")
sys.exit(0 if same and a and diff < bound else 1)
EOF
}
cmp_tracks "$T/cpu.bg" "$T/cuda.bg" 1e-4 && ok "score: GPU track equals the CPU's (fp32)" || bad "score: GPU track differs from the CPU's"
cmp_tracks "$T/cpu.bg" "$T/bf16.bg" 3e-2 && ok "score: bf16 track close to the CPU's" || bad "score: bf16 track far from the CPU's"
cmp_tracks "$T/cpu.large.bg" "$T/cuda.large.bg" 1e-4 && ok "score: the large model's GPU track equals the CPU's" || bad "score: the large model's GPU track differs from the CPU's"
cmp -s "$T/cuda.large.bg" "$T/default.bg" && ok "score on a GPU takes the large model by default" || bad "score on a GPU without -m did not take the large model"

# embed: binned hidden states
for dev in cpu cuda; do
    run "embed on $dev" "$M" embed --device "$dev" -m "$root/data/models/base.safetensors" -R "$T/region.bed" \
        -w 50000 --pool bin:100 --no-progress -o "$T/$dev.npy" "$G"
done
"$PY" - "$T/cpu.npy" "$T/cuda.npy" << 'EOF' && ok "embed: GPU rows equal the CPU's" || bad "embed: GPU rows differ from the CPU's"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
rel = float(np.linalg.norm(a - b) / np.linalg.norm(a)) if a.shape == b.shape else float("inf")
print(f"  shape {a.shape}, relative L2 difference {rel:.2e} (bound 1e-4)")
sys.exit(0 if np.isfinite(b).all() and rel < 1e-4 else 1)
EOF

# finetune on the GPU, evaluate on both devices
run "finetune on cuda" "$M" finetune --device cuda --arch caduceus-ps --d-model 32 --n-layer 2 -b 4 \
    --epochs 2 --seed 3 --train "$L" --dev "$L" --no-progress -o "$T/ft.safetensors"
for dev in cpu cuda; do
    run "eval on $dev" "$M" eval --device "$dev" --json -p "$T/pred_$dev.tsv" -m "$T/ft.safetensors" "$L"
done
"$PY" - "$T/pred_cpu.tsv" "$T/pred_cuda.tsv" << 'EOF' && ok "eval: GPU probabilities equal the CPU's" || bad "eval: GPU probabilities differ"
import sys
def p(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    return [float(r[2]) for r in rows[1:]]
a, b = p(sys.argv[1]), p(sys.argv[2])
d = max(abs(x - y) for x, y in zip(a, b)) if a and len(a) == len(b) else float("inf")
print(f"  {len(a)} sequences, max |p1 difference| {d:.2e} (bound 1e-4)")
sys.exit(0 if d < 1e-4 else 1)
EOF

# pretrain on the GPU: the loss falls; a stopped run resumes on the GPU
run "pretrain on cuda" "$M" pretrain --device cuda --arch caduceus-ps --d-model 32 --n-layer 2 -L 256 -b 8 \
    --steps 60 --lr 3e-3 --seed 2 --no-progress -o "$T/pt.safetensors" "$G"
"$PY" - "$T/err" << 'EOF' && ok "pretrain on cuda: the loss falls" || bad "pretrain on cuda: the loss does not fall"
import re, sys
m = re.search(r"loss ([0-9.]+) -> ([0-9.]+)", open(sys.argv[1]).read())
print(f"  loss {m.group(1)} -> {m.group(2)}" if m else "  no summary line")
sys.exit(0 if m and float(m.group(2)) < float(m.group(1)) else 1)
EOF
run "pretrain on cuda, stopped" "$M" pretrain --device cuda --arch caduceus-ps --d-model 32 --n-layer 2 -L 256 -b 8 \
    --steps 20 --stop-after 10 --seed 2 --no-progress -o "$T/sr.safetensors" "$G"
run "pretrain on cuda, resumed" "$M" pretrain --device cuda --arch caduceus-ps --d-model 32 --n-layer 2 -L 256 -b 8 \
    --steps 20 --seed 2 --resume --no-progress -o "$T/sr.safetensors" "$G"
grep -q "20 steps" "$T/err" && ok "the resumed run reaches its last step" || bad "the resumed run: $(tail -n 2 "$T/err")"

echo "gpu cli: $((n - fail)) checks passed, $fail failed"
[ "$fail" -eq 0 ]
