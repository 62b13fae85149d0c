"""Independent plain-NumPy references the guide's Proof section checks the engine against.

Each reference is written from the layer's textbook definition with explicit loops, never by calling
``engine.numerics``: the guide prints its source, so a student reads the formula that the engine's output
is compared with.  ``reference(layer)`` returns the function, or ``None`` when no reference covers the
layer with this config (the guide then says so plainly).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from engine.guide import proofs_spatial as spatial
from engine.guide.proofs_attention import attention_reference
from engine.guide.proofs_features import (ref_category_encoding, ref_discretization, ref_dot, ref_group_norm,
                                          ref_layer_scale, ref_normalization, ref_rms_norm, ref_unit_norm)

# ----- activations, written out (the engine's table is not used: the proof must not share code) ------------
REF_ACTIVATIONS = {
    None: lambda z: z,
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": lambda z: _softmax(z),
    "relu6": lambda z: np.minimum(np.maximum(z, 0.0), 6.0),
    "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0.0)) - 1.0),
    # SELU (Klambauer et al. 2017): scale * (x if x > 0 else alpha * (exp(x) - 1)), constants from the paper
    "selu": lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * (np.exp(np.minimum(z, 0)) - 1)),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),
    "gelu": lambda z: np.vectorize(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))))(z),
    "swish": lambda z: z / (1.0 + np.exp(-z)),
    "silu": lambda z: z / (1.0 + np.exp(-z)),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "hard_sigmoid": lambda z: np.minimum(np.maximum(z / 6.0 + 0.5, 0.0), 1.0),
    "exponential": np.exp,
}


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def act(name, z):
    return REF_ACTIVATIONS[name](z)


def ref_dense(x, w, cfg):
    """y[b, j] = act(sum_i x[b, i] * kernel[i, j] + bias[j])"""
    kernel = w["kernel"]
    y = np.zeros((*x.shape[:-1], kernel.shape[1]))
    for idx in np.ndindex(*x.shape[:-1]):
        for j in range(kernel.shape[1]):
            total = sum(x[idx + (i,)] * kernel[i, j] for i in range(kernel.shape[0]))
            y[idx + (j,)] = total + (w["bias"][j] if cfg["use_bias"] else 0.0)
    return act(cfg["activation"], y)


def ref_activation(x, w, cfg):
    """y = activation(x), element by element (softmax over the last axis)"""
    return act(cfg["activation"], x)


def ref_embedding(ids, w, cfg):
    """y[b, t, :] = embeddings[ids[b, t], :]  (a row lookup)"""
    table = w["embeddings"]
    y = np.zeros((*ids.shape, table.shape[1]))
    for idx in np.ndindex(*ids.shape):
        y[idx] = table[int(ids[idx])]
    return y


def _same_pad(n, k, s, d):
    """TensorFlow/Keras 'same': output ceil(n / s), the extra padding going after when it is odd."""
    eff = (k - 1) * d + 1
    total = max((math.ceil(n / s) - 1) * s + eff - n, 0)
    return total // 2, total - total // 2


def _pads(spatial, ks, ss, ds, padding):
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    if padding == "causal":
        return [((k - 1) * d, 0) for k, d in zip(ks, ds)]
    return [_same_pad(n, k, s, d) for n, k, s, d in zip(spatial, ks, ss, ds)]


def _channels_last(fn):
    """Run a channels-last reference on channels-first data by moving the channel axis."""
    def wrapped(x, w, cfg):
        if cfg.get("data_format", "channels_last") == "channels_last":
            return fn(x, w, cfg)
        y = fn(np.moveaxis(x, 1, -1), w, cfg)
        return np.moveaxis(y, -1, 1)
    wrapped.__doc__, wrapped.source_of = fn.__doc__, fn
    return wrapped


@_channels_last
def ref_conv(x, w, cfg):
    """y[b, o..., f] = act(bias[f] + sum over kernel taps k... and channels c of the group:
    xpad[b, o*stride + k*dilation, c] * kernel[k..., c, f])  -- the sum over the receptive field"""
    kernel = w["kernel"]
    ks, ss, ds = cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"]
    pads = _pads(x.shape[1:-1], ks, ss, ds, cfg["padding"])
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = [(xp.shape[1 + a] - (ks[a] - 1) * ds[a] - 1) // ss[a] + 1 for a in range(len(ks))]
    cin, filters = kernel.shape[-2], kernel.shape[-1]
    per_group = filters // cfg.get("groups", 1)
    y = np.zeros((x.shape[0], *out, filters))
    for b, o, f in itertools.product(range(x.shape[0]), np.ndindex(*out), range(filters)):
        g = f // per_group
        total = w["bias"][f] if cfg["use_bias"] else 0.0
        for k in np.ndindex(*ks):
            pos = tuple(o[a] * ss[a] + k[a] * ds[a] for a in range(len(ks)))
            for c in range(cin):
                total += xp[(b, *pos, g * cin + c)] * kernel[(*k, c, f)]
        y[(b, *o, f)] = total
    return act(cfg["activation"], y)


@_channels_last
def ref_depthwise_conv(x, w, cfg):
    """y[b, o..., c*M + m] = act(bias + sum over taps k of xpad[b, o*stride + k*dilation, c] * kernel[k..., c, m]):
    every input channel c gets its own M = depth_multiplier filters, channels never mix"""
    kernel = w["kernel"]
    ks, ss, ds = cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"]
    pads = _pads(x.shape[1:-1], ks, ss, ds, cfg["padding"])
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = [(xp.shape[1 + a] - (ks[a] - 1) * ds[a] - 1) // ss[a] + 1 for a in range(len(ks))]
    cin, mult = kernel.shape[-2], kernel.shape[-1]
    y = np.zeros((x.shape[0], *out, cin * mult))
    for b, o, c, m in itertools.product(range(x.shape[0]), np.ndindex(*out), range(cin), range(mult)):
        total = w["bias"][c * mult + m] if cfg["use_bias"] else 0.0
        for k in np.ndindex(*ks):
            pos = tuple(o[a] * ss[a] + k[a] * ds[a] for a in range(len(ks)))
            total += xp[(b, *pos, c)] * kernel[(*k, c, m)]
        y[(b, *o, c * mult + m)] = total
    return act(cfg["activation"], y)


def ref_separable_conv(x, w, cfg):
    """depthwise step (per channel, no bias) then pointwise:
    y[..., f] = act(bias[f] + sum_j d[..., j] * pointwise[0.., j, f])"""
    dcfg = dict(cfg, use_bias=False, activation=None)
    d = ref_depthwise_conv(x, {"kernel": w["depthwise_kernel"]}, dcfg)
    channels_first = cfg.get("data_format") == "channels_first"
    if channels_first:
        d = np.moveaxis(d, 1, -1)
    pw = w["pointwise_kernel"].reshape(w["pointwise_kernel"].shape[-2:])
    y = np.zeros((*d.shape[:-1], pw.shape[1]))
    for idx in np.ndindex(*d.shape[:-1]):
        for f in range(pw.shape[1]):
            y[idx + (f,)] = sum(d[idx + (j,)] * pw[j, f] for j in range(pw.shape[0])) + (
                w["bias"][f] if cfg["use_bias"] else 0.0)
    y = act(cfg["activation"], y)
    return np.moveaxis(y, -1, 1) if channels_first else y


@_channels_last
def ref_conv_transpose(x, w, cfg):
    """scatter: every input position i adds x[b, i, c] * kernel[k..., f, c] into full[b, i*stride + k*dilation, f];
    the output is full cropped by the 'same' padding (TensorFlow rule: max(k_eff - stride, 0) // 2 before)"""
    kernel = w["kernel"]
    ks, ss, ds = cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"]
    eff = [(k - 1) * d + 1 for k, d in zip(ks, ds)]
    n = x.shape[1:-1]
    full = np.zeros((x.shape[0], *[(n[a] - 1) * ss[a] + eff[a] for a in range(len(ks))], kernel.shape[-2]))
    for b, i, c in itertools.product(range(x.shape[0]), np.ndindex(*n), range(x.shape[-1])):
        for k in np.ndindex(*ks):
            pos = tuple(i[a] * ss[a] + k[a] * ds[a] for a in range(len(ks)))
            full[(b, *pos)] += x[(b, *i, c)] * kernel[(*k, slice(None), c)]
    if cfg["padding"] == "same":
        out = [n[a] * ss[a] for a in range(len(ks))]
        crop = [max(eff[a] - ss[a], 0) // 2 for a in range(len(ks))]
    else:
        out = [n[a] * ss[a] + max(eff[a] - ss[a], 0) for a in range(len(ks))]
        crop = [0] * len(ks)
    full = np.pad(full, [(0, 0)] + [(0, max(0, crop[a] + out[a] - full.shape[1 + a])) for a in range(len(ks))]
                  + [(0, 0)])
    y = full[(slice(None), *[slice(crop[a], crop[a] + out[a]) for a in range(len(ks))])]
    if cfg["use_bias"]:
        y = y + w["bias"]
    return act(cfg["activation"], y)


@_channels_last
def ref_pooling(x, w, cfg):
    """y[b, o..., c] = max (or mean) of x[b, o*stride + k, c] over the window k < pool_size;
    with 'same' the window is clipped at the edges and the mean counts only real elements"""
    ks = cfg["pool_size"]
    ss = cfg["strides"] or ks
    spatial = x.shape[1:-1]
    pads = _pads(spatial, ks, ss, (1,) * len(ks), cfg["padding"])
    out = [(spatial[a] + sum(pads[a]) - ks[a]) // ss[a] + 1 for a in range(len(ks))]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    reduce = np.max if cfg["op"] == "max" else np.mean
    for b, o, c in itertools.product(range(x.shape[0]), np.ndindex(*out), range(x.shape[-1])):
        window = []
        for k in np.ndindex(*ks):
            pos = tuple(o[a] * ss[a] + k[a] - pads[a][0] for a in range(len(ks)))
            if all(0 <= pos[a] < spatial[a] for a in range(len(ks))):
                window.append(x[(b, *pos, c)])
        y[(b, *o, c)] = reduce(window)
    return y


@_channels_last
def ref_global_pooling(x, w, cfg):
    """y[b, c] = max (or mean) of x[b, ..., c] over every spatial position"""
    y = np.zeros((x.shape[0], x.shape[-1]))
    reduce = max if cfg["op"] == "max" else (lambda v: sum(v) / len(v))
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[-1])):
        y[b, c] = reduce([x[(b, *p, c)] for p in np.ndindex(*x.shape[1:-1])])
    if cfg.get("keepdims"):
        y = y.reshape(x.shape[0], *[1] * (x.ndim - 2), x.shape[-1])
    return y


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def ref_simple_rnn(x, w, cfg):
    """h_t = tanh(x_t @ W + h_{t-1} @ U + b), h_0 = 0"""
    u = w["recurrent_kernel"].shape[0]
    steps = range(x.shape[1] - 1, -1, -1) if cfg["go_backwards"] else range(x.shape[1])
    h, outs = np.zeros((x.shape[0], u)), []
    for t in steps:
        z = x[:, t] @ w["kernel"] + h @ w["recurrent_kernel"] + (w["bias"] if cfg["use_bias"] else 0.0)
        h = np.tanh(z)
        outs.append(h)
    return np.stack(outs, 1) if cfg["return_sequences"] else h


def ref_lstm(x, w, cfg):
    """one step of the gate equations, repeated over t (Keras order i, f, c, o):
    i = sigmoid(x W_i + h U_i + b_i), f = sigmoid(x W_f + h U_f + b_f), g = tanh(x W_c + h U_c + b_c),
    o = sigmoid(x W_o + h U_o + b_o); c = f * c + i * g; h = o * tanh(c)"""
    u = w["recurrent_kernel"].shape[0]
    steps = range(x.shape[1] - 1, -1, -1) if cfg["go_backwards"] else range(x.shape[1])
    h, c, outs = np.zeros((x.shape[0], u)), np.zeros((x.shape[0], u)), []
    b = w["bias"] if cfg["use_bias"] else np.zeros(4 * u)
    W, U = w["kernel"], w["recurrent_kernel"]
    for t in steps:
        gate = [x[:, t] @ W[:, k * u:(k + 1) * u] + h @ U[:, k * u:(k + 1) * u] + b[k * u:(k + 1) * u]
                for k in range(4)]
        i, f, g, o = _sigmoid(gate[0]), _sigmoid(gate[1]), np.tanh(gate[2]), _sigmoid(gate[3])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1) if cfg["return_sequences"] else h


