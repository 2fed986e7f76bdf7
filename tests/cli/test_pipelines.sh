#!/bin/sh
# The Snakemake workflow (pipelines/Snakefile) on its example configuration:
# every section end to end on two cores; the gathered track, bigWig, calls,
# NPY and VCF equal single runs; a multi-contig genome cut into many small pieces
# gives one run's bytes too; nothing is left to do afterwards and touching
# an input reruns only what depends on it; the report is written; the
# wrappers' tests pass; a SLURM dry run plans every job with its resources.
set -u
M=${MAMBADNA:?}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v snakemake >/dev/null 2>&1; then
    echo "skipped: snakemake not installed (scripts/install-deps.sh installs it)"
    echo "[  SKIPPED ] pipeline tests: snakemake not installed"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
no() { echo "FAILED: $*"; fail=1; }
SMK="snakemake -s $ROOT/pipelines/Snakefile --configfile pipelines/config.yaml overlay.yaml"

# The example runs in $T: the repository's data and the example inputs (copied,
# so that touching them leaves the repository alone), the program under test.
mkdir -p "$T/w/pipelines"
ln -s "$ROOT/data" "$T/w/data"
cp -r "$ROOT/pipelines/example" "$ROOT/pipelines/config.yaml" "$T/w/pipelines/"
printf 'mambadna: %s\noutdir: out\n' "$M" >"$T/w/overlay.yaml"
cd "$T/w" || exit 1
TARGETS="score_all finetune_all embed_all report_parameters"
if "$M" help variants >/dev/null 2>&1; then
    TARGETS="$TARGETS variants_all"
    variants=1
else
    echo "skipped: mambadna variants is not in this build: the variants target and its wrapper are not run"
    echo "[  SKIPPED ] pipeline: variants target (no mambadna variants in this build)"
    variants=0
fi
# shellcheck disable=SC2086
$SMK --cores 2 $TARGETS >"$T/run.log" 2>&1 || { no "snakemake run"; tail -40 "$T/run.log"; }

# scoring: the gathered track and calls are one run's bytes
"$M" score -m data/models/promoter-human.safetensors --literal-names -R pipelines/example/score_regions.bed \
    -t 2 --no-progress -o "$T/one.bedgraph" --calls "$T/one.bed" data/genomes/22_20-21M.fa 2>/dev/null
[ -s "$T/one.bed" ] && cmp -s "$T/one.bedgraph" out/score/chr22_piece.bedgraph ||
    no "gathered track differs from one mambadna score run"
cmp -s "$T/one.bed" out/score/chr22_piece.bed || no "gathered calls differ from one mambadna score run"
"$M" score -m data/models/promoter-human.safetensors --literal-names -R pipelines/example/score_regions.bed \
    -t 2 --no-progress -o "$T/one.bw" data/genomes/22_20-21M.fa 2>/dev/null
[ -s "$T/one.bw" ] && cmp -s "$T/one.bw" out/score/chr22_piece.bw || no "gathered bigWig differs from one mambadna score run"
[ -s out/report/score_track.png ] || no "no score track picture"

# embedding: one NPY and sidecar, as one run writes them
"$M" embed -m data/models/base.safetensors -R pipelines/example/embed_regions.bed --pool mean \
    -t 2 --no-progress -o "$T/one.npy" data/genomes/22_20-21M.fa 2>/dev/null
cmp -s "$T/one.npy" out/embed/chr22_regions.npy || no "gathered NPY differs from one embed run"
cmp -s "$T/one.npy.tsv" out/embed/chr22_regions.npy.tsv || no "gathered sidecar differs from one embed run"

# fine-tuning: metrics of the whole test split, a ROC curve
n_test=$(($(wc -l <pipelines/example/gue_prom_core_all_test.csv) - 1))
awk -F'\t' -v n="$n_test" 'NR == 2 && $1 == "prom_core_all_slice" && $2 == n && $7 != "NA" {ok = 1}
    END {exit !ok}' out/report/finetune_metrics.tsv 2>/dev/null || no "fine-tuning metrics table"
[ -s out/report/roc_prom_core_all_slice.png ] || no "no ROC curve"

# variants: the gathered VCF holds one run's records, and is indexed
if [ "$variants" = 1 ]; then
    "$M" variants -m data/models/promoter-human.safetensors --reference data/genomes/22_20-21M.fa \
        -o "$T/one.vcf" pipelines/example/variants.vcf 2>/dev/null
    bcftools view -H "$T/one.vcf" >"$T/one.records" 2>/dev/null
    bcftools view -H out/variants/handmade.vcf.gz >"$T/gathered.records" 2>/dev/null
    [ -s "$T/one.records" ] && cmp -s "$T/one.records" "$T/gathered.records" ||
        no "gathered VCF records differ from one mambadna variants run"
    [ -s out/variants/handmade.vcf.gz.tbi ] || no "gathered VCF has no index"
fi

