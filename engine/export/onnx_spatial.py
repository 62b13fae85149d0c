"""ONNX operators of the spatial layers: convolutions, pooling, padding, cropping, upsampling, image resizing.

ONNX's Conv, ConvTranspose, pooling and Resize take (batch, channels, spatial...) tensors: a channels-last
layer asks for its input channels-first and leaves its output so; a channels-first layer (``data_format``)
already has that order.  Padding is written explicitly from the engine's own rules (``conv_layout``,
``conv_transpose_axis``), so 'same' splits the extra pixel exactly as the engine and Keras do.
"""
from __future__ import annotations

import numpy as np

from engine.export.onnx_export import LayerContext, Value, channels_first, keras_order
from engine.numerics.augmentation import central_window
from engine.errors import GraphError
from engine.export.onnx_activations import activation, activation_refused, as_float
from engine.numerics.conv import conv_layout, conv_transpose_axis, conv_tuple
from engine.numerics.pooling import adaptive_windows


def _args(cx: LayerContext) -> dict:
    return cx.layer.numerics().args


def _is_first(cx: LayerContext) -> bool:
    return _args(cx).get("data_format", cx.config.get("data_format")) == "channels_first"


def _spatial_layout(cx: LayerContext, rank: int) -> tuple[int, ...]:
    """The layout ONNX's spatial operators read the layer's Keras tensor in."""
    return keras_order(rank) if _is_first(cx) else channels_first(rank)


def _spatial_shape(cx: LayerContext, shape: tuple) -> tuple:
    return tuple(shape[2:]) if _is_first(cx) else tuple(shape[1:-1])


def _spatial_input(cx: LayerContext, x: Value) -> tuple[str, tuple[int, ...]]:
    perm = _spatial_layout(cx, x.rank)
    return cx.b.layout(x, perm), perm


def _flat_pads(pads) -> list[int]:
    return [b for b, _ in pads] + [a for _, a in pads]


def _oihw(kernel: np.ndarray, rank: int) -> np.ndarray:
    """Keras ``(*kernel, in, out)`` as ONNX ``(out, in, *kernel)``."""
    return np.ascontiguousarray(np.transpose(kernel, (rank + 1, rank, *range(rank))))


def _conv_attrs(cx: LayerContext, x: Value, kernel_size: tuple) -> dict:
    rank = x.rank - 2
    a = _args(cx)
    s, d = conv_tuple(a.get("strides", 1), rank), conv_tuple(a.get("dilation_rate", 1), rank)
    pads, _ = conv_layout(_spatial_shape(cx, cx.in_shapes[0]), kernel_size, s, d, a.get("padding", "valid"))
    return {"kernel_shape": list(kernel_size), "strides": list(s), "dilations": list(d), "pads": _flat_pads(pads)}


def _finish(cx: LayerContext, y: str, perm) -> Value:
    return activation(cx, Value(y, perm), cx.config.get("activation"))


def _conv(cx, xs):
    x = xs[0]
    rank = x.rank - 2
    kernel = cx.weights["kernel"]
    name, perm = _spatial_input(cx, x)
    inputs = [name, cx.w("kernel", _oihw(kernel, rank))] + ([cx.w("bias")] if cx.has("bias") else [])
    groups = cx.config.get("groups", 1)
    y = cx.op("Conv", inputs, group=groups, **_conv_attrs(cx, x, kernel.shape[:rank]))
    return _finish(cx, y, perm)


def _depthwise(cx, xs):
    x = xs[0]
    rank = x.rank - 2
    kernel = cx.weights["kernel"]  # (*k, cin, multiplier): output channel c * multiplier + m, as ONNX's groups
    cin = kernel.shape[rank]
    flat = kernel.reshape(*kernel.shape[:rank], 1, -1)
    name, perm = _spatial_input(cx, x)
    inputs = [name, cx.w("kernel", _oihw(flat, rank))] + ([cx.w("bias")] if cx.has("bias") else [])
    y = cx.op("Conv", inputs, group=cin, **_conv_attrs(cx, x, kernel.shape[:rank]))
    return _finish(cx, y, perm)


