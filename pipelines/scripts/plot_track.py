"""Draw the start of a score track with its calls (PNG, for the report).

  plot_track.py TRACK.bedgraph CALLS.bed LENGTH THRESHOLD OUT.png
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    track, calls, length, threshold, out = sys.argv[1:]
    length, threshold = int(length), float(threshold)
    contig, start, xs, ys = None, None, [], []
    with open(track) as f:
        for line in f:
            if line.startswith("track"):
                continue
            name, beg, end, value = line.split()
            beg, end = int(beg), int(end)
            if contig is None:
                contig, start = name, beg
            if name != contig or beg >= start + length:
                break
            xs += [beg, end]
            ys += [float(value)] * 2
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.plot(xs, ys, lw=0.8, color="tab:blue", label="score (mean of the windows over a base)")
    ax.axhline(threshold, color="grey", lw=0.6, ls="--", label=f"threshold {threshold:g}")
    first = True
    with open(calls) as f:
        for line in f:
            name, beg, end = line.split()[:3]
            if name == contig and int(beg) < start + length:
                ax.axvspan(int(beg), min(int(end), start + length), ymin=0, ymax=0.06,
                           color="tab:red", label="calls" if first else None)
                first = False
    ax.set_xlim(start, start + length)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(f"{contig} (0-based)")
    ax.set_ylabel("promoter probability")
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
