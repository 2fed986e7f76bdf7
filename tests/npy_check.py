#!/usr/bin/env python3
"""Check an NPY file written by mambadna against what numpy loads.

    npy_check.py PATH DTYPE SHAPE [VALUES] [--sum S]

DTYPE is a numpy dtype string ('<f4', '<f2', '<i8', ...); SHAPE a comma
list ("5,3"; "0,4"; "7" for a 1-D array). VALUES, a comma list, must equal
the leading elements of the flattened array exactly (parsed as the file's
dtype, so "0.1" for '<f2' means float16(0.1)); "nan" matches NaN. --sum S
compares the float64 sum of all elements with S (relative 1e-12).

Also checks the format-1.0 header by hand: magic, version, the header length
making the data start at a multiple of 64, the trailing newline, and that the
file holds exactly the data (no short or trailing bytes). Exits 1 with a
message on any mismatch, 2 on usage errors.
"""
import ast
import struct
import sys

import numpy as np


def fail(msg):
    print(f"npy_check: {sys.argv[1]}: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    args = sys.argv[1:]
    want_sum = None
    if "--sum" in args:
        i = args.index("--sum")
        want_sum = float(args[i + 1])
        del args[i : i + 2]
    if len(args) not in (3, 4):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    path, dtype, shape_s = args[:3]
    shape = tuple(int(x) for x in shape_s.split(",") if x.strip())
    values = args[3].split(",") if len(args) == 4 and args[3] else []

    with open(path, "rb") as f:
        raw = f.read()
    if raw[:6] != b"\x93NUMPY":
        fail("bad magic")
    if raw[6:8] != b"\x01\x00":
        fail(f"version {raw[6]}.{raw[7]}, want 1.0")
    (hlen,) = struct.unpack("<H", raw[8:10])
    start = 10 + hlen
    if start % 64:
        fail(f"data starts at {start}, not a multiple of 64")
    header = raw[10:start].decode("latin1")
    if not header.endswith("\n"):
        fail("header does not end with a newline")
    d = ast.literal_eval(header)
    if d.get("descr") != dtype:
        fail(f"descr {d.get('descr')!r}, want {dtype!r}")
    if d.get("fortran_order") is not False:
        fail("fortran_order is not False")
    if tuple(d.get("shape", ())) != shape:
        fail(f"header shape {d.get('shape')}, want {shape}")
    itemsize = np.dtype(dtype).itemsize
    n = int(np.prod(shape, dtype=np.int64))
    if len(raw) - start != n * itemsize:
        fail(f"{len(raw) - start} data bytes, want {n * itemsize}")

    a = np.load(path, allow_pickle=False)
    if a.dtype != np.dtype(dtype):
        fail(f"numpy loads dtype {a.dtype}, want {dtype}")
    if a.shape != shape:
        fail(f"numpy loads shape {a.shape}, want {shape}")
    flat = a.reshape(-1)
    if len(values) > flat.size:
        fail(f"{len(values)} expected values but only {flat.size} elements")
    for i, s in enumerate(values):
        got = flat[i]
        if s.strip().lower() == "nan":
            if not np.isnan(got):
                fail(f"element {i} is {got!r}, want nan")
            continue
        want = np.array([int(s) if a.dtype.kind in "iu" else float(s)]).astype(a.dtype)[0]
        if got != want or np.signbit(got) != np.signbit(want):
            fail(f"element {i} is {got!r}, want {want!r} (from {s})")
    if want_sum is not None:
        got = float(flat.astype(np.float64).sum())
        if abs(got - want_sum) > 1e-12 * max(1.0, abs(want_sum)):
            fail(f"sum {got!r}, want {want_sum!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
