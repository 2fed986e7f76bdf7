"""Independent check of `mambadna variants` output.

    variants_check.py MAMBADNA MODEL WINDOW STRIDE GENOME.fa IN.vcf OUT.vcf TMPDIR

Rebuilds, from the documented rule, the reference and alternative windows of
every record of IN.vcf whose ID does not start with "skip", scores them with
`mambadna score` (one FASTA record per window, exactly one window each),
picks the window where some ALT changes the score most, and compares
MD_REF / MD_ALT / MD_DELTA with OUT.vcf. Records whose ID starts with
"skip" must come back without MD_* values. Every record must come back, in
order, with its other columns unchanged. Prints the count of records whose
first MD_DELTA is negative (for the bcftools filter check) and exits 1 on
any difference.
"""
import subprocess
import sys


def read_fasta(path):
    seqs, name, parts = {}, None, []
    for line in open(path):
        line = line.rstrip("\r\n")
        if line.startswith(">"):
            if name is not None:
                seqs[name] = "".join(parts)
            name, parts = line[1:].split()[0], []
        else:
            parts.append(line)
    if name is not None:
        seqs[name] = "".join(parts)
    return seqs


def records(path):
    out = []
    for line in open(path):
        if line.startswith("#"):
            continue
        out.append(line.rstrip("\n").split("\t"))
    return out


def info_dict(field):
    d = {}
    for item in field.split(";"):
        k, _, v = item.partition("=")
        d[k] = v
    return d


def reference_contig(name, genome):
    if name in genome:
        return name
    alias = name[3:] if name.startswith("chr") else "chr" + name
    return alias if alias in genome else None


def windows(pos, ref, alts, clen, W, stride):
    """Starts of the windows of a variant at 0-based pos (the documented rule)."""
    r = len(ref)
    ext = max([0] + [r - len(a) for a in alts])
    c = pos - (W - r) // 2
    lo, hi = pos + r - W, pos
    starts = []
    k = -((c - lo) // stride)
    while c + k * stride <= hi:
        s = c + k * stride
        if s >= lo and s >= 0 and s + W + ext <= clen:
            starts.append(s)
        k += 1
    return starts


def main():
    mambadna, model, W, stride, genome_path, in_vcf, out_vcf, tmp = sys.argv[1:9]
    W, stride = int(W), int(stride)
    genome = read_fasta(genome_path)
    ins, outs = records(in_vcf), records(out_vcf)
    errors = []
    if len(ins) != len(outs):
        print(f"{len(ins)} records in, {len(outs)} out")
        return 1
    plans, fasta = [], []
    for i, rec in enumerate(ins):
        chrom, pos, rid, ref, alt = rec[0], int(rec[1]) - 1, rec[2], rec[3], rec[4]
        if rid.startswith("skip"):
            plans.append(None)
            continue
        seq = genome[reference_contig(chrom, genome)]
        assert seq[pos:pos + len(ref)].upper() == ref.upper(), rid
        alts = alt.split(",")
        scored = [a for a in alts if a != "*"]
        plan = []
        for s in windows(pos, ref, scored, len(seq), W, stride):
            ref_win = seq[s:s + W]
            names = [f"r{i}_{s}_ref"]
            fasta.append((names[0], ref_win))
            for j, a in enumerate(alts):
                if a == "*":
                    continue
                hap = seq[s:pos] + a + seq[pos + len(ref):pos + len(ref) + W]
                fasta.append((f"r{i}_{s}_alt{j}", hap[:W]))
            plan.append(s)
        plans.append((alts, plan))
    fa = f"{tmp}/variant_windows.fa"
    with open(fa, "w") as f:
        for name, seq in fasta:
            f.write(f">{name}\n{seq}\n")
    res = subprocess.run([mambadna, "score", "-m", model, "-w", str(W), "-s", str(W), "-f", "tsv",
                          "--no-progress", "-t", "2", fa], capture_output=True, text=True,
                         check=True)
    score = {}
    for line in res.stdout.splitlines():
        cols = line.split("\t")
        score[cols[0]] = float(cols[5])
    n_negative = 0
    for i, (rec_in, rec_out) in enumerate(zip(ins, outs)):
        if rec_in[:7] != rec_out[:7] or rec_in[8:] != rec_out[8:]:
            errors.append(f"record {i + 1}: columns changed: {rec_in} -> {rec_out}")
        info = info_dict(rec_out[7])
        base = {k: v for k, v in info_dict(rec_in[7]).items()}
        if any(info.get(k) != v for k, v in base.items()):
            errors.append(f"record {i + 1}: INFO of the input changed")
        if plans[i] is None:
            if any(k in info for k in ("MD_REF", "MD_ALT", "MD_DELTA")):
                errors.append(f"record {i + 1} ({rec_in[2]}): annotated, expected unannotated")
            continue
        alts, plan = plans[i]
        best, best_change = None, -1.0
        for s in plan:
            r = score[f"r{i}_{s}_ref"]
            for j, a in enumerate(alts):
                if a != "*" and abs(score[f"r{i}_{s}_alt{j}"] - r) > best_change:
                    best_change, best = abs(score[f"r{i}_{s}_alt{j}"] - r), s
        want_ref = score[f"r{i}_{best}_ref"]
        want_alt = [score.get(f"r{i}_{best}_alt{j}") for j in range(len(alts))]
        if "MD_REF" not in info:
            errors.append(f"record {i + 1} ({rec_in[2]}): not annotated")
            continue
        got_ref = float(info["MD_REF"])
        got_alt = info["MD_ALT"].split(",")
        got_delta = info["MD_DELTA"].split(",")
        if abs(got_ref - want_ref) > 2e-6:
            errors.append(f"record {i + 1} ({rec_in[2]}): MD_REF {got_ref}, expected {want_ref}")
        for j, w in enumerate(want_alt):
            if w is None:
                if got_alt[j] != "." or got_delta[j] != ".":
                    errors.append(f"record {i + 1}: ALT {j + 1} should be missing")
                continue
            if abs(float(got_alt[j]) - w) > 2e-6 or abs(float(got_delta[j]) - (w - want_ref)) > 2e-6:
                errors.append(f"record {i + 1} ({rec_in[2]}) ALT {j + 1}: MD_ALT {got_alt[j]} "
                              f"MD_DELTA {got_delta[j]}, expected {w} and {w - want_ref}")
        if got_delta[0] != "." and float(got_delta[0]) < 0:
            n_negative += 1
    for e in errors:
        print(e)
    print(n_negative)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
