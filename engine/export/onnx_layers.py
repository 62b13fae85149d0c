"""ONNX operators of the feed-forward layers: one converter per Keras class name (``CONVERTERS``).

A converter gets the layer's context and its input values and returns its output value, in whichever layout
suits it (see ``onnx_export``).  The arguments are the engine's own resolved ones (``layer.numerics().args``),
so the ONNX graph computes what ``predict`` computes.  ``CONDITIONS`` holds the argument values refused.
"""
from __future__ import annotations

import numpy as np

from engine.export.onnx_activations import activation, activation_refused, as_float, same
from engine.export.onnx_export import LayerContext, Value, keras_order
from engine.export.onnx_spatial import SPATIAL_CONDITIONS, SPATIAL_CONVERTERS


def args(cx: LayerContext) -> dict:
    return cx.layer.numerics().args


def stored(x: Value, array: np.ndarray) -> np.ndarray:
    """A constant of ``x``'s rank written in Keras order, rearranged to ``x``'s layout."""
    return np.transpose(np.asarray(array, np.float32), x.perm)


def axis_vector(vec, rank: int, axes, sizes) -> np.ndarray:
    """``vec`` reshaped to broadcast along ``axes`` of a rank-``rank`` Keras tensor."""
    shape = [1] * rank
    for a, n in zip(axes, sizes):
        shape[a] = n
    return np.asarray(vec, np.float32).reshape(shape)


def _activation_layer(cx, xs):
    return activation(cx, xs[0], cx.config["activation"])


def _relu(cx, xs):
    x = xs[0]
    a = args(cx)
    thr = cx.b.const(f"{cx.base}/threshold", a.get("threshold", 0.0))
    zero = cx.b.const(f"{cx.base}/zero", 0.0)
    y = cx.op("Where", [cx.op("Greater", [x.name, thr]), x.name, zero])
    if a.get("max_value") is not None:
        y = cx.op("Clip", [y, zero, cx.b.const(f"{cx.base}/max_value", a["max_value"])])
    if a.get("negative_slope"):
        neg = cx.op("Min", [cx.op("Sub", [x.name, thr]), zero])
        y = cx.op("Add", [y, cx.op("Mul", [neg, cx.b.const(f"{cx.base}/negative_slope", a["negative_slope"])])])
    return same(x, y)


def _leaky_relu(cx, xs):
    return same(xs[0], cx.op("LeakyRelu", [xs[0].name], alpha=float(args(cx)["negative_slope"])))


def _elu(cx, xs):
    return same(xs[0], cx.op("Elu", [xs[0].name], alpha=float(args(cx)["alpha"])))


def _softmax(cx, xs):
    x = xs[0]
    axes = sorted({x.axis(a) for a in args(cx)["axis"]})
    if len(axes) == 1:
        return same(x, cx.op("Softmax", [x.name], axis=axes[0]))
    ax = cx.b.ints(f"{cx.base}/axes", axes)
    e = cx.op("Exp", [cx.op("Sub", [x.name, cx.op("ReduceMax", [x.name, ax], keepdims=1)])])
    return same(x, cx.op("Div", [e, cx.op("ReduceSum", [e, ax], keepdims=1)]))


def _prelu(cx, xs):
    return Value(cx.op("PRelu", [cx.b.keras(xs[0]), cx.w("alpha")]), keras_order(xs[0].rank))


# ----- core ----------------------------------------------------------------------------------------------
def _dense(cx, xs):
    x = xs[0]
    y = cx.op("MatMul", [cx.b.keras(x), cx.w("kernel")])
    if cx.has("bias"):
        y = cx.op("Add", [y, cx.w("bias")])
    return activation(cx, Value(y, keras_order(x.rank)), cx.config["activation"])


def _embedding(cx, xs):
    return Value(cx.op("Gather", [cx.w("embeddings"), cx.b.keras(xs[0])], axis=0), keras_order(xs[0].rank + 1))