def ref_gru(x, w, cfg):
    """Keras order z, r, h.  z = sigmoid(x W_z + b_z + h U_z + rb_z), r = sigmoid(x W_r + b_r + h U_r + rb_r);
    reset_after: hh = tanh(x W_h + b_h + r * (h U_h + rb_h)), else hh = tanh(x W_h + (r * h) U_h + b_h);
    h = z * h + (1 - z) * hh"""
    u = w["recurrent_kernel"].shape[0]
    W, U = w["kernel"], w["recurrent_kernel"]
    bias = w["bias"] if cfg["use_bias"] else np.zeros((2, 3 * u) if cfg["reset_after"] else 3 * u)
    bx, bh = (bias[0], bias[1]) if cfg["reset_after"] else (bias, np.zeros(3 * u))
    steps = range(x.shape[1] - 1, -1, -1) if cfg["go_backwards"] else range(x.shape[1])
    h, outs = np.zeros((x.shape[0], u)), []
    part = [slice(k * u, (k + 1) * u) for k in range(3)]
    for t in steps:
        xz, xr, xh = (x[:, t] @ W[:, p] + bx[p] for p in part)
        z = _sigmoid(xz + h @ U[:, part[0]] + bh[part[0]])
        r = _sigmoid(xr + h @ U[:, part[1]] + bh[part[1]])
        if cfg["reset_after"]:
            hh = np.tanh(xh + r * (h @ U[:, part[2]] + bh[part[2]]))
        else:
            hh = np.tanh(xh + (r * h) @ U[:, part[2]])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1) if cfg["return_sequences"] else h


