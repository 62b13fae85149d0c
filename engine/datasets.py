"""Datasets: Playground-style 2-D toys, a sine regression, the real 8×8 digits, and user files.

``load_dataset(name_or_path)`` returns ``(x, y)``; for a multi-input ``.npz`` ``x`` is a dict keyed by
Input layer name.  Classification labels are integer class ids of shape ``(n,)``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.errors import FileFormatError, shown
from engine.memory import check_allocation

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DIGITS_FILE = RESOURCES / "datasets" / "digits.csv.gz"
MAX_DATA_BYTES = 2 * 1024**3
#: Peak bytes of memory per byte of CSV while it is parsed into rows of text and then numbers (measured:
#: 12x for 8-digit floats, 26x for one-character cells).
CSV_MEMORY_PER_BYTE = 32


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str  # "2d" (2-D classification, decision-boundary view), "image", "regression", "file"
    doc: str
    make: Callable[..., tuple[np.ndarray, np.ndarray]]


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(0 if seed is None else seed)


def spirals(n: int = 600, noise: float = 0.05, seed: int | None = 0, turns: float = 1.75):
    """Two interleaved spirals (TensorFlow Playground's hardest toy)."""
    rng = _rng(seed)
    m = n // 2
    t = np.sqrt(rng.uniform(0, 1, m)) * turns * 2 * np.pi
    r = t / (turns * 2 * np.pi)
    pts = []
    for k in range(2):
        a = t + k * np.pi
        pts.append(np.stack([r * np.cos(a), r * np.sin(a)], axis=1))
    x = np.concatenate(pts) + rng.normal(0, noise, (2 * m, 2))
    y = np.repeat([0, 1], m)
    return _shuffle(x, y, rng)


def moons(n: int = 600, noise: float = 0.1, seed: int | None = 0):
    """Two interleaving half circles."""
    rng = _rng(seed)
    m = n // 2
    a = rng.uniform(0, np.pi, m)
    b = rng.uniform(0, np.pi, n - m)
    x = np.concatenate([np.stack([np.cos(a), np.sin(a)], 1), np.stack([1 - np.cos(b), 0.5 - np.sin(b)], 1)])
    x = (x - [0.5, 0.25]) / 1.2 + rng.normal(0, noise, (n, 2))
    return _shuffle(x, np.repeat([0, 1], [m, n - m]), rng)


def circles(n: int = 600, noise: float = 0.05, seed: int | None = 0):
    """A disc inside a ring."""
    rng = _rng(seed)
    m = n // 2
    r = np.concatenate([rng.uniform(0, 0.5, m), rng.uniform(0.7, 1.0, n - m)])
    a = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.cos(a), r * np.sin(a)], 1) + rng.normal(0, noise, (n, 2))
    return _shuffle(x, np.repeat([0, 1], [m, n - m]), rng)


def xor(n: int = 600, noise: float = 0.05, seed: int | None = 0):
    """Four quadrants, opposite ones share a class."""
    rng = _rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    pad = np.where(x >= 0, 0.05, -0.05)
    x = x + pad
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    return _shuffle(x + rng.normal(0, noise, (n, 2)), y, rng)


def gaussians(n: int = 600, noise: float = 0.15, seed: int | None = 0):
    """Two Gaussian blobs."""
    rng = _rng(seed)
    m = n // 2
    x = np.concatenate([rng.normal([-0.5, -0.5], noise * 2, (m, 2)), rng.normal([0.5, 0.5], noise * 2, (n - m, 2))])
    return _shuffle(x, np.repeat([0, 1], [m, n - m]), rng)