def _layer_scale(cx, xs):
    x = xs[0]
    v = cx.weights["variable"]
    gamma = stored(x, axis_vector(v, x.rank, (x.rank - 1,), (v.shape[0],)))
    return same(x, cx.op("Mul", [x.name, cx.w("variable", gamma)]))


def _pass_through(cx, xs):
    return xs[0]


# ----- reshaping -----------------------------------------------------------------------------------------
def _flatten(cx, xs):
    return Value(cx.op("Flatten", [cx.b.keras(xs[0])], axis=1), (0, 1))


def _reshape(cx, xs):
    target = [0, *args(cx)["target_shape"]]
    shape = cx.b.ints(f"{cx.base}/shape", target)
    return Value(cx.op("Reshape", [cx.b.keras(xs[0]), shape]), keras_order(len(target)))


def _permute(cx, xs):
    """No node: the output is the same ONNX tensor, read through another layout."""
    x = xs[0]
    p = (0, *args(cx)["dims"])
    inverse = [p.index(i) for i in range(len(p))]
    return Value(x.name, tuple(inverse[a] for a in x.perm), x.dtype)


def _repeat_vector(cx, xs):
    y = cx.op("Unsqueeze", [cx.b.keras(xs[0]), cx.b.ints(f"{cx.base}/axis", [1])])
    return Value(cx.op("Tile", [y, cx.b.ints(f"{cx.base}/repeats", [1, args(cx)["n"], 1])]), (0, 1, 2))


# ----- merges --------------------------------------------------------------------------------------------
def _common(cx, xs: list[Value]) -> tuple[list[str], tuple[int, ...]]:
    """The inputs in one layout: their shared one, else Keras's; lower ranks get axes after the batch axis."""
    rank = max(x.rank for x in xs)
    if all(x.perm == xs[0].perm for x in xs):
        return [x.name for x in xs], xs[0].perm
    names = []
    for x in xs:
        n = cx.b.keras(x)
        if x.rank < rank:
            n = cx.op("Unsqueeze", [n, cx.b.ints(f"{cx.base}/axes", list(range(1, 1 + rank - x.rank)))])
        names.append(n)
    return names, keras_order(rank)


def _variadic(op_type):
    def convert(cx, xs):
        names, perm = _common(cx, xs)
        return Value(cx.op(op_type, names), perm)
    return convert


def _subtract(cx, xs):
    names, perm = _common(cx, xs)
    return Value(cx.op("Sub", names), perm)


def _scaled_sum(cx, xs):
    names, perm = _common(cx, xs)
    scaled = cx.op("Mul", [names[1], cx.b.const(f"{cx.base}/scale", np.asarray(args(cx)["scale"], np.float32))])
    return Value(cx.op("Add", [names[0], scaled]), perm)


def _multiply(cx, xs):
    names, perm = _common(cx, xs)
    y = names[0]
    for n in names[1:]:
        y = cx.op("Mul", [y, n])
    return Value(y, perm)


def _average(cx, xs):
    names, perm = _common(cx, xs)
    return Value(cx.op("Div", [cx.op("Sum", names), cx.b.const(f"{cx.base}/count", float(len(xs)))]), perm)


def _concatenate(cx, xs):
    ranks = {x.rank for x in xs}
    names, perm = _common(cx, xs) if len(ranks) == 1 else ([cx.b.keras(x) for x in xs], keras_order(xs[0].rank))
    axis = perm.index(args(cx)["axis"] % len(perm))
    return Value(cx.op("Concat", names, axis=axis), perm)


def _l2_normalized(cx, name: str, axis: int) -> str:
    sq = cx.op("ReduceSum", [cx.op("Mul", [name, name]), cx.b.ints(f"{cx.base}/axis", [axis])], keepdims=1)
    inv = cx.op("Reciprocal", [cx.op("Sqrt", [cx.op("Max", [sq, cx.b.const(f"{cx.base}/eps", 1e-14)])])])
    return cx.op("Mul", [name, inv])


