"""Weight and activity regularizers (L1, L2, L1L2, OrthogonalRegularizer) and weight constraints (MaxNorm,
NonNeg, UnitNorm, MinMaxNorm), read from a layer's ``*_regularizer`` / ``*_constraint`` arguments in Keras's
spellings (``"l2"``, ``{"class_name": "L2", "config": {"l2": 0.01}}``).

Keras semantics (``keras/src/regularizers``, ``keras/src/constraints``): a weight regularizer adds
``reg(w)`` to the loss; an activity regularizer adds ``reg(output) / batch``; a constraint projects the
weight after each optimizer step.  Anything else is refused with one line, never ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EPSILON = 1e-7  # keras.backend.epsilon()

_REGULARIZERS = {"l1": "L1", "l2": "L2", "l1l2": "L1L2", "l1_l2": "L1L2", "orthogonalregularizer": "Orthogonal",
                 "orthogonal_regularizer": "Orthogonal"}
_CONSTRAINTS = {"maxnorm": "MaxNorm", "max_norm": "MaxNorm", "nonneg": "NonNeg", "non_neg": "NonNeg",
                "unitnorm": "UnitNorm", "unit_norm": "UnitNorm", "minmaxnorm": "MinMaxNorm",
                "min_max_norm": "MinMaxNorm"}
_REG_DEFAULTS = {"L1": {"l1": 0.01}, "L2": {"l2": 0.01}, "L1L2": {"l1": 0.0, "l2": 0.0},
                 "Orthogonal": {"factor": 0.01, "mode": "rows"}}
_CON_DEFAULTS = {"MaxNorm": {"max_value": 2.0, "axis": 0}, "NonNeg": {}, "UnitNorm": {"axis": 0},
                 "MinMaxNorm": {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}}


def _identify(value: Any, table: dict[str, str], defaults: dict[str, dict], what: str) -> tuple[str, dict]:
    if isinstance(value, str):
        name, cfg = value, {}
    elif isinstance(value, dict) and isinstance(value.get("class_name"), str):
        name, cfg = value["class_name"], value.get("config") or {}
        if not isinstance(cfg, dict):
            raise ValueError(f"a {what} config must be a dict, got {cfg!r}")
    else:
        raise ValueError(f"{value!r} is not a {what} name or {{'class_name', 'config'}}")
    kind = table.get(name) or table.get(name.lower())
    if kind is None:
        known = sorted(set(table.values()))
        raise ValueError(f"{what} {name!r} is not one the engine applies ({', '.join(known)})")
    args = dict(defaults[kind])
    unknown = sorted(set(cfg) - set(args))
    if unknown:
        raise ValueError(f"{what} {kind} has no argument {unknown[0]!r}")
    args.update(cfg)
    return kind, args


def _inv_norms(w: np.ndarray, axis, floor: float) -> np.ndarray:
    return 1.0 / np.sqrt(np.maximum((w * w).sum(axis=axis, keepdims=True), floor))


@dataclass(frozen=True)
class Regularizer:
    """``L1``/``L2``/``L1L2``: ``l1 * sum|x| + l2 * sum x²``; ``Orthogonal``: ``factor * 0.5 * mean |cos|``
    over the off-diagonal pairs of the rows (or columns) of a 2-D weight."""

    kind: str
    l1: float = 0.0
    l2: float = 0.0
    factor: float = 0.0
    mode: str = "rows"

    def penalty(self, x: np.ndarray) -> float:
        if self.kind == "Orthogonal":
            p, _, _, _ = self._orthogonal(x)
            return p
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(x).sum())
        if self.l2:
            total += self.l2 * float(np.square(x).sum())
        return total

    def grad(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "Orthogonal":
            _, n, inv, s = self._orthogonal(x)
            size = len(s)
            gn = (self.factor * 0.5 / (size * (size - 1.0) / 2.0)) * 2.0 * (s @ n)
            gw = inv * (gn - n * (gn * n).sum(axis=1, keepdims=True))
            return (gw if self.mode == "rows" else gw.T).astype(x.dtype, copy=False)
        g = np.zeros_like(x)
        if self.l1:
            g += self.l1 * np.sign(x)
        if self.l2:
            g += 2.0 * self.l2 * x
        return g

    def _orthogonal(self, x):
        w = x if self.mode == "rows" else x.T
        inv = _inv_norms(w, 1, EPSILON ** 2)  # keras normalize: x * min(1 / ||x||, 1 / epsilon)
        n = w * inv
        prod = n @ n.T
        size = len(prod)
        s = np.sign(prod) * (1.0 - np.eye(size, dtype=prod.dtype))
        pairs = size * (size - 1.0) / 2.0
        return float(self.factor * 0.5 * np.abs(prod * (1.0 - np.eye(size))).sum() / pairs), n, inv, s


def parse_regularizer(value: Any) -> Regularizer | None:
    """The regularizer Keras would build from ``value`` (None stays None); ``ValueError`` if unsupported."""
    if value is None:
        return None
    kind, args = _identify(value, _REGULARIZERS, _REG_DEFAULTS, "regularizer")
    if kind == "Orthogonal":
        if args["mode"] not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer mode must be 'rows' or 'columns', got {args['mode']!r}")
        return Regularizer(kind, factor=float(args["factor"]), mode=args["mode"])
    return Regularizer(kind, l1=float(args.get("l1", 0.0)), l2=float(args.get("l2", 0.0)))


@dataclass(frozen=True)
class Constraint:
    """A projection applied to a weight after each optimizer step."""

    kind: str
    max_value: float = 0.0
    min_value: float = 0.0
    rate: float = 1.0
    axis: Any = 0

    def apply(self, w: np.ndarray) -> np.ndarray:
        if self.kind == "NonNeg":
            return np.maximum(w, 0)
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        norms = np.sqrt((w * w).sum(axis=axis, keepdims=True))
        if self.kind == "UnitNorm":
            return (w / (EPSILON + norms)).astype(w.dtype, copy=False)
        if self.kind == "MaxNorm":
            desired = np.clip(norms, 0, self.max_value)
        else:
            desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)


def parse_constraint(value: Any) -> Constraint | None:
    """The constraint Keras would build from ``value`` (None stays None); ``ValueError`` if unsupported."""
    if value is None:
        return None
    kind, args = _identify(value, _CONSTRAINTS, _CON_DEFAULTS, "constraint")
    return Constraint(kind, **{k: (v if k == "axis" else float(v)) for k, v in args.items()})


@dataclass(frozen=True)
class Penalties:
    """A layer's regularizers and constraints by weight-name prefix (``kernel``, ``recurrent``, ``gamma``...)."""

    weights: dict[str, Regularizer]
    constraints: dict[str, Constraint]
    activity: Regularizer | None

    def __bool__(self) -> bool:
        return bool(self.weights or self.constraints or self.activity)

    @staticmethod
    def weight_for(prefix: str, weight_names) -> str | None:
        """Keras's naming: ``kernel_regularizer`` -> ``kernel``, ``recurrent_regularizer`` -> ``recurrent_kernel``."""
        for name in (prefix, f"{prefix}_kernel"):
            if name in weight_names:
                return name
        return None
