#!/bin/sh
# CLI tests of `mambadna variants`: the hand-made VCF against the bundled
# chr22 piece (values checked by tests/variants_check.py), output types,
# standard tools on the output (tabix, bcftools), errors, and the real chr20
# VCFs of vt-examples when bench/get-data.sh has fetched them.
# Needs MAMBADNA (the program), MD_TEST_DATA.
set -u
. "$(dirname "$0")/../cli_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=$ROOT/data/genomes/22_20-21M.fa
V=$D/variants/handmade.vcf
records() { grep -vc '^#' "$1"; }

# a small random classifier whose window is its own (the bundled model's may change)
"$M" init -a caduceus-ph -d 16 -l 2 --classes 2 --window 64 --stride 16 --seed 3 \
    -o "$T/m.safetensors" 2>/dev/null || bad "init"

# --- the hand-made VCF: every kind of record, values against an independent check
expect 0 "variants VCF" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/out.vcf" "$V"
contains "$T/out.vcf" '^##INFO=<ID=MD_DELTA,Number=A,Type=Float' "MD_DELTA header line"
contains "$T/out.vcf" '^##mambadna_command=mambadna variants' "command line in the header"
for why in "REF does not match the reference: 1" "symbolic or breakend ALT: 1" \
    "(spanning deletion) ALT: 1" "contig not in the reference: 1" "too close to a contig end: 1" \
    "no ALT allele: 1" "14 records, 8 annotated (11 ALT alleles scored), 6 written unannotated"; do
    contains "$T/err" "$why" "summary counts: $why"
done
contains "$T/err" "WARN.*5600 G>A: REF does not match the reference (the reference has T)" "warning names the record"
if "$PY" "$ROOT/tests/variants_check.py" "$M" "$T/m.safetensors" 64 16 "$G" "$V" "$T/out.vcf" "$T" >"$T/check"; then
    ok
else
    bad "values against the independent check"; sed 's/^/    /' "$T/check"
fi
negative=$(tail -1 "$T/check")
expect 0 "variants from stdin to stdout" sh -c "'$M' variants -m '$T/m.safetensors' -T '$G' - <'$V' >'$T/stdout.vcf'"
grep -v '^##mambadna_command' "$T/stdout.vcf" >"$T/a"
grep -v '^##mambadna_command' "$T/out.vcf" >"$T/b"
cmp -s "$T/a" "$T/b" && ok || bad "stdin/stdout gives the same records"
expect 0 "variants again on its own output" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/again.vcf" "$T/out.vcf"
[ "$(grep -c 'MD_REF=' "$T/again.vcf")" -eq 8 ] && [ "$(grep -c '^##INFO=<ID=MD_REF' "$T/again.vcf")" -eq 1 ] \
    && ok || bad "re-annotating replaces the values and keeps one header line"

# --- regions: only overlapping records
printf '22:20000001-21000000\t5099\t5300\n' >"$T/r.bed"
# an output that is an input is refused before any work, the input intact
cp "$V" "$T/in.vcf"
expect 2 "variants -o onto its input" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/in.vcf" "$T/in.vcf"
cmp -s "$V" "$T/in.vcf" && ok || bad "the input survives -o onto itself"
cp "$G" "$T/ref.fa" && cp "$G.fai" "$T/ref.fa.fai"  # a copy: a regression must not reach the repository's data
expect 2 "variants -o onto the reference" "$M" variants -m "$T/m.safetensors" -T "$T/ref.fa" -o "$T/ref.fa" "$V"
cmp -s "$G" "$T/ref.fa" && ok || bad "the reference survives -o onto itself"
expect 0 "variants -R" "$M" variants -m "$T/m.safetensors" -T "$G" -R "$T/r.bed" -o "$T/reg.vcf" "$V"
[ "$(records "$T/reg.vcf")" -eq 3 ] && ok || bad "-R keeps the 3 records overlapping the BED interval"
contains "$T/err" "outside the regions" "summary counts records outside the regions"

# --- output types and standard tools
expect 0 "variants .vcf.gz" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/out.vcf.gz" "$V"
expect 0 "variants .bcf" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/out.bcf" "$V"
if command -v tabix >/dev/null 2>&1; then
    { grep '^#' "$V"; grep -v '^#' "$V" | sort -k1,1 -k2,2n; } >"$T/sorted.vcf"
    expect 0 "variants sorted .vcf.gz" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/sorted.vcf.gz" "$T/sorted.vcf"
    expect 0 "tabix indexes the .vcf.gz" tabix -p vcf "$T/sorted.vcf.gz"
    expect 0 "tabix query" tabix "$T/sorted.vcf.gz" "chr22:20000001-21000000:5000-5300"
    [ "$(wc -l <"$T/out")" -eq 4 ] && ok || bad "tabix finds the 4 records of chr22...:5000-5300"
else
    echo "SKIPPED: tabix not installed: the .vcf.gz index is not checked"
