"""Spatial reshaping layers in 1, 2 and 3 dimensions: ZeroPadding, Cropping, UpSampling
(``keras/src/layers/reshaping``).  None has weights; the numbers come from ``engine.numerics.resampling``.

Each kind declares its arguments and shape rule once; a concrete layer states its ``rank`` (and, where
Keras differs between ranks, its default or its missing ``data_format``).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.errors import ConfigError
from engine.layers.base import Field, Numerics, register_layer
from engine.layers.spatial import AXIS_NAMES, SpatialLayer, compact, data_format_field
from engine.numerics import resampling as num
from engine.shapes import Shape, fmt_shape

_SPELLINGS = {1: "an int or (before, after)",
              2: "an int, (rows, cols) or ((top, bottom), (left, right))",
              3: "an int, 3 ints or 3 (before, after) pairs"}


def edge_pairs(layer: SpatialLayer, arg: str) -> tuple:
    """Keras's spellings of per-axis (before, after) amounts, normalised: ``(b, a)`` for rank 1, else pairs."""
    value, rank = layer.config[arg], layer.rank

    def bad() -> ConfigError:
        return ConfigError(f"{layer.owner}: argument '{arg}' must be {_SPELLINGS[rank]} of non-negative "
                           f"integers, got {value!r}.", arg)

    def as_int(v) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise bad()
        return int(v)

    def pair(v) -> tuple[int, int]:
        if isinstance(v, (list, tuple)):
            if len(v) != 2:
                raise bad()
            return as_int(v[0]), as_int(v[1])
        return as_int(v), as_int(v)

    if rank == 1:
        return pair(value)
    if isinstance(value, (list, tuple)):
        if len(value) != rank:
            raise bad()
        return tuple(pair(v) for v in value)
    return (pair(value),) * rank


class BaseEdges(SpatialLayer):
    """Adds (ZeroPadding) or removes (Cropping) positions at both ends of every spatial axis."""

    family = "reshaping"
    channel_word = "channels"
    #: The config argument holding the amounts (``padding`` or ``cropping``).
    arg: ClassVar[str] = "padding"

    def check_config(self) -> None:
        self.config[self.arg] = edge_pairs(self, self.arg)

    def pairs(self) -> tuple[tuple[int, int], ...]:
        v = self.config[self.arg]
        return (v,) if self.rank == 1 else v

    def summary_args(self) -> str:
        flat = {v for p in self.pairs() for v in p}
        pairs = ", ".join(f"({b}, {a})" for b, a in self.pairs())
        text = str(flat.pop()) if len(flat) == 1 else pairs if self.rank == 1 else f"({pairs})"
        return f"{'pad' if self.arg == 'padding' else 'crop'} {text}"

    def get_config(self) -> dict[str, Any]:
        out = super().get_config()
        v = self.config[self.arg]
        out[self.arg] = list(v) if self.rank == 1 else [list(p) for p in v]
        return out

    def numerics(self) -> Numerics:
        forward, backward = ((num.zero_padding_forward, num.zero_padding_backward) if self.arg == "padding"
                             else (num.cropping_forward, num.cropping_backward))
        return Numerics(forward, backward, args={self.arg: self.pairs(), **self.format_args()})


class ZeroPadding(BaseEdges):
    arg = "padding"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self.expect_spatial(shape, "remove it or add a Reshape before it")
        spatial, c = self.split(shape)
        return self.join(shape[0], [None if n is None else n + b + a for n, (b, a) in zip(spatial, self.pairs())], c)


class Cropping(BaseEdges):
    arg = "cropping"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self.expect_spatial(shape, "remove it or add a Reshape before it")
        spatial, c = self.split(shape)
        out = []
        for n, (before, after), axis in zip(spatial, self.pairs(), AXIS_NAMES[self.rank]):
            if n is not None and before + after >= n:
                raise self.shape_error(
                    f"crops {before} + {after} from a {axis} of {n} (input {fmt_shape(shape)}), which leaves "
                    f"nothing; crop less than {n} in total along {axis}.")
            out.append(None if n is None else n - before - after)
        return self.join(shape[0], out, c)


def _edge_field(arg: str, rank: int, default) -> Field:
    verb = "zeros to add" if arg == "padding" else "positions to remove"
    return Field(arg, "json", default, f"{_SPELLINGS[rank][0].upper()}{_SPELLINGS[rank][1:]}: {verb}.")


@register_layer
class ZeroPadding1D(ZeroPadding):
    """Adds zeros at the start and end of each sequence.

    Args:
        padding: int (both ends) or (before, after).

    Input shape: ``(batch, steps, features)``.  Output shape: ``(batch, before + steps + after, features)``.
    """

    class_name = "ZeroPadding1D"
    rank = 1
    channel_word = "features"
    fields = (_edge_field("padding", 1, (1, 1)), data_format_field())


