"""Minimal safetensors reader / writer in pure numpy (no torch, no safetensors package).

File layout written here (and accepted by the reader):

    bytes 0..7     : little-endian uint64 H, the length of the JSON header
    bytes 8..8+H   : JSON object {name: {"dtype", "shape", "data_offsets": [b, e]}, ...}
                     plus an optional "__metadata__" object (string -> string);
                     padded at the end with spaces so that H is a multiple of 8
    bytes 8+H..    : raw little-endian tensor data; [b, e) is relative to this point

The writer orders tensors by name, with contiguous data offsets starting at 0.
"""

import json
import struct

import numpy as np

# safetensors dtype string <-> numpy little-endian dtype
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def _st_dtype(arr):
    """safetensors dtype string for a numpy array's dtype."""
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    table = {("f", 8): "F64", ("f", 4): "F32", ("f", 2): "F16", ("i", 8): "I64",
             ("i", 4): "I32", ("i", 2): "I16", ("i", 1): "I8", ("u", 1): "U8", ("b", 1): "BOOL"}
    try:
        return table[(kind, size)]
    except KeyError:
        raise TypeError(f"unsupported dtype {arr.dtype}") from None


def save_file(tensors, path, metadata=None):
    """Write a dict name -> numpy array to `path` in safetensors format.

    Arrays keep their dtype (float64 -> F64, float32 -> F32, int64 -> I64, ...);
    convert before calling if another stored dtype is wanted.
    """
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        st = _st_dtype(arr)
        data = np.ascontiguousarray(arr, dtype=_DTYPES[st]).tobytes()
        header[name] = {"dtype": st, "shape": [int(s) for s in arr.shape],
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (-len(hjson)) % 8
    hjson += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def load_file(path, with_metadata=False):
    """Read a safetensors file; returns dict name -> numpy array (stored dtype).

    BF16 tensors are widened to float32. With with_metadata=True returns
    (tensors, metadata_dict_or_None).
    """
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    meta = header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        buf = raw[base + b:base + e]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            u16 = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32).reshape(shape)
        else:
            arr = np.frombuffer(buf, dtype=_DTYPES[info["dtype"]]).reshape(shape).copy()
        out[name] = arr
    return (out, meta) if with_metadata else out


def read_header(path):
    """Return (header_dict_without_metadata, metadata, header_length) of a safetensors file."""
    with open(path, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen).decode("utf-8"))
    meta = header.pop("__metadata__", None)
    return header, meta, hlen
