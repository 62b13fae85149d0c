"""Losses with Keras 3's names and numerics, each returning its value and ``dL/d y_pred``.

Crossentropies take probabilities (the output of a softmax or sigmoid), as Keras computes them with
``from_logits=False``: rescale rows to sum to one (categorical), clip to ``[eps, 1 - eps]`` with
``eps = 1e-7``, take logs.  The reduction is Keras's ``"sum_over_batch_size"``: the per-sample loss
(mean over the last axis, or the sum over classes) averaged over every remaining position.

With an output mask (``(batch, ...)``, the output's shape without its last axis), Keras's compile weights
each position by ``mask * positions / unmasked positions``: the loss is the mean over the unmasked
positions only (``mask_weights``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.errors import TrainingError

EPSILON = 1e-7

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def _match_rank(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Keras ``squeeze_or_expand_to_same_rank``: (batch,) labels against a (batch, 1) output and back."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape:
        raise TrainingError(f"The labels have shape {y_true.shape[1:]} per sample but the model outputs "
                            f"{y_pred.shape[1:]}; give labels shaped like the output or choose another loss.")
    return y_true


def mask_weights(mask: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Keras's ``apply_mask`` for a "sum_over_batch_size" loss: ``positions / unmasked`` where the output is
    unmasked, 0 elsewhere (all 0 when every position is masked), shaped ``(batch, ..., 1)`` against ``y_pred``."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != y_pred.shape[:-1]:
        raise TrainingError(f"The output mask has shape {mask.shape} but the output {y_pred.shape}; a mask "
                            "covers every axis of the output but the last.")
    valid = int(mask.sum())
    scale = mask.size / valid if valid else 0.0
    return np.where(mask, scale, 0).astype(y_pred.dtype)[..., None]


def mean_squared_error(y_true, y_pred, weights=None):
    y_true = _match_rank(y_true, y_pred).astype(y_pred.dtype, copy=False)
    d = y_pred - y_true
    if weights is not None:
        return float(np.mean(np.square(d) * weights)), d * weights * (2.0 / d.size)
    return float(np.mean(np.square(d))), d * (2.0 / d.size)


def mean_absolute_error(y_true, y_pred, weights=None):
    y_true = _match_rank(y_true, y_pred).astype(y_pred.dtype, copy=False)
    d = y_pred - y_true
    w = 1 if weights is None else weights
    return float(np.mean(np.abs(d) * w)), np.sign(d) * w * (1.0 / d.size)


def binary_crossentropy(y_true, y_pred, weights=None):
    y_true = _match_rank(y_true, y_pred).astype(y_pred.dtype, copy=False)
    eps = y_pred.dtype.type(EPSILON)
    one = y_pred.dtype.type(1)
    w = one if weights is None else weights
    p = np.clip(y_pred, eps, one - eps)
    value = -np.mean((y_true * np.log(p) + (one - y_true) * np.log(one - p)) * w)
    inside = (y_pred > eps) & (y_pred < one - eps)
    grad = (-y_true / p + (one - y_true) / (one - p)) * inside * w * (one / y_pred.size)
    return float(value), grad.astype(y_pred.dtype, copy=False)


def _categorical(onehot: np.ndarray, y_pred: np.ndarray, weights=None) -> tuple[float, np.ndarray]:
    eps = y_pred.dtype.type(EPSILON)
    one = y_pred.dtype.type(1)
    w = one if weights is None else weights
    total = y_pred.sum(axis=-1, keepdims=True)
    q = y_pred / total
    p = np.clip(q, eps, one - eps)
    rows = y_pred.size // y_pred.shape[-1]
    value = -np.sum(onehot * np.log(p) * w) / rows
    # d/dq of -sum(t log clip(q)), then through q = y / sum(y)
    gq = np.where((q > eps) & (q < one - eps), -onehot / p, 0).astype(y_pred.dtype, copy=False)
    grad = (gq - (gq * q).sum(axis=-1, keepdims=True)) / total
    return float(value), (grad * w * (one / rows)).astype(y_pred.dtype, copy=False)


def categorical_crossentropy(y_true, y_pred, weights=None):
    if y_true.shape != y_pred.shape:
        raise TrainingError(f"categorical_crossentropy needs one-hot labels shaped like the output "
                            f"{y_pred.shape[1:]} but the labels have {y_true.shape[1:]}; one-hot encode them or "
                            "use sparse_categorical_crossentropy for integer labels.")
    return _categorical(y_true.astype(y_pred.dtype, copy=False), y_pred, weights)


def sparse_categorical_crossentropy(y_true, y_pred, weights=None):
    ids = np.asarray(y_true)
    if ids.ndim == y_pred.ndim and ids.shape[-1] == 1:
        ids = ids[..., 0]
    if ids.shape != y_pred.shape[:-1]:
        raise TrainingError(f"sparse_categorical_crossentropy needs one integer class id per output row, i.e. "
                            f"labels of shape {y_pred.shape[1:-1]} per sample, but they have {ids.shape[1:]}; "
                            "use categorical_crossentropy for one-hot labels.")
    if ids.dtype.kind == "f":
        if not np.all(ids == np.round(ids)):
            raise TrainingError("sparse_categorical_crossentropy needs integer class ids but the labels have "
                                "fractional values; use categorical_crossentropy or mse instead.")
    ids = ids.astype(np.int64)
    n = y_pred.shape[-1]
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = int(ids.max() if ids.max() >= n else ids.min())
        raise TrainingError(f"A label is class {bad} but the model outputs {n} classes (0 to {n - 1}); "
                            "give the last layer more units or fix the labels.")
    onehot = np.zeros(y_pred.shape, y_pred.dtype)
    np.put_along_axis(onehot, ids[..., None], 1, axis=-1)
    return _categorical(onehot, y_pred, weights)


@dataclass(frozen=True)
class Loss:
    """A loss by its Keras name: ``loss(y_true, y_pred) -> (value, dL/dy_pred)``."""

    name: str
    fn: LossFn
    #: crossentropies whose ``accuracy`` is meaningful
    classification: bool
    #: integer class ids as labels
    sparse: bool = False

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray,
                 mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """``mask``: the output's mask, if it carries one (the loss then covers the unmasked positions)."""
        if mask is None:
            return self.fn(np.asarray(y_true), y_pred)
        return self.fn(np.asarray(y_true), y_pred, mask_weights(mask, y_pred))


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", mean_squared_error, False),
    "mae": Loss("mae", mean_absolute_error, False),
    "binary_crossentropy": Loss("binary_crossentropy", binary_crossentropy, True),
    "categorical_crossentropy": Loss("categorical_crossentropy", categorical_crossentropy, True),
    "sparse_categorical_crossentropy": Loss("sparse_categorical_crossentropy", sparse_categorical_crossentropy,
                                            True, sparse=True),
}

