"""Weight initializers with Keras 3's names, fans and defaults (``keras/src/initializers``).

Every initializer is ``fn(shape, rng, dtype) -> ndarray``; ``rng`` is a ``numpy.random.Generator``.
Values are drawn directly in the target dtype, so a large float32 kernel never has a float64 copy.
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


def _float_dtype(dtype) -> np.dtype:
    """The dtype the generator draws in: the target's when NumPy can (float32/float64), else float32."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _uniform(shape, rng: np.random.Generator, limit: float, dtype) -> np.ndarray:
    """``U(-limit, limit)`` drawn directly in ``dtype`` (no float64 copy of a large kernel)."""
    out = rng.random(size=shape, dtype=_float_dtype(dtype))
    out *= 2 * limit
    out -= limit
    return out.astype(dtype, copy=False)


def _normal(shape, rng: np.random.Generator, std: float, dtype, truncate: bool = False) -> np.ndarray:
    """``N(0, std)`` in ``dtype``; with ``truncate``, values beyond 2 std are redrawn (Keras truncated normal)."""
    gen = _float_dtype(dtype)
    out = rng.standard_normal(size=shape, dtype=gen)
    out *= std
    if truncate:
        bad = np.abs(out) > 2 * std
        while bad.any():
            out[bad] = rng.standard_normal(size=int(bad.sum()), dtype=gen) * std
            bad = np.abs(out) > 2 * std
    return out.astype(dtype, copy=False)


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
    """Keras ``Orthogonal``: QR of a normal matrix, sign-corrected, transposed when wide."""
    rows = math.prod(shape[:-1])
    cols = shape[-1]
    flat = rng.standard_normal(size=(max(rows, cols), min(rows, cols)), dtype=_float_dtype(dtype))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    if gain != 1.0:
        q *= gain
    return q.reshape(shape).astype(dtype, copy=False)


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