def ref_batch_norm(x, w, cfg):
    """inference: y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta, per channel of axis"""
    axis = cfg["axis"] % x.ndim
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    mean, var = w["moving_mean"].reshape(shape), w["moving_variance"].reshape(shape)
    y = (x - mean) / np.sqrt(var + cfg["epsilon"])
    if cfg["scale"]:
        y = y * w["gamma"].reshape(shape)
    if cfg["center"]:
        y = y + w["beta"].reshape(shape)
    return y


def ref_layer_norm(x, w, cfg):
    """per sample: y = gamma * (x - mean(x)) / sqrt(var(x) + epsilon) + beta, statistics over the last axis"""
    y = np.zeros_like(x)
    for idx in np.ndindex(*x.shape[:-1]):
        v = x[idx]
        y[idx] = (v - v.mean()) / math.sqrt(((v - v.mean()) ** 2).mean() + cfg["epsilon"])
    if cfg["scale"]:
        y = y * w["gamma"]
    if cfg["center"]:
        y = y + w["beta"]
    return y


def ref_identity(x, w, cfg):
    """at inference the layer passes its input through: y = x"""
    return x.copy()


def ref_masking(x, w, cfg):
    """y[b, t] = x[b, t] unless every feature of x[b, t] equals mask_value, then zeros (a masked step)"""
    y = np.array(x, dtype=float)
    for index in np.ndindex(*x.shape[:-1]):
        if all(v == cfg["mask_value"] for v in x[index]):
            y[index] = 0.0
    return y


