#!/bin/sh
# CLI tests: exit codes, usage, outputs read back, errors and interrupted runs.
# Needs MAMBADNA (the program), MD_TEST_DATA; uses MD_SHARED_DATA when set.
set -u
. "$(dirname "$0")/../cli_lib.sh"
# expect CODE DESCRIPTION command...

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

# --- score: BAM copies of SAM/BAM/CRAM input with the score in a tag
S=$D/seqio
expect 0 "score reads TSV" "$M" score -m "$T/cls.safetensors" -w 20 -s 10 -f tsv -o "$T/reads.tsv" "$S/ex1_subset.bam"
expect 0 "score -o x.bam" "$M" score -m "$T/cls.safetensors" -w 20 -s 10 -t 1 -o "$T/reads.bam" "$S/ex1_subset.bam"
contains "$T/err" "28 records written, 25 tagged ms" "summary counts records and tagged reads"
expect 0 "score -f bam -o -, 2 threads" "$M" score -m "$T/cls.safetensors" -w 20 -s 10 -t 2 -f bam -o - "$S/ex1_subset.bam"
cp "$T/out" "$T/stdout.bam"
expect 0 "score SAM input -> BAM, --tag" "$M" score -m "$T/cls.safetensors" -w 20 -s 10 --tag XP -o "$T/sam.bam" "$S/ex1_subset.sam"
expect 0 "score CRAM input -> BAM with -T" "$M" score -m "$T/cls.safetensors" -w 20 -s 10 -T "$S/ex1.fa" -o "$T/cram.bam" "$S/ex1_subset.cram"
if command -v samtools >/dev/null 2>&1; then
    samtools view "$S/ex1_subset.bam" >"$T/in.sam"
    samtools view "$T/reads.bam" >"$T/o.sam"
    samtools view -H "$T/reads.bam" >"$T/o.hdr"
    samtools view "$T/sam.bam" >"$T/o_sam.sam"
    samtools view "$T/cram.bam" >"$T/o_cram.sam"
    samtools view "$T/stdout.bam" >"$T/o_stdout.sam"
    cmp -s "$T/o.sam" "$T/o_stdout.sam" && ok || bad "BAM to stdout equals BAM to a file, whatever the thread count"
    if "$PY" -c "
import sys
def recs(path):
    return [l.rstrip('\n').split('\t') for l in open(path)]
inp, out = recs('$T/in.sam'), recs('$T/o.sam')
assert len(inp) == len(out) == 28, (len(inp), len(out))
tsv = {}
for l in open('$T/reads.tsv'):
    name, flag, length, score = l.split('\t')
    tsv[(name, int(flag))] = float(score)
assert len(tsv) == 25, len(tsv)
tagged = 0
for a, b in zip(inp, out):
    tags = [f for f in b[11:] if f.startswith('ms:')]
    rest = [f for f in b if not f.startswith('ms:')]
    assert rest == a, (a, b)                 # the record as it was, in order
    key = (a[0], int(a[1]))
    if key in tsv:
        assert len(tags) == 1 and tags[0].startswith('ms:f:'), b
        assert abs(float(tags[0][5:]) - tsv[key]) < 1e-6, (tags, tsv[key])
        tagged += 1
    else:                                    # secondary, supplementary, no SEQ
        assert tags == [], b
        assert int(a[1]) & 0x900 or a[9] == '*', a
assert tagged == 25
hdr = open('$T/o.hdr').read()
assert '@PG\tID:mambadna\tPN:mambadna' in hdr and 'CL:mambadna score' in hdr, hdr
for path, tag in (('$T/o_sam.sam', 'XP:f:'), ('$T/o_cram.sam', 'ms:f:')):
    o = recs(path)
    assert [r[0] for r in o] == [r[0] for r in inp], path
    assert sum(1 for r in o if any(f.startswith(tag) for f in r[11:])) == 25, path
"; then ok; else bad "BAM copy: every record in order, tags equal the TSV scores"; fi
else
    echo "skipped: samtools not found, BAM copies not read back here (test_score reads them)"
fi
expect 0 "score --all -> BAM" "$M" score -m "$T/cls.safetensors" -w 20 -s 10 --all -o "$T/all.bam" "$S/ex1_subset.bam"
contains "$T/err" "28 records written, 26 tagged" "--all also scores the supplementary read"
expect 2 "-f bam on FASTA" "$M" score -m "$T/cls.safetensors" -w 200 -f bam -o "$T/x.bam" "$T/g.fa"
contains "$T/err" "needs SAM, BAM or CRAM input" "-f bam on FASTA says why"
expect 2 "-o x.bam on FASTQ" "$M" score -m "$T/cls.safetensors" -w 20 -o "$T/x.bam" "$S/reads.fq.gz"
[ ! -e "$T/x.bam" ] && ok || bad "no BAM left after a usage error"
expect 2 "-f bam without -o" "$M" score -m "$T/cls.safetensors" -w 20 -f bam "$S/ex1_subset.bam"
expect 2 "bad --tag" "$M" score -m "$T/cls.safetensors" -w 20 --tag 9x -o "$T/x.bam" "$S/ex1_subset.bam"
contains "$T/err" "invalid tag" "bad tag message"
expect 2 "--tag too long" "$M" score -m "$T/cls.safetensors" -w 20 --tag msx -o "$T/x.bam" "$S/ex1_subset.bam"
expect 2 "reads with -f bedgraph" "$M" score -m "$T/cls.safetensors" -w 20 -f bedgraph "$S/ex1_subset.bam"
expect 1 "CRAM without its reference" "$M" score -m "$T/cls.safetensors" -w 20 -o "$T/x.bam" "$S/ex1_subset.cram"
[ ! -e "$T/x.bam" ] && ok || bad "no BAM left after a failed run"
ls -A "$T" | grep -q "mambadna-tmp" && bad "temporary files left" || ok

