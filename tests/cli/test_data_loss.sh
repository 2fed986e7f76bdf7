#!/bin/sh
# CLI tests: no silent data loss, no silently wrong output. Truncated BGZF
# input, outputs that are inputs, non-finite models, embedding windows,
# usage errors, compressed outputs, FASTA pieces named chr:beg-end.
# Needs MAMBADNA (the program), MD_TEST_DATA.
set -u
. "$(dirname "$0")/../cli_lib.sh"
# expect CODE DESCRIPTION command...
absent() { # PATH DESCRIPTION
    if [ ! -e "$1" ]; then ok; else bad "$2: $1 exists"; fi
}
X=$D/truncated
"$M" init -a caduceus-ph -d 16 -l 2 --classes 2 --window 64 --seed 5 -o "$T/cls.safetensors" 2>/dev/null
"$M" init -a caduceus-ph -d 16 -l 2 --seed 5 -o "$T/base.safetensors" 2>/dev/null

# --- 1. BGZF input cut at a block boundary is an error, not a shorter input
for cmd in "score -m $T/cls.safetensors -o $T/cut.scored.bam" "tokenize -o $T/cut.tsv" \
           "embed -m $T/base.safetensors -o $T/cut.npy"; do
    name=${cmd%% *}
    # shellcheck disable=SC2086
    expect 1 "$name on a BAM cut at a block boundary" "$M" $cmd "$X/ex1_cut.bam"
    contains "$T/err" "ex1_cut.bam has no end-of-file marker" "$name names the file and the cause"
    contains "$T/err" "allow-no-eof" "$name says how to read it anyway"
done
absent "$T/cut.scored.bam" "no BAM written from a truncated input"
absent "$T/cut.tsv" "no TSV written from a truncated input"
absent "$T/cut.npy" "no NPY written from a truncated input"
expect 1 "score on a bgzip FASTA cut at a block boundary" "$M" score -m "$T/cls.safetensors" -o "$T/cut.bedgraph" "$X/ex1_cut.fa.gz"
absent "$T/cut.bedgraph" "no track from a truncated FASTA"
expect 0 "the whole bgzip FASTA" "$M" tokenize "$X/ex1_blocks.fa.gz"
[ "$(cut -f3 "$T/out" | tr '\n' ' ')" = "1575 1584 " ] && ok || bad "both contigs whole"
expect 0 "--allow-no-eof reads what is there" "$M" tokenize --allow-no-eof "$X/ex1_cut.fa.gz"
[ "$(cut -f3 "$T/out" | tr '\n' ' ')" = "1575 380 " ] && ok || bad "--allow-no-eof: chr1 whole, chr2 cut"
contains "$T/err" "may be truncated" "--allow-no-eof warns"
expect 0 "--allow-no-eof on the cut BAM" "$M" score -m "$T/cls.safetensors" --allow-no-eof -o "$T/cut_ok.bam" "$X/ex1_cut.bam"
expect 0 "read back the scored copy" "$M" tokenize "$T/cut_ok.bam"
[ "$(wc -l < "$T/out")" -eq 468 ] && ok || bad "468 records in the copy of the cut BAM"
cat "$X/ex1_cut.fa.gz" >"$T/pipe.fa.gz"
expect 1 "a cut stream from a pipe" sh -c "cat '$X/ex1_cut.bam' | '$M' tokenize -o '$T/pipe.tsv' -"
contains "$T/err" "stdin has no end-of-file marker" "the pipe case names stdin"
absent "$T/pipe.tsv" "no output from a cut stream"
expect 0 "a whole stream from a pipe" sh -c "cat '$X/ex1_blocks.fa.gz' | '$M' tokenize -"
cp "$X/ex1_cut.fa.gz" "$T/idx_cut.fa.gz"
expect 1 "faidx refuses a cut bgzip FASTA" "$M" faidx "$T/idx_cut.fa.gz"
absent "$T/idx_cut.fa.gz.fai" "no index of a cut FASTA"

