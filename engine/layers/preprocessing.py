"""Preprocessing that is part of a model: Rescaling, Normalization, CenterCrop, Resizing, Discretization,
CategoryEncoding (``keras/src/layers/preprocessing``).

They run in training and inference alike, like any layer, so a model exported or imported with them
computes the same thing on raw inputs.  Discretization and CategoryEncoding output bin indices and
counts, which have no useful gradient.
"""
from __future__ import annotations

import math

from engine.errors import ConfigError
from engine.layers.base import Field, Layer, Numerics, WeightSpec, register_layer
from engine.numerics import preprocessing as num
from engine.shapes import Shape, fmt_shape

_IMAGE = "a 4-D image input (batch, height, width, channels)"
DATA_FORMAT = Field("data_format", "choice", "channels_last",
                    "Axis order; the engine supports channels_last (batch, ..., channels) only.",
                    choices=("channels_last",), optional=True)


class _Preprocessing(Layer):
    family = "preprocessing"


def _finite(owner: str, name: str, values) -> None:
    if values is not None and not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{owner}: argument '{name}' must hold finite numbers.", name)


@register_layer
class Rescaling(_Preprocessing):
    """Rescales values: ``x * scale + offset`` (e.g. ``scale=1/255`` maps pixels to [0, 1]).

    Args:
        scale: the factor, one number or one per channel.
        offset: added after scaling, one number or one per channel.

    Input shape: any.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "Rescaling"
    fields = (
        Field("scale", "floats", doc="Multiplier: one number, or one per channel (last axis).", starter=(1 / 255,)),
        Field("offset", "floats", (0.0,), "Added after scaling: one number, or one per channel."),
    )

    def check_config(self) -> None:
        _finite(self.owner, "scale", self.config["scale"])
        _finite(self.owner, "offset", self.config["offset"])

    def summary_args(self) -> str:
        s, o = self.config["scale"], self.config["offset"]
        text = "× " + ", ".join(f"{v:.4g}" for v in s)
        return text + (" + " + ", ".join(f"{v:.4g}" for v in o) if any(o) else "")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        for key in ("scale", "offset"):
            n = len(self.config[key])
            if n > 1 and shape[-1] != n:
                raise self.shape_error(f"has {n} {key} values but its input {fmt_shape(shape)} has "
                                       f"{shape[-1]} channels; give one value or one per channel.")
        return shape

    def numerics(self) -> Numerics:
        def one(v):
            return v[0] if len(v) == 1 else v
        return Numerics(num.rescaling_forward, num.rescaling_backward,
                        args={"scale": one(self.config["scale"]), "offset": one(self.config["offset"])})


@register_layer
class Normalization(_Preprocessing):
    """Standardizes features: ``(x - mean) / sqrt(variance)`` with statistics adapted to the data.

    Args:
        axis: the axis or axes that keep separate statistics (default -1: one mean per feature/channel);
            None for one mean and variance over everything.
        mean, variance: fixed statistics; when empty they are weights (set by Keras ``adapt()`` and imported).
        invert: apply the inverse, ``mean + x * sqrt(variance)``.

    Input shape: any.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "Normalization"
    fields = (
        Field("axis", "ints", (-1,), "Axes with separate statistics (None = one scalar mean/variance).",
              optional=True),
        Field("mean", "floats", None, "Fixed means (empty = adapted weights).", optional=True),
        Field("variance", "floats", None, "Fixed variances (empty = adapted weights).", optional=True),
        Field("invert", "bool", False, "Undo a normalization instead: mean + x * sqrt(variance)."),
    )

    def check_config(self) -> None:
        m, v = self.config["mean"], self.config["variance"]
        if (m is None) != (v is None):
            raise ConfigError(f"{self.owner}: give both mean and variance, or neither (then they are weights).",
                              "mean")
        if m is not None and len(m) != len(v):
            raise ConfigError(f"{self.owner}: mean has {len(m)} values but variance has {len(v)}.", "variance")
        _finite(self.owner, "mean", m)
        _finite(self.owner, "variance", v)

    def _axes(self) -> tuple[int, ...]:
        return tuple(self.config["axis"] or ())

    def _kept(self, shape: Shape) -> tuple[int, ...]:
        rank = len(shape)
        for a in self._axes():
            if not -rank <= a < rank or a % rank == 0:
                raise self.shape_error(f"keeps statistics along axis {a}, which an input of shape {fmt_shape(shape)} "
                                       f"cannot: pick axes between 1 and {rank - 1} (or -1).")
        kept = tuple(shape[a % rank] for a in sorted(a % rank for a in self._axes()))
        if any(d is None for d in kept):
            raise self.shape_error(f"needs known sizes on its axes but gets {fmt_shape(shape)}; "
                                   "give the Input a full shape.")
        return kept

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        kept = self._kept(shape)
        m = self.config["mean"]
        if m is not None and len(m) not in (1, math.prod(kept)):
            raise self.shape_error(f"has {len(m)} fixed means but its input {fmt_shape(shape)} needs 1 or "
                                   f"{math.prod(kept)}; adjust mean and variance.")
        return shape

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        if self.config["mean"] is not None:
            return []
        kept = self._kept(input_shapes[0])
        return [WeightSpec("mean", kept, "zeros", trainable=False),
                WeightSpec("variance", kept, "ones", trainable=False),
                WeightSpec("count", (), "zeros", trainable=False)]

    def numerics(self) -> Numerics:
        args = {"axis": self._axes(), "invert": self.config["invert"]}
        if self.config["mean"] is not None:
            return Numerics(num.normalization_forward, num.normalization_backward,
                            args={"mean": self.config["mean"], "variance": self.config["variance"], **args})
        return Numerics(num.normalization_forward, num.normalization_backward, ("mean", "variance", "count"), args)


