"""ROC curve of test predictions (mambadna eval -p: name, label, p1, predicted).

  plot_roc.py PREDICTIONS.tsv NAME OUT.png
"""
import sys

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def roc(labels, scores):
    """False and true positive rates at every distinct score, highest first."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # equal scores taken together
    tp = np.cumsum(y)[last]
    fp = np.cumsum(1 - y)[last]
    return np.r_[0, fp / max(fp[-1], 1)], np.r_[0, tp / max(tp[-1], 1)]


def main():
    path, name, out = sys.argv[1:]
    rows = np.genfromtxt(path, delimiter="\t", names=True, dtype=None, encoding="utf-8")
    labels = (np.atleast_1d(rows["label"]) == 1).astype(float)
    fpr, tpr = roc(labels, np.atleast_1d(rows["p1"]).astype(float))
    auc = np.trapz(tpr, fpr)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, color="tab:blue", label=f"{name} (AUROC {auc:.3f}, n={len(labels)})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.6, ls="--")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC on the test split")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