# --- 2. two outputs in one file, an output that is an input: refused first
cp "$D/cli/tiny.fa" "$T/in.fa"
cp "$T/in.fa" "$T/in.fa.orig"
expect 2 "-o and --calls the same file" "$M" score -m "$T/cls.safetensors" -o "$T/x.bedgraph" --calls "$T/x.bedgraph" "$T/in.fa"
contains "$T/err" "both write" "names the clash"
absent "$T/x.bedgraph" "nothing written"
mkdir -p "$T/sub"
expect 2 "-o and --calls through .." "$M" score -m "$T/cls.safetensors" -o "$T/sub/../y.bed" --calls "$T/y.bed" "$T/in.fa"
expect 2 "-o and --calls both stdout" "$M" score -m "$T/cls.safetensors" --calls - "$T/in.fa"
expect 2 "the output is the input" "$M" score -m "$T/cls.safetensors" -f bedgraph -o "$T/in.fa" "$T/in.fa"
contains "$T/err" "is also the input" "names the overwritten input"
ln "$T/in.fa" "$T/hardlink.fa"
expect 2 "the output is a hard link of the input" "$M" score -m "$T/cls.safetensors" -f bedgraph -o "$T/hardlink.fa" "$T/in.fa"
expect 2 "the output is the model" "$M" score -m "$T/cls.safetensors" -f bedgraph -o "$T/cls.safetensors" "$T/in.fa"
expect 2 "tokenize onto its input" "$M" tokenize -o "$T/in.fa" "$T/in.fa"
cp "$T/in.fa" "$T/in.fa.tsv"
expect 2 "embed's sidecar onto its input" "$M" embed -m "$T/base.safetensors" -o "$T/in.fa" "$T/in.fa.tsv"
expect 2 "convert onto its input" "$M" convert "$T/base.safetensors" -o "$T/base.safetensors"
cmp -s "$T/in.fa" "$T/in.fa.orig" && ok || bad "the input is untouched"
cp "$D/cli/tiny.fa" "$T/in.fa"

# --- 3. non-finite weights: refused at load, naming the tensor
"$PY" - "$T/cls.safetensors" "$T/nan.safetensors" <<'EOF'
import json, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
t = h['caduceus.backbone.layers.1.mixer.mamba_fwd.out_proj.weight']
assert t['dtype'] == 'F32'
off = 8 + n + t['data_offsets'][0] + 4 * 5
b[off:off + 4] = struct.pack('<f', float('nan'))
open(sys.argv[2], 'wb').write(b)
EOF
expect 1 "score with a NaN weight" "$M" score -m "$T/nan.safetensors" -o "$T/nan.bedgraph" --calls "$T/nan.bed" "$T/in.fa"
contains "$T/err" "layers.1.mixer.mamba_fwd.out_proj.weight" "the message names the tensor"
contains "$T/err" "NaN" "the message says NaN"
absent "$T/nan.bedgraph" "no NaN track"
absent "$T/nan.bed" "no NaN calls"
expect 1 "embed with a NaN weight" "$M" embed -m "$T/nan.safetensors" -o "$T/nan.npy" "$T/in.fa"
# finite weights so large that the probabilities overflow to NaN
"$PY" - "$T/cls.safetensors" "$T/huge.safetensors" <<'EOF'
import json, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
for name in ('caduceus.backbone.norm_f.weight', 'score.weight'):
    s, e = h[name]['data_offsets']
    for off in range(8 + n + s, 8 + n + e, 4):
        b[off:off + 4] = struct.pack('<f', 3e38)
open(sys.argv[2], 'wb').write(b)
EOF
expect 1 "score with overflowing weights" "$M" score -m "$T/huge.safetensors" -o "$T/huge.bedgraph" --calls "$T/huge.bed" "$T/in.fa"
contains "$T/err" "non-finite probability" "a non-finite probability is an error"
absent "$T/huge.bedgraph" "no NaN track from overflowing weights"
absent "$T/huge.bed" "no NaN calls from overflowing weights"

# --- 4. embed windows: every base once by default, --last to choose
printf '>s\nACGTTGCAACGTAGCTAGGCTTAGCATCGATCGGATC\n' >"$T/s.fa"   # 37 bases
"$M" faidx "$T/s.fa" 2>/dev/null
for last in default short shift pad drop; do
    opt=""
    [ "$last" = default ] || opt="--last $last"
    # shellcheck disable=SC2086
    expect 0 "embed -w 10 $last" "$M" embed -m "$T/base.safetensors" -w 10 $opt -o "$T/w_$last.npy" "$T/s.fa"
