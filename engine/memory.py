"""Memory guard: estimate what an operation needs before it allocates anything, and refuse what cannot fit.

One rule for every large allocation (weights read from a ``.keras`` or ``.npz``, weights initialised
by a ``ParamStore``, data files, a training run): the estimate, computed from declared shapes before
anything is read or created, must stay under ``memory_limit()``.  The limit is
``LAYERGRAPH_MEMORY_LIMIT`` when set (``1GB``, ``512MB``, plain bytes...), else a fraction of the
memory the system reports available.  A refusal is one line with the estimate, the limit and how to
raise it.

The training estimate counts, for the chosen batch size, every node's output plus what its cache and its
gradient hold during training (about three tensors of the output's size), the weights and their
gradients, and the optimizer's slot arrays.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import numpy as np

from engine.errors import LayergraphError, TrainingError
from engine.initializers import CHUNK

TRAINING_TENSORS_PER_OUTPUT = 3  # output, cache (pre-activation / input copy), gradient
MB = 1024 * 1024
LIMIT_ENV = "LAYERGRAPH_MEMORY_LIMIT"
AVAILABLE_FRACTION = 0.5  # of MemAvailable: room for the designer, the OS and copies we did not count
FALLBACK_LIMIT = 2 * 1024 ** 3  # when the system cannot tell what is available
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": MB, "MB": MB, "MIB": MB,
          "G": 1024 ** 3, "GB": 1024 ** 3, "GIB": 1024 ** 3, "T": 1024 ** 4, "TB": 1024 ** 4, "TIB": 1024 ** 4}


class MemoryLimitError(LayergraphError):
    """An operation would need more memory than ``memory_limit()`` allows; nothing was allocated."""


@dataclass(frozen=True)
class MemoryEstimate:
    activations: int
    weights: int
    optimizer: int

    @property
    def total(self) -> int:
        return self.activations + self.weights + self.optimizer

    def describe(self) -> str:
        return (f"{self.total / MB:,.1f} MB (activations {self.activations / MB:,.1f} MB, weights and gradients "
                f"{self.weights / MB:,.1f} MB, optimizer state {self.optimizer / MB:,.1f} MB)")


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo, else free physical pages; None when neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def parse_size(text: str) -> int:
    """``"1GB"``, ``"512 MB"``, ``"1.5G"``, ``"1048576"`` -> bytes (binary units); ``ValueError`` otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).upper() not in _UNITS:
        raise ValueError(f"{LIMIT_ENV}={text[:40]!r} is not a size; use bytes or a unit, e.g. 512MB or 4GB")
    value = float(m.group(1)) * _UNITS[m.group(2).upper()]
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"{LIMIT_ENV}={text[:40]!r} is not a positive size")
    return int(value)


def memory_limit() -> tuple[int, str]:
    """``(bytes, where it comes from)``: ``LAYERGRAPH_MEMORY_LIMIT``, else a fraction of what is available."""
    raw = os.environ.get(LIMIT_ENV)
    if raw is not None and raw.strip():
        try:
            return parse_size(raw), f"{LIMIT_ENV}={raw.strip()}"
        except ValueError as exc:
            raise MemoryLimitError(f"{exc}.") from None
    available = available_memory_bytes()
    if available is None:
        return FALLBACK_LIMIT, "the default when the available memory is unknown"
    return int(available * AVAILABLE_FRACTION), f"half of the {available / MB:,.0f} MB available"


def fmt_bytes(n: float) -> str:
    if n >= 1024 ** 3:
        return f"{n / 1024 ** 3:,.1f} GB"
    if n >= MB:
        return f"{n / MB:,.1f} MB"
    return f"{n / 1024:,.1f} KB"


def check_allocation(nbytes: float, what: str, error: type[LayergraphError] = MemoryLimitError,
                     hint: str = "") -> None:
    """Refuse (raise ``error``, one line) when ``what`` would need more than the memory limit.

    ``nbytes`` comes from declared shapes and must be computed before anything is read or allocated;
    it may be a Python int far beyond any real size (a hostile file's declared shape).
    """
    try:
        limit, source = memory_limit()
    except MemoryLimitError as exc:
        raise error(str(exc)) from None
    if nbytes <= limit:
        return
    raise error(f"{what} needs an estimated {fmt_bytes(nbytes)}, more than the memory limit of {fmt_bytes(limit)} "
                f"({source}); {hint + '; ' if hint else ''}set {LIMIT_ENV} (e.g. {LIMIT_ENV}=16GB) to raise it.")


def array_bytes(shape, itemsize: int) -> int:
    """Exact bytes of an array of ``shape`` (Python ints: a declared shape never overflows here)."""
    return math.prod(int(d) for d in shape) * int(itemsize)


def init_bytes(specs: dict, dtype) -> int:
    """Peak bytes of creating every weight in ``specs`` (node id -> ``WeightSpec`` list): all arrays, plus the
    scratch of the largest single initialisation (orthogonal's float64 QR holds about three matrices)."""
    itemsize = np.dtype(dtype).itemsize
    specs = [s for ss in specs.values() for s in ss]
    total = sum(array_bytes(s.shape, itemsize) for s in specs)
    scratch = max((array_bytes(s.shape, 8) * 3 for s in specs if s.initializer == "orthogonal"), default=0)
    draws = 8 * min(CHUNK, max((math.prod(s.shape) for s in specs), default=0))  # one chunk of float64 draws
    return total + max(scratch, 2 * draws)


def estimate(plan, itemsize: int, n_weights: int, batch_size: int, *, training: bool = True,
             optimizer_slots: int = 0) -> MemoryEstimate:
    """Bytes a forward (and, when ``training``, backward and update) over one batch needs."""
    per_sample = sum(math.prod(d or 1 for d in shape[1:]) for shape in plan.shapes.values())
    factor = TRAINING_TENSORS_PER_OUTPUT if training else 1
    acts = per_sample * batch_size * itemsize * factor
    weights = n_weights * itemsize * (2 if training else 1)
    opt = n_weights * itemsize * optimizer_slots if training else 0
    return MemoryEstimate(acts, weights, opt)


def check_memory(est: MemoryEstimate, batch_size: int, available: int | None = None) -> None:
    """Raise ``TrainingError`` when ``est`` exceeds ``available`` (default: the memory limit)."""
    if available is None:
        check_allocation(est.total, f"This run at batch size {batch_size}", TrainingError,
                         "lower the batch size or make the model smaller")
        return
    if est.total <= available:
        return
    raise TrainingError(f"This run needs an estimated {est.describe()} at batch size {batch_size}, but only "
                        f"{available / MB:,.1f} MB of memory is available; lower the batch size or make the "
                        "model smaller.")