class _ImageSize(_Preprocessing):
    fields_size = (
        Field("height", "int", doc="Output height in pixels.", min=1, starter=8),
        Field("width", "int", doc="Output width in pixels.", min=1, starter=8),
    )

    def summary_args(self) -> str:
        return f"{self.config['height']}×{self.config['width']}"

    def _image(self, shape: Shape) -> None:
        self.expect_rank(shape, 4, _IMAGE, "add a Reshape to (height, width, channels) before it")


@register_layer
class CenterCrop(_ImageSize):
    """Crops the central ``height`` x ``width`` window of each image.

    Input shape: ``(batch, height, width, channels)`` at least as large as the crop.
    Output shape: ``(batch, height, width, channels)`` with the new sizes.
    """

    class_name = "CenterCrop"
    fields = (*_ImageSize.fields_size, DATA_FORMAT)

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self._image(shape)
        h, w = self.config["height"], self.config["width"]
        if (shape[1] is not None and shape[1] < h) or (shape[2] is not None and shape[2] < w):
            raise self.shape_error(f"crops {h}×{w} from an input {fmt_shape(shape)} that is smaller; use a "
                                   "Resizing layer for images smaller than the crop, or a smaller crop.")
        return (shape[0], h, w, shape[3])

    def numerics(self) -> Numerics:
        return Numerics(num.center_crop_forward, num.center_crop_backward, args=self.config_args("height", "width"))


@register_layer
class Resizing(_ImageSize):
    """Resizes images to ``height`` x ``width`` (nearest or bilinear, half-pixel centres, no antialiasing).

    Input shape: ``(batch, height, width, channels)``.  Output shape: ``(batch, height, width, channels)``.
    """

    class_name = "Resizing"
    fields = (*_ImageSize.fields_size,
              Field("interpolation", "choice", "bilinear", "How new pixels are computed.",
                    choices=("bilinear", "nearest")),
              Field("crop_to_aspect_ratio", "bool", False, "Crop to the target aspect ratio first "
                    "(not supported yet: must be false)."),
              Field("pad_to_aspect_ratio", "bool", False, "Pad to the target aspect ratio first "
                    "(not supported yet: must be false)."),
              Field("fill_mode", "choice", "constant", "How pad_to_aspect_ratio fills (only with padding).",
                    choices=("constant",)),
              Field("fill_value", "float", 0.0, "The value pad_to_aspect_ratio pads with (only with padding)."),
              Field("antialias", "bool", False, "Antialiasing filter when shrinking (not supported yet: must be "
                    "false)."),
              DATA_FORMAT)

    def check_config(self) -> None:
        for key in ("crop_to_aspect_ratio", "pad_to_aspect_ratio", "antialias"):
            if self.config[key]:
                raise ConfigError(f"{self.owner}: {key}=True is not supported yet; set it to False.", key)

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self._image(shape)
        if shape[1] is None or shape[2] is None:
            raise self.shape_error(f"needs known input height and width but gets {fmt_shape(shape)}; "
                                   "give the Input a full shape.")
        return (shape[0], self.config["height"], self.config["width"], shape[3])

    def numerics(self) -> Numerics:
        return Numerics(num.resizing_forward, num.resizing_backward,
                        args=self.config_args("height", "width", "interpolation"))


