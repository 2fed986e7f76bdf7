#!/bin/sh
# Fetch the large benchmark and test data from a Debian package into
# bench/data/ (not tracked): human chr20 (GRCh37, 63 Mb) with its index, and
# the real chr20 VCFs beside it (vt/normalize, vt/decompose,
# vt/decompose_blocksub), all from vt-examples.
set -eu
cd "$(dirname "$0")"
mkdir -p data
[ -s data/20.fa.gz ] && [ -s data/20.fa.gz.gzi ] && [ -s data/vt/normalize/01_IN.vcf.gz ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download vt-examples >/dev/null 2>&1) || {
    echo "bench/get-data.sh: cannot download the Debian package vt-examples" >&2; exit 1; }
dpkg -x "$tmp"/vt-examples_*.deb "$tmp/x"
ex="$tmp/x/usr/share/doc/vt/examples"
cp "$ex/ref/20.fa.gz" "$ex/ref/20.fa.gz.fai" data/
gunzip -c "$ex/ref/20.fa.gz.gzi.gz" >data/20.fa.gz.gzi
mkdir -p data/vt
cp -r "$ex/normalize" "$ex/decompose" "$ex/decompose_blocksub" data/vt/
