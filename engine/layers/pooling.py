"""Pooling layers: Max/Average pooling in 1-D and 2-D, global pooling (``keras/src/layers/pooling``).

``BasePooling`` holds the arguments, the shape rule and the calls into ``engine.kernels.pool`` once;
the four windowed layers only state their rank and mode.  1-D pooling runs the 2-D kernel with a
height-1 axis.  ``BaseGlobalPooling`` does the same for the global layers.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from engine.kernels import pool as kp
from engine.layers.base import Field, Layer, register_layer
from engine.shapes import Shape, conv_output_length, fmt_shape

DATA_FORMAT = Field("data_format", "choice", "channels_last",
                    "Axis order; the engine supports channels_last (batch, ..., channels) only.",
                    choices=("channels_last",))

_RANK_TEXT = {1: "a 3-D input (batch, steps, features)", 2: "a 4-D input (batch, height, width, channels)"}
_AXIS_NAMES = {1: ("steps",), 2: ("height", "width")}


def _pool_fields(rank: int, keras_required: bool = False) -> tuple[Field, ...]:
    return (
        Field("pool_size", "ints", (2,) * rank, "Size of the pooling window.", length=rank, min=1,
              keras_required=keras_required),
        Field("strides", "ints", None, "Step between windows (None = pool_size).", length=rank, min=1,
              optional=True),
        Field("padding", "choice", "valid", "'valid' drops windows that do not fit; 'same' pads so that "
              "output = ceil(input / strides).", choices=("valid", "same")),
        DATA_FORMAT,
    )


def _expect_rank(layer: Layer, shape: Shape, rank: int, fix: str) -> None:
    if len(shape) != rank + 2:
        raise layer.shape_error(f"expects {_RANK_TEXT[rank]} but gets {fmt_shape(shape)}; {fix}.")


class BasePooling(Layer):
    """Windowed max or average pooling over ``rank`` spatial axes."""

    family = "pooling"
    rank: ClassVar[int] = 2
    mode: ClassVar[str] = "max"

    @property
    def strides(self) -> tuple[int, ...]:
        return self.config["strides"] or self.config["pool_size"]

    def summary_args(self) -> str:
        pool, strides = self.config["pool_size"], self.strides
        text = "×".join(map(str, pool))
        if strides != pool:
            text += f", stride {'×'.join(map(str, strides))}"
        if self.config["padding"] == "same":
            text += ", same"
        return text

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        _expect_rank(self, shape, self.rank, "remove it or add a Reshape before it")
        pool, strides, padding = self.config["pool_size"], self.strides, self.config["padding"]
        spatial = []
        for axis, n, k, s in zip(_AXIS_NAMES[self.rank], shape[1:-1], pool, strides):
            out = conv_output_length(n, k, padding, s)
            if out is not None and out <= 0:
                raise self.shape_error(
                    f"has a pool of {k} along {axis} but the input {axis} is only {n} (input "
                    f"{fmt_shape(shape)}); use padding='same', a smaller pool_size, or a larger input.")
            spatial.append(out)
        return (shape[0], *spatial, shape[-1])

    def _as_2d(self, x: np.ndarray) -> np.ndarray:
        return x[:, None] if self.rank == 1 else x

    def _pool2d_args(self):
        pool, strides = self.config["pool_size"], self.strides
        if self.rank == 1:
            pool, strides = (1, *pool), (1, *strides)
        return pool, strides, self.config["padding"]

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = self._as_2d(inputs[0])
        if self.mode == "max":
            out, cache = kp.max_pool2d(x, *self._pool2d_args())
        else:
            out, cache = kp.avg_pool2d(x, *self._pool2d_args())
        return (out[:, 0] if self.rank == 1 else out), cache

    def backward(self, grad_out, cache, weights):
        g = self._as_2d(grad_out)
        if self.mode == "max":
            dx = kp.max_pool2d_backward(g, cache)
        else:
            dx = kp.avg_pool2d_backward(g, cache)
        return [dx[:, 0] if self.rank == 1 else dx], {}


@register_layer
class MaxPooling1D(BasePooling):
    """Max pooling for temporal data: the largest value of each window of ``pool_size`` steps.

    Args:
        pool_size: window length.
        strides: step between windows (None = pool_size).
        padding: 'valid' (no padding) or 'same' (pad so output length = ceil(steps / strides)).

    Input shape: ``(batch, steps, features)``.  Output shape: ``(batch, pooled_steps, features)``.
    """

    class_name = "MaxPooling1D"
    rank = 1
    mode = "max"
    fields = _pool_fields(1)


@register_layer
class MaxPooling2D(BasePooling):
    """Max pooling for images: the largest value of each ``pool_size`` window, per channel.

    Args:
        pool_size: window (height, width).
        strides: step between windows (None = pool_size).
        padding: 'valid' (no padding) or 'same' (pad with -inf so output = ceil(input / strides)).

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, pooled_height, pooled_width, channels)``.
    """

    class_name = "MaxPooling2D"
    rank = 2
    mode = "max"
    fields = _pool_fields(2)


@register_layer
class AveragePooling1D(BasePooling):
    """Average pooling for temporal data: the mean of each window of ``pool_size`` steps.

    Args:
        pool_size: window length.
        strides: step between windows (None = pool_size).
        padding: 'valid' or 'same' ('same' averages only the real, non-padded steps).

    Input shape: ``(batch, steps, features)``.  Output shape: ``(batch, pooled_steps, features)``.
    """

    class_name = "AveragePooling1D"
    rank = 1
    mode = "average"
    fields = _pool_fields(1, keras_required=True)


@register_layer
class AveragePooling2D(BasePooling):
    """Average pooling for images: the mean of each ``pool_size`` window, per channel.

    Args:
        pool_size: window (height, width).
        strides: step between windows (None = pool_size).
        padding: 'valid' or 'same' ('same' averages only the real, non-padded pixels).

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, pooled_height, pooled_width, channels)``.
    """

    class_name = "AveragePooling2D"
    rank = 2
    mode = "average"
    fields = _pool_fields(2, keras_required=True)


class BaseGlobalPooling(Layer):
    """Max or mean over every spatial axis, leaving ``(batch, channels)`` (or 1-sized axes with keepdims)."""

    family = "pooling"
    rank: ClassVar[int] = 2
    mode: ClassVar[str] = "max"
    fields = (
        DATA_FORMAT,
        Field("keepdims", "bool", False, "Keep the pooled axes with length 1 instead of dropping them."),
    )

    def summary_args(self) -> str:
        return "keepdims" if self.config["keepdims"] else ""

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        fix = "remove it or add a Reshape before it"
        if self.rank == 2 and len(shape) == 3:
            fix = "use GlobalMaxPooling1D/GlobalAveragePooling1D for sequences"
        elif self.rank == 1 and len(shape) == 4:
            fix = "use GlobalMaxPooling2D/GlobalAveragePooling2D for images"
        _expect_rank(self, shape, self.rank, fix)
        if self.config["keepdims"]:
            return (shape[0], *([1] * self.rank), shape[-1])
        return (shape[0], shape[-1])

    def _axes(self) -> tuple[int, ...]:
        return tuple(range(1, self.rank + 1))

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        keep = self.config["keepdims"]
        if self.mode == "max":
            return x.max(axis=self._axes(), keepdims=keep), x
        return x.mean(axis=self._axes(), keepdims=keep), x.shape

    def backward(self, grad_out, cache, weights):
        g = grad_out.reshape(grad_out.shape[0], grad_out.shape[-1])
        if self.mode == "max":
            return [kp.global_max_backward(g, cache)], {}
        shape = cache
        n = int(np.prod(shape[1:-1]))
        dx = np.broadcast_to((g / n)[:, *([None] * self.rank), :], shape)
        return [np.ascontiguousarray(dx)], {}


@register_layer
class GlobalMaxPooling1D(BaseGlobalPooling):
    """Global max pooling for temporal data: the largest value of each feature over all steps.

    Args:
        keepdims: keep the steps axis with length 1.

    Input shape: ``(batch, steps, features)``.
    Output shape: ``(batch, features)``, or ``(batch, 1, features)`` with keepdims.
    """

    class_name = "GlobalMaxPooling1D"
    rank = 1
    mode = "max"


@register_layer
class GlobalMaxPooling2D(BaseGlobalPooling):
    """Global max pooling for images: the largest value of each channel over height and width.

    Args:
        keepdims: keep the height and width axes with length 1.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, channels)``, or ``(batch, 1, 1, channels)`` with keepdims.
    """

    class_name = "GlobalMaxPooling2D"
    rank = 2
    mode = "max"


@register_layer
class GlobalAveragePooling1D(BaseGlobalPooling):
    """Global average pooling for temporal data: the mean of each feature over all steps.

    Args:
        keepdims: keep the steps axis with length 1.

    Input shape: ``(batch, steps, features)``.
    Output shape: ``(batch, features)``, or ``(batch, 1, features)`` with keepdims.
    """

    class_name = "GlobalAveragePooling1D"
    rank = 1
    mode = "average"


@register_layer
class GlobalAveragePooling2D(BaseGlobalPooling):
    """Global average pooling for images: the mean of each channel over height and width.

    Args:
        keepdims: keep the height and width axes with length 1.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, channels)``, or ``(batch, 1, 1, channels)`` with keepdims.
    """

    class_name = "GlobalAveragePooling2D"
    rank = 2
    mode = "average"