@register_layer
class ZeroPadding2D(ZeroPadding):
    """Adds rows and columns of zeros around each image.

    Args:
        padding: int (all sides), (rows, cols) symmetric, or ((top, bottom), (left, right)).

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, top + height + bottom, left + width + right, channels)``.
    """

    class_name = "ZeroPadding2D"
    rank = 2
    fields = (_edge_field("padding", 2, ((1, 1), (1, 1))), data_format_field())


@register_layer
class ZeroPadding3D(ZeroPadding):
    """Adds zeros around each volume.

    Args:
        padding: int (all sides), 3 ints (symmetric per axis) or 3 (before, after) pairs.

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: each spatial axis grows by its before + after.
    """

    class_name = "ZeroPadding3D"
    rank = 3
    fields = (_edge_field("padding", 3, ((1, 1), (1, 1), (1, 1))), data_format_field())


@register_layer
class Cropping1D(Cropping):
    """Removes steps from the start and end of each sequence.

    Args:
        cropping: int (both ends) or (before, after).

    Input shape: ``(batch, steps, features)``.  Output shape: ``(batch, steps - before - after, features)``.
    """

    class_name = "Cropping1D"
    rank = 1
    channel_word = "features"
    fields = (_edge_field("cropping", 1, (1, 1)),)


@register_layer
class Cropping2D(Cropping):
    """Removes rows and columns from the edges of each image.

    Args:
        cropping: int (all sides), (rows, cols) symmetric, or ((top, bottom), (left, right)).

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, height - top - bottom, width - left - right, channels)``.
    """

    class_name = "Cropping2D"
    rank = 2
    fields = (_edge_field("cropping", 2, ((0, 0), (0, 0))), data_format_field())


@register_layer
class Cropping3D(Cropping):
    """Removes positions from the edges of each volume.

    Args:
        cropping: int (all sides), 3 ints (symmetric per axis) or 3 (before, after) pairs.

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: each spatial axis shrinks by its before + after.
    """

    class_name = "Cropping3D"
    rank = 3
    fields = (_edge_field("cropping", 3, ((1, 1), (1, 1), (1, 1))), data_format_field())


# ----- upsampling --------------------------------------------------------------------------------------------
class UpSampling(SpatialLayer):
    """Repeats (or interpolates) every spatial position ``size`` times along its axis."""

    family = "reshaping"

    def factors(self) -> tuple[int, ...]:
        size = self.config["size"]
        return (size,) if self.rank == 1 else size

    def summary_args(self) -> str:
        text = "×".join(map(str, self.factors()))
        return text + (", bilinear" if self.config.get("interpolation") == "bilinear" else "")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self.expect_spatial(shape, "remove it or add a Reshape before it")
        spatial, c = self.split(shape)
        return self.join(shape[0], [None if n is None else n * f for n, f in zip(spatial, self.factors())], c)

    def numerics(self) -> Numerics:
        args = {"size": compact(self.factors())}
        if self.config.get("interpolation", "nearest") != "nearest":
            args["interpolation"] = self.config["interpolation"]
        return Numerics(num.up_sampling_forward, num.up_sampling_backward, args={**args, **self.format_args()})


@register_layer
class UpSampling1D(UpSampling):
    """Upsamples sequences by repeating each step ``size`` times.

    Args:
        size: repetition factor.

    Input shape: ``(batch, steps, features)``.  Output shape: ``(batch, steps * size, features)``.
    """

    class_name = "UpSampling1D"
    rank = 1
    channel_word = "features"
    fields = (Field("size", "int", 2, "Repetition factor of each step.", min=1),)


@register_layer
class UpSampling2D(UpSampling):
    """Upsamples images by repeating (nearest) or interpolating (bilinear) rows and columns.

    Args:
        size: integer factors (rows, columns).
        interpolation: 'nearest' or 'bilinear'.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, height * size[0], width * size[1], channels)``.
    """

    class_name = "UpSampling2D"
    rank = 2
    fields = (
        Field("size", "ints", (2, 2), "Upsampling factors (rows, columns).", length=2, min=1),
        data_format_field(),
        Field("interpolation", "choice", "nearest", "How new pixels are filled.", choices=("nearest", "bilinear")),
    )


@register_layer
class UpSampling3D(UpSampling):
    """Upsamples volumes by repeating each position ``size`` times along depth, height and width.

    Args:
        size: integer factors (depth, height, width).

    Input shape: ``(batch, depth, height, width, channels)``.
    Output shape: ``(batch, depth * size[0], height * size[1], width * size[2], channels)``.
    """

    class_name = "UpSampling3D"
    rank = 3
    fields = (Field("size", "ints", (2, 2, 2), "Upsampling factors (depth, height, width).", length=3, min=1),
              data_format_field())