# incremental: nothing to do; then a changed input reruns only its section
# (Snakemake 7 compares the content of small inputs: a touch alone is no change)
# shellcheck disable=SC2086
$SMK -n $TARGETS >"$T/again.log" 2>&1
grep -q "Nothing to be done" "$T/again.log" || { no "a second run has work to do"; cat "$T/again.log"; }
sleep 1
printf '22:20000001-21000000\t990000\t990300\tr25\n' >>pipelines/example/embed_regions.bed
# shellcheck disable=SC2086
$SMK -n $TARGETS >"$T/changed.log" 2>&1
grep -q "^embed_split" "$T/changed.log" && ! grep -q "^score_\|^finetune\|^index_fasta" "$T/changed.log" ||
    { no "changing the embedding regions does not rerun just the embedding"; cat "$T/changed.log"; }
# shellcheck disable=SC2086
$SMK --cores 2 $TARGETS >>"$T/run.log" 2>&1 || no "rerun after changing an input"
[ "$(wc -l <out/embed/chr22_regions.npy.tsv)" -eq 25 ] || no "the rerun did not embed the added region"

# the report, written without network access (report_offline.py answers
# Snakemake's downloads of the report's JavaScript; tests never use the network)
# shellcheck disable=SC2086
"${PYTHON:-python3}" "$ROOT/pipelines/scripts/report_offline.py" -s "$ROOT/pipelines/Snakefile" \
    --configfile pipelines/config.yaml overlay.yaml --report "$T/report.html" $TARGETS >"$T/report.log" 2>&1
grep -q "roc_prom_core_all_slice.png" "$T/report.html" 2>/dev/null &&
    grep -q "finetune_metrics.tsv" "$T/report.html" && grep -q "score_track.png" "$T/report.html" &&
    grep -q "parameters.tsv" "$T/report.html" || { no "report"; tail -20 "$T/report.log"; }

# a multi-contig genome cut into pieces smaller than a few windows, a model
# whose stride is shorter than its window: still one run's bytes
awk '!/^>/ {s = s $0} length(s) > 4000 {exit} END {
    n = split("a 2000 b:x 333 c 1501 d 30", f, " ");
    for (i = 1; i <= n; i += 2) { print ">" f[i]; print substr(s, p + 1, f[i + 1]); p += f[i + 1] } }' \
    data/genomes/22_20-21M.fa >"$T/multi.fa"
"$M" faidx "$T/multi.fa" 2>/dev/null   # one run's bigWig takes the contig sizes from the index
"$M" init -a caduceus-ph -d 16 -l 2 --classes 2 -o "$T/tiny.safetensors" 2>/dev/null
thr=$("$M" score -m "$T/tiny.safetensors" -w 50 -s 13 -f tsv --no-progress "$T/multi.fa" 2>/dev/null |
    cut -f6 | sort -g | awk '{v[NR] = $1} END {print v[int(NR / 2)]}')
# contigs out of the genome's order (a bedGraph allows it, each contig's
# regions sorted): one run sorts the regions for its bigWig
printf 'c\t100\t1400\na\t10\t1100\na\t1200\t2000\nb:x\t0\t333\n' >"$T/unsorted.bed"
# and that genome as plain gzip (as NCBI and Ensembl ship genomes), which
# the workflow decompresses to index
gzip -c "$T/multi.fa" >"$T/multi.fa.gz"
cat >"$T/multi.yaml" <<CFG
mambadna: $M
outdir: $T/multi
model: $T/tiny.safetensors
score:
  genomes:
    multi: {fasta: $T/multi.fa}
    unsorted: {fasta: $T/multi.fa.gz, regions: $T/unsorted.bed}
  bigwig: true
  window: 50
  stride: 13
  piece_length: 60
  threshold: $thr
jobs:
  score: {threads: 1}
CFG
snakemake -s "$ROOT/pipelines/Snakefile" --configfile "$T/multi.yaml" --cores 2 score_all \
    >"$T/multi.log" 2>&1 || { no "multi-contig run"; tail -20 "$T/multi.log"; }
"$M" score -m "$T/tiny.safetensors" -w 50 -s 13 --threshold "$thr" --no-progress \
    -o "$T/multi_one.bedgraph" --calls "$T/multi_one.bed" "$T/multi.fa" 2>/dev/null
cmp -s "$T/multi_one.bedgraph" "$T/multi/score/multi.bedgraph" ||
    no "multi-contig track differs from one run"
[ -s "$T/multi_one.bed" ] && cmp -s "$T/multi_one.bed" "$T/multi/score/multi.bed" ||
    no "multi-contig calls differ from one run"
grep -q "[1-9][0-9]* across pieces scored again" "$T/multi/logs/score_gather_calls/multi.log" ||
    no "no call across pieces was scored again"
"$M" score -m "$T/tiny.safetensors" -w 50 -s 13 --no-progress -o "$T/multi_one.bw" "$T/multi.fa" 2>/dev/null
[ -s "$T/multi_one.bw" ] && cmp -s "$T/multi_one.bw" "$T/multi/score/multi.bw" ||
    no "multi-contig bigWig differs from one run"