def _separable(cx, xs):
    x = xs[0]
    rank = x.rank - 2
    dk = cx.weights["depthwise_kernel"]
    name, perm = _spatial_input(cx, x)
    flat = dk.reshape(*dk.shape[:rank], 1, -1)
    y = cx.op("Conv", [name, cx.w("depthwise_kernel", _oihw(flat, rank))], group=dk.shape[rank],
              **_conv_attrs(cx, x, dk.shape[:rank]))
    pk = cx.weights["pointwise_kernel"]
    inputs = [y, cx.w("pointwise_kernel", _oihw(pk, rank))] + ([cx.w("bias")] if cx.has("bias") else [])
    y = cx.op("Conv", inputs, kernel_shape=[1] * rank)
    return _finish(cx, y, perm)


def _conv_transpose(cx, xs):
    """ONNX ConvTranspose: the same scatter; the engine's window into it becomes pads (and output padding)."""
    x = xs[0]
    rank = x.rank - 2
    a = _args(cx)
    kernel = cx.weights["kernel"]  # (*k, filters, cin): ONNX wants (cin, filters, *k)
    s, d = conv_tuple(a.get("strides", 1), rank), conv_tuple(a.get("dilation_rate", 1), rank)
    ops = conv_tuple(a["output_padding"], rank) if a.get("output_padding") is not None else (None,) * rank
    begin, end, extra = [], [], []
    for n, k, si, di, op in zip(_spatial_shape(cx, cx.in_shapes[0]), kernel.shape[:rank], s, d, ops):
        crop, out, _ = conv_transpose_axis(n, k, si, di, a.get("padding", "valid"), op)
        scatter = (n - 1) * si + (k - 1) * di + 1
        after = scatter - crop - out
        begin.append(crop)
        end.append(max(after, 0))
        extra.append(max(-after, 0))
    name, perm = _spatial_input(cx, x)
    inputs = [name, cx.w("kernel", _oihw(kernel, rank))] + ([cx.w("bias")] if cx.has("bias") else [])
    y = cx.op("ConvTranspose", inputs, kernel_shape=list(kernel.shape[:rank]), strides=list(s), dilations=list(d),
              pads=begin + end, output_padding=extra)
    return _finish(cx, y, perm)


def _pool(op_type):
    def convert(cx, xs):
        x = xs[0]
        rank = x.rank - 2
        a = _args(cx)
        pool = conv_tuple(a["pool_size"], rank)
        s = pool if a.get("strides") is None else conv_tuple(a["strides"], rank)
        pads, _ = conv_layout(_spatial_shape(cx, cx.in_shapes[0]), pool, s, (1,) * rank, a.get("padding", "valid"))
        name, perm = _spatial_input(cx, x)
        extra = {"count_include_pad": 0} if op_type == "AveragePool" else {}
        y = cx.op(op_type, [name], kernel_shape=list(pool), strides=list(s), pads=_flat_pads(pads), **extra)
        return Value(y, perm)
    return convert


def _without(perm: tuple[int, ...], dropped) -> tuple[int, ...]:
    """The layout of a tensor whose Keras axes ``dropped`` were reduced away."""
    kept = [p for p in perm if p not in dropped]
    return tuple(sorted(kept).index(p) for p in kept)


def _global_pool(op_type):
    def convert(cx, xs):
        x = xs[0]
        spatial = range(2, x.rank) if _is_first(cx) else range(1, x.rank - 1)
        keep = bool(_args(cx).get("keepdims"))
        axes = cx.b.ints(f"{cx.base}/axes", sorted(x.axis(a) for a in spatial))
        y = cx.op(op_type, [x.name, axes], keepdims=int(keep))
        return Value(y, x.perm if keep else _without(x.perm, set(spatial)))
    return convert


