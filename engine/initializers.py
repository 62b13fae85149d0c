"""Weight initializers with Keras 3's names, fans and defaults (``keras/src/initializers``).

Every initializer is ``fn(shape, rng, dtype) -> ndarray``; ``rng`` is a ``numpy.random.Generator``.
Random kernels are drawn in chunks into an array of the target dtype, never as a whole float64 copy.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

Initializer = Callable[[tuple[int, ...], np.random.Generator, np.dtype], np.ndarray]


def compute_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras fans: 1-D n/n, 2-D (in, out), conv kernels multiply by the receptive field."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


CHUNK = 1 << 18
"""Values drawn per NumPy call: a large kernel is drawn in float64 a chunk at a time, straight into its
float32 array, with the same values (and seeded stream) as one call would give."""


def _uniform(shape, rng: np.random.Generator, limit: float, dtype) -> np.ndarray:
    out = np.empty(shape, dtype)
    flat = out.reshape(-1)
    for start in range(0, flat.size, CHUNK):
        n = min(CHUNK, flat.size - start)
        flat[start:start + n] = rng.uniform(-limit, limit, size=n)
    return out


def _normal(shape, rng: np.random.Generator, std: float, dtype, truncate: bool = False) -> np.ndarray:
    """``N(0, std)``; with ``truncate``, values beyond 2 std are redrawn (Keras's truncated normal)."""
    out = np.empty(shape, dtype)
    flat = out.reshape(-1)
    bad = []
    for start in range(0, flat.size, CHUNK):
        n = min(CHUNK, flat.size - start)
        vals = rng.normal(0.0, std, size=n)
        flat[start:start + n] = vals
        if truncate:
            bad.append(np.flatnonzero(np.abs(vals) > 2 * std) + start)
    redraw = np.concatenate(bad) if bad else np.zeros(0, np.intp)
    while redraw.size:
        vals = rng.normal(0.0, std, size=redraw.size)
        flat[redraw] = vals
        redraw = redraw[np.abs(vals) > 2 * std]
    return out


def _variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    def init(shape, rng, dtype=np.float32):
        fan_in, fan_out = compute_fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        s = scale / max(1.0, n)
        if distribution == "uniform":
            return _uniform(shape, rng, math.sqrt(3.0 * s), dtype)
        # truncated normal at 2 stddev, corrected like Keras (0.8796...)
        return _normal(shape, rng, math.sqrt(s) / 0.87962566103423978, dtype, truncate=True)

    return init


def orthogonal(shape, rng, dtype=np.float32, gain: float = 1.0):
    """Keras ``Orthogonal``: QR of a normal matrix, sign-corrected, transposed when wide.

    The QR runs in float64 (about three matrices at once; ``engine.memory.init_bytes`` counts them)."""
    rows = math.prod(shape[:-1])
    cols = shape[-1]
    flat = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


INITIALIZERS: dict[str, Initializer] = {
    "zeros": lambda shape, rng, dtype=np.float32: np.zeros(shape, dtype),
    "ones": lambda shape, rng, dtype=np.float32: np.ones(shape, dtype),
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "orthogonal": orthogonal,
    "random_normal": lambda shape, rng, dtype=np.float32: _normal(shape, rng, 0.05, dtype),
    "random_uniform": lambda shape, rng, dtype=np.float32: _uniform(shape, rng, 0.05, dtype),
}


def get_initializer(name: str) -> Initializer:
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}") from None