done
expect 0 "embed the remainder alone" "$M" embed -m "$T/base.safetensors" -r s:31-37 -o "$T/rest.npy" "$T/s.fa"
if "$PY" - "$T" <<'EOF'
import numpy as np, sys
T = sys.argv[1]
def load(k):
    a = np.load(f'{T}/w_{k}.npy')
    rows = [l.split('\t') for l in open(f'{T}/w_{k}.npy.tsv').read().splitlines()]
    return a, [(int(r[1]), int(r[3]), int(r[4])) for r in rows]
L = 37
for k in ('default', 'short'):
    a, rows = load(k)
    assert a.shape[0] == L, (k, a.shape)                       # every base once
    assert rows == [(10, 0, 10), (10, 10, 20), (10, 20, 30), (7, 30, 37)], rows
a, rows = load('short')
rest = np.load(f'{T}/rest.npy')
assert np.array_equal(a[30:], rest), 'the short window is embedded as the remainder alone'
a, rows = load('shift')
assert rows[-1] == (10, 27, 37) and a.shape[0] == 40, rows     # 3 bases twice
a, rows = load('pad')
assert rows[-1] == (7, 30, 37) and a.shape[0] == L, rows       # rows of bases only
assert not np.allclose(a[30:], rest), 'pad runs the window with [PAD] after the bases'
a, rows = load('drop')
assert rows[-1] == (10, 20, 30) and a.shape[0] == 30, rows
EOF
then ok; else bad "embed --last rows and coordinates"; fi
expect 2 "embed --last bad" "$M" embed -m "$T/base.safetensors" -w 10 --last bad -o "$T/x.npy" "$T/s.fa"
expect 0 "tokenize --last pad" "$M" tokenize -w 10 --last pad "$T/s.fa"
contains "$T/out" "^s	30	37	+	0.0000	0.0000	10 8 9 9 7 10 8 4 4 4$" "pad tokens after the bases"
[ "$(grep -c . "$T/out")" -eq 4 ] && ok || bad "tokenize --last pad: 4 windows"

# --- 5. smaller ones
expect 0 "score a FASTA with an empty record" "$M" score -m "$T/cls.safetensors" -o "$T/e.bedgraph" "$T/in.fa"
contains "$T/err" "FASTA record 'empty' is empty" "the empty record is named"
expect 0 "embed a FASTA with an empty record" "$M" embed -m "$T/base.safetensors" -o "$T/e.npy" "$T/in.fa"
contains "$T/err" "FASTA record 'empty' is empty" "embed names the empty record"
printf '>allN\n%s\n>c\n%s\n' "$(printf 'N%.0s' $(seq 100))" "$(printf 'ACGGT%.0s' $(seq 30))" >"$T/n.fa"
"$M" faidx "$T/n.fa" 2>/dev/null
for f in bedgraph bw; do
    expect 0 "all-N contig, $f" "$M" score -m "$T/cls.safetensors" -o "$T/n.$f" "$T/n.fa"
    contains "$T/err" "allN:1-100 has no window" "all-N contig warned ($f)"
