#!/bin/sh
# Install mambadna's build and test dependencies from Debian packages.
# Idempotent: prints nothing and changes nothing when all are present.
set -eu

PACKAGES="gcc make pkg-config zlib1g-dev libhts-dev libcurl4-gnutls-dev \
libcmocka-dev libopenblas-dev libbigwig-dev libjansson-dev libssl-dev python3 python3-numpy \
samtools tabix bcftools snakemake python3-matplotlib"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "mambadna: installing missing packages:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "mambadna: run as root or install:$missing" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
