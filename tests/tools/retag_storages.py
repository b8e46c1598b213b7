#!/usr/bin/env python3
"""Rewrites a torch archive (model.pt, pool.pt) as a GPU run writes it: every tensor storage's
location string 'cpu' becomes DEVICE (default cuda:0) in each pickle of the zip.

    retag_storages.py IN OUT [DEVICE]

A run on a GPU tags its storages that way, so this gives the CPU-only test suite the file a
GPU-trained model is, without a GPU. Only the standard library: the zip is read and written with
zipfile (stored, uncompressed, as torch writes it), and the pickles are rewritten opcode-aware
at the string that names the location.
"""
import struct
import sys
import zipfile


def retag(pickle: bytes, device: str) -> tuple[bytes, int]:
    new = device.encode()
    # torch's C++ pickler writes short strings as BINUNICODE ('X', 4-byte length) and Python's
    # as SHORT_BINUNICODE (0x8c, 1-byte length): both spellings of 'cpu'.
    forms = [
        (b"X" + struct.pack("<I", 3) + b"cpu", b"X" + struct.pack("<I", len(new)) + new),
        (b"\x8c\x03cpu", b"\x8c" + bytes([len(new)]) + new),
    ]
    count = 0
    for old, repl in forms:
        count += pickle.count(old)
        pickle = pickle.replace(old, repl)
    return pickle, count


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    src, dst = sys.argv[1], sys.argv[2]
    device = sys.argv[3] if len(sys.argv) == 4 else "cuda:0"
    total = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(".pkl"):
                data, n = retag(data, device)
                total += n
            zout.writestr(info.filename, data)
    if total == 0:
        print(f"retag_storages: no storage tagged 'cpu' in {src}", file=sys.stderr)
        return 1
    print(f"retag_storages: {total} location string(s) now '{device}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
