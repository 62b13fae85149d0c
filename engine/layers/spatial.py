"""What the convolution, pooling and spatial reshaping layers share: their rank and axis order.

A spatial layer declares ``rank`` (1, 2 or 3 spatial axes) as a class attribute; its fields, shape rule and
messages follow from it, so a new rank of an existing layer is a declaration.
"""
from __future__ import annotations

from typing import Any, ClassVar

from engine.layers.base import Field, Layer
from engine.shapes import Shape, fmt_shape

AXIS_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}
FORMATS = ("channels_last", "channels_first")


def data_format_field() -> Field:
    return Field("data_format", "choice", "channels_last",
                 "Axis order: channels_last (batch, ..., channels) or channels_first (batch, channels, ...).",
                 choices=FORMATS, optional=True)


def compact(value: Any) -> Any:
    """A tuple of equal ints as one int (how Keras's ops take them, and shorter in exported code)."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


class SpatialLayer(Layer):
    """A layer over ``rank`` spatial axes plus a channel axis (last, or first after the batch)."""

    rank: ClassVar[int] = 2
    #: What the input's channel axis is called in messages ("channels"; "features" for 1-D pooling).
    channel_word: ClassVar[str] = "channels"

    @property
    def data_format(self) -> str:
        return self.config.get("data_format") or "channels_last"

    def format_args(self) -> dict[str, str]:
        """``data_format`` for a numerics call (left out when it is the default)."""
        return {"data_format": "channels_first"} if self.data_format == "channels_first" else {}

    def input_text(self) -> str:
        axes = (*AXIS_NAMES[self.rank], self.channel_word)
        if self.data_format == "channels_first":
            axes = (axes[-1], *axes[:-1])
        return f"a {self.rank + 2}-D input (batch, {', '.join(axes)})"

    def expect_spatial(self, shape: Shape, fix: str) -> None:
        """Raise the standard rank error unless ``shape`` has ``rank`` spatial axes."""
        if len(shape) != self.rank + 2:
            raise self.shape_error(f"expects {self.input_text()} but gets {fmt_shape(shape)}; {fix}.")

    def split(self, shape: Shape) -> tuple[tuple[int | None, ...], int | None]:
        """``(spatial sizes, channels)`` of a full input shape."""
        if self.data_format == "channels_first":
            return tuple(shape[2:]), shape[1]
        return tuple(shape[1:-1]), shape[-1]

    def join(self, batch: int | None, spatial, channels: int | None) -> Shape:
        """The full shape for these spatial sizes and channels, in this layer's axis order."""
        if self.data_format == "channels_first":
            return (batch, channels, *spatial)
        return (batch, *spatial, channels)