fi
if command -v bcftools >/dev/null 2>&1; then
    expect 0 "bcftools filter on MD_DELTA" bcftools view -H -i 'MD_DELTA[0] < -0.2' "$T/out.vcf.gz"
    expect 0 "bcftools filter on the BCF" bcftools view -H -i 'MD_DELTA[0] < 0' "$T/out.bcf"
    [ "$(wc -l <"$T/out")" -eq "$negative" ] && ok || bad "bcftools selects the $negative records with MD_DELTA[0] < 0"
    expect 0 "bcftools reads the BCF back" bcftools view "$T/out.bcf"
    grep -v '^##' "$T/out" >"$T/a"
    grep -v '^##' "$T/out.vcf" >"$T/b"
    cmp -s "$T/a" "$T/b" && ok || bad "BCF and VCF outputs hold the same records"
else
    echo "SKIPPED: bcftools not installed (scripts/install-deps.sh installs it): filters not checked"
fi

# --- a header that does not declare what the records use (htslib warns)
printf '##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n22:20000001-21000000\t5000\t.\tA\tG\t.\tLowQ\tXX=1;FLAG\n' >"$T/undeclared.vcf"
expect 0 "undeclared contig and fields, VCF output" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/und.vcf" "$T/undeclared.vcf"
contains "$T/und.vcf" 'LowQ	XX=1;FLAG;MD_REF=' "the record kept as it was, annotated"
expect 1 "undeclared contig and fields, BCF output" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/und.bcf" "$T/undeclared.vcf"
contains "$T/err" "does not declare" "BCF output says what to declare"

# --- errors
expect 2 "no reference" "$M" variants -m "$T/m.safetensors" "$V"
contains "$T/err" "reference" "usage error says what is missing"
cp "$G" "$T/noidx.fa"
expect 1 "unindexed reference" "$M" variants -m "$T/m.safetensors" -T "$T/noidx.fa" -o "$T/x.vcf" "$V"
contains "$T/err" "faidx" "message says how to index"
[ ! -e "$T/x.vcf" ] && ok || bad "no output after a failure"
expect 1 "FASTA given as VCF" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/x.vcf" "$G"
{ grep '^#' "$V"; i=0; while [ $i -lt 3000 ]; do
    printf '22:20000001-21000000\t%d\tr%d\tN\tA\t.\t.\t.\n' $((200000 + i)) $i; i=$((i + 1)); done; } |
    bgzip -c >"$T/full.vcf.gz"
size=$(wc -c <"$T/full.vcf.gz")
head -c $((size - 200)) "$T/full.vcf.gz" >"$T/cut.vcf.gz" # inside the last block
expect 1 "input cut inside a BGZF block" "$M" variants -m "$T/m.safetensors" -T "$G" -o "$T/x.vcf" "$T/cut.vcf.gz"
contains "$T/err" "truncated" "the error says the input is truncated"
[ ! -e "$T/x.vcf" ] && ok || bad "no output after truncated input"
ls -A "$T" | grep -q 'tmp' && bad "temporary files left" || ok

# --- real data: vt-examples chr20 VCFs (bench/get-data.sh fetches them)
VT=$ROOT/bench/data
if [ -s "$VT/20.fa.gz" ] && [ -s "$VT/vt/normalize/01_IN.vcf.gz" ]; then
    expect 0 "vt normalize/01_IN.vcf.gz, bundled model" "$M" variants -t 2 -T "$VT/20.fa.gz" \
        -o "$T/vt.vcf.gz" "$VT/vt/normalize/01_IN.vcf.gz"
    n_in=$(gzip -dc "$VT/vt/normalize/01_IN.vcf.gz" | grep -vc '^#')
    n_out=$(gzip -dc "$T/vt.vcf.gz" | grep -vc '^#')
    [ "$n_in" -eq "$n_out" ] && [ "$n_in" -eq 194 ] && ok || bad "every record written back ($n_in in, $n_out out)"
    contains "$T/err" "194 records, 194 annotated" "every indel of normalize/01_IN annotated"
    gzip -dc "$VT/vt/normalize/01_IN.vcf.gz" | grep -v '^#' | cut -f1-7 >"$T/a"
    gzip -dc "$T/vt.vcf.gz" | grep -v '^#' | cut -f1-7 >"$T/b"
    cmp -s "$T/a" "$T/b" && ok || bad "records in input order, columns kept"
    expect 0 "vt decompose/01_IN_multi.vcf" "$M" variants -t 2 -T "$VT/20.fa.gz" -o "$T/vt2.vcf" \
        "$VT/vt/decompose/01_IN_multi.vcf"
    [ "$(records "$T/vt2.vcf")" -eq "$(records "$VT/vt/decompose/01_IN_multi.vcf")" ] && ok \
        || bad "multi-allelic file written back whole"
else
    echo "SKIPPED: !!! vt-examples chr20 data not found in bench/data (run bench/get-data.sh): real-VCF checks not run !!!"
fi

echo "variants: $n_ok checks passed, $n_fail failed"
[ "$n_fail" -eq 0 ] && echo "[  PASSED  ] $n_ok variants CLI checks"
[ "$n_fail" -eq 0 ]