def _dot(cx, xs):
    a, b = xs
    ax_a, ax_b = (ax % r for ax, r in zip(args(cx)["axes"], (a.rank, b.rank)))
    na, nb = cx.b.keras(a), cx.b.keras(b)
    if args(cx)["normalize"]:
        na, nb = _l2_normalized(cx, na, ax_a), _l2_normalized(cx, nb, ax_b)
    letters = iter("bcdefghijklmnopqrstuvwxyz")
    sa = ["a"] + [next(letters) for _ in range(a.rank - 1)]
    sb = ["a"] + [next(letters) for _ in range(b.rank - 1)]
    sb[ax_b] = sa[ax_a] = "z"
    out = [c for i, c in enumerate(sa) if i != ax_a] + [c for i, c in enumerate(sb[1:], 1) if i != ax_b]
    y = cx.op("Einsum", [na, nb], equation=f"{''.join(sa)},{''.join(sb)}->{''.join(out)}")
    if len(out) == 1:
        y = cx.op("Unsqueeze", [y, cx.b.ints(f"{cx.base}/axis", [1])])
    return Value(y, keras_order(max(len(out), 2)))


# ----- normalization -------------------------------------------------------------------------------------
def _batch_normalization(cx, xs):
    """Inference form: ``(x - moving_mean) * gamma / sqrt(moving_variance + epsilon) + beta`` in any layout."""
    x = xs[0]
    a = args(cx)
    ax = a["axis"] % x.rank
    c = cx.in_shapes[0][ax]
    vec = lambda v: stored(x, axis_vector(v, x.rank, (ax,), (c,)))  # noqa: E731
    inv = 1.0 / np.sqrt(np.asarray(cx.weights["moving_variance"], np.float32) + np.float32(a["epsilon"]))
    if cx.has("gamma"):
        inv = inv * cx.weights["gamma"]
    y = cx.op("Sub", [x.name, cx.w("moving_mean", vec(cx.weights["moving_mean"]))])
    y = cx.op("Mul", [y, cx.w("gamma_over_std", vec(inv))])
    if cx.has("beta"):
        y = cx.op("Add", [y, cx.w("beta", vec(cx.weights["beta"]))])
    return same(x, y)


def _moments(cx, x: str, axes: str) -> tuple[str, str]:
    """``(x - mean, variance)`` over ``axes`` (kept)."""
    centred = cx.op("Sub", [x, cx.op("ReduceMean", [x, axes], keepdims=1)])
    return centred, cx.op("ReduceMean", [cx.op("Mul", [centred, centred]), axes], keepdims=1)


def _inverse_std(cx, var: str, epsilon: float) -> str:
    return cx.op("Reciprocal", [cx.op("Sqrt", [cx.op("Add", [var, cx.b.const(f"{cx.base}/epsilon", epsilon)])])])


def _scale_shift(cx, x: Value, y: str, keras_axes, names=("gamma", "beta")) -> str:
    sizes = [cx.in_shapes[0][a] for a in keras_axes]
    for name, op in zip(names, ("Mul", "Add")):
        if cx.has(name):
            y = cx.op(op, [y, cx.w(name, stored(x, axis_vector(cx.weights[name], x.rank, keras_axes, sizes)))])
    return y


def _layer_normalization(cx, xs):
    x = xs[0]
    a = args(cx)
    keras_axes = sorted(ax % x.rank for ax in a["axis"])
    axes = cx.b.ints(f"{cx.base}/axes", sorted(x.axis(ax) for ax in keras_axes))
    centred, var = _moments(cx, x.name, axes)
    y = cx.op("Mul", [x.name if a["rms_scaling"] else centred, _inverse_std(cx, var, a["epsilon"])])
    return same(x, _scale_shift(cx, x, y, keras_axes))