# --- embed: one row per read
expect 0 "embed BAM reads (mean by default)" "$M" embed -m "$T/ps.safetensors" -o "$T/reads.npy" "$S/ex1_subset.bam"
expect 0 "embed BAM reads per base" "$M" embed -m "$T/ps.safetensors" --pool none -o "$T/reads_base.npy" "$S/ex1_subset.bam"
expect 0 "embed FASTQ reads" "$M" embed -m "$T/ps.safetensors" --batch 3 -o "$T/fq.npy" "$S/reads.fq.gz"
if "$PY" -c "
import numpy as np
a = np.load('$T/reads.npy'); b = np.load('$T/reads_base.npy'); q = np.load('$T/fq.npy')
rows = [l.rstrip('\n').split('\t') for l in open('$T/reads.npy.tsv')]
brows = [l.rstrip('\n').split('\t') for l in open('$T/reads_base.npy.tsv')]
assert a.shape == (25, 64), a.shape            # 26 primary records, one without SEQ
assert [int(r[0]) for r in rows] == list(range(25)) and all(r[1] == '1' for r in rows)
assert [r[2] for r in rows] == [r[2] for r in brows]
for i, r in enumerate(brows):                  # the row of a read is the mean of its bases
    f, n = int(r[0]), int(r[1])
    assert int(rows[i][4]) - int(rows[i][3]) == n
    assert np.allclose(a[i], b[f:f + n].mean(0), rtol=1e-5, atol=1e-6), i
assert q.shape == (10, 64), q.shape
assert len(open('$T/fq.npy.tsv').read().splitlines()) == 10
"; then ok; else bad "per-read embeddings: one mean row per read"; fi

# --- errors leave no output under the final name
expect 1 "score unknown contig, -o" "$M" score -m "$T/cls.safetensors" -w 200 -r nope:1-10 -o "$T/e1.bedgraph" "$T/g.fa"
contains "$T/err" "contig 'nope'" "unknown contig named"
[ ! -e "$T/e1.bedgraph" ] && ok || bad "no output after an unknown contig"
cp "$T/g.fa" "$T/noidx.fa"
expect 1 "bigWig without .fai" "$M" score -m "$T/cls.safetensors" -w 200 -o "$T/e2.bw" "$T/noidx.fa"
contains "$T/err" "faidx" "bigWig error says how to index"
[ ! -e "$T/e2.bw" ] && ok || bad "no bigWig after a missing index"
expect 2 "window times batch too large" "$M" score -m "$T/cls.safetensors" -w 1e17 -o "$T/e3.bedgraph" "$T/g.fa"
contains "$T/err" "too large" "oversized window says so"
[ ! -e "$T/e3.bedgraph" ] && ok || bad "no output after an oversized window"
"$PY" - "$T/cls.safetensors" "$T/badtok.safetensors" <<'PYEOF'
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head = json.loads(raw[8:8 + n])
head['__metadata__']['mambadna.tokenizer'] = 'bpe-4096'
h = json.dumps(head).encode()
h += b' ' * (-len(h) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(h)) + h + raw[8 + n:])
PYEOF
expect 1 "score with another tokenizer" "$M" score -m "$T/badtok.safetensors" -w 200 -o "$T/e4.bedgraph" "$T/g.fa"
contains "$T/err" "tokenizer 'bpe-4096' does not match" "tokenizer mismatch named"
[ ! -e "$T/e4.bedgraph" ] && ok || bad "no output after a tokenizer mismatch"
expect 1 "embed with another tokenizer" "$M" embed -m "$T/badtok.safetensors" -o "$T/e5.npy" "$T/g.fa"
[ ! -e "$T/e5.npy" ] && [ ! -e "$T/e5.npy.tsv" ] && ok || bad "no embedding after a tokenizer mismatch"
ls -A "$T" | grep -q "mambadna-tmp" && bad "temporary files left after errors" || ok

# --- progress: a line on a terminal (with an ETA when the FASTA is indexed), none otherwise
grep -q "$(printf '\r')" "$T/err" && bad "no progress line when stderr is not a terminal" || ok
if command -v script >/dev/null 2>&1; then
    script -qec "'$M' score -m '$T/cls.safetensors' -w 200 -s 50 -o '$T/p.bedgraph' '$T/g.fa'" /dev/null >"$T/tty" 2>&1
    contains "$T/tty" "of 5.2 kb (" "progress shows the total from the index"
    contains "$T/tty" "ETA " "progress shows an ETA"
    contains "$T/tty" "Mb/s) -> " "one summary line with the rate"
    cmp -s "$T/p.bedgraph" "$T/s1.bedgraph" && ok || bad "output with a progress line is the same"
    script -qec "'$M' score -m '$T/cls.safetensors' -w 20 --no-progress -o '$T/p.bam' '$S/ex1_subset.bam'" /dev/null >"$T/tty" 2>&1
    grep -q "ETA\|$(printf '\033')" "$T/tty" && bad "--no-progress prints no progress line" || ok
    script -qec "'$M' embed -m '$T/ps.safetensors' -w 100 -o '$T/p.npy' '$T/g.fa'" /dev/null >"$T/tty" 2>&1
    contains "$T/tty" "mambadna embed: .* sequences, " "embed progress line"
else
    echo "skipped: script(1) not found, progress line not checked"
fi

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
