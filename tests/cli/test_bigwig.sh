#!/bin/sh
# CLI tests of `mambadna bigwig`: a track of `mambadna score` written as
# bigWig is byte for byte score's own bigWig (chr:beg-end records as pieces of
# chr, or with --literal-names as they are; plain, bgzip and standard input),
# and its contigs and intervals, read back by tests/bigwig_read.py, are the
# FASTA index's and the bedGraph's; bad input stops it with the line number
# and leaves no output. Needs MAMBADNA (the program), MD_TEST_DATA.
set -u
. "$(dirname "$0")/../cli_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# three contigs of the bundled sequence, the second named as a piece of chrQ
awk '!/^>/ {s = s $0} length(s) > 5000 {exit} END {
    print ">a"; print substr(s, 1, 2000); print ">chrQ:1001-2000"; print substr(s, 2001, 1000)
    print ">c"; print substr(s, 3001, 1500) }' "$ROOT/data/genomes/22_20-21M.fa" >"$T/g.fa"
"$M" faidx "$T/g.fa" 2>/dev/null || bad "faidx"
"$M" init -a caduceus-ph -d 16 -l 2 --classes 2 --window 48 --stride 16 --seed 3 \
    -o "$T/m.safetensors" 2>/dev/null || bad "init"

for names in pieces literal; do
    opt=""
    [ "$names" = literal ] && opt=--literal-names
    # shellcheck disable=SC2086
    expect 0 "score bedGraph ($names)" "$M" score -m "$T/m.safetensors" $opt --no-progress \
        -o "$T/$names.bedgraph" "$T/g.fa"
    # shellcheck disable=SC2086
    expect 0 "score bigWig ($names)" "$M" score -m "$T/m.safetensors" $opt --no-progress \
        -o "$T/$names.score.bw" "$T/g.fa"
    # shellcheck disable=SC2086
    expect 0 "bigwig ($names)" "$M" bigwig $opt -g "$T/g.fa" -o "$T/$names.bw" "$T/$names.bedgraph"
    contains "$T/err" "3 contigs in the header" "summary line ($names)"
    cmp -s "$T/$names.score.bw" "$T/$names.bw" && ok || bad "bigwig ($names) differs from score's bigWig"
    if "$PY" - "$ROOT/tests/bigwig_read.py" "$T/$names.bw" "$T/$names.bedgraph" "$T/g.fa.fai" "$names" <<'PYEOF'
import importlib.util
import sys
import numpy as np
reader, bw, bedgraph, fai, names = sys.argv[1:]
spec = importlib.util.spec_from_file_location("bigwig_read", reader)
bigwig_read = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bigwig_read)
contigs, intervals = bigwig_read.read(bw)
# the header: the index's records; a record chr:B-E is chr up to E unless literal
want = []
for line in open(fai):
    name, length = line.split("\t")[:2]
    if names == "pieces" and ":" in name:
        name, span = name.rsplit(":", 1)
        length = span.split("-")[1]
    want.append((name, int(length)))
assert contigs == want, (contigs, want)
rows = [l.split("\t") for l in open(bedgraph).read().splitlines()[1:]]
track = [(c, int(b), int(e), np.float32(v)) for c, b, e, v in rows]
assert len(track) > 100, len(track)
assert len(intervals) == len(track), (len(intervals), len(track))
for (c, b, e, v), (c2, b2, e2, v2) in zip(intervals, track):
    assert (c, b, e) == (c2, b2, e2) and np.float32(v).tobytes() == v2.tobytes(), ((c, b, e, v), (c2, b2, e2, v2))
PYEOF
    then ok; else bad "bigWig ($names) read back differs from the bedGraph and the index"; fi
done
[ "$(grep -c '^chrQ	' "$T/pieces.bedgraph")" -gt 0 ] && ok || bad "the piece record is written on chrQ"

# bgzip and standard input: the same file
bgzip -c "$T/pieces.bedgraph" >"$T/pieces.bedgraph.gz"
expect 0 "bigwig of a bgzip bedGraph" "$M" bigwig -g "$T/g.fa" -o "$T/gz.bw" "$T/pieces.bedgraph.gz"
cmp -s "$T/gz.bw" "$T/pieces.bw" && ok || bad "bgzip input gives another bigWig"
"$M" bigwig -g "$T/g.fa" -o "$T/stdin.bw" - <"$T/pieces.bedgraph" 2>"$T/err" || bad "standard input"
cmp -s "$T/stdin.bw" "$T/pieces.bw" && ok || bad "standard input gives another bigWig"

