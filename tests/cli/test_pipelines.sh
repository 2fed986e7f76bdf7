#!/bin/sh
# The Snakemake scoring pipeline: scatter by contig, gather, and the result
# equals one `mambadna score` over the whole genome.
set -u
M=${MAMBADNA:?}
D=${MD_TEST_DATA:?}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v snakemake >/dev/null 2>&1; then
    echo "skipped: snakemake not installed (scripts/install-deps.sh installs it)"
    echo "[  SKIPPED ] pipeline tests"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
"$M" init -a caduceus-ph -d 16 -l 2 --classes 2 -o "$T/m.safetensors" 2>/dev/null
cp "$D/cli/tiny.fa" "$T/g.fa"
cat >"$T/config.yaml" <<CFG
genomes:
  tiny: $T/g.fa
model: $T/m.safetensors
mambadna: $M
threads: 1
window: 12
stride: 4
threshold: 0.3
outdir: $T/out
CFG
(cd "$T" && snakemake -s "$ROOT/pipelines/score/Snakefile" --configfile "$T/config.yaml" --cores 2 -q) \
    >"$T/log" 2>&1 || { echo "FAILED: snakemake run"; cat "$T/log"; fail=1; }
"$M" faidx "$T/g.fa"
"$M" score -m "$T/m.safetensors" -w 12 -s 4 -o "$T/direct.bedgraph" --calls "$T/direct.bed" \
    --threshold 0.3 "$T/g.fa" 2>/dev/null
grep -v '^track' "$T/direct.bedgraph" >"$T/a"
grep -v '^track' "$T/out/tiny.bedgraph" >"$T/b" 2>/dev/null
if [ -s "$T/a" ] && cmp -s "$T/a" "$T/b"; then :; else echo "FAILED: pipeline track differs from one run"; fail=1; fi
cmp -s "$T/direct.bed" "$T/out/tiny.bed" || { echo "FAILED: pipeline calls differ from one run"; fail=1; }
[ "$fail" -eq 0 ] && echo "[  PASSED  ] pipeline: scatter by contig equals one run"
exit "$fail"
