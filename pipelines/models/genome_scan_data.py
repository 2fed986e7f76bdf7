#!/usr/bin/env python3
"""Genome-scan training, dev and test windows for the human promoter models.

Positives: real promoter windows (GUE prom_300 positives, EPDnew human and
mouse TATA promoters, RefSeq gene TSSs of the training region, each TSS at
several offsets inside the window). Negatives: real genomic background of
the training region (random windows, GC-matched and CpG-o/e-matched windows,
windows downstream of TSSs, gene bodies) and EPDnew's downstream
non-promoter windows.

Regions (GRCh37):
  train  chr20:5,000,001-30,000,000
  dev    chr20:1-5,000,000 and the bundled chr22:20,000,001-21,000,000
  test   chr20:30,000,001-end, read only by `--split test`, which writes the
         evaluation windows and nothing else.
Sequence past chr20:30,000,000 is never read for train or dev.

Evaluation windows (dev, test) follow one protocol: a window of W bases
centred on every RefSeq gene TSS of the region, and three times as many
background windows whose centres lie at least 5 kb from every TSS of the
genome annotation; windows with N are left out.

Outputs (in --out): {split}.tsv.gz with columns sequence, label, source,
name; {split}.bed (BED6: contig, start, end, name, label, strand) for the
evaluation splits; {split}.tss.bed (the TSS positions, one base each)."""

import argparse
import gzip
import os
import random
import sys

import numpy as np

HELD_OUT_START = 30_000_000  # 0-based: chr20 positions >= this are the test region
TRAIN = ("20", 5_000_000, HELD_OUT_START)
DEV_CHR20 = ("20", 0, 5_000_000)
BACKGROUND_MIN_DIST = 5_000  # evaluation background: centres this far from any TSS
NEGATIVE_MIN_DIST = 2_000  # training background: windows this far from any TSS
COMP = str.maketrans("ACGTN", "TGCAN")


