"""Read ``.npz`` / ``.npy`` files with every array's size known before anything is allocated.

``np.load`` allocates each array from the shape its ``.npy`` header declares before reading a byte of
data, so a tiny (or highly compressed) file can ask for terabytes.  Here every header is read first,
the total is checked against the memory limit (``engine.memory``), and only then are the arrays read,
never with pickles.  Every failure is a one-line ``FileFormatError`` naming the file and the member.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.errors import FileFormatError
from engine.memory import array_bytes, check_allocation

_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


def npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` from a ``.npy`` header; ``ValueError`` when it is not a plain numeric array header."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
    if any(int(d) < 0 for d in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    if dtype.hasobject:
        raise ValueError("the array holds Python objects, which layergraph never unpickles")
    return tuple(int(d) for d in shape), dtype


def read_npy(path: str | Path, what: str = "the array") -> np.ndarray:
    """One ``.npy`` array, refused from its header when it would not fit in memory."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            shape, dtype = npy_header(fh)
            check_allocation(array_bytes(shape, dtype.itemsize), f"{path}: {what}", FileFormatError)
            fh.seek(0)
            return np.lib.format.read_array(fh, allow_pickle=False)
    except FileFormatError:
        raise
    except _READ_ERRORS as exc:
        raise FileFormatError(f"{path}: cannot read {what} ({_reason(exc)}).") from None


def read_npz(path: str | Path, what: str = "the arrays") -> dict[str, np.ndarray]:
    """Every member of a ``.npz`` as ``{name without .npy: array}``, in file order.

    All headers are read and the total size is checked against the memory limit before any array is.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = _declared_members(zf, path)
            total = sum(array_bytes(shape, dtype.itemsize) for _, _, shape, dtype in members)
            check_allocation(total, f"{path}: {what}", FileFormatError)
            out = {}
            for info, key, _shape, _dtype in members:
                with zf.open(info) as fh:
                    out[key] = np.lib.format.read_array(fh, allow_pickle=False)
            return out
    except FileFormatError:
        raise
    except _READ_ERRORS as exc:
        raise FileFormatError(f"{path}: cannot read {what} ({_reason(exc)}).") from None


def _declared_members(zf: zipfile.ZipFile, path: Path) -> list[tuple[zipfile.ZipInfo, str, tuple, np.dtype]]:
    members = []
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            raise FileFormatError(f"{path}: member {info.filename[:80]!r} is not a .npy array; "
                                  "not a NumPy .npz file.")
        try:
            with zf.open(info) as fh:
                shape, dtype = npy_header(fh)
        except _READ_ERRORS as exc:
            raise FileFormatError(f"{path}: member {info.filename[:80]!r} has no valid .npy header "
                                  f"({_reason(exc)}).") from None
        members.append((info, info.filename[:-4], shape, dtype))
    return members


def _reason(exc: BaseException) -> str:
    """The exception's text on one line and at most ~120 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