def _adaptive_pool(op_type):
    """Each output position reduces its own window (``adaptive_windows``): one Slice and one reduction per
    position, concatenated, one spatial axis after the other as the engine does."""
    def convert(cx, xs):
        x = xs[0]
        spatial = range(2, x.rank) if _is_first(cx) else range(1, x.rank - 1)
        sizes = conv_tuple(_args(cx)["output_size"], x.rank - 2)
        y = x.name
        for k, out in zip(spatial, sizes):
            n = cx.in_shapes[0][k]
            if n is None:
                raise GraphError(f"{cx.layer.owner}: ONNX export needs a known input size along axis {k}; "
                                 "give the Input a full shape.")
            ax = x.axis(k)
            axis = cx.b.ints(f"{cx.base}/axis", [ax])
            parts = [cx.op(op_type, [cx.op("Slice", [y, cx.b.ints(f"{cx.base}/start", [s]),
                                                     cx.b.ints(f"{cx.base}/end", [e]), axis]), axis], keepdims=1)
                     for s, e in adaptive_windows(n, out)]
            y = cx.op("Concat", parts, axis=ax) if len(parts) > 1 else parts[0]
        return Value(y, x.perm)
    return convert


def _edges(cx: LayerContext, x: Value) -> tuple[list[int], list[tuple[int, int]]]:
    """Keras's spatial axes of the layer and their (before, after) counts."""
    a = _args(cx)
    pairs = a.get("padding", a.get("cropping"))
    spatial = list(range(2, x.rank)) if _is_first(cx) else list(range(1, x.rank - 1))
    return spatial, [tuple(p) for p in pairs]


def _zero_padding(cx, xs):
    x = xs[0]
    spatial, pairs = _edges(cx, x)
    begin, end = [0] * x.rank, [0] * x.rank
    for k, (b, a) in zip(spatial, pairs):
        begin[x.axis(k)], end[x.axis(k)] = b, a
    return Value(cx.op("Pad", [x.name, cx.b.ints(f"{cx.base}/pads", begin + end)], mode="constant"), x.perm)


def _slice(cx: LayerContext, x: Value, windows: dict[int, tuple[int, int]]) -> str:
    """``x`` cut to ``[start, stop)`` along Keras axes (any layout)."""
    axes = list(windows)
    starts = cx.b.ints(f"{cx.base}/starts", [windows[a][0] for a in axes])
    stops = cx.b.ints(f"{cx.base}/ends", [windows[a][1] for a in axes])
    return cx.op("Slice", [x.name, starts, stops, cx.b.ints(f"{cx.base}/axes", [x.axis(a) for a in axes])])


def _cropping(cx, xs):
    x = xs[0]
    spatial, pairs = _edges(cx, x)
    shape = cx.in_shapes[0]
    return Value(_slice(cx, x, {k: (b, shape[k] - a) for k, (b, a) in zip(spatial, pairs)}), x.perm)


def _resize(cx: LayerContext, name: str, axes: list[int], sizes=None, scales=None, mode: str = "nearest",
            transform: str = "half_pixel", nearest: str = "round_prefer_floor") -> str:
    """ONNX Resize of the trailing ``axes`` of a channels-first tensor, to ``sizes`` or by ``scales``."""
    inputs = [name, ""]
    if sizes is not None:  # (batch, channels) of the input, then the target sizes
        lead = cx.op("Slice", [cx.op("Shape", [name]), cx.b.ints(f"{cx.base}/zero", [0]),
                               cx.b.ints(f"{cx.base}/two", [2])])
        inputs += ["", cx.op("Concat", [lead, cx.b.ints(f"{cx.base}/sizes", sizes)], axis=0)]
    else:
        inputs += [cx.b.const(f"{cx.base}/scales", np.asarray([1, 1, *scales], np.float32))]
    return cx.op("Resize", inputs, mode=mode, coordinate_transformation_mode=transform, nearest_mode=nearest)