def sine(n: int = 400, noise: float = 0.05, seed: int | None = 0):
    """Regression: y = sin(2πx) + noise on x in [-1, 1]."""
    rng = _rng(seed)
    x = rng.uniform(-1, 1, (n, 1))
    y = np.sin(2 * np.pi * x) + rng.normal(0, noise, (n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def digits(seed: int | None = 0):
    """The real 8×8 handwritten digits (UCI, 1,797 images, 10 classes), pixels scaled to [0, 1].

    The file is ordered by writer; samples are shuffled with ``seed`` so that a validation split taken
    from the end (as Keras does) sees the same writers as training.
    """
    try:
        raw = np.loadtxt(DIGITS_FILE, delimiter=",", dtype=np.float32)
    except OSError as exc:
        raise FileFormatError(f"{DIGITS_FILE}: the bundled digits data cannot be read ({exc}).") from None
    x = (raw[:, :64] / 16.0).reshape(-1, 8, 8, 1).astype(np.float32)
    y = raw[:, 64].astype(np.int64)
    p = _rng(seed).permutation(len(x))
    return x[p], y[p]


def _shuffle(x, y, rng):
    p = rng.permutation(len(x))
    return x[p].astype(np.float32), y[p].astype(np.int64)


DATASETS: dict[str, DatasetInfo] = {
    d.name: d for d in [
        DatasetInfo("spirals", "2d", "two interleaved spirals, 2 classes", spirals),
        DatasetInfo("moons", "2d", "two half moons, 2 classes", moons),
        DatasetInfo("circles", "2d", "a disc inside a ring, 2 classes", circles),
        DatasetInfo("xor", "2d", "XOR quadrants, 2 classes", xor),
        DatasetInfo("gaussians", "2d", "two Gaussian blobs, 2 classes", gaussians),
        DatasetInfo("sine", "regression", "y = sin(2πx) regression", sine),
        DatasetInfo("digits", "image", "8×8 handwritten digits, 1,797 images, 10 classes", digits),
    ]
}


def load_dataset(name_or_path: str, label_column: str | int | None = None, seed: int | None = 0):
    """A built-in dataset by name, or a user ``.npz`` / ``.csv`` file."""
    if name_or_path in DATASETS:
        info = DATASETS[name_or_path]
        return info.make(seed=seed)
    path = Path(name_or_path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise FileFormatError(f"{name_or_path}: not a built-in dataset ({', '.join(DATASETS)}) and no such file.")
    if path.stat().st_size > MAX_DATA_BYTES:
        raise FileFormatError(f"{path}: the file is larger than {MAX_DATA_BYTES // 1024**3} GB.")
    if suffix == ".npz":
        return load_npz(path)
    if suffix == ".csv":
        return load_csv(path, label_column)
    raise FileFormatError(f"{path}: unsupported data file; use a .npz (arrays x and y) or a .csv with a label column.")


def load_npz(path: Path):
    """Arrays ``x`` and ``y``, or one array per Input layer name plus ``y``."""
    from engine.fileformat import read_npz

    arrays = read_npz(path, "data arrays")
    if "y" not in arrays:
        found = ", ".join(shown(k) for k in list(arrays)[:10]) or "none"
        raise FileFormatError(f"{path}: no array named 'y' (the labels/targets); found {found}.")
    for k, v in arrays.items():
        if v.ndim == 0:
            raise FileFormatError(f"{path}: array {shown(k)} is a single number; store the samples along axis 0.")
    y = arrays.pop("y")
    if not arrays:
        raise FileFormatError(f"{path}: no input arrays; store the features as 'x' (or one array per Input name).")
    x = arrays["x"] if set(arrays) == {"x"} else arrays
    n = len(y)
    for k, v in (arrays.items()):
        if v.dtype.kind not in "fiub":
            raise FileFormatError(f"{path}: array {shown(k)} has dtype {v.dtype}; expected numbers.")
        if len(v) != n:
            raise FileFormatError(f"{path}: array {shown(k)} has {len(v)} samples but 'y' has {n}.")
    return x, y


def read_csv_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header (generated as col0.. when the first row is numeric) and the rows as text."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the CSV ({exc.strerror or exc}).") from None
    check_allocation(size * CSV_MEMORY_PER_BYTE, f"{path}: reading the CSV", FileFormatError)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FileFormatError(f"{path}: cannot read the CSV ({exc}).") from None
    if not rows:
        raise FileFormatError(f"{path}: the CSV is empty.")
    first = rows[0]
    if all(_is_number(c) for c in first):
        header = [f"col{i}" for i in range(len(first))]
    else:
        header, rows = first, rows[1:]
    for i, r in enumerate(rows):
        if len(r) != len(header):
            raise FileFormatError(f"{path}: row {i + 2} has {len(r)} columns, expected {len(header)}.")
    return header, rows


def load_csv(path: Path, label_column: str | int | None = None):
    """Numeric feature columns plus one label column (default: the last)."""
    header, rows = read_csv_table(path)
    if label_column is None:
        li = len(header) - 1
    elif isinstance(label_column, int) or str(label_column).lstrip("-").isdigit():
        li = int(label_column) % len(header)
    elif label_column in header:
        li = header.index(label_column)
    else:
        raise FileFormatError(f"{path}: no column named {shown(label_column)}; columns are "
                              f"{', '.join(shown(h) for h in header[:20])}.")
    feats = [i for i in range(len(header)) if i != li]
    try:
        x = np.array([[float(r[i]) for i in feats] for r in rows], dtype=np.float32)
    except ValueError as exc:
        raise FileFormatError(f"{path}: a feature column is not numeric ({exc}).") from None
    labels = [r[li] for r in rows]
    if all(_is_number(v) for v in labels):
        vals = np.array([float(v) for v in labels])
        y = vals.astype(np.int64) if np.all(vals == np.round(vals)) and len(np.unique(vals)) <= 100 else \
            vals.astype(np.float32).reshape(-1, 1)
    else:
        classes = sorted(set(labels))
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[v] for v in labels], dtype=np.int64)
    return x, y


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
