#!/bin/sh
# CLI tests of pretrain and finetune: tiny runs end to end, provenance,
# resume, exit codes, and nothing left under the output name on errors.
# Needs MAMBADNA (the program), MD_TEST_DATA; uses MD_SHARED_DATA when set.
set -u
. "$(dirname "$0")/../cli_lib.sh"
S=${MD_SHARED_DATA:-}
nothing_left() { # DIR NAME DESCRIPTION: no file whose name contains NAME
    if [ "$(ls -A "$1" | grep -c -- "$2")" -eq 0 ]; then ok; else bad "$3: files left"; ls -A "$1" | sed 's/^/    /'; fi
}
# same_tensors A B: the tensor bytes of two safetensors files are identical
same_tensors() {
    "$PY" -c "
import json, struct, sys
def body(p):
    b = open(p, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop('__metadata__', None)
    return h, b[8 + n:]
ha, a = body(sys.argv[1]); hb, b = body(sys.argv[2])
sys.exit(0 if ha == hb and a == b else 1)
" "$1" "$2"
}
G="$D/seqio/ex1.fa"
TINYF="--arch caduceus-ps --d-model 16 --n-layer 2 -b 2 -t 2 --seed 3 --device cpu"
TINY="$TINYF -L 48"

# --- help and usage errors
expect 0 "help pretrain" "$M" help pretrain
contains "$T/out" "--len-warmup" "pretrain usage lists its options"
contains "$T/out" "\[0.95\]" "usage shows the live beta2 default"
expect 0 "finetune --help" "$M" finetune --help
contains "$T/out" "--patience" "finetune usage lists its options"
expect 2 "pretrain without -o" "$M" pretrain $TINY "$G"
expect 2 "pretrain without a model" "$M" pretrain -o "$T/x.safetensors" "$G"
expect 2 "pretrain without genomes" "$M" pretrain $TINY -o "$T/x.safetensors"
expect 2 "pretrain bad lr" "$M" pretrain $TINY --lr 0 -o "$T/x.safetensors" "$G"
expect 2 "pretrain bad objective" "$M" pretrain $TINY --objective clm -o "$T/x.safetensors" "$G"
expect 2 "pretrain bad len-warmup" "$M" pretrain $TINY --len-warmup 16 -o "$T/x.safetensors" "$G"
expect 2 "pretrain len-warmup longer than L" "$M" pretrain $TINY --len-warmup 64:5 -o "$T/x.safetensors" "$G"
expect 2 "next-token on a bidirectional model" "$M" pretrain $TINY --objective next-token -o "$T/x.safetensors" "$G"
expect 2 "pretrain unknown option" "$M" pretrain $TINY --frobnicate -o "$T/x.safetensors" "$G"
expect 2 "finetune bad metric" "$M" finetune $TINYF --metric f3 --train "$G" --dev "$G" -o "$T/x.safetensors"
expect 2 "finetune without dev" "$M" finetune $TINYF --train "$G" -o "$T/x.safetensors"
expect 2 "finetune --pos without --neg" "$M" finetune $TINYF --pos "$G" --dev "$G" -o "$T/x.safetensors"
expect 2 "finetune batch 0" "$M" finetune $TINYF -b 0 --train "$G" --dev "$G" -o "$T/x.safetensors"
expect 2 "pretrain unknown precision" "$M" pretrain $TINY --precision fp64 -o "$T/x.safetensors" "$G"
contains "$T/err" "fp32, tf32 or bf16" "the error lists the precisions"
expect 2 "pretrain on a device that does not exist" "$M" pretrain $TINY --device cuda:999 -o "$T/x.safetensors" "$G"
expect 2 "pretrain on an unknown device" "$M" pretrain $TINY --device gpu -o "$T/x.safetensors" "$G"
contains "$T/err" "cpu, cuda or cuda:N" "the error lists the device names"
expect 2 "eval on an unknown device" "$M" eval -m "$T/x.safetensors" --device tpu "$G"
nothing_left "$T" "x.safetensors" "usage errors write nothing"

# --- missing files: exit 1, nothing under the output name
expect 1 "pretrain missing genome" "$M" pretrain $TINY --steps 2 -o "$T/miss.safetensors" "$T/no-such.fa"
contains "$T/err" "no-such.fa" "the error names the file"
expect 1 "pretrain missing init model" "$M" pretrain -m "$T/no-model.safetensors" --steps 2 -o "$T/miss.safetensors" "$G"
expect 1 "resume without a checkpoint" "$M" pretrain $TINY --steps 2 --resume -o "$T/miss.safetensors" "$G"
expect 1 "finetune missing train file" "$M" finetune $TINYF --train "$T/no-train.csv" --dev "$G" -o "$T/miss.safetensors"
contains "$T/err" "no-train.csv" "the error names the training file"
nothing_left "$T" "miss" "failed runs leave nothing"

# --- pretrain a tiny model
expect 0 "pretrain 6 steps" "$M" pretrain $TINY --steps 6 --len-warmup 16:3 --rc-aug --log "$T/pt.jsonl" -o "$T/pt.safetensors" "$G"
contains "$T/err" "6 steps" "summary line"
[ -s "$T/pt.safetensors" ] && [ -s "$T/pt.safetensors.state.safetensors" ] && [ -s "$T/pt.safetensors.done" ] && ok || bad "model, state and marker written"
[ "$(grep -c '"type":"step"' "$T/pt.jsonl")" -eq 6 ] && ok || bad "one log line per step"
contains "$T/pt.jsonl" '"length":16' "sequence-length warm-up starts at 16"
contains "$T/pt.jsonl" '"type":"end"' "end record"
"$PY" -c "
import json, sys
for line in open('$T/pt.jsonl'):
    o = json.loads(line)
    if o['type'] == 'step':
        assert o['loss'] > 0 and o['lr'] > 0 and o['tokens_per_s'] > 0, o
" && ok || bad "log lines are JSON with loss, lr, tokens/s"
expect 0 "info of the pretrained model" "$M" info "$T/pt.safetensors"
contains "$T/out" "mambadna.command	mambadna pretrain --arch caduceus-ps" "command recorded"
contains "$T/out" "mambadna.seed	3" "seed recorded"
contains "$T/out" '"sha256":"' "data recorded with sha256"
contains "$T/out" "mambadna.metrics" "metrics recorded"

# --- same command twice: same bytes (determinism)
"$M" pretrain $TINY --steps 6 --len-warmup 16:3 --rc-aug -o "$T/pt2.safetensors" "$G" 2>/dev/null
same_tensors "$T/pt.safetensors" "$T/pt2.safetensors" && ok || bad "two runs give the same weights"

# --- stop and resume gives the same weights as a straight run
expect 0 "pretrain stop after 3" "$M" pretrain $TINY --steps 6 --len-warmup 16:3 --rc-aug --stop-after 3 -o "$T/sl.safetensors" "$G"
contains "$T/err" "resume" "stopping says how to continue"
expect 0 "pretrain resume" "$M" pretrain $TINY --steps 6 --len-warmup 16:3 --rc-aug --resume -o "$T/sl.safetensors" "$G"
same_tensors "$T/pt.safetensors" "$T/sl.safetensors" && ok || bad "stop + resume gives the straight run's weights"
expect 1 "resume with other options" "$M" pretrain $TINY --steps 6 --len-warmup 16:3 --lr 0.5 --stop-after 3 --resume -o "$T/sl.safetensors" "$G"
rm -f "$T/sl.safetensors.done"
expect 1 "resume without the marker" "$M" pretrain $TINY --steps 6 --len-warmup 16:3 --rc-aug --resume -o "$T/sl.safetensors" "$G"
contains "$T/err" "marker" "the error names the missing marker"

# --- fine-tune the pretrained model on a tiny CSV (GC-rich = 1, AT-rich = 0)
awk 'BEGIN {
    srand(7); print "sequence,label"
    for (i = 0; i < 40; i++) {
        y = i % 2; s = ""
        for (t = 0; t < 30; t++) {
            r = rand(); if (y) c = r < 0.4 ? "G" : r < 0.8 ? "C" : r < 0.9 ? "A" : "T"
            else c = r < 0.4 ? "A" : r < 0.8 ? "T" : r < 0.9 ? "G" : "C"
            s = s c
        }
        print s "," y
    }
}' > "$T/train.csv"
head -n 1 "$T/train.csv" > "$T/dev.csv"
sed -n '2,17p' "$T/train.csv" >> "$T/dev.csv"
FT="-t 2 -b 8 --epochs 2 --lr 3e-3 --seed 4 --metric auroc"
expect 0 "finetune" "$M" finetune -m "$T/pt.safetensors" $FT --log "$T/ft.jsonl" --train "$T/train.csv" --dev "$T/dev.csv" -o "$T/ft.safetensors"
contains "$T/err" "best dev auroc" "finetune summary names the best dev metric"
[ "$(grep -c '"type":"eval"' "$T/ft.jsonl")" -eq 2 ] && ok || bad "one evaluation per epoch"
contains "$T/ft.jsonl" '"dev":{' "dev metrics logged"
expect 0 "info of the fine-tuned model" "$M" info "$T/ft.safetensors"
contains "$T/out" "score.weight	\[2,16\]" "a 2-class head was added"
contains "$T/out" "mambadna.pretrained	" "the pretrained model is recorded"
contains "$T/out" "mambadna.pretrained.command	mambadna pretrain" "and the command that made it"
contains "$T/out" 'mambadna.metrics	{"dev":' "dev metrics recorded"
if "$M" help eval >/dev/null 2>&1; then
    expect 0 "eval of the fine-tuned model" "$M" eval -m "$T/ft.safetensors" -t 2 "$T/dev.csv"
    contains "$T/out" "auroc\|AUROC" "eval prints AUROC"
