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
  demo/chr22_20-21M.bed        $n promoter calls at the model's calibrated threshold
                               (BED6: name p=<max probability>, score 0-1000, strand)

Look at them:
  sort -k5,5nr demo/chr22_20-21M.bed | head        # strongest calls
  Load both files in IGV on GRCh37 (b37): they are on chromosome 22,
  20,000,001-21,000,000, as they are. The UCSC browser (hg19) names it
  chr22: sed 's/^22\t/chr22\t/' FILE > FILE.hg19
MSG