def read_fasta(path, keep=None, limit=None):
    """name -> uppercase sequence; `limit` bases at most of each record."""
    opener = gzip.open if path.endswith(".gz") else open
    seqs, name, parts, n = {}, None, [], 0
    with opener(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if name is not None:
                    seqs[name] = "".join(parts)
                name, parts, n = line[1:].split()[0], [], 0
                continue
            if name is None or (keep and name not in keep) or (limit and n >= limit):
                continue
            s = line.strip().upper()
            parts.append(s)
            n += len(s)
    if name is not None:
        seqs[name] = "".join(parts)
    if limit:
        seqs = {k: v[:limit] for k, v in seqs.items()}
    return seqs


def read_records(path):
    """Sequences of a FASTA file with blank lines after headers (EPDnew)."""
    out, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                if cur:
                    out.append(cur)
                cur = ""
            elif cur is not None:
                cur += line.upper()
    if cur:
        out.append(cur)
    return out


def read_gue(path, label):
    with open(path) as f:
        next(f)
        return [s for s, l in (ln.strip().split(",") for ln in f if ln.strip()) if int(l) == label]


def gene_tss(refseq, contig):
    """0-based TSS and strand of every gene on contig: the first exon's start
    on +, the last exon's end on -; gene spans for gene-body sampling."""
    spans = {}
    with gzip.open(refseq, "rt") as f:
        next(f)
        for line in f:
            gid, chrom, beg, end, strand = line.split()
            if chrom != contig:
                continue
            beg, end = int(beg) - 1, int(end)
            s = spans.get(gid)
            spans[gid] = (min(beg, s[0]), max(end, s[1]), strand) if s else (beg, end, strand)
    tss = sorted((b if st == "+" else e - 1, st, b, e, gid) for gid, (b, e, st) in spans.items())
    return tss


def gc_cpg(seqs):
    """GC fraction and CpG observed/expected of equal-length windows."""
    a = np.frombuffer("".join(seqs).encode(), dtype=np.uint8).reshape(len(seqs), -1)
    c, g = (a == ord("C")).sum(1), (a == ord("G")).sum(1)
    cg = ((a[:, :-1] == ord("C")) & (a[:, 1:] == ord("G"))).sum(1)
    w = a.shape[1]
    oe = np.where(c * g > 0, cg * w / np.maximum(c * g, 1), 0.0)
    return (c + g) / w, oe


class Region:
    def __init__(self, seq, contig, beg, end, tss_all):
        self.seq, self.contig, self.beg, self.end = seq, contig, beg, end
        self.tss = np.array(sorted(t[0] for t in tss_all), dtype=np.int64)

    def dist_to_tss(self, pos):
        pos = np.asarray(pos)
        i = np.searchsorted(self.tss, pos)
        left = np.abs(pos - self.tss[np.clip(i - 1, 0, len(self.tss) - 1)])
        right = np.abs(self.tss[np.clip(i, 0, len(self.tss) - 1)] - pos)
        return np.minimum(left, right)

    def window(self, start, w):
        return self.seq[start : start + w]

    def random_starts(self, rng, n, w, min_dist, exclude_center=True):
        """n window starts whose windows lie at least min_dist from every TSS
        (measured from the window's nearest edge, or its centre when
        exclude_center) and hold no N."""
        out = []
        while len(out) < n:
            s = rng.integers(self.beg, self.end - w, size=4 * (n - len(out)) + 16)
            if exclude_center:
                ok = self.dist_to_tss(s + w // 2) >= min_dist
            else:
                ok = self.dist_to_tss(s + w // 2) >= min_dist + w // 2
            for x in s[ok]:
                if "N" not in self.window(x, w):
                    out.append(int(x))
                    if len(out) == n:
                        break
        return out


def matched(rng, region, w, target, n, kind, pool_size):
    """n background windows whose GC (kind 0) or CpG o/e (kind 1) histogram
    follows `target` (values of the positives)."""
    starts = region.random_starts(rng, pool_size, w, NEGATIVE_MIN_DIST, exclude_center=False)
    vals = gc_cpg([region.window(s, w) for s in starts])[kind]
    edges = np.quantile(target, np.linspace(0, 1, 21))
    edges[0], edges[-1] = -np.inf, np.inf
    want = np.histogram(target, edges)[0] / len(target)
    have = np.digitize(vals, edges[1:-1])
    out = []
    for b in range(20):
        idx = np.flatnonzero(have == b)
        k = min(len(idx), int(round(want[b] * n)))
        out += [starts[i] for i in rng.choice(idx, size=k, replace=False)]
    return out


def eval_windows(rng, region, tss, w):
    """TSS-centred windows and three times as many background windows."""
    pos = [(t[0] - w // 2, f"tss_{t[4]}_{t[1]}") for t in tss
           if region.beg <= t[0] - w // 2 and t[0] + w // 2 <= region.end
           and "N" not in region.window(t[0] - w // 2, w)]
    neg = region.random_starts(rng, 3 * len(pos), w, BACKGROUND_MIN_DIST)
    return pos, [(s, f"bg_{s}") for s in neg]


def write_split(out, split, rows):
    with gzip.open(os.path.join(out, split + ".tsv.gz"), "wt", compresslevel=6) as f:
        f.write("sequence\tlabel\tsource\tname\n")
        for seq, label, source, name in rows:
            f.write(f"{seq}\t{label}\t{source}\t{name}\n")


def write_eval(out, split, region, pos, neg, w, contig_name):
    rows = [(region.window(s, w), 1, "refseq_tss", n) for s, n in pos]
    rows += [(region.window(s, w), 0, "background", n) for s, n in neg]
    with open(os.path.join(out, split + ".bed"), "a") as f:
        for s, n in pos:
            f.write(f"{contig_name}\t{s}\t{s + w}\t{n}\t1\t.\n")
        for s, n in neg:
            f.write(f"{contig_name}\t{s}\t{s + w}\t{n}\t0\t.\n")
    with open(os.path.join(out, split + ".tss.bed"), "a") as f:
        for s, n in pos:
            f.write(f"{contig_name}\t{s + w // 2}\t{s + w // 2 + 1}\t{n}\t1\t.\n")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chr20", required=True, help="GRCh37 chr20 FASTA (vt-examples 20.fa.gz)")
    ap.add_argument("--chr22", required=True, help="bundled GRCh37 chr22:20-21 Mb piece")
    ap.add_argument("--refseq", required=True, help="hg19_RefSeq_exon.txt.gz (subread-data)")
    ap.add_argument("--gue", help="GUE promoter folder (prom_300_*)")
    ap.add_argument("--epd", help="EPDnew TATA folder")
    ap.add_argument("--window", type=int, default=300)
    ap.add_argument("--gue-tasks", default="prom_300_all:dev,prom_300_notata:dev,prom_300_tata:train",
                    help="GUE task:split pairs whose positives join the training set")
    ap.add_argument("--split", choices=["train-dev", "test"], default="train-dev")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    w, rng = a.window, np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    tss20 = gene_tss(a.refseq, "chr20")

    if a.split == "test":
        chr20 = read_fasta(a.chr20, keep={"20"})["20"]
        test = Region(chr20, "20", HELD_OUT_START, len(chr20), tss20)
        for f in ("test.bed", "test.tss.bed"):
            open(os.path.join(a.out, f), "w").close()
        pos, neg = eval_windows(rng, test, tss20, w)
        write_split(a.out, "test", write_eval(a.out, "test", test, pos, neg, w, "20"))
        print(f"test: {len(pos)} TSS windows, {len(neg)} background", file=sys.stderr)
        return

    chr20 = read_fasta(a.chr20, keep={"20"}, limit=HELD_OUT_START)["20"]
    assert len(chr20) == HELD_OUT_START
    chr22_name, chr22_seq = next(iter(read_fasta(a.chr22).items()))
    off22 = 20_000_000  # the piece starts at chr22:20,000,001
    tss22 = [(t[0] - off22,) + t[1:] for t in gene_tss(a.refseq, "chr22")]

    # dev: the protocol's windows on chr20:1-5 Mb and the chr22 piece
    for f in ("dev.bed", "dev.tss.bed"):
        open(os.path.join(a.out, f), "w").close()
    dev_rows = []
    for seq, (contig, beg, end), tss, name in (
        (chr20, DEV_CHR20, tss20, "20"),
        (chr22_seq, (chr22_name, 0, len(chr22_seq)), tss22, chr22_name),
    ):
        region = Region(seq, contig, beg, end, tss)
        pos, neg = eval_windows(rng, region, tss, w)
        dev_rows += write_eval(a.out, "dev", region, pos, neg, w, name)
    write_split(a.out, "dev", dev_rows)

    # train
    train = Region(chr20, "20", *TRAIN[1:], tss20)
    pos = set()
    if a.gue:
        for task, split in (t.split(":") for t in a.gue_tasks.split(",") if t):
            pos |= {("gue_" + task, s) for s in read_gue(os.path.join(a.gue, task, split + ".csv"), 1)}
    if a.epd:
        for sp in ("hs", "mm"):
            pos |= {("epdnew_" + sp, s) for s in read_records(os.path.join(a.epd, f"{sp}_promoter_tata.fa"))}
    seen, external = set(), []
    for src, s in sorted(pos):
        if s not in seen and len(s) == w and "N" not in s:
            seen.add(s)
            external.append((s, 1, src, f"{src}_{len(external)}"))
    rows = list(external)
    train_tss = [t for t in tss20 if TRAIN[1] + w <= t[0] < TRAIN[2] - w]
    for t in train_tss:  # each TSS at 16 offsets in the middle half of the window
        for k in range(16):
            start = t[0] - int(rng.integers(w // 4, 3 * w // 4))
            s = train.window(start, w)
            if "N" not in s:
                rows.append((s, 1, "refseq_tss", f"tss_{t[4]}_{k}"))
    n_pos = len(rows)
    pos_gc, pos_oe = gc_cpg([r[0] for r in rows])

    def add(starts, source):
        rows.extend((train.window(s, w), 0, source, f"{source}_{s}") for s in starts)

    add(train.random_starts(rng, 2 * n_pos, w, NEGATIVE_MIN_DIST, exclude_center=False), "random")
    add(matched(rng, train, w, pos_gc, n_pos, 0, 20 * n_pos), "gc_matched")
    add(matched(rng, train, w, pos_oe, n_pos // 2, 1, 20 * n_pos), "cpg_matched")
    downstream = []  # 500 bp to 3 kb past a TSS on the gene's strand
    for t in train_tss:
        for _ in range(8):
            d = int(rng.integers(500, 3000))
            s = t[0] + d if t[1] == "+" else t[0] - d - w
            if TRAIN[1] <= s and s + w <= TRAIN[2] and "N" not in train.window(s, w):
                downstream.append(s)
    add(downstream, "downstream")
    body = []  # inside genes, 3 kb or more past the TSS, away from other TSSs
    genes = [t for t in tss20 if t[3] - t[2] > 10_000 and TRAIN[1] <= t[2] and t[3] <= TRAIN[2]]
    while len(body) < n_pos // 2 and genes:
        t = genes[int(rng.integers(len(genes)))]
        s = int(rng.integers(t[2] + 3000, t[3] - 3000 - w))
        if train.dist_to_tss(s + w // 2) >= NEGATIVE_MIN_DIST and "N" not in train.window(s, w):
            body.append(s)
    add(body, "gene_body")
    if a.epd:
        for sp in ("hs", "mm"):
            rows += [(s, 0, "epdnew_nonpromoter_" + sp, f"epd_np_{sp}_{i}")
                     for i, s in enumerate(read_records(os.path.join(a.epd, f"{sp}_nonpromoter_tata.fa")))
                     if len(s) == w and "N" not in s]
    random.Random(a.seed).shuffle(rows)
    write_split(a.out, "train", rows)
    counts = {}
    for r in rows:
        counts[r[2]] = counts.get(r[2], 0) + 1
    print(f"train: {n_pos} positives, {len(rows) - n_pos} negatives; " +
          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)
    print(f"dev: {sum(r[1] for r in dev_rows)} TSS windows, {sum(1 - r[1] for r in dev_rows)} background",
          file=sys.stderr)


if __name__ == "__main__":
    main()