def ref_flatten(x, w, cfg):
    """y[b, :] = every value of x[b] in row-major (C) order"""
    return np.array([list(x[b].flat) for b in range(x.shape[0])])


def ref_merge(*xs, w, cfg):
    """element by element over the inputs: sum, difference, product, mean, max or min"""
    ops = {"Add": sum, "Subtract": lambda v: v[0] - v[1], "Multiply": lambda v: math.prod(v),
           "Average": lambda v: sum(v) / len(v), "Maximum": max, "Minimum": min}
    op = ops[cfg["op"]]
    y = np.zeros(xs[0].shape)
    for idx in np.ndindex(*y.shape):
        y[idx] = op([x[idx] for x in xs])
    return y


def ref_leaky_relu(x, w, cfg):
    """y = x if x >= 0 else negative_slope * x"""
    return np.where(x >= 0, x, cfg["negative_slope"] * x)


def ref_rescaling(x, w, cfg):
    """y = x * scale + offset"""
    return x * np.asarray(cfg["scale"]) + np.asarray(cfg["offset"])


def ref_reshape(x, w, cfg):
    """y[b] = x[b] read in row-major order into target_shape (one -1 is inferred)"""
    return x.reshape(x.shape[0], *cfg["target_shape"])


def ref_permute(x, w, cfg):
    """y[b, i_dims[0], i_dims[1], ...] = x[b, i_1, i_2, ...]: axis k of y is axis dims[k] of x"""
    return np.transpose(x, (0, *cfg["dims"]))


