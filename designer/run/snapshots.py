"""NumPy-only helpers for the live run: image tiling, histograms, decision grids, confusion.

Everything here runs in the training worker (or in tests) and returns small, freshly allocated
arrays that are safe to hand to the UI thread.  No Qt, no pyqtgraph.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.executor import CompiledGraph
from engine.shapes import fmt_shape
from engine.training import validation_cut

HIST_BINS = 40
GRID = 80  # decision-boundary resolution (GRID x GRID points)


# ----- images ------------------------------------------------------------------------------------------
SAMPLE_BATCH = 16


def tile(images: np.ndarray, cols: int | None = None, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tile ``(n, h, w)`` images into one ``(rows*(h+gap)-gap, cols*(w+gap)-gap)`` image.

    Gaps hold ``fill`` (NaN draws as transparent in pyqtgraph), so tiles stay visually separate.
    """
    n, h, w = images.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), fill, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[i]
    return out


def activation_image(act: np.ndarray) -> tuple[str, np.ndarray]:
    """How to picture one node's output on the sample batch: ``("maps"|"units", 2-D image)``.

    ``(batch, h, w, c)``: the first sample's ``c`` feature maps as a grid.  ``(batch, units)``: a
    units x samples heatmap.  ``(batch, steps, units)``: the first sample's steps x units.  Anything
    else is flattened per sample.
    """
    if act.ndim == 4:
        maps = np.moveaxis(act[0], -1, 0)[:64]
        return "maps", tile(maps)
    if act.ndim == 3:
        return "units", np.array(act[0].T, dtype=np.float32)
    flat = act.reshape(len(act), -1)[:, :256]
    return "units", np.array(flat.T, dtype=np.float32)


def kernel_image(kernel: np.ndarray) -> tuple[str, np.ndarray]:
    """A weight array as a picture: Dense kernels as an in x out heatmap, conv filters as a grid.

    A 2-D conv kernel ``(kh, kw, cin, cout)`` becomes ``cout`` columns of ``cin`` rows of ``kh x kw``
    tiles (averaged over input channels when that grid would be too large).
    """
    if kernel.ndim == 4:
        kh, kw, cin, cout = kernel.shape
        if cin * cout > 1024:
            k = kernel.mean(axis=2)[:, :, :64]
            return "filters", tile(np.moveaxis(k, -1, 0))
        tiles = np.moveaxis(kernel, (2, 3), (0, 1)).reshape(cin * cout, kh, kw)
        # one row per input channel; a single input channel's filters form a square grid instead
        return "filters", tile(tiles, cols=cout if cin > 1 else None)
    if kernel.ndim == 3:  # Conv1D (k, cin, cout)
        return "filters", np.array(kernel.reshape(-1, kernel.shape[-1]), dtype=np.float32)
    if kernel.ndim == 1:
        return "vector", np.array(kernel[:, None], dtype=np.float32)
    return "kernel", np.array(kernel.reshape(kernel.shape[0], -1), dtype=np.float32)


def main_weight(weights: dict[str, np.ndarray]) -> tuple[str, np.ndarray] | None:
    """The weight worth picturing: ``kernel`` (or the largest array)."""
    if not weights:
        return None
    for name in ("kernel", "depthwise_kernel", "embeddings", "gamma"):
        if name in weights:
            return name, weights[name]
    name = max(weights, key=lambda k: weights[k].size)
    return name, weights[name]


# ----- statistics ----------------------------------------------------------------------------------------
def histogram(values: np.ndarray, lo: float | None = None, hi: float | None = None,
              bins: int = HIST_BINS) -> tuple[np.ndarray, np.ndarray]:
    """``(edges, counts)`` over ``[lo, hi]`` (the data's range when not given); outliers land in the end bins."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if lo is None or hi is None:
        lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(np.clip(v, lo, hi), bins=bins, range=(lo, hi))
    return edges.astype(np.float32), counts.astype(np.float32)


def dead_fraction(act: np.ndarray) -> float:
    """Fraction of units (features/channels) that output zero for every sample of the batch."""
    a = act.reshape(len(act), -1, act.shape[-1]) if act.ndim > 2 else act.reshape(len(act), -1)
    alive = np.any(a != 0, axis=tuple(range(a.ndim - 1)))
    return float(1.0 - alive.mean()) if alive.size else 0.0


def node_snapshot(plan: CompiledGraph, nid: str, act: np.ndarray, weights: dict[str, np.ndarray],
                  weight_ranges: dict[tuple[str, str], tuple[float, float]]) -> dict[str, Any]:
    """The Layer activity pictures of node ``nid``: its output on the sample batch (image and
    histogram, dead-ReLU share) and its main weight (image and histogram).  ``weight_ranges`` keeps
    each weight's histogram range fixed from its first picture on, so histograms over time align."""
    mode, img = activation_image(act)
    res: dict[str, Any] = {"id": nid, "act_mode": mode, "act_image": img, "act_hist": histogram(act),
                           "dead": dead_fraction(act) if plan.layers[nid].output_activation() == "relu" else None}
    main = main_weight(weights)
    if main is not None:
        wname, w = main
        key = (nid, wname)
        if key not in weight_ranges:
            r = float(np.max(np.abs(w))) * 2.0 or 1e-3
            weight_ranges[key] = (-r, r)
        lo, hi = weight_ranges[key]
        kmode, kimg = kernel_image(w)
        res.update(weight_name=wname, weight_mode=kmode, weight_image=kimg,
                   weight_hist=histogram(w, lo, hi), weight_range=(lo, hi))
    return res


