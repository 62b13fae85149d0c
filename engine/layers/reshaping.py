"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, Identity, UpSampling2D, ZeroPadding2D, Cropping2D
(``keras/src/layers/reshaping``).  None has weights; each backward is the inverse re-arrangement.
"""
from __future__ import annotations

import math

import numpy as np

from engine.errors import ConfigError
from engine.layers.base import Field, Layer, Numerics, register_layer
from engine.numerics import reshaping as num
from engine.shapes import Shape, fmt_shape

DATA_FORMAT = Field("data_format", "choice", "channels_last",
                    "Axis order; the engine supports channels_last (batch, ..., channels) only.",
                    choices=("channels_last",))
IMAGE_INPUT = "a 4-D input (batch, height, width, channels)"


def _fmt_dims(dims) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def _expect_image(layer: Layer, shape: Shape) -> None:
    if len(shape) != 4:
        raise layer.shape_error(f"expects {IMAGE_INPUT} but gets {fmt_shape(shape)}; "
                                "remove it or add a Reshape before it.")


@register_layer
class Flatten(Layer):
    """Flattens every non-batch axis into one: ``(batch, h, w, c)`` becomes ``(batch, h*w*c)``.

    Input shape: ``(batch, ...)``.  Output shape: ``(batch, product of the other dims)``.
    """

    class_name = "Flatten"
    family = "reshaping"
    fields = (DATA_FORMAT,)

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        rest = shape[1:]
        return (shape[0], None if None in rest else math.prod(rest))

    def numerics(self) -> Numerics:
        return Numerics(num.flatten_forward, num.flatten_backward)


@register_layer
class Reshape(Layer):
    """Reshapes each sample to ``target_shape``; one dimension may be -1 and is inferred.

    Args:
        target_shape: the new shape of one sample, batch dimension excluded, e.g. ``(4, 4, 8)``.

    Input shape: ``(batch, ...)``.  Output shape: ``(batch, *target_shape)``.
    """

    class_name = "Reshape"
    family = "reshaping"
    fields = (Field("target_shape", "shape", doc="New shape of one sample (batch excluded); one -1 is inferred.",
                    allow_unknown=True),)

    def check_config(self) -> None:
        target = self.config["target_shape"]
        if None in target:
            raise ConfigError(f"{self.owner}: argument 'target_shape' must hold integers (use -1 for one "
                              f"inferred dimension), got {target!r}.", "target_shape")
        if target.count(-1) > 1:
            raise ConfigError(f"{self.owner}: argument 'target_shape' may contain -1 only once, got "
                              f"{_fmt_dims(target)}; give the other dimensions explicitly.", "target_shape")

    def summary_args(self) -> str:
        return "→ " + _fmt_dims(self.config["target_shape"])

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        target = self.config["target_shape"]
        rest = shape[1:]
        if None in rest:
            return (shape[0], *(None if d == -1 else d for d in target))
        size = math.prod(rest)
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if size % known:
                raise self.shape_error(
                    f"cannot reshape {fmt_shape(shape)} ({size} values per sample) into {_fmt_dims(target)}: "
                    f"{size} is not a multiple of {known}; change target_shape.")
            return (shape[0], *(size // known if d == -1 else d for d in target))
        if size != known:
            raise self.shape_error(
                f"cannot reshape {fmt_shape(shape)} ({size} values per sample) into {_fmt_dims(target)} "
                f"({known} values); make the target dimensions multiply to {size} or use -1 for one of them.")
        return (shape[0], *target)

    def numerics(self) -> Numerics:
        return Numerics(num.reshape_forward, num.reshape_backward, args=self.config_args("target_shape"))


@register_layer
class Permute(Layer):
    """Permutes the non-batch axes: ``dims=(2, 1)`` swaps the first and second axis of each sample.

    Args:
        dims: a permutation of ``1..rank`` (1-based; the batch axis never moves).

    Input shape: ``(batch, d1, ..., dn)``.  Output shape: the dims reordered by ``dims``.
    """

    class_name = "Permute"
    family = "reshaping"
    fields = (Field("dims", "ints", doc="Permutation of the non-batch axes, 1-based, e.g. (2, 1)."),)

    def check_config(self) -> None:
        dims = self.config["dims"]
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(f"{self.owner}: argument 'dims' must be a permutation of 1..{len(dims)} "
                              f"(axis 0 is the batch), got {_fmt_dims(dims)}.", "dims")

    def summary_args(self) -> str:
        return _fmt_dims(self.config["dims"])

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        dims = self.config["dims"]
        if len(shape) != len(dims) + 1:
            raise self.shape_error(
                f"has dims {_fmt_dims(dims)} for {len(dims)} non-batch axes but gets {fmt_shape(shape)} with "
                f"{len(shape) - 1}; give dims one entry per non-batch axis.")
        return (shape[0], *(shape[d] for d in dims))

    def numerics(self) -> Numerics:
        return Numerics(num.permute_forward, num.permute_backward, args=self.config_args("dims"))


@register_layer
class RepeatVector(Layer):
    """Repeats each input vector ``n`` times: ``(batch, features)`` becomes ``(batch, n, features)``.

    Args:
        n: number of repetitions.
    """

    class_name = "RepeatVector"
    family = "reshaping"
    fields = (Field("n", "int", doc="Number of repetitions.", min=1),)

    def summary_args(self) -> str:
        return f"×{self.config['n']}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        if len(shape) != 2:
            raise self.shape_error(f"expects a 2-D input (batch, features) but gets {fmt_shape(shape)}; "
                                   "add a Flatten before it.")
        return (shape[0], self.config["n"], shape[1])

    def numerics(self) -> Numerics:
        return Numerics(num.repeat_vector_forward, num.repeat_vector_backward, args=self.config_args("n"))


@register_layer
class Identity(Layer):
    """Passes its input through unchanged (a placeholder, or a named tap point in a graph).

    Input shape: any.  Output shape: same as the input.
    """

    class_name = "Identity"
    family = "reshaping"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def numerics(self) -> Numerics:
        return Numerics(num.identity_forward, num.identity_backward)


def _linear_resize_matrix(n: int, factor: int, dtype) -> np.ndarray:
    """``(n*factor, n)`` linear interpolation with half-pixel centres and edge clamping (jax.image.resize)."""
    pos = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    m = np.zeros((n * factor, n))
    rows = np.arange(n * factor)
    np.add.at(m, (rows, lo), 1 - frac)
    np.add.at(m, (rows, hi), frac)
    return m.astype(dtype)


@register_layer
class UpSampling2D(Layer):
    """Upsamples images by repeating (nearest) or interpolating (bilinear) rows and columns.

    Args:
        size: integer factors (rows, columns).
        interpolation: 'nearest' or 'bilinear'.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, height * size[0], width * size[1], channels)``.
    """

    class_name = "UpSampling2D"
    family = "reshaping"
    fields = (
        Field("size", "ints", (2, 2), "Upsampling factors (rows, columns).", length=2, min=1),
        DATA_FORMAT,
        Field("interpolation", "choice", "nearest", "How new pixels are filled.", choices=("nearest", "bilinear")),
    )

    def summary_args(self) -> str:
        text = "×".join(map(str, self.config["size"]))
        return text + (", bilinear" if self.config["interpolation"] == "bilinear" else "")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        _expect_image(self, shape)
        (b, h, w, c), (fh, fw) = shape, self.config["size"]
        return (b, None if h is None else h * fh, None if w is None else w * fw, c)

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        b, h, w, c = x.shape
        fh, fw = self.config["size"]
        if self.config["interpolation"] == "nearest":
            big = np.broadcast_to(x[:, :, None, :, None, :], (b, h, fh, w, fw, c))
            return big.reshape(b, h * fh, w * fw, c), x.shape
        mh, mw = _linear_resize_matrix(h, fh, x.dtype), _linear_resize_matrix(w, fw, x.dtype)
        rows = (mh @ x.reshape(b, h, w * c)).reshape(b * h * fh, w, c)
        return (mw @ rows).reshape(b, h * fh, w * fw, c), (x.shape, mh, mw)

    def backward(self, grad_out, cache, weights):
        fh, fw = self.config["size"]
        if self.config["interpolation"] == "nearest":
            b, h, w, c = cache
            return [grad_out.reshape(b, h, fh, w, fw, c).sum(axis=(2, 4))], {}
        (b, h, w, c), mh, mw = cache
        g_rows = mw.T @ grad_out.reshape(b * h * fh, w * fw, c)
        return [(mh.T @ g_rows.reshape(b, h * fh, w * c)).reshape(b, h, w, c)], {}


def _pairs(layer: Layer, arg: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras's three spellings (int, (sym_h, sym_w), ((top, bottom), (left, right))) as the last one."""
    value = layer.config[arg]

    def as_int(v) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ConfigError(f"{layer.owner}: argument '{arg}' must hold non-negative integers, got {value!r}.",
                              arg)
        return int(v)

    def pair(v) -> tuple[int, int]:
        if isinstance(v, (list, tuple)):
            if len(v) != 2:
                raise ConfigError(f"{layer.owner}: each entry of '{arg}' must be an int or a pair, got {value!r}.",
                                  arg)
            return as_int(v[0]), as_int(v[1])
        return as_int(v), as_int(v)

    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{layer.owner}: argument '{arg}' must be an int, (height, width) or "
                              f"((top, bottom), (left, right)), got {value!r}.", arg)
        return pair(value[0]), pair(value[1])
    n = as_int(value)
    return (n, n), (n, n)


