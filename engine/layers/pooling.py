"""Pooling layers in 1, 2 and 3 spatial dimensions: max/average and global (``keras/src/layers/pooling``).

``BasePooling`` and ``BaseGlobalPooling`` hold the arguments, the shape rule and the numerics call once;
a concrete layer states its ``rank`` and ``mode``.  The numbers come from ``engine.numerics.pooling``.
"""
from __future__ import annotations

from typing import ClassVar

from engine.layers.base import Field, Numerics, register_layer
from engine.layers.spatial import AXIS_NAMES, SpatialLayer, compact, data_format_field
from engine.numerics import pooling as num
from engine.shapes import Shape, conv_output_length, fmt_shape


class BasePooling(SpatialLayer):
    """Windowed max or average pooling over ``rank`` spatial axes."""

    family = "pooling"
    mode: ClassVar[str] = "max"
    channel_word = "features"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "fields" not in cls.__dict__:
            rank = cls.rank
            cls.fields = (
                Field("pool_size", "ints", (2,) * rank, "Size of the pooling window.", length=rank, min=1),
                Field("strides", "ints", None, "Step between windows (None = pool_size).", length=rank, min=1,
                      optional=True),
                Field("padding", "choice", "valid", "'valid' drops windows that do not fit; 'same' pads so that "
                      "output = ceil(input / strides).", choices=("valid", "same")),
                data_format_field(),
            )

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
        self.expect_spatial(shape, "remove it or add a Reshape before it")
        pool, strides, padding = self.config["pool_size"], self.strides, self.config["padding"]
        spatial_in, channels = self.split(shape)
        spatial = []
        for axis, n, k, s in zip(AXIS_NAMES[self.rank], spatial_in, pool, strides):
            out = conv_output_length(n, k, padding, s)
            if out is not None and out <= 0:
                raise self.shape_error(
                    f"has a pool of {k} along {axis} but the input {axis} is only {n} (input "
                    f"{fmt_shape(shape)}); use padding='same', a smaller pool_size, or a larger input.")
            spatial.append(out)
        return self.join(shape[0], spatial, channels)

    def numerics(self) -> Numerics:
        cfg = self.config
        args = {"pool_size": compact(cfg["pool_size"]), "strides": compact(cfg["strides"]),
                "padding": cfg["padding"], **self.format_args()}
        if self.mode == "max":
            return Numerics(num.max_pool_forward, num.max_pool_backward, args=args)
        return Numerics(num.average_pool_forward, num.average_pool_backward, args=args)


class AveragePooling(BasePooling):
    mode = "average"
    #: Keras has no default for ``pool_size`` here (the engine's is 2), so Keras code always states it.
    keras_required_args = ("pool_size",)


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
    channel_word = "channels"


@register_layer
class MaxPooling3D(BasePooling):
    """Max pooling for volumes: the largest value of each ``pool_size`` window, per channel.

    Args:
        pool_size: window (depth, height, width).
        strides: step between windows (None = pool_size).
        padding: 'valid' (no padding) or 'same' (pad with -inf so output = ceil(input / strides)).

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: ``(batch, pooled_depth, pooled_height, pooled_width, channels)``.
    """

    class_name = "MaxPooling3D"
    rank = 3
    channel_word = "channels"


@register_layer
class AveragePooling1D(AveragePooling):
    """Average pooling for temporal data: the mean of each window of ``pool_size`` steps.

    Args:
        pool_size: window length.
        strides: step between windows (None = pool_size).
        padding: 'valid' or 'same' ('same' averages only the real, non-padded steps).

    Input shape: ``(batch, steps, features)``.  Output shape: ``(batch, pooled_steps, features)``.
    """

    class_name = "AveragePooling1D"
    rank = 1


@register_layer
class AveragePooling2D(AveragePooling):
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
    channel_word = "channels"


@register_layer
class AveragePooling3D(AveragePooling):
    """Average pooling for volumes: the mean of each ``pool_size`` window, per channel.

    Args:
        pool_size: window (depth, height, width).
        strides: step between windows (None = pool_size).
        padding: 'valid' or 'same' ('same' averages only the real, non-padded positions).

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: ``(batch, pooled_depth, pooled_height, pooled_width, channels)``.
    """

    class_name = "AveragePooling3D"
    rank = 3
    channel_word = "channels"