def sample_indices(n: int, validation_split: float, count: int = SAMPLE_BATCH) -> np.ndarray:
    """The fixed samples the pictures show: the first ``count`` of the validation split, or of the
    data when there is none."""
    cut = validation_cut(n, validation_split)
    start = cut if cut < n else 0
    return np.arange(start, min(start + count, n))


def grid_kind(plan: CompiledGraph, kind: str) -> str | None:
    """What the Data view draws over a grid of inputs: ``"boundary"`` for 2-D points with class
    labels (the Playground view), ``"curve"`` for a 1-D regression, else None."""
    if len(plan.input_ids) != 1 or len(plan.shapes[plan.input_ids[0]]) != 2:
        return None
    width = plan.shapes[plan.input_ids[0]][1]
    if width == 2 and kind == "2d":
        return "boundary"
    if width == 1 and kind in ("regression", "file"):
        return "curve"
    return None


def take_samples(x: Any, idx: Any) -> Any:
    """Rows ``idx`` of an array, or of each array of a dict of named inputs."""
    if isinstance(x, dict):
        return {k: np.asarray(v)[idx] for k, v in x.items()}
    return np.asarray(x)[idx]


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """``(classes, classes)`` counts, rows = true class, columns = predicted class."""
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def class_ids(y: np.ndarray) -> np.ndarray:
    """Integer class ids from sparse ids, ``(n, 1)`` ids or one-hot rows."""
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        return y.argmax(axis=-1)
    return y.reshape(len(y)).astype(np.int64)


def predicted_classes(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(class id, confidence)`` per sample from a softmax (or single sigmoid) output."""
    out = out.reshape(len(out), -1)
    if out.shape[1] == 1:
        p = out[:, 0]
        cls = (p >= 0.5).astype(np.int64)
        return cls, np.where(cls == 1, p, 1 - p)
    return out.argmax(axis=1), out.max(axis=1)


def boundary_grid(x: np.ndarray, n: int = GRID, margin: float = 0.15) -> tuple[np.ndarray, tuple]:
    """``n*n`` points covering the 2-D data with a margin, and the rect ``(x0, y0, w, h)``."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = (hi - lo) * margin + 1e-6
    lo, hi = lo - pad, hi + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n), indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    return pts, (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))


def boundary_values(out: np.ndarray, n: int = GRID) -> np.ndarray:
    """The image under the points: P(class 1) for 2-class outputs, the arg-max class otherwise."""
    out = out.reshape(len(out), -1)
    if out.shape[1] == 1:
        v = out[:, 0]
    elif out.shape[1] == 2:
        v = out[:, 1]
    else:
        v = out.argmax(axis=1).astype(np.float32)
    return np.array(v.reshape(n, n), dtype=np.float32)


def describe_data(x: Any, y: np.ndarray) -> str:
    """``"1,797 samples · x (8, 8, 1) float32 · y () int64, 10 classes"``."""
    y = np.asarray(y)
    if isinstance(x, dict):
        xs = ", ".join(f"{k} {fmt_shape(v.shape[1:])}" for k, v in x.items())
        n = len(next(iter(x.values())))
    else:
        x = np.asarray(x)
        xs = f"x {fmt_shape(x.shape[1:])} {x.dtype}"
        n = len(x)
    extra = f", {len(np.unique(y))} classes" if y.dtype.kind in "iu" and y.ndim == 1 else ""
    ys = f"y {fmt_shape(y.shape[1:])} " if y.ndim > 1 else "y "
    return f"{n:,} samples · {xs} · {ys}{y.dtype}{extra}"
