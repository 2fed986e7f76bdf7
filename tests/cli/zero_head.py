"""Copy a model file with its classification head's weights set to zero, so
that every window gets the same probability (softmax of the bias): a
constant score track, for tests where neighbouring values must be equal.

  zero_head.py IN.safetensors OUT.safetensors
"""
import json
import struct
import sys


def main():
    src, dst = sys.argv[1:]
    with open(src, "rb") as f:
        data = bytearray(f.read())
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    beg, end = header["score.weight"]["data_offsets"]
    base = 8 + size
    data[base + beg:base + end] = bytes(end - beg)
    with open(dst, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