# ----- global pooling ----------------------------------------------------------------------------------------
class BaseGlobalPooling(SpatialLayer):
    """Max or mean over every spatial axis, leaving ``(batch, channels)`` (or 1-sized axes with keepdims)."""

    family = "pooling"
    mode: ClassVar[str] = "max"
    fields = (
        data_format_field(),
        Field("keepdims", "bool", False, "Keep the pooled axes with length 1 instead of dropping them."),
    )

    def summary_args(self) -> str:
        return "keepdims" if self.config["keepdims"] else ""

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        fix = "remove it or add a Reshape before it"
        if len(shape) - 2 in (1, 2, 3) and len(shape) - 2 != self.rank:
            kind = {1: "sequences", 2: "images", 3: "volumes"}[len(shape) - 2]
            r = len(shape) - 2
            fix = f"use GlobalMaxPooling{r}D/GlobalAveragePooling{r}D for {kind}"
        self.expect_spatial(shape, fix)
        channels = self.split(shape)[1]
        if self.config["keepdims"]:
            return self.join(shape[0], (1,) * self.rank, channels)
        return (shape[0], channels)

    def numerics(self) -> Numerics:
        args = {"keepdims": self.config["keepdims"], **self.format_args()}
        if self.mode == "max":
            return Numerics(num.global_max_pool_forward, num.global_max_pool_backward, args=args)
        return Numerics(num.global_average_pool_forward, num.global_average_pool_backward, args=args)


@register_layer
class GlobalMaxPooling1D(BaseGlobalPooling):
    """Global max pooling for temporal data: the largest value of each channel over steps.

    Args:
        keepdims: keep the pooled axes with length 1.

    Input shape: ``(batch, steps, features)``.
    Output shape: ``(batch, channels)``, or ``(batch, 1, channels)`` with keepdims.
    """

    class_name = "GlobalMaxPooling1D"
    rank = 1
    mode = "max"


@register_layer
class GlobalMaxPooling2D(BaseGlobalPooling):
    """Global max pooling for images: the largest value of each channel over height and width.

    Args:
        keepdims: keep the pooled axes with length 1.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, channels)``, or ``(batch, 1, 1, channels)`` with keepdims.
    """

    class_name = "GlobalMaxPooling2D"
    rank = 2
    mode = "max"


@register_layer
class GlobalMaxPooling3D(BaseGlobalPooling):
    """Global max pooling for volumes: the largest value of each channel over depth, height and width.

    Args:
        keepdims: keep the pooled axes with length 1.

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: ``(batch, channels)``, or ``(batch, 1, 1, 1, channels)`` with keepdims.
    """

    class_name = "GlobalMaxPooling3D"
    rank = 3
    mode = "max"


@register_layer
class GlobalAveragePooling1D(BaseGlobalPooling):
    """Global average pooling for temporal data: the mean of each channel over steps.

    Args:
        keepdims: keep the pooled axes with length 1.

    Input shape: ``(batch, steps, features)``.
    Output shape: ``(batch, channels)``, or ``(batch, 1, channels)`` with keepdims.
    """

    class_name = "GlobalAveragePooling1D"
    mask_args = ("mask",)   # Keras averages the unmasked steps; the output carries no mask
    rank = 1
    mode = "average"


@register_layer
class GlobalAveragePooling2D(BaseGlobalPooling):
    """Global average pooling for images: the mean of each channel over height and width.

    Args:
        keepdims: keep the pooled axes with length 1.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, channels)``, or ``(batch, 1, 1, channels)`` with keepdims.
    """

    class_name = "GlobalAveragePooling2D"
    rank = 2
    mode = "average"


@register_layer
class GlobalAveragePooling3D(BaseGlobalPooling):
    """Global average pooling for volumes: the mean of each channel over depth, height and width.

    Args:
        keepdims: keep the pooled axes with length 1.

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: ``(batch, channels)``, or ``(batch, 1, 1, 1, channels)`` with keepdims.
    """

    class_name = "GlobalAveragePooling3D"
    rank = 3
    mode = "average"


