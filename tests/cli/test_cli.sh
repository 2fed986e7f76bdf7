#!/bin/sh
# CLI tests: exit codes, usage, outputs read back, errors and interrupted runs.
# Needs MAMBADNA (the program), MD_TEST_DATA; uses MD_SHARED_DATA when set.
set -u
M=${MAMBADNA:?}
D=${MD_TEST_DATA:?}
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n_ok=0
n_fail=0
ok() { n_ok=$((n_ok + 1)); }
bad() { n_fail=$((n_fail + 1)); echo "FAILED: $*"; }
# expect CODE DESCRIPTION command...
expect() {
    want=$1; what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, expected $want"; sed 's/^/    /' "$T/err"; fi
}
contains() { # FILE PATTERN DESCRIPTION
    if grep -q -- "$2" "$1"; then ok; else bad "$3: '$2' not in $1"; sed 's/^/    /' "$1" | head -5; fi
}

# --- conventions
expect 0 "--version" "$M" --version
contains "$T/out" "htslib" "--version names htslib"
expect 0 "--help" "$M" --help
contains "$T/out" "tokenize" "--help lists commands"
expect 2 "no arguments" "$M"
expect 2 "unknown command" "$M" frobnicate
expect 0 "help CMD" "$M" help embed
contains "$T/out" "--pool" "help embed shows options"
expect 2 "unknown option" "$M" tokenize --no-such-option "$D/cli/tiny.fa"
expect 2 "bad value" "$M" tokenize -w 0 "$D/cli/tiny.fa"
expect 1 "missing input" "$M" tokenize "$T/does-not-exist.fa"
contains "$T/err" "does-not-exist" "error names the file"

# --- tokenize
expect 0 "tokenize TSV" "$M" tokenize "$D/cli/tiny.fa"
contains "$T/out" "^chrA	0	33	+	0.0606	0.2424	7 8 9 10 7 8 9 10 11 11 7 8 9 10" "chrA tokens and fractions"
contains "$T/out" "^chrB	0	20	+	0.2000	0.0000	9 9 9 9 8 8 8 8 7 7 7 7 10 10 10 10 11 11 11 11" "IUPAC to N"
contains "$T/out" "^empty	0	0	+" "empty record kept"
expect 0 "tokenize windows" "$M" tokenize -w 10 -s 10 "$D/cli/tiny.fa"
[ "$(grep -c '^chrA' "$T/out")" -eq 4 ] && ok || bad "chrA gives 4 windows of 10 (last shifted)"
contains "$T/out" "^chrA	23	33	+" "last window shifted to the end"
expect 0 "tokenize rc" "$M" tokenize --rc "$D/cli/tiny.fa"
contains "$T/out" "^chrC	0	4	-	0.0000	0.0000	7 8 9 10" "ACGT is its own reverse complement"
expect 0 "tokenize NPY" "$M" tokenize -w 8 -f npy -o "$T/tok.npy" "$D/cli/tiny.fa"
if "$PY" -c "
import numpy as np, sys
a = np.load('$T/tok.npy')
assert a.dtype == np.uint8 and a.shape[1] == 8, a.shape
assert (a[0] == [7, 8, 9, 10, 7, 8, 9, 10]).all(), a[0]
rows = open('$T/tok.npy.tsv').read().splitlines()
assert len(rows) == a.shape[0], (len(rows), a.shape)
assert (a[-1][:4] == [7, 8, 9, 10]).all() and (a[-1][4:] == 4).all(), a[-1]
"; then ok; else bad "NPY read back by numpy"; fi

