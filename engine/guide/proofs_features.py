"""Plain-NumPy references for the layers that rescale, normalise, encode or compare features (the guide's Proof).

Like ``proofs.py``: written from each layer's definition with loops, no engine code; the guide prints them.
"""
from __future__ import annotations

import itertools
import math

import numpy as np


def ref_layer_scale(x, w, cfg):
    """y[..., c] = x[..., c] * gamma[c]  (gamma is Keras's unnamed weight 'variable')"""
    y = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        y[idx] = x[idx] * w["variable"][idx[-1]]
    return y


def ref_group_norm(x, w, cfg):
    """per sample b and group g (channels g*C/G .. (g+1)*C/G - 1 of the last axis), over those channels at
    every position: y = gamma[c] * (x - mean_bg) / sqrt(var_bg + epsilon) + beta[c]"""
    channels = x.shape[-1]
    groups = channels if cfg["groups"] == -1 else cfg["groups"]
    size = channels // groups
    y = np.zeros_like(x)
    for b, g in itertools.product(range(x.shape[0]), range(groups)):
        members = [(b, *p, c) for p in np.ndindex(*x.shape[1:-1]) for c in range(g * size, (g + 1) * size)]
        values = np.array([x[m] for m in members])
        mean, var = values.mean(), ((values - values.mean()) ** 2).mean()
        for m in members:
            v = (x[m] - mean) / math.sqrt(var + cfg["epsilon"])
            y[m] = v * (w["gamma"][m[-1]] if cfg["scale"] else 1.0) + (w["beta"][m[-1]] if cfg["center"] else 0.0)
    return y


def ref_unit_norm(x, w, cfg):
    """y[b, :] = x[b, :] / max(||x[b, :]||, 1e-12), the L2 norm over the last axis"""
    y = np.zeros_like(x)
    for idx in np.ndindex(*x.shape[:-1]):
        y[idx] = x[idx] / max(math.sqrt(sum(v * v for v in x[idx])), 1e-12)
    return y


def ref_rms_norm(x, w, cfg):
    """y[b, :] = x[b, :] / sqrt(mean(x[b, :] ** 2) + epsilon) * scale, over the last axis"""
    y = np.zeros_like(x)
    for idx in np.ndindex(*x.shape[:-1]):
        y[idx] = x[idx] / math.sqrt(sum(v * v for v in x[idx]) / x.shape[-1] + cfg["epsilon"]) * w["scale"]
    return y


def ref_normalization(x, w, cfg):
    """y = (x - mean[k]) / max(sqrt(variance[k]), 1e-7), k the position along the kept axes
    (invert: y = mean[k] + x * max(sqrt(variance[k]), 1e-7))"""
    kept = sorted(a % x.ndim for a in cfg["axis"])
    mean = np.asarray(w["mean"] if cfg["mean"] is None else cfg["mean"], dtype=float)
    var = np.asarray(w["variance"] if cfg["variance"] is None else cfg["variance"], dtype=float)
    y = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        k = tuple(idx[a] for a in kept)
        m, v = (mean.flat[0], var.flat[0]) if mean.size == 1 else (mean.reshape(-1)[np.ravel_multi_index(
            k, [x.shape[a] for a in kept])], var.reshape(-1)[np.ravel_multi_index(k, [x.shape[a] for a in kept])])
        std = max(math.sqrt(v), 1e-7)
        y[idx] = m + x[idx] * std if cfg["invert"] else (x[idx] - m) / std
    return y


def _encode(ids, depth, mode):
    """one_hot: a 1 at the id (a trailing axis of 1 is replaced); multi_hot: a 1 at every id of the last axis;
    count: how often each id occurs along the last axis"""
    if mode == "one_hot":
        ids = ids[..., 0] if ids.shape[-1] == 1 else ids
        y = np.zeros((*ids.shape, depth))
        for idx in np.ndindex(*ids.shape):
            y[(*idx, int(ids[idx]))] = 1.0
        return y
    y = np.zeros((*ids.shape[:-1], depth))
    for idx in np.ndindex(*ids.shape):
        y[(*idx[:-1], int(ids[idx]))] += 1.0
    return np.minimum(y, 1.0) if mode == "multi_hot" else y


def ref_discretization(x, w, cfg):
    """bucket index = how many boundaries are <= x (so bins[i-1] <= x < bins[i] gives i), then encoded"""
    bounds = cfg["bin_boundaries"]
    ids = np.zeros(x.shape, dtype=np.int64)
    for idx in np.ndindex(*x.shape):
        ids[idx] = sum(1 for edge in bounds if edge <= x[idx])
    return ids if cfg["output_mode"] == "int" else _encode(ids, len(bounds) + 1, cfg["output_mode"])


def ref_category_encoding(ids, w, cfg):
    """multi_hot: y[b, t] = 1 if id t occurs in x[b]; count: how often; one_hot: a 1 at each id"""
    return _encode(ids, cfg["num_tokens"], cfg["output_mode"])


def ref_dot(a, b, w, cfg):
    """y[n, i..., j...] = sum_k a[n, i..., k, ...] * b[n, j..., k, ...] over axes[0] of a and axes[1] of b
    (normalize: each input first divided by its L2 norm along that axis); a lone batch axis gets a trailing 1"""
    ax_a, ax_b = cfg["axes"][0] % a.ndim, cfg["axes"][1] % b.ndim
    if cfg["normalize"]:
        a = a / np.maximum(np.sqrt((a * a).sum(axis=ax_a, keepdims=True)), 1e-7)
        b = b / np.maximum(np.sqrt((b * b).sum(axis=ax_b, keepdims=True)), 1e-7)
    am, bm = np.moveaxis(a, ax_a, -1), np.moveaxis(b, ax_b, -1)
    y = np.zeros((a.shape[0], *am.shape[1:-1], *bm.shape[1:-1]))
    for n in range(a.shape[0]):
        for i in np.ndindex(*am.shape[1:-1]):
            for j in np.ndindex(*bm.shape[1:-1]):
                y[(n, *i, *j)] = sum(am[(n, *i, k)] * bm[(n, *j, k)] for k in range(am.shape[-1]))
    return y[:, None] if y.ndim == 1 else y
