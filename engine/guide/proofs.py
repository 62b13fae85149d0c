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

# ----- activations, written out (the engine's table is not used: the proof must not share code) ------------
REF_ACTIVATIONS = {
    None: lambda z: z,
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": lambda z: _softmax(z),
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


_CONV = ("Conv1D", "Conv2D", "Conv3D")
_TRANSPOSE = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_MERGE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


def ref_einsum_dense(x, w, cfg):
    """y[out] = act(sum over the other letters of x[in] * kernel[k] + bias), letter by letter"""
    lhs, out = cfg["equation"].split("->")
    xin, kin = lhs.split(",")
    if "..." in lhs:  # name the passed-through axes
        extra = "ABCDEFGH"[:x.ndim - (len(xin) - 3)]
        xin, out = xin.replace("...", extra), out.replace("...", extra)
    kernel = w["kernel"]
    sizes = {**dict(zip(xin, x.shape)), **dict(zip(kin, kernel.shape))}
    letters = sorted(sizes)
    y = np.zeros([sizes[c] for c in out])
    for values in itertools.product(*(range(sizes[c]) for c in letters)):
        at = dict(zip(letters, values))
        y[tuple(at[c] for c in out)] += x[tuple(at[c] for c in xin)] * kernel[tuple(at[c] for c in kin)]
    return act(cfg["activation"], y + w["bias"] if "bias" in w else y)


def _attend(scores, values, causal):
    """softmax of one query's scores over the keys it may see, then the weighted sum of their values"""
    allowed = [j for j in range(len(scores)) if not causal or j <= causal - 1]
    e = np.array([math.exp(scores[j] - max(scores[i] for i in allowed)) for j in allowed])
    return sum(p * values[j] for p, j in zip(e / e.sum(), allowed))


def ref_attention(query, value, key=None, *, w, cfg):
    """score[i, j] = q_i . k_j (times scale), or sum_d scale_d * tanh(q_id + k_jd) (additive);
    y_i = sum_j softmax_j(score[i, :]) * v_j  (with use_causal_mask, only keys j <= i)"""
    key = value if key is None else key
    y = np.zeros((*query.shape[:-1], value.shape[-1]))
    for b in range(query.shape[0]):
        for i in range(query.shape[1]):
            scores = []
            for j in range(key.shape[1]):
                if cfg["mode"] == "additive":
                    s = sum((w["scale"][d] if "scale" in w else 1.0) * math.tanh(query[b, i, d] + key[b, j, d])
                            for d in range(query.shape[2]))
                elif cfg["mode"] == "concat":
                    s = w["concat_score_weight"] * sum(math.tanh(w.get("scale", 1.0) * (query[b, i, d] + key[b, j, d]))
                                                       for d in range(query.shape[2]))
                else:
                    s = sum(query[b, i, d] * key[b, j, d] for d in range(query.shape[2])) * w.get("scale", 1.0)
                scores.append(float(s))
            y[b, i] = _attend(scores, value[b], i + 1 if cfg["use_causal_mask"] else 0)
    return y


def ref_multi_head_attention(query, value, key=None, *, w, cfg):
    """per head h: q = query . Wq[:, h] + bq[h], k and v alike (grouped-query heads share k and v);
    head_h(i) = sum_j softmax_j(q_i . k_j / sqrt(key_dim)) v_j;  y_i = sum_h head_h(i) . Wo[h] + bo"""
    key = value if key is None else key
    bias = {n: w.get(f"{n}_bias", 0.0) for n in ("query", "key", "value", "attention_output")}
    q = np.einsum("btd,dhc->bthc", query, w["query_kernel"]) + bias["query"]
    k = np.einsum("btd,dhc->bthc", key, w["key_kernel"]) + bias["key"]
    v = np.einsum("btd,dhc->bthc", value, w["value_kernel"]) + bias["value"]
    heads, shared = q.shape[2], k.shape[2]
    out_kernel = w["attention_output_kernel"]
    y = np.zeros((*query.shape[:2], *out_kernel.shape[2:]))
    for b in range(query.shape[0]):
        for i in range(query.shape[1]):
            for h in range(heads):
                g = h // (heads // shared)  # the key/value head this query head reads
                scores = [float(q[b, i, h] @ k[b, j, g]) / math.sqrt(q.shape[3]) for j in range(k.shape[1])]
                ctx = _attend(scores, v[b, :, g], i + 1 if cfg["use_causal_mask"] else 0)
                y[b, i] += np.tensordot(ctx, out_kernel[h], axes=1)
    return y + bias["attention_output"]


def reference(layer):
    """``(function, config)`` of the independent reference for this layer, or ``None`` when none covers it."""
    name, cfg = layer.class_name, dict(layer.config)
    activation = cfg.get("activation", None)
    if activation not in REF_ACTIVATIONS and name not in ("Activation",) and "activation" in cfg:
        return None
    table = {"Dense": ref_dense, "Embedding": ref_embedding, "SimpleRNN": ref_simple_rnn, "LSTM": ref_lstm,
             "GRU": ref_gru, "BatchNormalization": ref_batch_norm, "Flatten": ref_flatten,
             "LeakyReLU": ref_leaky_relu, "Rescaling": ref_rescaling,
             "Dropout": ref_identity, "SpatialDropout1D": ref_identity, "SpatialDropout2D": ref_identity,
             "SpatialDropout3D": ref_identity, "GaussianNoise": ref_identity, "GaussianDropout": ref_identity,
             "Reshape": ref_reshape, "Permute": ref_permute, "RepeatVector": ref_repeat_vector,
             "Concatenate": ref_concatenate, "ReLU": ref_relu, "ELU": ref_elu, "Softmax": ref_softmax,
             "PReLU": ref_prelu, "UpSampling1D": ref_upsampling, "UpSampling3D": ref_upsampling}
    if name == "UpSampling2D":
        return (ref_upsampling, cfg) if cfg["interpolation"] == "nearest" else None
    if name == "Activation":
        return (ref_activation, cfg) if activation in REF_ACTIVATIONS else None
    if name in ("LSTM", "GRU", "SimpleRNN"):
        if cfg["activation"] != "tanh" or cfg.get("recurrent_activation", "sigmoid") != "sigmoid" \
                or cfg["return_state"]:
            return None
    if name == "LayerNormalization":
        return (ref_layer_norm, cfg) if tuple(cfg["axis"]) == (-1,) and not cfg["rms_scaling"] else None
    if name in _CONV:
        return ref_conv, cfg
    if name in _TRANSPOSE:
        return (ref_conv_transpose, cfg) if cfg["output_padding"] is None else None
    if name.startswith("DepthwiseConv"):
        return ref_depthwise_conv, cfg
    if name.startswith("SeparableConv"):
        return ref_separable_conv, cfg
    for op, prefix in (("max", "MaxPooling"), ("mean", "AveragePooling")):
        if name.startswith(prefix):
            return ref_pooling, dict(cfg, op=op)
        if name.startswith("Global" + prefix):
            return ref_global_pooling, dict(cfg, op=op)
    if name in _MERGE:
        return ref_merge, dict(cfg, op=name)
    if name in ("Attention", "AdditiveAttention"):
        return ref_attention, dict(cfg, mode="additive" if name == "AdditiveAttention" else cfg["score_mode"])
    if name == "MultiHeadAttention":
        return (ref_multi_head_attention, cfg) if cfg["attention_axes"] is None else None
    if name == "GroupQueryAttention":
        return ref_multi_head_attention, cfg
    if name == "EinsumDense":
        return ref_einsum_dense, cfg
    if name in table:
        return table[name], cfg
    return None
