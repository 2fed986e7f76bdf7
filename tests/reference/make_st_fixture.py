#!/usr/bin/env python3
"""Independent safetensors writer and checker for tests/test_safetensors.c.

Built from the format description only (no safetensors package, no code of
mambadna): numpy for the element bytes, json for the header.

    make_st_fixture.py OUT
        Write the fixture tests/data/st/python_written.safetensors (committed;
        regenerate with: /usr/bin/python3 tests/reference/make_st_fixture.py
        tests/data/st/python_written.safetensors). The C test checks its values.
    make_st_fixture.py --check FILE
        Read FILE, written by md_st_write in the C test from the float32
        sources of c_source() below, check the layout rules of the format and
        that every tensor holds what numpy's own conversions give. Exit 0 if
        all is well, 1 with a message otherwise.

The fixture deliberately differs from what md_st_write produces: header
separators ", " and ": ", "__metadata__" last, tensors laid out in reverse
name order (so some are not aligned to their element size).
"""

import json
import struct
import sys

import numpy as np


def bf16_bits(x32):
    """float32 array -> bfloat16 bits (round to nearest even, NaN not handled)."""
    u = np.ascontiguousarray(x32, dtype="<f4").view("<u4").astype(np.uint64)
    u = u + 0x7FFF + ((u >> 16) & 1)
    return (u >> 16).astype("<u2")


def fixture_tensors():
    """name -> (dtype string, shape, little-endian bytes). Values are exact in
    their dtype so the C test can compare them bit for bit."""
    t = {}
    a = (np.arange(6, dtype="<f4") * np.float32(0.5) - np.float32(1)).reshape(2, 3)
    t["a.weight"] = ("F32", [2, 3], a.tobytes())
    b = np.array([1.0 / 3.0, -2.5, 1e-300], dtype="<f8")
    t["b.bias"] = ("F64", [3], b.tobytes())
    c = np.array([0.0, 1.0, -2.0, 0.5, 65504.0], dtype="<f2")
    t["c.half"] = ("F16", [5], c.tobytes())
    d = bf16_bits(np.array([1.0, -1.5, 3.140625, -0.0078125], dtype="<f4")).reshape(2, 2)
    t["d.bf16"] = ("BF16", [2, 2], d.tobytes())
    e = np.array([0, -1, 2**40, 7], dtype="<i8")
    t["e.ids"] = ("I64", [4], e.tobytes())
    f = np.array([0, 1, 255], dtype="u1")
    t["f.mask"] = ("U8", [3], f.tobytes())
    g = np.array(42.0, dtype="<f4")
    t["g.scalar"] = ("F32", [], g.tobytes())
    t["h.empty"] = ("F32", [0, 4], b"")
    i = np.array([-7, 2**31 - 1], dtype="<i4")
    t["i.int32"] = ("I32", [2], i.tobytes())
    return t


FIXTURE_META = {"format": "pt", "note": "\u00fcn\u00efcode \u2713"}


def write_fixture(path):
    tensors = fixture_tensors()
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors, reverse=True):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = FIXTURE_META
    h = json.dumps(header, ensure_ascii=False).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(h)))
        fh.write(h)
        for blob in blobs:
            fh.write(blob)


def c_source(n):
    """The float32 values the C test writes: a formula plus special values.
    The C side computes the same float32 operations (exact same roundings)."""
    i = np.arange(n, dtype=np.int64)
    x = ((i * 37) % 101 - 50).astype(np.float32) / np.float32(7)
    special = np.array([0.0, -0.0, 65504.0, 65519.0, 1e-8, 3e-5, 1.00048828125,
                        -1.0009765625, 1e30, 2.0**-24, 2.0**-25, 3.0 * 2.0**-26],
                       dtype=np.float32)
    k = min(n, len(special))
    x[:k] = special[:k]
    return x


# What the C test writes with md_st_write: name -> (dtype, shape).
C_TENSORS = {
    "layers.0.w32": ("F32", [3, 17]),
    "layers.0.w16": ("F16", [5, 7]),
    "layers.0.wbf": ("BF16", [13]),
    "layers.0.w64": ("F64", [2, 2, 3]),
    "odd16": ("F16", [3]),
    "steps": ("I64", [4]),
    "scalar": ("F32", []),
    "empty": ("F16", [0]),
}
C_META = {"model": "mamba-test", "tokenizer": "char-caduceus-v1", "empty": ""}
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1, "I32": 4}


def expected_bytes(dtype, n, name):
    if name == "steps":
        return np.array([1, -2, 2**62, 0], dtype="<i8").tobytes()
    x = c_source(n)
    if dtype == "F32":
        return x.astype("<f4").tobytes()
    if dtype == "F64":
        return x.astype("<f8").tobytes()
    if dtype == "F16":
        with np.errstate(over="ignore"):  # 1e30 -> inf is intended
            return x.astype("<f2").tobytes()
    if dtype == "BF16":
        return bf16_bits(x).tobytes()
    raise ValueError(dtype)


def check(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    errors = []
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen % 8:
        errors.append(f"header length {hlen} is not a multiple of 8")
    htext = raw[8:8 + hlen].decode("utf-8")
    if htext.rstrip(" ") != htext.rstrip():
        errors.append("header padded with something other than spaces")
    header = json.loads(htext)
    meta = header.pop("__metadata__", None)
    if meta != C_META:
        errors.append(f"metadata {meta!r} != {C_META!r}")
    if set(header) != set(C_TENSORS):
        errors.append(f"tensor names {sorted(header)} != {sorted(C_TENSORS)}")
    base = 8 + hlen
    spans = sorted((info["data_offsets"][0], info["data_offsets"][1], name)
                   for name, info in header.items())
    pos = 0
    for b, e, name in spans:
        if b != pos:
            errors.append(f"{name}: begins at {b}, expected {pos} (gap or overlap)")
        pos = e
    if base + pos != len(raw):
        errors.append(f"data ends at {base + pos}, file has {len(raw)} bytes")
    for name, (dtype, shape) in C_TENSORS.items():
        info = header.get(name)
        if info is None:
            continue
        if info["dtype"] != dtype or info["shape"] != shape:
            errors.append(f"{name}: {info['dtype']} {info['shape']} != {dtype} {shape}")
            continue
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        b, e = info["data_offsets"]
        if e - b != n * ITEMSIZE[dtype]:
            errors.append(f"{name}: {e - b} bytes for {n} elements of {dtype}")
        if (base + b) % ITEMSIZE[dtype]:
            errors.append(f"{name}: data at file offset {base + b} not aligned to {ITEMSIZE[dtype]}")
        got = raw[base + b:base + e]
        want = expected_bytes(dtype, n, name)
        if got != want:
            errors.append(f"{name}: data differs from numpy's {dtype} conversion")
    for msg in errors:
        print(f"{path}: {msg}", file=sys.stderr)
    return 1 if errors else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        return check(argv[2])
    if len(argv) == 2:
        write_fixture(argv[1])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