_ENCODINGS = ("one_hot", "multi_hot", "count")
_NO_GRADIENT = "its outputs are bin indices or counts, which do not change smoothly with the input"


@register_layer
class Discretization(_Preprocessing):
    """Buckets values: the index ``i`` with ``bin_boundaries[i-1] <= x < bin_boundaries[i]``.

    Args:
        bin_boundaries: the increasing bin edges (Keras ``adapt()`` computes them; give them here).
        output_mode: 'int' (the index) or an encoding of it ('one_hot', 'multi_hot', 'count').

    Input shape: any.  Output shape: the same for 'int', else the last axis becomes the number of bins.
    """

    class_name = "Discretization"
    gradient = "none"
    no_gradient_reason = _NO_GRADIENT
    fields = (
        Field("bin_boundaries", "floats", doc="Increasing bin edges, e.g. 0, 0.5, 1.", starter=(0.0, 0.5, 1.0)),
        Field("output_mode", "choice", "int", "What each value becomes.", choices=("int", *_ENCODINGS)),
        Field("num_bins", "int", None, "Number of bins for adapt(); bin_boundaries wins when given.", min=1,
              optional=True),
        Field("epsilon", "float", 0.01, "adapt() accuracy; unused once bin_boundaries are given.", min=0.0),
        Field("sparse", "bool", False, "Sparse output (not supported: must be false)."),
    )

    @classmethod
    def all_fields(cls) -> tuple[Field, ...]:
        return tuple(cls.fields)  # Keras's Discretization takes no 'trainable' argument

    def check_config(self) -> None:
        if self.config["sparse"]:
            raise ConfigError(f"{self.owner}: sparse=True is not supported; set it to False.", "sparse")
        b = self.config["bin_boundaries"]
        _finite(self.owner, "bin_boundaries", b)
        if any(x >= y for x, y in zip(b, b[1:])):
            raise ConfigError(f"{self.owner}: bin_boundaries must increase, got {list(b)[:8]}.", "bin_boundaries")

    def summary_args(self) -> str:
        return f"{len(self.config['bin_boundaries']) + 1} bins"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        if self.config["output_mode"] == "int":
            return shape
        return _encoded_shape(self, shape, len(self.config["bin_boundaries"]) + 1, self.config["output_mode"])

    def numerics(self) -> Numerics:
        return Numerics(num.discretization_forward,
                        args={"bin_boundaries": self.config["bin_boundaries"],
                              "output_mode": self.config["output_mode"]})


def _encoded_shape(layer: Layer, shape: Shape, n: int, mode: str) -> Shape:
    if len(shape) < 2:
        raise layer.shape_error(f"expects (batch, ids) but gets {fmt_shape(shape)}.")
    if mode == "one_hot" and shape[-1] != 1:
        return (*shape, n)
    return (*shape[:-1], n)


@register_layer
class CategoryEncoding(_Preprocessing):
    """Encodes integer ids in ``[0, num_tokens)`` as one-hot, multi-hot or count vectors.

    Args:
        num_tokens: the number of distinct ids.
        output_mode: 'one_hot' (one vector per id), 'multi_hot' (1 where an id occurs) or 'count'.

    Input shape: ``(batch, ids)`` integers.  Output shape: ``(batch, num_tokens)`` (one_hot of several ids:
    ``(batch, ids, num_tokens)``).
    """

    class_name = "CategoryEncoding"
    gradient = "none"
    no_gradient_reason = _NO_GRADIENT
    integer_inputs = True
    fields = (
        Field("num_tokens", "int", doc="Number of distinct ids (largest id + 1).", min=1, starter=10),
        Field("output_mode", "choice", "multi_hot", "How ids become a vector.", choices=_ENCODINGS),
        Field("sparse", "bool", False, "Sparse output (not supported: must be false)."),
    )

    def check_config(self) -> None:
        if self.config["sparse"]:
            raise ConfigError(f"{self.owner}: sparse=True is not supported; set it to False.", "sparse")

    def summary_args(self) -> str:
        return f"{self.config['num_tokens']} tokens, {self.config['output_mode']}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return _encoded_shape(self, input_shapes[0], self.config["num_tokens"], self.config["output_mode"])

    def numerics(self) -> Numerics:
        return Numerics(num.category_encoding_forward, args=self.config_args("num_tokens", "output_mode"))