done
expect 0 "bigWig of regions out of genome order" "$M" score -m "$T/cls.safetensors" -o "$T/r.bw" -r c:101-150 -r allN:1-50 -r c:1-100 "$T/n.fa"
expect 2 "bigWig of overlapping regions, before any work" "$M" score -m "$T/cls.safetensors" -o "$T/o.bw" -r c:1-100 -r c:51-150 "$T/n.fa"
contains "$T/err" "overlap" "overlapping regions named"
absent "$T/o.bw" "no bigWig of overlapping regions"
for args in "-w 0:--window (-w):an integer >= 1" "--threshold 2:--threshold:a probability from 0 to 1" \
            "-t 0:--threads (-t):an integer from 1 to 4096"; do
    opt=${args%%:*}; rest=${args#*:}; name=${rest%%:*}; range=${rest#*:}
    # shellcheck disable=SC2086
    expect 2 "score $opt" "$M" score -m "$T/cls.safetensors" $opt "$T/in.fa"
    contains "$T/err" "for $name: expected $range" "score $opt names the option and range"
    contains "$T/err" "mambadna help score" "score $opt points at the help"
    [ "$(wc -l < "$T/err")" -le 2 ] && ok || bad "score $opt: no full help on a usage error"
done
expect 2 "embed -o -" "$M" embed -m "$T/base.safetensors" -o - "$T/in.fa"
expect 0 "score -o out.bed.gz" "$M" score -m "$T/cls.safetensors" --threshold 0 -o "$T/calls.bed.gz" "$T/in.fa"
expect 0 "score -o out.bedgraph.gz" "$M" score -m "$T/cls.safetensors" -o "$T/t.bedgraph.gz" --calls "$T/c.bed" --threshold 0 "$T/in.fa"
expect 0 "score -o out.bedgraph" "$M" score -m "$T/cls.safetensors" -o "$T/t.bedgraph" "$T/in.fa"
if "$PY" - "$T" <<'EOF'
import gzip, struct, sys
T = sys.argv[1]
for f in ('calls.bed.gz', 't.bedgraph.gz'):
    raw = open(f'{T}/{f}', 'rb').read()
    assert raw[:4] == b'\x1f\x8b\x08\x04' and raw[12:14] == b'BC', f + ': not BGZF'
    assert raw.endswith(bytes.fromhex('1f8b08040000000000ff0600424302001b0003000000000000000000')), f
assert gzip.decompress(open(f'{T}/t.bedgraph.gz', 'rb').read()) == open(f'{T}/t.bedgraph', 'rb').read()
assert gzip.decompress(open(f'{T}/calls.bed.gz', 'rb').read()) == open(f'{T}/c.bed', 'rb').read()
EOF
then ok; else bad ".gz outputs are BGZF with the bytes of the plain ones"; fi
expect 2 "score -o out.npy" "$M" score -m "$T/cls.safetensors" -o "$T/out.npy" "$T/in.fa"
contains "$T/err" "cannot tell the output format" "unknown extension named"
absent "$T/out.npy" "nothing written under an unknown extension"
expect 2 "score -o out.bw.gz" "$M" score -m "$T/cls.safetensors" -o "$T/out.bw.gz" "$T/n.fa"
expect 1 "embed -o out.npy.gz" "$M" embed -m "$T/base.safetensors" -o "$T/e.npy.gz" "$T/in.fa"
expect 0 "init" "$M" init -a mamba -d 8 -l 1 -o "$T/i.safetensors"
contains "$T/err" "^mambadna init: mamba model, d_model 8, 1 layers" "init summary line"
expect 0 "convert" "$M" convert "$T/i.safetensors" -o "$T/c.safetensors"
contains "$T/err" "^mambadna convert: mamba model" "convert summary line"
expect 0 "faidx" "$M" faidx "$T/in.fa"
contains "$T/err" "^mambadna faidx: .*in.fa: 3 contigs" "faidx summary line"
# a piece of a chromosome named as samtools faidx names it (the bundled demo sequence)
"$PY" - "$T/piece.fa" <<'EOF'
import sys
seq = 'ACGTTGCAAC' * 12
open(sys.argv[1], 'w').write('>22:20000001-20000120\n' + seq + '\n')
EOF
expect 0 "tokenize a piece" "$M" tokenize -w 100 --last short "$T/piece.fa"
contains "$T/out" "^22	20000100	20000120	+" "coordinates on chr22"
expect 0 "score a piece" "$M" score -m "$T/cls.safetensors" -o "$T/piece.bedgraph" --calls "$T/piece.bed" --threshold 0 "$T/piece.fa"
contains "$T/piece.bedgraph" "^22	20000000	" "bedGraph on chr22"
contains "$T/piece.bed" "^22	20000000	20000120	" "calls on chr22"
"$M" faidx "$T/piece.fa" 2>/dev/null
expect 0 "bigWig of a piece" "$M" score -m "$T/cls.safetensors" -o "$T/piece.bw" "$T/piece.fa"
expect 0 "--literal-names" "$M" tokenize --literal-names "$T/piece.fa"
contains "$T/out" "^22:20000001-20000120	0	120	+" "--literal-names keeps the record name"

echo "data loss: $n_ok checks passed, $n_fail failed"
[ "$n_fail" -eq 0 ] && echo "[  PASSED  ] $n_ok data-loss checks"
[ "$n_fail" -eq 0 ]