# --- regions
cp "$D/cli/tiny.fa" "$T/tiny.fa"
expect 1 "regions need an index" "$M" tokenize -r chrA:1-4 "$T/tiny.fa"
contains "$T/err" "faidx" "missing index message says how to index"
expect 0 "faidx" "$M" faidx "$T/tiny.fa"
[ -s "$T/tiny.fa.fai" ] && ok || bad "faidx wrote tiny.fa.fai"
expect 0 "region" "$M" tokenize -r chrA:3-6 -r chrB:17- "$T/tiny.fa"
contains "$T/out" "^chrA	2	6	+	0.0000	0.0000	9 10 7 8$" "region 1-based inclusive"
contains "$T/out" "^chrB	16	20	+	1.0000" "open-ended region"
expect 1 "unknown contig" "$M" tokenize -r chrZ:1-10 "$T/tiny.fa"
contains "$T/err" "chrZ" "error names the contig"
expect 1 "out of range" "$M" tokenize -r chrC:3-9 "$T/tiny.fa"
contains "$T/err" "chrC" "out-of-range error names the contig"
printf 'chrA\t0\t4\tfwd\t0\t+\nchrA\t0\t4\trev\t0\t-\n' >"$T/r.bed"
expect 0 "BED regions with strand" "$M" tokenize -R "$T/r.bed" "$T/tiny.fa"
contains "$T/out" "^chrA	0	4	-	0.0000	0.0000	7 8 9 10$" "minus strand reverse complemented"

# --- models: init, info, convert, embed
G=$D/golden
expect 0 "init" "$M" init -a caduceus-ph -d 16 -l 2 --seed 3 -o "$T/m.safetensors"
expect 0 "info" "$M" info "$T/m.safetensors"
contains "$T/out" "^arch	caduceus-ph" "info arch"
contains "$T/out" "^meta	mambadna.seed	3" "info seed"
expect 2 "init without -o" "$M" init -a mamba
expect 2 "init bad arch" "$M" init -a transformer -o "$T/x.safetensors"
expect 0 "convert HF Caduceus PS" "$M" convert "$G/caduceus_ps" --dtype f32 -o "$T/ps.safetensors"
expect 0 "info converted" "$M" info -T "$T/ps.safetensors"
contains "$T/out" "^hidden_width	64" "PS hidden width 2*d_model"
expect 0 "embed HF dir" "$M" embed -m "$G/caduceus_ps" -o "$T/e1.npy" "$D/cli/tiny.fa"
expect 0 "embed native" "$M" embed -m "$T/ps.safetensors" -o "$T/e2.npy" "$D/cli/tiny.fa"
cmp -s "$T/e1.npy" "$T/e2.npy" && ok || bad "converted model embeds identically"
expect 0 "embed pooled f16" "$M" embed -m "$T/ps.safetensors" --pool bin:5 --dtype f16 -o "$T/e3.npy" "$D/cli/tiny.fa"
if "$PY" -c "
import numpy as np
a = np.load('$T/e1.npy'); b = np.load('$T/e3.npy')
rows = [l.split('\t') for l in open('$T/e1.npy.tsv').read().splitlines()]
assert a.shape == (33 + 20 + 4, 64), a.shape
assert [r[2] for r in rows] == ['chrA', 'chrB', 'chrC'], rows
assert b.dtype == np.float16 and b.shape == (7 + 4 + 1, 64), b.shape
# bin 0 of chrA is the mean of its first 5 rows
assert np.allclose(b[0], a[:5].mean(0), rtol=2e-3, atol=2e-3)
"; then ok; else bad "embed outputs read back"; fi
expect 1 "embed with a broken model" "$M" embed -m "$D/cli/tiny.fa" -o "$T/e4.npy" "$D/cli/tiny.fa"
[ ! -e "$T/e4.npy" ] && [ ! -e "$T/e4.npy.tsv" ] && ok || bad "no output after a failed embed"

# --- score
expect 0 "init classifier" "$M" init -a caduceus-ph -d 16 -l 2 --classes 2 -o "$T/cls.safetensors"
expect 2 "score needs a window for a model without one" "$M" score -m "$T/cls.safetensors" "$T/long0.fa"
"$PY" -c "
import random
random.seed(2)
with open('$T/g.fa', 'w') as f:
    for name, n in (('c1', 3000), ('c2', 1700)):
        f.write('>' + name + '\n' + ''.join(random.choice('ACGT') for _ in range(n)) + '\n')
    f.write('>gap\n' + 'N' * 500 + '\n')
