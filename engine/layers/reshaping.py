"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, Identity (``keras/src/layers/reshaping``; the spatial
ones, ZeroPadding/Cropping/UpSampling, are in ``spatial_reshaping``).  None has weights; each backward is
the inverse re-arrangement.
"""
from __future__ import annotations

import math

from engine.errors import ConfigError
from engine.layers.base import Field, Layer, Numerics, register_layer
from engine.numerics import reshaping as num
from engine.shapes import Shape, fmt_shape

DATA_FORMAT = Field("data_format", "choice", "channels_last",
                    "Axis order; the engine supports channels_last (batch, ..., channels) only.",
                    choices=("channels_last",))


def _fmt_dims(dims) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


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
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "Identity"
    family = "reshaping"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def numerics(self) -> Numerics:
        return Numerics(num.identity_forward, num.identity_backward)


