#!/bin/sh
# Score promoters on the bundled human sequence with the bundled model and
# say where the outputs are.
set -eu
cd "$(dirname "$0")/.."
mkdir -p demo
set -x
./mambadna score -o demo/chr22_20-21M.bedgraph --calls demo/chr22_20-21M.bed data/genomes/22_20-21M.fa
{ set +x; } 2>/dev/null
n=$(wc -l < demo/chr22_20-21M.bed)
cat <<MSG

Outputs:
  demo/chr22_20-21M.bedgraph   per-base promoter probability (bedGraph)
  demo/chr22_20-21M.bed        $n promoter calls (BED6: name p=<max probability>, score 0-1000, strand)

Look at them:
  sort -k5,5nr demo/chr22_20-21M.bed | head        # strongest calls
  Load both files in IGV or the UCSC browser on GRCh37 chr22; positions are
  relative to chr22:20,000,001 (add 20,000,000).
MSG