def _fmt_pairs(p) -> str:
    flat = {v for pair in p for v in pair}
    return str(flat.pop()) if len(flat) == 1 else f"(({p[0][0]}, {p[0][1]}), ({p[1][0]}, {p[1][1]}))"


@register_layer
class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around each image.

    Args:
        padding: int (all sides), (rows, cols) symmetric, or ((top, bottom), (left, right)).

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, top + height + bottom, left + width + right, channels)``.
    """

    class_name = "ZeroPadding2D"
    family = "reshaping"
    fields = (
        Field("padding", "json", ((1, 1), (1, 1)),
              "int, (rows, cols) or ((top, bottom), (left, right)) of zeros to add."),
        DATA_FORMAT,
    )

    def check_config(self) -> None:
        self.config["padding"] = _pairs(self, "padding")

    def summary_args(self) -> str:
        return "pad " + _fmt_pairs(self.config["padding"])

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        _expect_image(self, shape)
        (top, bottom), (left, right) = self.config["padding"]
        b, h, w, c = shape
        return (b, None if h is None else h + top + bottom, None if w is None else w + left + right, c)

    def forward(self, inputs, weights, *, training=False, rng=None):
        return np.pad(inputs[0], ((0, 0), *self.config["padding"], (0, 0))), None

    def backward(self, grad_out, cache, weights):
        (top, bottom), (left, right) = self.config["padding"]
        _, h, w, _ = grad_out.shape
        return [grad_out[:, top:h - bottom, left:w - right]], {}


@register_layer
class Cropping2D(Layer):
    """Removes rows and columns from the edges of each image.

    Args:
        cropping: int (all sides), (rows, cols) symmetric, or ((top, bottom), (left, right)).

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, height - top - bottom, width - left - right, channels)``.
    """

    class_name = "Cropping2D"
    family = "reshaping"
    fields = (
        Field("cropping", "json", ((0, 0), (0, 0)),
              "int, (rows, cols) or ((top, bottom), (left, right)) to remove."),
        DATA_FORMAT,
    )

    def check_config(self) -> None:
        self.config["cropping"] = _pairs(self, "cropping")

    def summary_args(self) -> str:
        return "crop " + _fmt_pairs(self.config["cropping"])

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        _expect_image(self, shape)
        b, h, w, c = shape
        out = [b]
        for n, (before, after), axis in zip((h, w), self.config["cropping"], ("height", "width")):
            if n is not None and before + after >= n:
                raise self.shape_error(
                    f"crops {before} + {after} from a {axis} of {n} (input {fmt_shape(shape)}), which leaves "
                    f"nothing; crop less than {n} in total along {axis}.")
            out.append(None if n is None else n - before - after)
        return (*out, c)

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        (top, bottom), (left, right) = self.config["cropping"]
        _, h, w, _ = x.shape
        return x[:, top:h - bottom, left:w - right], x.shape

    def backward(self, grad_out, cache, weights):
        (top, bottom), (left, right) = self.config["cropping"]
        return [np.pad(grad_out, ((0, 0), (top, bottom), (left, right), (0, 0)))], {}