# bad input: exit 1, the file and line named, nothing written
mkdir "$T/o"
refuse() { # NAME LINE WHAT MESSAGE: $T/NAME is the input
    expect 1 "$3" "$M" bigwig -g "$T/g.fa" -o "$T/o/x.bw" "$T/$1"
    contains "$T/err" "$1:$2: " "$3: the line named"
    contains "$T/err" "$4" "$3: what is wrong"
    [ -z "$(ls -A "$T/o")" ] && ok || { bad "$3: output left behind"; ls -A "$T/o"; rm -f "$T/o/"* "$T/o/".??*; }
}
head -5 "$T/pieces.bedgraph" >"$T/head.bg"
{ cat "$T/head.bg"; printf 'a\t0\t10\t0.5\n'; } >"$T/unsorted.bg"
refuse unsorted.bg 6 "unsorted intervals" "starts before the end"
{ cat "$T/head.bg"; printf 'c\t0\t10\t0.5\na\t1900\t1910\t0.5\n'; } >"$T/order.bg"
refuse order.bg 7 "contigs out of the genome's order" "contig a comes after c"
{ cat "$T/head.bg"; printf 'chrX\t0\t10\t0.5\n'; } >"$T/unknown.bg"
refuse unknown.bg 6 "unknown contig" "contig chrX is not in the contig list"
{ cat "$T/head.bg"; printf 'c\t1490\t1501\t0.5\n'; } >"$T/beyond.bg"
refuse beyond.bg 6 "interval beyond the contig" "contig length 1500"
{ cat "$T/head.bg"; printf 'c\t10\t20\n'; } >"$T/columns.bg"
refuse columns.bg 6 "three columns" "has 3 columns"
{ cat "$T/head.bg"; printf 'c\t10\t20\t0.5x\n'; } >"$T/value.bg"
refuse value.bg 6 "a value that is no number" "is not a number"
{ cat "$T/head.bg"; printf 'c\t10\t20\t0.5\000\n'; } >"$T/nul.bg"
refuse nul.bg 6 "a NUL byte" "NUL byte"
head -c $(($(wc -c <"$T/head.bg") - 3)) "$T/head.bg" >"$T/cut.bg"
refuse cut.bg 5 "a last line without newline" "the file is cut off"
head -c $(($(wc -c <"$T/pieces.bedgraph.gz") - 28)) "$T/pieces.bedgraph.gz" >"$T/cut.bg.gz"
expect 1 "a bgzip file without its end" "$M" bigwig -g "$T/g.fa" -o "$T/o/x.bw" "$T/cut.bg.gz"
contains "$T/err" "no BGZF end-of-file marker" "cut bgzip: message"
head -1 "$T/pieces.bedgraph" >"$T/empty.bg"
expect 1 "a track without intervals" "$M" bigwig -g "$T/g.fa" -o "$T/o/x.bw" "$T/empty.bg"
[ -z "$(ls -A "$T/o")" ] && ok || bad "output left behind"

# usage and setup errors
expect 2 "no -o" "$M" bigwig -g "$T/g.fa" "$T/pieces.bedgraph"
expect 2 "no -g" "$M" bigwig -o "$T/o/x.bw" "$T/pieces.bedgraph"
expect 2 "no input" "$M" bigwig -g "$T/g.fa" -o "$T/o/x.bw"
expect 2 "output onto the input" "$M" bigwig -g "$T/g.fa" -o "$T/pieces.bedgraph" "$T/pieces.bedgraph"
expect 1 "a missing input" "$M" bigwig -g "$T/g.fa" -o "$T/o/x.bw" "$T/none.bg"
cp "$T/g.fa" "$T/noindex.fa"
expect 1 "a genome without index" "$M" bigwig -g "$T/noindex.fa" -o "$T/o/x.bw" "$T/pieces.bedgraph"
contains "$T/err" "faidx" "no index: says how to make one"
[ -z "$(ls -A "$T/o")" ] && ok || bad "output left behind"
expect 0 "help" "$M" help bigwig
contains "$T/out" "literal-names" "help lists the options"

echo "$n_ok checks passed, $n_fail failed"
[ "$n_fail" -eq 0 ] && echo "[  PASSED  ] bigwig: score's bigWig bytes from its bedGraph, read back independently, bad input refused"
exit $((n_fail > 0))