"
expect 0 "faidx g.fa" "$M" faidx "$T/g.fa"
expect 0 "score bedGraph, 1 thread" "$M" score -m "$T/cls.safetensors" -w 200 -s 50 -t 1 -o "$T/s1.bedgraph" --calls "$T/c1.bed" --threshold 0.3 "$T/g.fa"
expect 0 "score bedGraph, 2 threads" "$M" score -m "$T/cls.safetensors" -w 200 -s 50 -t 2 -o "$T/s2.bedgraph" --calls "$T/c2.bed" --threshold 0.3 "$T/g.fa"
cmp -s "$T/s1.bedgraph" "$T/s2.bedgraph" && cmp -s "$T/c1.bed" "$T/c2.bed" && ok || bad "score output independent of the thread count"
if "$PY" -c "
rows = [l.split('\t') for l in open('$T/s1.bedgraph').read().splitlines()[1:]]
last = {}
for c, b, e, v in rows:
    b, e, v = int(b), int(e), float(v)
    assert b < e and 0 <= v <= 1, (c, b, e, v)
    assert b >= last.get(c, 0), ('overlap', c, b)
    last[c] = e
assert set(last) == {'c1', 'c2'}, last     # the all-N contig is a gap
assert last['c1'] == 3000 and last['c2'] == 1700
"; then ok; else bad "bedGraph sorted, non-overlapping, covering the contigs"; fi
expect 0 "score bigWig" "$M" score -m "$T/cls.safetensors" -w 200 -s 50 -o "$T/s.bw" "$T/g.fa"
[ "$(head -c 4 "$T/s.bw" | od -An -tx4 | tr -d ' ')" = "888ffc26" ] && ok || bad "bigWig magic"
expect 0 "score regions" "$M" score -m "$T/cls.safetensors" -w 200 -r c1:1-300 -r c2:101-250 -f tsv --per-region "$T/g.fa"
[ "$(wc -l < "$T/out")" -eq 2 ] && ok || bad "one line per region"
expect 2 "--per-region needs regions" "$M" score -m "$T/cls.safetensors" -w 200 -f tsv --per-region "$T/g.fa"
expect 0 "score windows TSV" "$M" score -m "$T/cls.safetensors" -w 200 -s 100 -f tsv "$T/g.fa"
contains "$T/out" "^c1	2800	3000	" "last window ends at the contig end"
expect 1 "score unknown contig" "$M" score -m "$T/cls.safetensors" -w 200 -r nope:1-10 "$T/g.fa"
expect 0 "score reads" "$M" score -m "$T/cls.safetensors" -w 200 "$D/seqio/ex1_subset.bam"
[ "$(wc -l < "$T/out")" -gt 10 ] && ok || bad "one line per read"
expect 1 "score without a head" "$M" score -m "$T/m.safetensors" -w 100 "$T/g.fa"
contains "$T/err" "classification head" "error says the model has no head"

# --- an interrupted run leaves nothing under the final name
"$PY" -c "
import random
random.seed(1)
with open('$T/long.fa', 'w') as f:
    f.write('>long\n' + ''.join(random.choice('ACGT') for _ in range(400000)) + '\n')
"
"$M" init -a caduceus-ps -d 64 -l 4 -o "$T/big.safetensors" 2>/dev/null
"$M" embed -m "$T/big.safetensors" -w 1000 -o "$T/killed.npy" "$T/long.fa" 2>/dev/null &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
st=$?
[ "$st" -ne 0 ] && ok || bad "killed run reports failure"
left=$(ls -A "$T" | grep -c killed)
[ "$left" -eq 0 ] && ok || { bad "killed run left files"; ls -A "$T"; }

echo "cli: $n_ok checks passed, $n_fail failed"
[ "$n_fail" -eq 0 ] && echo "[  PASSED  ] $n_ok CLI checks"
[ "$n_fail" -eq 0 ]
