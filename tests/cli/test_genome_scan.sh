#!/bin/sh
# Genome-scan evaluation and the model zoo: `eval --baselines` against an
# independent reference, the calibrated threshold a model carries, the
# choice of bundled model by --model-size.
set -u
. "$(dirname "$0")/../cli_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

expect 0 "init" "$M" init -a caduceus-ps -d 16 -l 1 --classes 2 -o "$T/m.safetensors"

# --- eval --baselines: GC content and CpG o/e, against tests/reference/composition_ref.py
for data in "$D/labelled/composition.csv" "$D/labelled/gue_tata_dev_head.csv"; do
    name=$(basename "$data")
    expect 0 "eval --baselines $name" "$M" eval --device cpu -t 1 -m "$T/m.safetensors" --baselines -p "$T/pred.tsv" "$data"
    cp "$T/out" "$T/table"
    "$PY" "$ROOT/tests/reference/composition_ref.py" "$data" >"$T/ref" || bad "composition_ref.py on $name"
    if "$PY" - "$T/table" "$T/pred.tsv" "$T/ref" <<'PYEOF'
import sys
table = dict(l.rstrip("\n").split("\t")[:2] for l in open(sys.argv[1]) if "\t" in l)
pred = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
ref = [l.split() for l in open(sys.argv[3])]
bad = 0
for r in ref:
    if r[0] != "row":
        got = float(table[r[0]])
        if abs(got - float(r[1])) > 5e-5:  # the table prints 4 decimals
            print(f"{r[0]}: {got} vs reference {r[1]}"); bad += 1
assert pred[0][-2:] == ["gc", "cpg_oe"], pred[0]
rows = [r for r in ref if r[0] == "row"]
assert len(rows) == len(pred) - 1
for p, r in zip(pred[1:], rows):
    if p[0] != r[1] or abs(float(p[-2]) - float(r[2])) > 1e-7 or abs(float(p[-1]) - float(r[3])) > 1e-6:
        print(f"{p} vs reference {r}"); bad += 1
sys.exit(1 if bad else 0)
PYEOF
    then ok; else bad "eval --baselines $name agrees with the reference"; fi
done
expect 0 "eval --baselines --json" "$M" eval --device cpu -t 1 -m "$T/m.safetensors" --baselines --json "$D/labelled/composition.csv"
contains "$T/out" '"cpg_oe"' "JSON has the CpG o/e baseline"
expect 0 "eval without --baselines" "$M" eval --device cpu -t 1 -m "$T/m.safetensors" "$D/labelled/composition.csv"
if grep -q "gc_auroc" "$T/out"; then bad "baselines printed without --baselines"; else ok; fi

# --- the calibrated threshold a model carries sets score's default
G="$D/labelled/genome.fa"
expect 0 "convert --meta threshold" "$M" convert --window 40 --stride 10 --meta mambadna.threshold=0 "$T/m.safetensors" -o "$T/t0.safetensors"
expect 0 "convert --meta threshold 1" "$M" convert --window 40 --stride 10 --meta mambadna.threshold=1 "$T/m.safetensors" -o "$T/t1.safetensors"
expect 0 "score, threshold 0 from the model" "$M" score --device cpu -t 1 -m "$T/t0.safetensors" -o "$T/t0.bedgraph" --calls "$T/t0.bed" "$G"
expect 0 "score, threshold 1 from the model" "$M" score --device cpu -t 1 -m "$T/t1.safetensors" -o "$T/t1.bedgraph" --calls "$T/t1.bed" "$G"
[ -s "$T/t0.bed" ] && ok || bad "threshold 0 from the model: every window is a call"
[ -s "$T/t1.bed" ] && bad "threshold 1 from the model: no window reaches probability 1" || ok
expect 0 "--threshold overrides the model's" "$M" score --device cpu -t 1 -m "$T/t1.safetensors" --threshold 0 -o "$T/o.bedgraph" --calls "$T/o.bed" "$G"
cmp -s "$T/o.bed" "$T/t0.bed" && ok || bad "--threshold 0 gives the calls of threshold 0"
expect 0 "convert --meta bad threshold" "$M" convert --window 40 --meta mambadna.threshold=high "$T/m.safetensors" -o "$T/tbad.safetensors"
expect 1 "a model with a bad threshold" "$M" score --device cpu -t 1 -m "$T/tbad.safetensors" -o "$T/x.bedgraph" "$G"
contains "$T/err" "mambadna.threshold" "the error names the metadata key"

# --- the bundled zoo: --model-size picks the file
mkdir -p "$T/zoo"
cp "$T/t0.safetensors" "$T/zoo/promoter-human.safetensors"
expect 0 "--model-size small" env MAMBADNA_MODELS="$T/zoo" "$M" score --device cpu -t 1 --model-size small -o "$T/s.bedgraph" "$G"
expect 1 "--model-size large without the large model" env MAMBADNA_MODELS="$T/zoo" "$M" score --device cpu -t 1 --model-size large -o "$T/l.bedgraph" "$G"
contains "$T/err" "promoter-human-large.safetensors" "the error names the large model's file"
expect 2 "--model-size huge" "$M" score --model-size huge "$G"
expect 2 "-m with --model-size" "$M" score -m "$T/m.safetensors" --model-size small "$G"

# --- embed without -m takes the bundled base model
cp "$T/m.safetensors" "$T/zoo/base.safetensors"
expect 0 "embed with the bundled base" env MAMBADNA_MODELS="$T/zoo" "$M" embed --device cpu -t 1 -o "$T/e.npy" "$G"
expect 0 "embed -m the same model" "$M" embed --device cpu -t 1 -m "$T/m.safetensors" -o "$T/e_m.npy" "$G"
cmp -s "$T/e.npy" "$T/e_m.npy" && ok || bad "embed without -m uses base.safetensors"
rm "$T/zoo/base.safetensors"
expect 1 "embed without a bundled base" env MAMBADNA_MODELS="$T/zoo" "$M" embed --device cpu -t 1 -o "$T/e2.npy" "$G"
contains "$T/err" "base.safetensors" "the error names the base model's file"

# --- the bundled models: a calibrated threshold and the recorded window
for f in promoter-human promoter-human-large; do
    expect 0 "info $f" "$M" info "$ROOT/data/models/$f.safetensors"
    contains "$T/out" "mambadna.threshold" "$f carries a calibrated threshold"
done

echo "$n_ok passed, $n_fail failed"
[ "$n_fail" -eq 0 ] && echo "[  PASSED  ] $n_ok genome-scan checks"
[ "$n_fail" -eq 0 ]