def _up_sampling(cx, xs):
    x = xs[0]
    rank = x.rank - 2
    a = _args(cx)
    size = conv_tuple(a["size"], rank)
    name, perm = _spatial_input(cx, x)
    if a.get("interpolation", "nearest") == "nearest":
        y = _resize(cx, name, list(range(2, x.rank)), scales=size, transform="asymmetric", nearest="floor")
    else:
        y = _resize(cx, name, list(range(2, x.rank)), scales=size, mode="linear")
    return Value(y, perm)


def _center_crop(cx, xs):
    x = as_float(cx, xs[0])
    a = _args(cx)
    h, w = cx.in_shapes[0][1:3]
    top, left = (h - a["height"]) // 2, (w - a["width"]) // 2
    return Value(_slice(cx, x, {1: (top, top + a["height"]), 2: (left, left + a["width"])}), x.perm)


def _resizing(cx, xs):
    x = as_float(cx, xs[0])
    a = _args(cx)
    name = cx.b.layout(x, channels_first(4))
    mode = "nearest" if a.get("interpolation", "bilinear") == "nearest" else "linear"
    y = _resize(cx, name, [2, 3], sizes=[a["height"], a["width"]], mode=mode, nearest="round_prefer_ceil")
    return Value(y, channels_first(4))


def _random_crop(cx, xs):
    """At inference: the largest central window of the target's aspect ratio, resized (bilinear) to it."""
    x = as_float(cx, xs[0])
    a = _args(cx)
    first = _is_first(cx)
    hw_axes = (2, 3) if first else (1, 2)
    in_h, in_w = (cx.in_shapes[0][i] for i in hw_axes)
    top, left, rows, cols = central_window(in_h, in_w, a["height"], a["width"])
    y = Value(_slice(cx, x, {hw_axes[0]: (top, top + rows), hw_axes[1]: (left, left + cols)}), x.perm)
    if (rows, cols) == (a["height"], a["width"]):
        return y
    perm = keras_order(4) if first else channels_first(4)
    r = _resize(cx, cx.b.layout(y, perm), [2, 3], sizes=[a["height"], a["width"]], mode="linear")
    return Value(r, perm)


SPATIAL_CONVERTERS = {
    **{f"Conv{r}D": _conv for r in (1, 2, 3)},
    **{f"Conv{r}DTranspose": _conv_transpose for r in (1, 2, 3)},
    **{f"DepthwiseConv{r}D": _depthwise for r in (1, 2)},
    **{f"SeparableConv{r}D": _separable for r in (1, 2)},
    **{f"MaxPooling{r}D": _pool("MaxPool") for r in (1, 2, 3)},
    **{f"AveragePooling{r}D": _pool("AveragePool") for r in (1, 2, 3)},
    **{f"GlobalMaxPooling{r}D": _global_pool("ReduceMax") for r in (1, 2, 3)},
    **{f"GlobalAveragePooling{r}D": _global_pool("ReduceMean") for r in (1, 2, 3)},
    **{f"AdaptiveMaxPooling{r}D": _adaptive_pool("ReduceMax") for r in (1, 2, 3)},
    **{f"AdaptiveAveragePooling{r}D": _adaptive_pool("ReduceMean") for r in (1, 2, 3)},
    **{f"ZeroPadding{r}D": _zero_padding for r in (1, 2, 3)},
    **{f"Cropping{r}D": _cropping for r in (1, 2, 3)},
    **{f"UpSampling{r}D": _up_sampling for r in (1, 2, 3)},
    "CenterCrop": _center_crop, "Resizing": _resizing, "RandomCrop": _random_crop,
}


SPATIAL_CONDITIONS = {
    **{name: activation_refused for name in SPATIAL_CONVERTERS
       if name.startswith(("Conv", "Depthwise", "Separable"))},
}