fi
# from scratch, one FASTA per class, stopped and resumed
awk -F, 'NR > 1 && $2 == 1 { print ">p" NR; print $1 }' "$T/train.csv" > "$T/pos.fa"
awk -F, 'NR > 1 && $2 == 0 { print ">n" NR; print $1 }' "$T/train.csv" > "$T/neg.fa"
FS="--arch caduceus-ph --d-model 16 --n-layer 1 -t 2 -b 8 --epochs 2 --seed 5 --device cpu --pos $T/pos.fa --neg $T/neg.fa --dev $T/dev.csv"
expect 0 "finetune from scratch" "$M" finetune $FS -o "$T/fs.safetensors"
expect 0 "finetune stop after 3" "$M" finetune $FS --stop-after 3 -o "$T/fs2.safetensors"
expect 0 "finetune resume" "$M" finetune $FS --resume -o "$T/fs2.safetensors"
same_tensors "$T/fs.safetensors" "$T/fs2.safetensors" && ok || bad "finetune stop + resume keeps the same best model"
same_tensors "$T/fs.safetensors.state.safetensors" "$T/fs2.safetensors.state.safetensors" && ok || bad "and the same training state"
expect 2 "finetune class weights of the wrong count" "$M" finetune $FS --class-weights 1,2,3 -o "$T/cw.safetensors"
expect 0 "finetune balanced class weights" "$M" finetune $FS --epochs 1 --class-weights balanced -o "$T/cw.safetensors"

# --- real data, when present: GUE promoters and E. coli
if [ -n "$S" ] && [ -d "$S/promoters/gue/prom_core_all" ]; then
    head -n 65 "$S/promoters/gue/prom_core_all/train.csv" > "$T/gue_train.csv"
    head -n 33 "$S/promoters/gue/prom_core_all/dev.csv" > "$T/gue_dev.csv"
    expect 0 "finetune on GUE rows" "$M" finetune --arch caduceus-ps --d-model 16 --n-layer 2 -t 2 -b 16 --epochs 1 --train "$T/gue_train.csv" --dev "$T/gue_dev.csv" -o "$T/gue.safetensors"
    expect 0 "pretrain on E. coli" "$M" pretrain $TINY --steps 2 -o "$T/ec.safetensors" "$S/genomes/ecoli_k12_mg1655_NC_000913.3.fna.gz"
else
    echo "skipped: shared data not found (set MD_SHARED_DATA)"
fi

echo "train cli: $n_ok checks passed, $n_fail failed"
[ "$n_fail" -eq 0 ] && echo "[  PASSED  ] $n_ok checks"
[ "$n_fail" -eq 0 ]
