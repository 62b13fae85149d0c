"""Memory guard: estimate what a run needs before it starts, and refuse what cannot fit.

The estimate counts, for the chosen batch size, every node's output plus what its cache and its
gradient hold during training (about three tensors of the output's size), the weights and their
gradients, and the optimizer's slot arrays.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from engine.errors import TrainingError

TRAINING_TENSORS_PER_OUTPUT = 3  # output, cache (pre-activation / input copy), gradient
MB = 1024 * 1024


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
    """Raise ``TrainingError`` when ``est`` exceeds the available memory."""
    if available is None:
        available = available_memory_bytes()
    if available is None or est.total <= available:
        return
    raise TrainingError(f"This run needs an estimated {est.describe()} at batch size {batch_size}, but only "
                        f"{available / MB:,.1f} MB of memory is available; lower the batch size or make the "
                        "model smaller.")