# ----- adaptive pooling --------------------------------------------------------------------------------------
class BaseAdaptivePooling(SpatialLayer):
    """Max or mean over ``output_size`` windows that cover each spatial axis (PyTorch-style bins)."""

    family = "pooling"
    mode: ClassVar[str] = "max"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "fields" not in cls.__dict__:
            cls.fields = (
                Field("output_size", "ints", doc="Output size of each spatial axis (an int applies to all).",
                      length=cls.rank, min=1),
                data_format_field(),
            )

    def summary_args(self) -> str:
        return "→ " + "×".join(map(str, self.config["output_size"]))

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self.expect_spatial(shape, "remove it or add a Reshape before it")
        return self.join(shape[0], self.config["output_size"], self.split(shape)[1])

    def numerics(self) -> Numerics:
        args = {"output_size": compact(self.config["output_size"]), **self.format_args()}
        if self.mode == "max":
            return Numerics(num.adaptive_max_pool_forward, num.adaptive_max_pool_backward, args=args)
        return Numerics(num.adaptive_average_pool_forward, num.adaptive_average_pool_backward, args=args)


@register_layer
class AdaptiveAveragePooling1D(BaseAdaptivePooling):
    """Adaptive average pooling for sequences: the mean of each of ``output_size`` windows over steps.

    Window ``i`` of an axis of length ``n`` spans ``floor(i*n/out)`` to ``ceil((i+1)*n/out)``, so any input
    size gives the same output size.

    Args:
        output_size: output size of each spatial axis.

    Input shape: ``(batch, steps, features)``.  Output shape: ``(batch, output_size, features)``.
    """

    class_name = "AdaptiveAveragePooling1D"
    rank = 1
    mode = "average"


@register_layer
class AdaptiveAveragePooling2D(BaseAdaptivePooling):
    """Adaptive average pooling for images: the mean of each of ``output_size`` windows over height and width.

    Window ``i`` of an axis of length ``n`` spans ``floor(i*n/out)`` to ``ceil((i+1)*n/out)``, so any input
    size gives the same output size.

    Args:
        output_size: output size of each spatial axis.

    Input shape: ``(batch, height, width, channels)``.  Output shape: ``(batch, *output_size, channels)``.
    """

    class_name = "AdaptiveAveragePooling2D"
    rank = 2
    mode = "average"


@register_layer
class AdaptiveAveragePooling3D(BaseAdaptivePooling):
    """Adaptive average pooling for volumes: the mean of each of ``output_size`` windows over depth, height and width.

    Window ``i`` of an axis of length ``n`` spans ``floor(i*n/out)`` to ``ceil((i+1)*n/out)``, so any input
    size gives the same output size.

    Args:
        output_size: output size of each spatial axis.

    Input shape: ``(batch, depth, height, width, channels)``.  Output shape: ``(batch, *output_size, channels)``.
    """

    class_name = "AdaptiveAveragePooling3D"
    rank = 3
    mode = "average"


@register_layer
class AdaptiveMaxPooling1D(BaseAdaptivePooling):
    """Adaptive max pooling for sequences: the largest value of each of ``output_size`` windows over steps.

    Window ``i`` of an axis of length ``n`` spans ``floor(i*n/out)`` to ``ceil((i+1)*n/out)``, so any input
    size gives the same output size.

    Args:
        output_size: output size of each spatial axis.

    Input shape: ``(batch, steps, features)``.  Output shape: ``(batch, output_size, features)``.
    """

    class_name = "AdaptiveMaxPooling1D"
    rank = 1
    mode = "max"


@register_layer
class AdaptiveMaxPooling2D(BaseAdaptivePooling):
    """Adaptive max pooling for images: the largest value of each of ``output_size`` windows over height and width.

    Window ``i`` of an axis of length ``n`` spans ``floor(i*n/out)`` to ``ceil((i+1)*n/out)``, so any input
    size gives the same output size.

    Args:
        output_size: output size of each spatial axis.

    Input shape: ``(batch, height, width, channels)``.  Output shape: ``(batch, *output_size, channels)``.
    """

    class_name = "AdaptiveMaxPooling2D"
    rank = 2
    mode = "max"


@register_layer
class AdaptiveMaxPooling3D(BaseAdaptivePooling):
    """Adaptive max pooling for volumes: the largest value of each of ``output_size`` windows per axis.

    Window ``i`` of an axis of length ``n`` spans ``floor(i*n/out)`` to ``ceil((i+1)*n/out)``, so any input
    size gives the same output size.

    Args:
        output_size: output size of each spatial axis.

    Input shape: ``(batch, depth, height, width, channels)``.  Output shape: ``(batch, *output_size, channels)``.
    """

    class_name = "AdaptiveMaxPooling3D"
    rank = 3
    mode = "max"