def ref_repeat_vector(x, w, cfg):
    """y[b, t, :] = x[b, :] for every t < n"""
    return np.stack([x] * cfg["n"], axis=1)


def ref_scaled_sum(*xs, w, cfg):
    """the shortcut plus the scaled residual, element by element: y = x0 + scale * x1"""
    y = np.zeros(xs[0].shape)
    for idx in np.ndindex(*y.shape):
        y[idx] = xs[0][idx] + cfg["scale"] * xs[1][idx]
    return y


def ref_concatenate(*xs, w, cfg):
    """the inputs side by side along axis: y = [x1 | x2 | ...]"""
    return np.concatenate(xs, axis=cfg["axis"])


def ref_relu(x, w, cfg):
    """Keras's rule: y = clip(x if x > threshold else 0, 0, max_value) + negative_slope * min(x - threshold, 0)"""
    y = np.where(x > cfg["threshold"], x, 0.0)
    if cfg["max_value"] is not None:
        y = np.clip(y, 0.0, cfg["max_value"])
    return y + cfg["negative_slope"] * np.minimum(x - cfg["threshold"], 0.0)


def ref_elu(x, w, cfg):
    """y = x if x > 0 else alpha * (exp(x) - 1)"""
    return np.where(x > 0, x, cfg["alpha"] * (np.exp(np.minimum(x, 0)) - 1))


def ref_softmax(x, w, cfg):
    """y = exp(x) / sum of exp(x) over the axes (shifted by the max for stability)"""
    axes = tuple(cfg["axis"])
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


def ref_prelu(x, w, cfg):
    """y = x if x >= 0 else alpha * x, with a learned alpha per position (shared along shared_axes)"""
    return np.where(x >= 0, x, w["alpha"] * x)


def ref_upsampling(x, w, cfg):
    """nearest: every position repeated size times along each spatial axis"""
    size = cfg["size"] if isinstance(cfg["size"], tuple) else (cfg["size"],)
    first = 2 if cfg.get("data_format") == "channels_first" else 1
    for axis, times in enumerate(size):
        x = np.repeat(x, times, axis=first + axis)
    return x


RNN_REFERENCES = {"SimpleRNN": ref_simple_rnn, "LSTM": ref_lstm, "GRU": ref_gru}


def ref_bidirectional(x, w, cfg):
    """forward: the wrapped layer over t = 0..T-1; backward: its copy over t = T-1..0, its sequence flipped
    back to time order; merged: concat [fwd | bwd], sum fwd + bwd, ave (fwd + bwd) / 2 or mul fwd * bwd"""
    outs = []
    for prefix, (name, inner) in (("forward_", cfg["forward"]), ("backward_", cfg["backward"])):
        weights = {k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)}
        y = RNN_REFERENCES[name](x, weights, inner)
        outs.append(y[:, ::-1] if prefix == "backward_" and y.ndim == 3 else y)
    fwd, bwd = outs
    merge = {"concat": lambda: np.concatenate([fwd, bwd], -1), "sum": lambda: fwd + bwd,
             "ave": lambda: (fwd + bwd) / 2, "mul": lambda: fwd * bwd}
    return merge[cfg["merge_mode"]]()