"$M" score -m "$T/tiny.safetensors" -w 50 -s 13 --literal-names -R "$T/unsorted.bed" --no-progress \
    -o "$T/unsorted_one.bw" "$T/multi.fa" 2>/dev/null
[ -s "$T/unsorted_one.bw" ] && cmp -s "$T/unsorted_one.bw" "$T/multi/score/unsorted.bw" ||
    no "bigWig of unsorted regions differs from one run"

# a model that gives every window the same score: one run writes one track
# line and one call per contig, so every piece boundary must merge
"${PYTHON:-python3}" "$ROOT/tests/cli/zero_head.py" "$T/tiny.safetensors" "$T/flat.safetensors"
sed -e "s|^outdir: .*|outdir: $T/flat|" -e "s|model: .*|model: $T/flat.safetensors|" -e "s|threshold: .*|threshold: 0.5|" \
    "$T/multi.yaml" >"$T/flat.yaml"
snakemake -s "$ROOT/pipelines/Snakefile" --configfile "$T/flat.yaml" --cores 2 score_all \
    >"$T/flat.log" 2>&1 || { no "constant-score run"; tail -20 "$T/flat.log"; }
"$M" score -m "$T/flat.safetensors" -w 50 -s 13 --threshold 0.5 --no-progress \
    -o "$T/flat_one.bedgraph" --calls "$T/flat_one.bed" "$T/multi.fa" 2>/dev/null
[ "$(wc -l <"$T/flat_one.bedgraph")" -le 6 ] && cmp -s "$T/flat_one.bedgraph" "$T/flat/score/multi.bedgraph" ||
    no "constant track not merged across pieces as one run writes it"
"$M" score -m "$T/flat.safetensors" -w 50 -s 13 --no-progress -o "$T/flat_one.bw" "$T/multi.fa" 2>/dev/null
[ -s "$T/flat_one.bw" ] && cmp -s "$T/flat_one.bw" "$T/flat/score/multi.bw" ||
    no "constant bigWig not merged across pieces as one run writes it"
[ -s "$T/flat_one.bed" ] && cmp -s "$T/flat_one.bed" "$T/flat/score/multi.bed" ||
    no "constant-score calls differ from one run"

# the wrappers' tests
PATH_M="$(dirname "$M"):$PATH"
wrappers="score embed"
[ "$variants" = 1 ] && wrappers="$wrappers variants"
for w in $wrappers; do
    mkdir -p "$T/wrapper_$w"
    (cd "$T/wrapper_$w" && PATH=$PATH_M snakemake -s "$ROOT/pipelines/wrappers/mambadna/$w/test/Snakefile" \
        --cores 2) >"$T/wrapper_$w.log" 2>&1 || { no "wrapper $w test"; tail -20 "$T/wrapper_$w.log"; }
done
"$M" score -m data/models/promoter-human.safetensors \
    -R "$ROOT/pipelines/wrappers/mambadna/score/test/regions.bed" --threshold 0.5 -t 2 --no-progress \
    -o "$T/w_one.bedgraph" --calls "$T/w_one.bed" data/genomes/22_20-21M.fa 2>/dev/null
cmp -s "$T/w_one.bedgraph" "$T/wrapper_score/out/scores.bedgraph" &&
    cmp -s "$T/w_one.bed" "$T/wrapper_score/out/calls.bed" || no "score wrapper output differs from a direct run"
grep -q "mambadna score:" "$T/wrapper_score/logs/score.log" 2>/dev/null || no "score wrapper wrote no log"

# SLURM: a dry run (the jobs forced, so every one is planned) with GPUs for
# scoring and fine-tuning: every job has a partition, memory and time; GPU
# jobs ask for a GPU and run on cuda, the others on the CPU
printf 'jobs:\n  score: {threads: 1, gpu: 1}\n  finetune: {threads: 2, gpu: 1}\n' >gpu.yaml
# shellcheck disable=SC2086
snakemake $TARGETS -s "$ROOT/pipelines/Snakefile" --configfile pipelines/config.yaml overlay.yaml gpu.yaml \
    --profile "$ROOT/pipelines/profiles/slurm" -n --cores 64 -R score_piece embed_piece finetune_prep \
    >"$T/slurm_pieces.log" 2>&1 || { no "SLURM dry run of the pieces"; tail -20 "$T/slurm_pieces.log"; }
# as many scoring jobs as the example's plan has pieces (it depends on the model's window)
n_pieces=$(($(wc -l < out/score/chr22_piece/plan/pieces.tsv) - 1))
[ "$n_pieces" -gt 1 ] || no "the example is cut into several scoring pieces"
"${PYTHON:-python3}" "$ROOT/tests/cli/slurm_plan_check.py" "$T/slurm_pieces.log" score_piece="$n_pieces" embed_piece=4 score_bigwig=1 || no "SLURM plan"
[ "$fail" -eq 0 ] && echo "[  PASSED  ] pipeline: every section end to end, gathered outputs (bigWig included) equal single runs, report, wrappers, SLURM plan"
exit "$fail"
