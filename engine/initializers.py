"""Weight initializers with Keras 3's names, fans and defaults (``keras/src/initializers``).

Every initializer is ``fn(shape, rng, dtype) -> ndarray``; ``rng`` is a ``numpy.random.Generator``.
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


def _variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    def init(shape, rng, dtype=np.float32):
        fan_in, fan_out = compute_fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        s = scale / max(1.0, n)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * s)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        # truncated normal at 2 stddev, corrected like Keras (0.8796...)
        std = math.sqrt(s) / 0.87962566103423978
        out = rng.normal(0.0, std, size=shape)
        bad = np.abs(out) > 2 * std
        while bad.any():
            out[bad] = rng.normal(0.0, std, size=int(bad.sum()))
            bad = np.abs(out) > 2 * std
        return out.astype(dtype)

    return init


def orthogonal(shape, rng, dtype=np.float32, gain: float = 1.0):
    """Keras ``Orthogonal``: QR of a normal matrix, sign-corrected, transposed when wide."""
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
    "random_normal": lambda shape, rng, dtype=np.float32: rng.normal(0.0, 0.05, size=shape).astype(dtype),
    "random_uniform": lambda shape, rng, dtype=np.float32: rng.uniform(-0.05, 0.05, size=shape).astype(dtype),
}


def get_initializer(name: str) -> Initializer:
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}") from None