def ref_time_distributed(x, w, cfg):
    """y[:, t] = the wrapped layer's reference applied to x[:, t], for every time step t"""
    fn, inner = cfg["inner"]
    return np.stack([fn(x[:, t], w, inner) for t in range(x.shape[1])], 1)


def ref_stacked_cells(x, w, cfg):
    """every cell's layer reference over the sequence in turn; cell k reads cell k-1's outputs"""
    for k, (fn, inner) in enumerate(cfg["cells"]):
        x = fn(x, {n[len(f"cell_{k}_"):]: v for n, v in w.items() if n.startswith(f"cell_{k}_")}, inner)
    return x


def ref_conv_lstm(x, w, cfg):
    """the LSTM gate equations with convolutions for the matmuls (Keras order i, f, c, o):
    gate_k = conv(x_t, W_k; strides, padding, dilation) + b_k + conv(h, U_k; 'same'), h_0 = c_0 = 0"""
    u = cfg["filters"]
    steps = range(x.shape[1] - 1, -1, -1) if cfg["go_backwards"] else range(x.shape[1])
    rank = x.ndim - 3
    b = w["bias"] if cfg["use_bias"] else np.zeros(4 * u)
    inp = dict(cfg, activation=None, use_bias=True, groups=1)
    rec = dict(inp, strides=(1,) * rank, padding="same", dilation_rate=(1,) * rank, use_bias=False)
    h = c = None
    outs = []
    for t in steps:
        gate = []
        for k in range(4):
            blk = slice(k * u, (k + 1) * u)
            z = ref_conv(x[:, t], {"kernel": w["kernel"][..., blk], "bias": b[blk]}, inp)
            if h is None:
                h = c = np.zeros_like(z)
            gate.append(z + ref_conv(h, {"kernel": w["recurrent_kernel"][..., blk]}, rec))
        i, f, g, o = _sigmoid(gate[0]), _sigmoid(gate[1]), np.tanh(gate[2]), _sigmoid(gate[3])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1) if cfg["return_sequences"] else h


def _wrapper_reference(layer):
    """References of TimeDistributed, RNN(cell) and ConvLSTM, made of the references of what they run."""
    name, cfg = layer.class_name, dict(layer.config)
    if name == "TimeDistributed":
        inner = reference(layer.inner)
        return None if inner is None else (ref_time_distributed, dict(cfg, inner=inner))
    if name == "RNN":
        cells = [reference(inner) for inner in layer.layers]
        if any(c is None for c in cells):
            return None
        return cells[0] if len(cells) == 1 else (ref_stacked_cells, dict(cfg, cells=cells))
    if cfg["activation"] != "tanh" or cfg["recurrent_activation"] != "sigmoid":
        return None
    return ref_conv_lstm, cfg


_CONV = ("Conv1D", "Conv2D", "Conv3D")
_TRANSPOSE = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_MERGE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
#: Layers that are the identity at inference: the noise, dropout and augmentation layers (their training
#: behaviour is random and covered by their own tests), and the pass-through layers.
_IDENTITY_AT_INFERENCE = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                          "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity", "RandomFlip",
                          "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness")
_TABLE = {"Dense": ref_dense, "Embedding": ref_embedding, "BatchNormalization": ref_batch_norm, "Masking": ref_masking,
          "Flatten": ref_flatten, "LeakyReLU": ref_leaky_relu, "Rescaling": ref_rescaling, "Reshape": ref_reshape,
          "Permute": ref_permute, "RepeatVector": ref_repeat_vector, "Concatenate": ref_concatenate,
          "ReLU": ref_relu, "ELU": ref_elu, "Softmax": ref_softmax, "PReLU": ref_prelu,
          "UpSampling1D": ref_upsampling, "UpSampling3D": ref_upsampling, "LayerScale": ref_layer_scale,
          "CustomScaleLayer": ref_scaled_sum,
          "GroupNormalization": ref_group_norm, "Normalization": ref_normalization, "Dot": ref_dot,
          "Discretization": ref_discretization, "CategoryEncoding": ref_category_encoding,
          **{name: ref_identity for name in _IDENTITY_AT_INFERENCE}}
