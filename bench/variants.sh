#!/bin/sh
# bench/variants.sh: variants/s of `mambadna variants` on the CPU, next to
# `mambadna score` running as many windows on the same genome.
#   bench/variants.sh [-n SNVS] [-r RUNS] [-t THREADS] [-m MODEL] [-d DEVICE] [-p PRECISION] [-g GENOME]
# SNVS random SNVs (seeded) on human chr20:1,000,001-30,000,000 of
# bench/data/20.fa.gz (bench/get-data.sh fetches it); REF from the genome,
# ALT another base. Default: 20000 SNVs, 3 runs, all cores, the default model.
# Each SNV costs two windows (reference and alternative) when the model's
# stride equals its window, more with overlapping windows; the reference
# point scores a chr20 stretch of 2 x SNVS windows at the model's window and
# stride (non-overlapping at stride = window): the same forward work with no
# VCF and no window building. Reports the fastest and the median wall clock
# of RUNS, and the load average. -d cuda runs both on the GPU (with the
# GPU's default model unless -m is given), -p sets the GPU precision, -g
# another copy of chr20 (indexed).
set -eu
n=20000 runs=3 threads=$(nproc) model="" device=cpu precision="" G=""
while getopts n:r:t:m:d:p:g: o; do
    case $o in
    n) n=$OPTARG ;; r) runs=$OPTARG ;; t) threads=$OPTARG ;; m) model=$OPTARG ;;
    d) device=$OPTARG ;; p) precision="--precision $OPTARG" ;; g) G=$OPTARG ;;
    *) echo "usage: bench/variants.sh [-n SNVS] [-r RUNS] [-t THREADS] [-m MODEL] [-d DEVICE] [-p PRECISION] [-g GENOME]" >&2; exit 2 ;;
    esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
M=${MAMBADNA:-$root/mambadna}
G=${G:-$root/bench/data/20.fa.gz}
[ -s "$G" ] || { echo "bench/variants.sh: $G not found: run bench/get-data.sh" >&2; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mopt=""
[ -n "$model" ] && mopt="-m $model"
default_model=promoter-human
case $device in cuda*) default_model=promoter-human-large ;; esac
info_model=${model:-$root/data/models/$default_model.safetensors}
W=$("$M" info "$info_model" | awk '$1 == "window" {print $2}')
S=$("$M" info "$info_model" | awk '$1 == "stride" {print $2}')
/usr/bin/python3 - "$G" "$n" "$T/snv.vcf" <<'EOF'
import gzip, random, sys
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seq = "".join(l.strip() for l in gzip.open(path, "rt") if not l.startswith(">"))
rng = random.Random(1)
pos = set()
while len(pos) < n:
    p = rng.randrange(1_000_000, 30_000_000)
    if seq[p].upper() in "ACGT":
        pos.add(p)
with open(out, "w") as f:
    f.write("##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    for p in sorted(pos):
        ref = seq[p].upper()
        alt = rng.choice([b for b in "ACGT" if b != ref])
        f.write(f"20\t{p + 1}\t.\t{ref}\t{alt}\t.\t.\t.\n")
EOF
span=$((2 * n * S))
time_runs() { # label command...
    label=$1; shift
    : >"$T/times"
    i=0
    while [ "$i" -lt "$runs" ]; do
        t0=$(date +%s.%N)
        "$@" 2>"$T/err" >/dev/null
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$T/times"
        i=$((i + 1))
    done
    sort -n "$T/times" >"$T/sorted"
    best=$(head -1 "$T/sorted")
    median=$(sed -n "$(((runs + 1) / 2))p" "$T/sorted")
    echo "$label $best $median"
}
echo "device: $device $precision; model: $info_model (window $W, stride $S)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
r1=$(time_runs variants "$M" variants $mopt -T "$G" -t "$threads" --device "$device" $precision --no-progress -o "$T/out.vcf" "$T/snv.vcf")
summary=$(tail -1 "$T/err")
r2=$(time_runs score "$M" score $mopt -t "$threads" --device "$device" $precision --no-progress -f tsv -o "$T/s.tsv" -r "20:1000001-$((1000000 + span))" "$G")
windows=$(wc -l <"$T/s.tsv")
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$summary"
echo
echo "| command | work | s (best) | s (median) | per s (best) |"
echo "|---|---|---|---|---|"
set -- $r1
echo "| variants | $n SNVs | $2 | $3 | $(awk -v a="$n" -v b="$2" 'BEGIN { printf "%d", a / b }') variants/s |"
set -- $r2
echo "| score (reference point) | $windows windows of $W | $2 | $3 | $(awk -v a="$windows" -v b="$2" 'BEGIN { printf "%d", a / b }') windows/s |"
