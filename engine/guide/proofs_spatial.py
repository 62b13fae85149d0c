"""Plain-NumPy references for the layers that move, cut, pad or resample positions (the guide's Proof).

Like ``proofs.py``: written from the definitions with loops over output positions, no engine code.  Data is
channels-last inside each reference; ``channels_last`` moves a channels-first input's channel axis around it.
"""
from __future__ import annotations

import itertools
import math

import numpy as np


def channels_last(fn):
    """Run a channels-last reference on channels-first data by moving the channel axis."""
    def wrapped(x, w, cfg):
        if cfg.get("data_format", "channels_last") == "channels_last":
            return fn(x, w, cfg)
        return np.moveaxis(fn(np.moveaxis(x, 1, -1), w, cfg), -1, 1)
    wrapped.__doc__, wrapped.source_of = fn.__doc__, fn
    return wrapped


def _pairs(value, rank):
    """Keras's padding/cropping argument as one ``(before, after)`` pair per spatial axis."""
    if isinstance(value, int):
        return [(value, value)] * rank
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [tuple(value)]
    return [(v, v) if isinstance(v, int) else tuple(v) for v in value]


@channels_last
def ref_zero_padding(x, w, cfg):
    """y[b, i + before, ..., c] = x[b, i, ..., c]; every other position of the larger output is 0"""
    pads = _pairs(cfg["padding"], x.ndim - 2)
    out = [n + a + b for n, (a, b) in zip(x.shape[1:-1], pads)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for b, i, c in itertools.product(range(x.shape[0]), np.ndindex(*x.shape[1:-1]), range(x.shape[-1])):
        y[(b, *[i[a] + pads[a][0] for a in range(len(i))], c)] = x[(b, *i, c)]
    return y


@channels_last
def ref_cropping(x, w, cfg):
    """y[b, i, ..., c] = x[b, i + before, ..., c] for i < n - before - after"""
    crops = _pairs(cfg["cropping"], x.ndim - 2)
    out = [n - a - b for n, (a, b) in zip(x.shape[1:-1], crops)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for b, i, c in itertools.product(range(x.shape[0]), np.ndindex(*out), range(x.shape[-1])):
        y[(b, *i, c)] = x[(b, *[i[a] + crops[a][0] for a in range(len(i))], c)]
    return y


@channels_last
def ref_adaptive_pooling(x, w, cfg):
    """cell i of an axis of length n covers floor(i*n/out) <= k < ceil((i+1)*n/out);
    y[b, i..., c] = max (or mean) of x[b, k..., c] over the box of cells i..."""
    size = cfg["output_size"]
    out = (size,) * (x.ndim - 2) if isinstance(size, int) else tuple(size)
    reduce = np.max if cfg["op"] == "max" else np.mean
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for b, i, c in itertools.product(range(x.shape[0]), np.ndindex(*out), range(x.shape[-1])):
        ranges = [range(math.floor(i[a] * n / out[a]), math.ceil((i[a] + 1) * n / out[a]))
                  for a, n in enumerate(x.shape[1:-1])]
        y[(b, *i, c)] = reduce([x[(b, *k, c)] for k in itertools.product(*ranges)])
    return y


def _sample(n_in, n_out, i, interpolation):
    """``[(input index, weight)]`` for output index ``i``: half-pixel centre ``(i + 0.5) * n_in / n_out - 0.5``,
    nearest rounds it, bilinear mixes the two neighbours; indices outside the input are clamped to the edge."""
    centre = (i + 0.5) * n_in / n_out - 0.5
    clamp = lambda k: min(max(k, 0), n_in - 1)  # noqa: E731
    if interpolation == "nearest":
        return [(clamp(math.floor(centre + 0.5)), 1.0)]
    low = math.floor(centre)
    return [(clamp(low), 1.0 - (centre - low)), (clamp(low + 1), centre - low)]


def resize_image(x, height, width, interpolation):
    """y[b, i, j, c] = sum over the sampled rows r and columns s of x[b, r, s, c] * weight_r * weight_s"""
    y = np.zeros((x.shape[0], height, width, x.shape[-1]))
    for i, j in itertools.product(range(height), range(width)):
        for (r, wr), (s, ws) in itertools.product(_sample(x.shape[1], height, i, interpolation),
                                                  _sample(x.shape[2], width, j, interpolation)):
            y[:, i, j] += wr * ws * x[:, r, s]
    return y


@channels_last
def ref_resizing(x, w, cfg):
    """y[b, i, j, c] = sum over the sampled rows r and columns s of x[b, r, s, c] * weight_r * weight_s
    (half-pixel centres, bilinear or nearest, no antialiasing)"""
    return resize_image(x, cfg["height"], cfg["width"], cfg["interpolation"])


@channels_last
def ref_center_crop(x, w, cfg):
    """y[b, i, j, c] = x[b, top + i, left + j, c] with top = (h - height) // 2, left = (w - width) // 2"""
    top, left = (x.shape[1] - cfg["height"]) // 2, (x.shape[2] - cfg["width"]) // 2
    y = np.zeros((x.shape[0], cfg["height"], cfg["width"], x.shape[-1]))
    for i, j in itertools.product(range(cfg["height"]), range(cfg["width"])):
        y[:, i, j] = x[:, top + i, left + j]
    return y


@channels_last
def ref_random_crop_inference(x, w, cfg):
    """inference: the largest central window with the target's aspect ratio, resized (bilinear) to
    height x width -- rows = min(h, int(w_in * height / width)), cols = min(w_in, int(h * width / height))"""
    h, w_in = x.shape[1:3]
    rows = max(min(h, int(w_in * cfg["height"] / cfg["width"])), 1)
    cols = max(min(w_in, int(h * cfg["width"] / cfg["height"])), 1)
    top, left = int((h - rows) / 2), int((w_in - cols) / 2)
    window = x[:, top:top + rows, left:left + cols]
    if (rows, cols) == (cfg["height"], cfg["width"]):
        return window.copy()
    return resize_image(window, cfg["height"], cfg["width"], "bilinear")