def _group_normalization(cx, xs):
    x = xs[0]
    a = args(cx)
    shape = cx.in_shapes[0]
    ax = a["axis"] % x.rank
    c = shape[ax]
    groups = c if a["groups"] == -1 else a["groups"]
    kx = cx.b.keras(x)
    split = [0 if i < ax else (-1 if d is None else d) for i, d in enumerate(shape)]
    split[ax:ax + 1] = [groups, c // groups]
    grouped = cx.op("Reshape", [kx, cx.b.ints(f"{cx.base}/groups_shape", split)])
    axes = cx.b.ints(f"{cx.base}/axes", [i for i in range(1, len(split)) if i != ax])
    centred, var = _moments(cx, grouped, axes)
    y = cx.op("Mul", [centred, _inverse_std(cx, var, a["epsilon"])])
    y = cx.op("Reshape", [y, cx.op("Shape", [kx])])
    k = Value(kx, keras_order(x.rank))
    return Value(_scale_shift(cx, k, y, (ax,)), k.perm)


def _unit_normalization(cx, xs):
    x = xs[0]
    axes = cx.b.ints(f"{cx.base}/axes", sorted(x.axis(a) for a in args(cx)["axis"]))
    sq = cx.op("ReduceSum", [cx.op("Mul", [x.name, x.name]), axes], keepdims=1)
    inv = cx.op("Reciprocal", [cx.op("Sqrt", [cx.op("Max", [sq, cx.b.const(f"{cx.base}/eps", 1e-24)])])])
    return same(x, cx.op("Mul", [x.name, inv]))


def _rms_normalization(cx, xs):
    x = xs[0]
    a = args(cx)
    keras_axes = sorted(ax % x.rank for ax in a["axis"])
    axes = cx.b.ints(f"{cx.base}/axes", sorted(x.axis(ax) for ax in keras_axes))
    ms = cx.op("ReduceMean", [cx.op("Mul", [x.name, x.name]), axes], keepdims=1)
    y = cx.op("Mul", [x.name, _inverse_std(cx, ms, a["epsilon"])])
    return same(x, _scale_shift(cx, x, y, keras_axes, ("scale",)))


# ----- preprocessing -------------------------------------------------------------------------------------
def _channel_const(cx, x: Value, name: str, value) -> str:
    v = np.asarray(value, np.float32)
    if v.ndim:
        v = stored(x, axis_vector(v, x.rank, (x.rank - 1,), (v.size,)))
    return cx.b.const(f"{cx.base}/{name}", v)


def _masking(cx, xs):
    """Keras's Masking values: steps whose features all equal mask_value become zeros.  The mask itself is
    not exported: ``onnx_export.refused_layers`` refuses any layer that would read it."""
    x = as_float(cx, xs[0])
    value = cx.b.const(f"{cx.base}/mask_value", np.float32(args(cx)["mask_value"]))
    differs = cx.op("Cast", [cx.op("Not", [cx.op("Equal", [x.name, value])])], to=1)
    keep = cx.op("ReduceMax", [differs, cx.b.ints(f"{cx.base}/axes", [x.axis(-1)])], keepdims=1)
    return same(x, cx.op("Mul", [x.name, keep]))


def _rescaling(cx, xs):
    x = as_float(cx, xs[0])
    a = args(cx)
    y = cx.op("Mul", [x.name, _channel_const(cx, x, "scale", a["scale"])])
    return same(x, cx.op("Add", [y, _channel_const(cx, x, "offset", a["offset"])]))


def _normalization(cx, xs):
    from engine.numerics.preprocessing import normalization_stats_shape

    x = as_float(cx, xs[0])
    a = args(cx)
    mean = np.asarray(a["mean"] if "mean" in a else cx.weights["mean"], np.float32)
    var = np.asarray(a["variance"] if "variance" in a else cx.weights["variance"], np.float32)
    shape = normalization_stats_shape(x.rank, a["axis"], cx.in_shapes[0])
    if mean.size > 1:
        mean, var = stored(x, mean.reshape(shape)), stored(x, var.reshape(shape))
    std = np.maximum(np.sqrt(var), np.float32(1e-7))
    m, s = cx.b.const(f"{cx.base}/mean", mean), cx.b.const(f"{cx.base}/std", std)
    if a["invert"]:
        return same(x, cx.op("Add", [m, cx.op("Mul", [x.name, s])]))
    return same(x, cx.op("Div", [cx.op("Sub", [x.name, m]), s]))


def _discretization(cx, xs):
    x = as_float(cx, xs[0])
    bins = np.asarray(args(cx)["bin_boundaries"], np.float32)
    up = cx.op("Unsqueeze", [cx.b.keras(x), cx.b.ints(f"{cx.base}/last", [-1])])
    above = cx.op("Cast", [cx.op("GreaterOrEqual", [up, cx.b.const(f"{cx.base}/bin_boundaries", bins)])], to=7)
    ids = cx.op("ReduceSum", [above, cx.b.ints(f"{cx.base}/last_axis", [-1])], keepdims=0)
    value = Value(ids, keras_order(x.rank), "int64")
    mode = args(cx)["output_mode"]
    return value if mode == "int" else _encode(cx, value, len(bins) + 1, mode, cx.in_shapes[0])


def _encode(cx, ids: Value, n: int, mode: str, shape: tuple) -> Value:
    """One-hot, multi-hot or count vectors of integer ids on the last axis (as the engine's encoding)."""
    y = cx.b.keras(ids)
    if ids.dtype != "int64":
        y = cx.op("Cast", [y], to=7)
    squeeze = mode == "one_hot" and shape[-1] == 1
    if squeeze:
        y = cx.op("Squeeze", [y, cx.b.ints(f"{cx.base}/last", [-1])])
    y = cx.op("Unsqueeze", [y, cx.b.ints(f"{cx.base}/new_axis", [-1])])
    hot = cx.op("Cast", [cx.op("Equal", [y, cx.b.ints(f"{cx.base}/tokens", np.arange(n))])], to=1)
    if mode == "one_hot":
        return Value(hot, keras_order(ids.rank + (0 if squeeze else 1)))
    reduce = "ReduceMax" if mode == "multi_hot" else "ReduceSum"
    return Value(cx.op(reduce, [hot, cx.b.ints(f"{cx.base}/ids_axis", [-2])], keepdims=0), keras_order(ids.rank))


def _category_encoding(cx, xs):
    a = args(cx)
    return _encode(cx, xs[0], a["num_tokens"], a["output_mode"], cx.in_shapes[0])


CONVERTERS = {
    "Activation": _activation_layer, "ReLU": _relu, "LeakyReLU": _leaky_relu, "ELU": _elu, "Softmax": _softmax,
    "PReLU": _prelu,
    "Dense": _dense, "Embedding": _embedding, "LayerScale": _layer_scale,
    "Flatten": _flatten, "Reshape": _reshape, "Permute": _permute, "RepeatVector": _repeat_vector,
    "Add": _variadic("Sum"), "Maximum": _variadic("Max"), "Minimum": _variadic("Min"), "Subtract": _subtract,
    "CustomScaleLayer": _scaled_sum, "Multiply": _multiply, "Average": _average, "Concatenate": _concatenate,
    "Dot": _dot,
    "BatchNormalization": _batch_normalization, "LayerNormalization": _layer_normalization,
    "GroupNormalization": _group_normalization, "UnitNormalization": _unit_normalization,
    "RMSNormalization": _rms_normalization,
    "Masking": _masking, "Rescaling": _rescaling, "Normalization": _normalization, "Discretization": _discretization,
    "CategoryEncoding": _category_encoding,
    **{name: _pass_through for name in (
        "Identity", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
        "GaussianDropout", "AlphaDropout", "ActivityRegularization", "RandomFlip", "RandomRotation", "RandomZoom",
        "RandomTranslation", "RandomContrast", "RandomBrightness")},
    **SPATIAL_CONVERTERS,
}


CONDITIONS = {"Activation": activation_refused, "Dense": activation_refused, **SPATIAL_CONDITIONS}