ALIASES = {
    "meansquarederror": "mse", "meanabsoluteerror": "mae", "bce": "binary_crossentropy",
    "cce": "categorical_crossentropy",
    **{n.replace("_", ""): n for n in LOSSES},
}
"""Keras function and class names, compared lower-case without underscores."""


def get_loss(name: str | Loss) -> Loss:
    """Look a loss up by its Keras function or class name (``"mse"``, ``"MeanSquaredError"``)."""
    if isinstance(name, Loss):
        return name
    key = ALIASES.get(str(name).strip().lower().replace("_", ""))
    if key is None:
        raise TrainingError(f"Unknown loss {name!r}; choose one of {', '.join(LOSSES)}.")
    return LOSSES[key]


#: Output activations that make a graph a classifier (its outputs are class probabilities).
CLASSIFIER_ACTIVATIONS = ("softmax", "sigmoid")


def is_classifier(output_activation: str | None) -> bool:
    """Whether an output ending with ``output_activation`` (``Layer.output_activation()``) gives class probabilities."""
    return output_activation in CLASSIFIER_ACTIVATIONS


def default_loss(output_activation: str | None, y: np.ndarray | None, output_shape: tuple) -> str:
    """The loss a person most likely wants for this output layer and these labels.

    softmax -> sparse categorical crossentropy for integer labels (or when the labels are not known yet),
    else categorical; sigmoid -> binary crossentropy; anything else -> mean squared error.
    """
    if output_activation == "softmax":
        if y is None:
            return "sparse_categorical_crossentropy"
        y = np.asarray(y)
        integer_ids = y.dtype.kind in "iu" or y.ndim < len(output_shape) or (
            y.shape[-1] == 1 and (output_shape[-1] or 0) > 1)
        return "sparse_categorical_crossentropy" if integer_ids else "categorical_crossentropy"
    if output_activation == "sigmoid":
        return "binary_crossentropy"
    return "mse"
