#!/bin/sh
# Fetch the large benchmark genomes from Debian packages into bench/data/
# (not tracked): human chr20 (GRCh37, 63 Mb) from vt-examples.
set -eu
cd "$(dirname "$0")"
mkdir -p data
[ -s data/20.fa.gz ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download vt-examples >/dev/null 2>&1) || {
    echo "bench/get-data.sh: cannot download the Debian package vt-examples" >&2; exit 1; }
dpkg -x "$tmp"/vt-examples_*.deb "$tmp/x"
cp "$tmp/x/usr/share/doc/vt/examples/ref/20.fa.gz" data/20.fa.gz
