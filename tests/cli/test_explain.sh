#!/bin/sh
# CLI tests of `mambadna explain`: NPY and sidecar read back by numpy, the
# per-base track against the NPY (genome coordinates, both strands), the
# gradient method, usage errors. Needs MAMBADNA (the program), MD_TEST_DATA.
set -u
. "$(dirname "$0")/../cli_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=$ROOT/data/genomes/22_20-21M.fa

"$M" init -a caduceus-ph -d 16 -l 2 --classes 2 --window 48 --stride 16 --seed 5 \
    -o "$T/m.safetensors" 2>/dev/null || bad "init"
printf '22:20000001-21000000\t5000\t5120\tp1\t0\t+\n22:20000001-21000000\t6000\t6090\tp2\t0\t-\n' >"$T/r.bed"

expect 0 "explain ism to NPY" "$M" explain -m "$T/m.safetensors" -R "$T/r.bed" -o "$T/a.npy" "$G"
expect 0 "explain ism to bedGraph" "$M" explain -m "$T/m.safetensors" -R "$T/r.bed" -o "$T/a.bedgraph" "$G"
expect 0 "explain ism to bigWig" "$M" explain -m "$T/m.safetensors" -R "$T/r.bed" -o "$T/a.bw" "$G"
[ -s "$T/a.bw" ] && ok || bad "bigWig written"
expect 0 "explain grad to NPY" "$M" explain -m "$T/m.safetensors" --method grad -R "$T/r.bed" -o "$T/g.npy" "$G"
if "$PY" - "$T" "$G" <<'EOF'
import sys
import numpy as np
t, genome = sys.argv[1], sys.argv[2]
seq = "".join(l.strip() for l in open(genome) if not l.startswith(">"))
comp = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}
a = np.load(f"{t}/a.npy")
g = np.load(f"{t}/g.npy")
assert a.dtype == np.float32 and a.shape == (210, 4), a.shape
assert g.shape == a.shape
rows = [l.split("\t") for l in open(f"{t}/a.npy.tsv").read().splitlines()]
# the bundled piece is named chr:beg-end: coordinates are on chromosome 22
assert rows == [["0", "120", "22", "20005000", "20005120", "+"],
                ["120", "90", "22", "20006000", "20006090", "-"]], rows
# the sequence of each row: forward bases, or the reverse complement on '-'
bases = seq[5000:5120] + "".join(comp[b] for b in reversed(seq[6000:6090].upper()))
for i, b in enumerate(bases.upper()):
    col = "ACGT".index(b)
    assert a[i, col] == 0 and g[i, col] == 0, (i, b, a[i], g[i])
assert np.count_nonzero(a) > 300 and np.count_nonzero(g) > 100
# the track: mean drop over the three substitutions, in genome order
drop = {}
for i in range(210):
    b = bases[i].upper()
    v = -np.mean([a[i, c] for c in range(4) if "ACGT"[c] != b])
    pos = 20000000 + (5000 + i if i < 120 else 6000 + (89 - (i - 120)))
    drop[pos] = v
for line in open(f"{t}/a.bedgraph"):
    if line.startswith("track"):
        continue
    c, s, e, v = line.split()
    for p in range(int(s), int(e)):
        assert abs(drop.pop(p) - float(v)) < 1e-6, (p, v)
assert not drop, sorted(drop)[:5]
EOF
then ok; else bad "NPY, sidecar and track read back"; fi

# the first-order estimate points the same way as the mutations themselves
if "$PY" -c "
import numpy as np
a = np.load('$T/a.npy').ravel(); g = np.load('$T/g.npy').ravel()
m = (a != 0) & (g != 0)
r = np.corrcoef(a[m], g[m])[0, 1]
assert r > 0.3, r
"; then ok; else bad "grad agrees with ISM in sign and size (correlation)"; fi

expect 2 "no output" "$M" explain -m "$T/m.safetensors" -R "$T/r.bed" "$G"
expect 2 "unknown output type" "$M" explain -m "$T/m.safetensors" -R "$T/r.bed" -o "$T/x.txt" "$G"
expect 2 "unknown method" "$M" explain -m "$T/m.safetensors" --method shap -o "$T/x.npy" "$G"
printf '@r1\nACGTACGT\n+\nIIIIIIII\n' >"$T/reads.fq"
expect 2 "reads are not explained" "$M" explain -m "$T/m.safetensors" -o "$T/x.npy" "$T/reads.fq"
[ ! -e "$T/x.npy" ] && ok || bad "no output after a usage error"

echo "explain: $n_ok checks passed, $n_fail failed"
[ "$n_fail" -eq 0 ] && echo "[  PASSED  ] $n_ok explain CLI checks"
[ "$n_fail" -eq 0 ]
