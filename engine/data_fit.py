"""Does a dataset fit a graph?  One check, before any training, for the Run panel and ``layergraph train``."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.executor import CompiledGraph
from engine.losses import default_loss, get_loss
from engine.shapes import fmt_shape
from engine.training import output_activation


def data_fit_problem(plan: CompiledGraph, x: Any, y: np.ndarray, loss: str | None) -> str | None:
    """A sentence saying why ``(x, y)`` cannot train ``plan`` (None when it can).

    Checks the input shapes and, for a graph with one output, that the labels suit the output and
    the loss (class ids within the number of units, one-hot width, regression target shape); the
    labels of several outputs are checked by ``fit`` itself.
    """
    try:
        plan.prepare_inputs(x if isinstance(x, dict) else np.asarray(x)[:2])
    except Exception as exc:  # noqa: BLE001 - any rejection becomes the message
        return str(exc)
    if len(plan.output_ids) != 1:
        return None
    out = plan.output_ids[0]
    oshape = plan.shapes[out]
    name = plan.names[out]
    y = np.asarray(y)
    lname = loss or default_loss(output_activation(plan, out), y[:2], oshape)
    spec = get_loss(lname)
    units = oshape[-1] or 1
    if spec.sparse:
        if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
            return f"{spec.name} needs integer class ids but the labels are {y.dtype}; choose mse for regression."
        if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
            return (f"The labels have shape {fmt_shape(y.shape[1:])} per sample; {spec.name} needs one class id "
                    "per sample (use categorical_crossentropy for one-hot labels).")
        top = int(y.max()) if y.size else 0
        if top >= units:
            return (f"The labels go up to class {top} but the output '{name}' has {units} unit(s); give it "
                    f"{top + 1} units.")
        return None
    ys = tuple(y.shape[1:])
    want = tuple(oshape[1:])
    classes = int(y.max()) + 1 if y.dtype.kind in "iu" and y.size else 0
    if ys == want or (ys == () and want == (1,)) or (ys == (1,) and want == ()):
        return None
    if ys == () and y.dtype.kind in "iu" and spec.name == "categorical_crossentropy":
        return f"categorical_crossentropy needs one-hot labels; these are class ids, so use " \
               f"sparse_categorical_crossentropy (the output '{name}' has {units} units, labels {classes} classes)."
    return (f"The output '{name}' has shape {fmt_shape(oshape)} but the labels have {fmt_shape((None, *ys))}; "
            "change the output layer's units or the labels.")
