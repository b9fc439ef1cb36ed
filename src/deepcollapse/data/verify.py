"""Checksums and structural checks of raw dataset files; every failure names the file.

A file is *verified* when its MD5 is the one torchvision publishes for it, or when its
decompressed content has a SHA-256 listed in `registry.CONTENT_SHA256`.  Structure is checked
independently (IDX header against the file size), so a truncated file is reported as such
rather than as an opaque reshape error deep inside torchvision.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
import zlib
from pathlib import Path

from ..errors import InputError

_BLOCK = 1 << 20


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_with_sha256(source: Path, target: Path, *, gunzip: bool) -> str:
    """Copy `source` to `target` (decompressing a .gz) and return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    try:
        with opener(source, "rb") as fin, open(target, "wb") as fout:
            for block in iter(lambda: fin.read(_BLOCK), b""):
                digest.update(block)
                fout.write(block)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{source}: corrupt or truncated gzip file ({exc})") from None
    return digest.hexdigest()


# IDX ("SN3 Pascal Vincent") element types: code -> bytes per element
_IDX_TYPES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def check_idx(path: Path, *, shown: Path, ndim: int) -> tuple[int, ...]:
    """Check an (uncompressed) IDX file's header against its size; returns its shape.

    `shown` is the path to name in errors (the user's file, not our staged copy).
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(4)
        if len(header) < 4 or header[0] != 0 or header[1] != 0:
            raise InputError(f"{shown}: not an IDX file (bad magic number)")
        code, nd = header[2], header[3]
        if code not in _IDX_TYPES or nd != ndim:
            raise InputError(f"{shown}: unexpected IDX header (type 0x{code:02x}, {nd} dimensions; expected {ndim})")
        dims_raw = f.read(4 * nd)
    if len(dims_raw) < 4 * nd:
        raise InputError(f"{shown}: truncated IDX file (incomplete header)")
    shape = struct.unpack(f">{nd}I", dims_raw)
    expected = 4 + 4 * nd + _IDX_TYPES[code] * _prod(shape)
    if size != expected:
        what = "truncated" if size < expected else "corrupt"
        raise InputError(f"{shown}: {what} IDX file (header says shape {shape}: {expected} bytes, file has {size})")
    return shape


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def mismatch(path: Path, *, md5: str | None, expected_md5: str | None, sha256: str | None) -> InputError:
    """The error for a file that matches no known checksum."""
    if expected_md5 is not None and md5 is not None:
        return InputError(
            f"{path}: checksum mismatch (MD5 {md5}, expected {expected_md5}, and the content SHA-256 "
            f"{sha256} is not a known one); re-download the file, or accept it with `deepcollapse data --no-verify`"
        )
    return InputError(
        f"{path}: checksum mismatch (content SHA-256 {sha256} is not a known one); give the "
        "original compressed file, or accept it with `deepcollapse data --no-verify`"
    )


def copy_tree_or_link(source: Path, target: Path) -> None:
    """Make `source` (a directory) visible at `target` without copying when possible."""
    try:
        target.symlink_to(source.resolve(), target_is_directory=True)
    except OSError:
        shutil.copytree(source, target)
