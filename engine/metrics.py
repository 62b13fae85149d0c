"""Accuracy the way Keras picks it for ``metrics=["accuracy"]`` (``trainers/compile_utils.get_metric``).

Keras decides from the shapes: an output with one unit is binary (threshold 0.5); labels of lower rank
than the output, or a single label column against several units, are sparse class ids; anything else
is one-hot (categorical).
"""
from __future__ import annotations

import numpy as np


def accuracy_kind(y_true_shape: tuple, y_pred_shape: tuple) -> str:
    """``"binary"``, ``"sparse_categorical"`` or ``"categorical"``, as Keras chooses."""
    if y_pred_shape[-1] == 1:
        return "binary"
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return "sparse_categorical"
    return "categorical"


def accuracy_matches(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """1.0 where the prediction is right, per sample (and per position for sequence outputs)."""
    y_true = np.asarray(y_true)
    kind = accuracy_kind(y_true.shape, y_pred.shape)
    if kind == "binary":
        if y_true.ndim == y_pred.ndim - 1:
            y_true = y_true[..., None]
        return (y_true.astype(np.float32) == (y_pred > 0.5)).astype(np.float32)
    if kind == "sparse_categorical":
        if y_true.ndim == y_pred.ndim:
            y_true = y_true[..., 0]
        return (y_true.astype(np.int64) == np.argmax(y_pred, axis=-1)).astype(np.float32)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of correct predictions."""
    m = accuracy_matches(y_true, y_pred)
    return float(m.mean()) if m.size else 0.0


class MeanTracker:
    """Running mean weighted by sample count (Keras's ``Mean`` metric with batch-size sample weights)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update(self, value: float, weight: float = 1.0) -> None:
        self.total += float(value) * weight
        self.count += weight

    @property
    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")
