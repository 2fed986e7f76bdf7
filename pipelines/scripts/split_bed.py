"""Cut a BED file into pieces of at most N region lines, in order.

Writes DIR/I.bed and DIR/count. Track, browser, comment and blank lines are
left out.

  split_bed.py IN.bed N DIR
"""
import os
import sys


def main():
    path, most, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    with open(path) as f:
        lines = [l for l in f if l.strip() and not l.startswith(("#", "track", "browser"))]
    if not lines:
        sys.exit(f"split_bed: {path} has no regions")
    n = (len(lines) + most - 1) // most
    for i in range(n):
        with open(os.path.join(out, f"{i}.bed"), "w") as f:
            f.writelines(lines[i * most:(i + 1) * most])
    with open(os.path.join(out, "count"), "w") as f:
        f.write(f"{n}\n")
    print(f"split_bed: {path}: {len(lines)} regions in {n} pieces", file=sys.stderr)


if __name__ == "__main__":
    main()
