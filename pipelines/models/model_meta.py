#!/usr/bin/env python3
"""Compact JSON metadata for `mambadna convert --meta` from evaluation results.

  model_meta.py threshold TRACK.json        the calibrated threshold (track_auroc.py --precision)
  model_meta.py metrics WINDOWS.json TRACK.json
                                            window metrics with the GC / CpG o/e baselines
                                            (eval --baselines --json) and the track AUROC
  model_meta.py test EVAL.json              n, accuracy, f1, mcc, auroc, auprc of one eval"""

import json
import sys


def main():
    kind, paths = sys.argv[1], sys.argv[2:]
    docs = [json.load(open(p)) for p in paths]
    if kind == "threshold":
        cal = docs[0].get("calibrated")
        if not cal:
            sys.exit(f"{paths[0]}: no threshold reaches the requested precision")
        print(cal["threshold"])
    elif kind == "metrics":
        w, t = docs
        b = w["baselines"]
        out = {"windows_n": w["n"], "windows_auroc": round(w["auroc"], 4),
               "windows_auprc": round(w["auprc"], 4), "gc_auroc": round(b["gc"]["auroc"], 4),
               "cpg_oe_auroc": round(b["cpg_oe"]["auroc"], 4), "track_auroc": round(t["track_auroc"], 4)}
        print(json.dumps(out, separators=(",", ":")))
    elif kind == "test":
        d = docs[0]
        print(json.dumps({k: d[k] for k in ("n", "accuracy", "f1", "mcc", "auroc", "auprc")
                          if d.get(k) is not None}, separators=(",", ":")))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