_SPATIAL = {"ZeroPadding": spatial.ref_zero_padding, "Cropping": spatial.ref_cropping}


def _last_axis_only(cfg):
    return tuple(cfg["axis"]) == (-1,)


def _recurrent_reference(layer, cfg):
    if cfg["activation"] != "tanh" or cfg.get("recurrent_activation", "sigmoid") != "sigmoid" \
            or cfg["return_state"]:
        return None
    return RNN_REFERENCES[layer.class_name], cfg


def _bidirectional_reference(layer, cfg):
    inner = [(part.class_name, _recurrent_reference(part, dict(part.config)))
             for part in (layer.forward_layer, layer.backward_layer)]
    if any(ref is None for _, ref in inner) or cfg["merge_mode"] not in ("concat", "sum", "ave", "mul"):
        return None
    return ref_bidirectional, dict(cfg, forward=(inner[0][0], inner[0][1][1]), backward=(inner[1][0], inner[1][1][1]))


def _special_reference(layer, name, cfg):
    """The layers whose reference depends on the config; ``False`` when the name is not one of them."""
    if name in ("LSTM", "GRU", "SimpleRNN"):
        return _recurrent_reference(layer, cfg)
    if name == "Bidirectional":
        return _bidirectional_reference(layer, cfg)
    if name == "UpSampling2D":
        return (ref_upsampling, cfg) if cfg["interpolation"] == "nearest" else None
    if name == "Activation":
        return (ref_activation, cfg) if cfg.get("activation") in REF_ACTIVATIONS else None
    if name == "LayerNormalization":
        return (ref_layer_norm, cfg) if _last_axis_only(cfg) and not cfg["rms_scaling"] else None
    if name in ("UnitNormalization", "RMSNormalization"):
        fn = ref_unit_norm if name == "UnitNormalization" else ref_rms_norm
        return (fn, cfg) if _last_axis_only(cfg) else None
    if name in _TRANSPOSE:
        return (ref_conv_transpose, cfg) if cfg["output_padding"] is None else None
    return False


def reference(layer):
    """``(function, config)`` of the independent reference for this layer, or ``None`` when none covers it."""
    name, cfg = layer.class_name, dict(layer.config)
    if name in ("TimeDistributed", "RNN") or name.startswith("ConvLSTM"):
        return _wrapper_reference(layer)
    if "activation" in cfg and cfg["activation"] not in REF_ACTIVATIONS and name != "Activation":
        return None
    special = _special_reference(layer, name, cfg)
    if special is not False:
        return special
    if name in _CONV:
        return ref_conv, cfg
    if name.startswith("DepthwiseConv"):
        return ref_depthwise_conv, cfg
    if name.startswith("SeparableConv"):
        return ref_separable_conv, cfg
    for op, prefix in (("max", "Max"), ("mean", "Average")):
        for kind, fn in (("", ref_pooling), ("Global", ref_global_pooling), ("Adaptive", spatial.ref_adaptive_pooling)):
            if name.startswith(f"{kind}{prefix}Pooling"):
                return fn, dict(cfg, op=op)
    for prefix, fn in _SPATIAL.items():
        if name.startswith(prefix):
            return fn, cfg
    images = {"Resizing": spatial.ref_resizing, "CenterCrop": spatial.ref_center_crop,
              "RandomCrop": spatial.ref_random_crop_inference}
    if name in images:
        return images[name], cfg
    if name in _MERGE:
        return ref_merge, dict(cfg, op=name)
    attention = attention_reference(name, cfg)
    if attention is not False:
        return attention
    return (_TABLE[name], cfg) if name in _TABLE else None
