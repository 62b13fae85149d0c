"""Optimizers with Keras 3's names, defaults and update rules (``keras/src/optimizers``).

An optimizer updates weight arrays in place.  Its slot variables (momentums, velocities, ...) are kept
per weight key, in the weight's dtype, created on first use.  As in Keras, weight decay
(``w -= w * weight_decay * lr``) and gradient clipping happen before the update step, and
``iterations`` counts applied steps.
"""
from __future__ import annotations

from typing import Any, Hashable, Iterable

import numpy as np

from engine.errors import TrainingError

Key = Hashable


class Optimizer:
    """Base: gradient clipping, weight decay, slot bookkeeping, the step counter.

    Args:
        learning_rate: step size.
        weight_decay: decoupled decay applied to every trainable weight before the step (None = off).
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
    """

    name = "optimizer"
    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: float = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None) -> None:
        if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
            raise TrainingError(f"{type(self).__name__}: learning_rate must be a positive number, "
                                f"got {learning_rate!r}.")
        self.learning_rate = float(learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.iterations = 0
        self.slots: dict[Key, dict[str, np.ndarray]] = {}

    # ----- public --------------------------------------------------------------------------------
    def apply(self, items: Iterable[tuple[Key, np.ndarray, np.ndarray]]) -> None:
        """One step over ``(key, weight, gradient)`` triples; weights are updated in place."""
        for key, var, grad in items:
            dt = var.dtype.type
            g = np.asarray(grad, dtype=var.dtype)
            g = self._clip(g)
            lr = dt(self.learning_rate)
            if self.weight_decay:
                var -= var * dt(self.weight_decay) * lr
            self.update_step(self._slots_for(key, var), var, g, lr)
        self.iterations += 1

    @property
    def slots_per_weight(self) -> int:
        """How many arrays of each weight's size this optimizer keeps (for memory estimates)."""
        return len(self.active_slots())

    def get_config(self) -> dict[str, Any]:
        cfg = {"name": self.name, "learning_rate": self.learning_rate}
        for k in ("weight_decay", "clipnorm", "clipvalue"):
            if getattr(self, k) is not None:
                cfg[k] = getattr(self, k)
        return cfg

    # ----- for subclasses ------------------------------------------------------------------------
    def active_slots(self) -> tuple[str, ...]:
        return self.slot_names

    def slot_initial_value(self, name: str) -> float:
        return 0.0

    def update_step(self, slots: dict[str, np.ndarray], var: np.ndarray, g: np.ndarray, lr) -> None:
        raise NotImplementedError

    # ----- helpers -------------------------------------------------------------------------------
    def _slots_for(self, key: Key, var: np.ndarray) -> dict[str, np.ndarray]:
        s = self.slots.get(key)
        if s is None:
            s = {n: np.full(var.shape, self.slot_initial_value(n), var.dtype) for n in self.active_slots()}
            self.slots[key] = s
        return s

    def _clip(self, g: np.ndarray) -> np.ndarray:
        if self.clipnorm:
            norm = np.sqrt(np.sum(g * g))
            if norm > self.clipnorm:
                g = g * g.dtype.type(self.clipnorm / norm)
        if self.clipvalue:
            g = np.clip(g, -self.clipvalue, self.clipvalue)
        return g


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    Args:
        learning_rate: 0.01.
        momentum: 0.0; velocity ``m = momentum * m - lr * g``, then ``w += m``.
        nesterov: False; with True, ``w += momentum * m - lr * g``.
    """

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        if not 0.0 <= float(momentum) <= 1.0:
            raise TrainingError(f"SGD: momentum must be between 0 and 1, got {momentum!r}.")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def active_slots(self):
        return ("momentum",) if self.momentum != 0 else ()

    def update_step(self, slots, var, g, lr):
        if self.momentum == 0:
            var -= g * lr
            return
        mom = var.dtype.type(self.momentum)
        m = slots["momentum"]
        m[...] = m * mom - g * lr
        if self.nesterov:
            var += m * mom - g * lr
        else:
            var += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam: bias-corrected first and second moment estimates.

    Args:
        learning_rate: 0.001.  beta_1: 0.9.  beta_2: 0.999.  epsilon: 1e-7.
        amsgrad: False; with True, divide by the running maximum of the second moment.
    """

    name = "adam"

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), float(epsilon), amsgrad

    def active_slots(self):
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def update_step(self, slots, var, g, lr):
        dt = var.dtype.type
        t = dt(self.iterations + 1)
        b1p = dt(self.beta_1) ** t
        b2p = dt(self.beta_2) ** t
        alpha = lr * np.sqrt(dt(1) - b2p) / (dt(1) - b1p)
        m, v = slots["momentum"], slots["velocity"]
        m += (g - m) * dt(1 - self.beta_1)
        v += (np.square(g) - v) * dt(1 - self.beta_2)
        if self.amsgrad:
            vh = slots["velocity_hat"]
            np.maximum(vh, v, out=vh)
            v = vh
        var -= (m * alpha) / (np.sqrt(v) + dt(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (``weight_decay=0.004``), applied before each step."""

    name = "adamw"

    def __init__(self, learning_rate: float = 0.001, weight_decay: float = 0.004, **kwargs: Any) -> None:
        if weight_decay is None:
            raise TrainingError("AdamW: weight_decay must be a number.")
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop: divide by a moving root-mean-square of the gradients.

    Args:
        learning_rate: 0.001.  rho: 0.9.  momentum: 0.0.  epsilon: 1e-7.
        centered: False; with True, subtract the squared moving mean gradient from the variance.
    """

    name = "rmsprop"

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), centered

    def active_slots(self):
        return ("velocity",) + (("momentum",) if self.momentum > 0 else ()) + \
            (("average_gradient",) if self.centered else ())

    def update_step(self, slots, var, g, lr):
        dt = var.dtype.type
        rho = dt(self.rho)
        vel = slots["velocity"]
        vel[...] = rho * vel + dt(1 - self.rho) * np.square(g)
        if self.centered:
            ag = slots["average_gradient"]
            ag[...] = rho * ag + dt(1 - self.rho) * g
            denom = vel - np.square(ag) + dt(self.epsilon)
        else:
            denom = vel + dt(self.epsilon)
        inc = (lr * g) / np.sqrt(denom)
        if self.momentum > 0:
            mom = slots["momentum"]
            mom[...] = dt(self.momentum) * mom + inc
            var -= mom
        else:
            var -= inc

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad: per-weight step sizes from the sum of squared gradients.

    Args:
        learning_rate: 0.001.  initial_accumulator_value: 0.1.  epsilon: 1e-7.
    """

    name = "adagrad"
    slot_names = ("accumulator",)

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)

    def slot_initial_value(self, name):
        return self.initial_accumulator_value

    def update_step(self, slots, var, g, lr):
        acc = slots["accumulator"]
        acc += np.square(g)
        var -= (lr * g) / np.sqrt(acc + var.dtype.type(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {c.name: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def get_optimizer(spec: str | Optimizer | dict, learning_rate: float | None = None, **kwargs: Any) -> Optimizer:
    """An optimizer from its name (``"adam"``, ``"SGD"``), a config dict, or an instance (returned as is)."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, dict):
        kwargs = {**{k: v for k, v in spec.items() if k != "name"}, **kwargs}
        spec = spec.get("name", "")
    cls = OPTIMIZERS.get(str(spec).strip().lower())
    if cls is None:
        raise TrainingError(f"Unknown optimizer {spec!r}; choose one of {', '.join(OPTIMIZERS)}.")
    if learning_rate is not None:
        kwargs["learning_rate"] = learning_rate
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise TrainingError(f"{cls.__name__}: {exc}") from None
