"""Random image augmentation while training: RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
RandomContrast, RandomBrightness, RandomCrop (``keras/src/layers/preprocessing/image_preprocessing``).

While training each layer draws its transformation from the ``rng`` the executor passes (``seed`` is kept for
Keras round trips; the engine's training seed picks the stream).  At inference each is the identity, except
RandomCrop, which keeps the largest central window of its aspect ratio, resized to its size.
"""
from __future__ import annotations

from engine.errors import ConfigError
from engine.layers.base import Field, Layer, Numerics, register_layer
from engine.numerics import augmentation as num
from engine.shapes import Shape, fmt_shape

_IMAGE = "a 4-D image input (batch, height, width, channels)"
SEED = Field("seed", "int", None, "Keras's seed; the engine draws from its training stream instead.",
             optional=True)
DATA_FORMAT = Field("data_format", "choice", "channels_last", "Axis order: channels_last (batch, h, w, c) or "
                    "channels_first (batch, c, h, w).", choices=("channels_last", "channels_first"), optional=True)
FILL_MODE = Field("fill_mode", "choice", "reflect", "How pixels from outside the image are filled: reflect "
                  "(d c b a | a b c d), wrap, constant (fill_value) or nearest.",
                  choices=("reflect", "wrap", "constant", "nearest"))
INTERPOLATION = Field("interpolation", "choice", "bilinear", "How pixels between grid points are read.",
                      choices=("bilinear", "nearest"))
FILL_VALUE = Field("fill_value", "float", 0.0, "The value outside the image when fill_mode is 'constant'.")
VALUE_RANGE = Field("value_range", "floats", (0.0, 255.0), "The range of the pixel values, e.g. 0, 1 or 0, 255; "
                    "outputs are clipped to it.")


class _Augmentation(Layer):
    family = "augmentation"
    #: (field name, lowest, whether the lowest is excluded) of each factor argument.
    factors: tuple[tuple[str, float, bool], ...] = ()

    def check_config(self) -> None:
        for name, lowest, open_low in self.factors:
            if self.config[name] is not None:
                self._check_factor(name, lowest, open_low)
                if len(self.config[name]) == 1:  # Keras's own range for one number (Keras refuses a 1-tuple)
                    f = abs(self.config[name][0])
                    self.config[name] = (max(-f, lowest), f)
        if "value_range" in self.config and len(self.config["value_range"]) != 2:
            raise ConfigError(f"{self.owner}: value_range must be two numbers [low, high], got "
                              f"{list(self.config['value_range'])}.", "value_range")

    def _check_factor(self, name: str, lowest: float, open_low: bool) -> None:
        values = self.config[name]
        span = f"({lowest:g}, 1]" if open_low else f"[{lowest:g}, 1]"
        if len(values) not in (1, 2):
            raise ConfigError(f"{self.owner}: {name} must be one number or two (a range), got {list(values)}.", name)

        def inside(v: float) -> bool:
            return (lowest < v if open_low else lowest <= v) and v <= 1

        if len(values) == 2 and name == "factor":  # Keras's base check of a factor range
            bad = values[0] > 1 or values[1] < lowest
        elif len(values) == 2:
            bad = not all(inside(v) for v in values)
        else:  # one number f is the range (-|f|, |f|) (from 0 for a contrast), itself a valid range
            bad = not inside(values[0]) or (lowest < 0 and not inside(-abs(values[0])))
        if bad:
            raise ConfigError(f"{self.owner}: {name} must be a number or a range of numbers in {span} (one number f "
                              f"is the range -f, f), got {list(values)}.", name)

    def data_format(self) -> str:
        return self.config.get("data_format") or "channels_last"

    def _image(self, shape: Shape) -> None:
        self.expect_rank(shape, 4, _IMAGE, "add a Reshape to (height, width, channels) before it")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self._image(shape)
        return shape

    def factor_args(self) -> dict:
        return {name: self.config[name] for name, _, _ in self.factors}


@register_layer
class RandomFlip(_Augmentation):
    """Flips each image left-right and/or top-bottom with probability 1/2 while training (identity at inference).

    Args:
        mode: 'horizontal', 'vertical' or 'horizontal_and_vertical' (both axes flipped together, as Keras does).

    Input shape: ``(batch, height, width, channels)``.  Output shape: the same.
    """

    class_name = "RandomFlip"
    fields = (Field("mode", "choice", "horizontal_and_vertical", "Which flips are drawn.",
                    choices=("horizontal", "vertical", "horizontal_and_vertical")), SEED, DATA_FORMAT)

    def summary_args(self) -> str:
        return self.config["mode"].replace("_", " ")

    def numerics(self) -> Numerics:
        return Numerics(num.random_flip_forward, num.random_flip_backward,
                        args={"mode": self.config["mode"], "data_format": self.data_format()}, training_args=True)


class _Affine(_Augmentation):
    def _affine_args(self) -> dict:
        return {**self.factor_args(), **self.config_args("fill_mode", "interpolation", "fill_value"),
                "data_format": self.data_format()}


@register_layer
class RandomRotation(_Affine):
    """Rotates each image by a random angle while training (identity at inference).

    Args:
        factor: a fraction of a full turn: ``0.1`` draws angles in [-36°, 36°]; two numbers give the range.
        fill_mode, interpolation, fill_value: how the rotated image is sampled.

    Input shape: ``(batch, height, width, channels)``.  Output shape: the same.
    """

    class_name = "RandomRotation"
    factors = (("factor", -1.0, False),)
    fields = (Field("factor", "floats", doc="Fraction of a full turn: one number f for [-f, f], or a range."),
              FILL_MODE, INTERPOLATION, SEED, FILL_VALUE, DATA_FORMAT)

    def numerics(self) -> Numerics:
        return Numerics(num.random_rotation_forward, num.random_rotation_backward, args=self._affine_args(),
                        training_args=True)


@register_layer
class RandomZoom(_Affine):
    """Zooms each image by a random amount while training (identity at inference).

    Args:
        height_factor: ``0.2`` draws zooms in [-20 %, +20 %] (negative zooms in); two numbers give the range.
        width_factor: the same for the width; None keeps the aspect ratio (the height's zoom).

    Input shape: ``(batch, height, width, channels)``.  Output shape: the same.
    """

    class_name = "RandomZoom"
    factors = (("height_factor", -1.0, True), ("width_factor", -1.0, True))
    fields = (Field("height_factor", "floats", doc="Vertical zoom range as a fraction, in (-1, 1]."),
              Field("width_factor", "floats", None, "Horizontal zoom range (None: the height's zoom).",
                    optional=True),
              FILL_MODE, INTERPOLATION, SEED, FILL_VALUE, DATA_FORMAT)

    def numerics(self) -> Numerics:
        return Numerics(num.random_zoom_forward, num.random_zoom_backward, args=self._affine_args(),
                        training_args=True)


@register_layer
class RandomTranslation(_Affine):
    """Shifts each image by a random fraction of its size while training (identity at inference).

    Args:
        height_factor, width_factor: ``0.2`` draws shifts in [-20 %, +20 %]; two numbers give the range.

    Input shape: ``(batch, height, width, channels)``.  Output shape: the same.
    """

    class_name = "RandomTranslation"
    factors = (("height_factor", -1.0, False), ("width_factor", -1.0, False))
    fields = (Field("height_factor", "floats", doc="Vertical shift range as a fraction of the height."),
              Field("width_factor", "floats", doc="Horizontal shift range as a fraction of the width."),
              FILL_MODE, INTERPOLATION, SEED, FILL_VALUE, DATA_FORMAT)

    def numerics(self) -> Numerics:
        return Numerics(num.random_translation_forward, num.random_translation_backward, args=self._affine_args(),
                        training_args=True)


@register_layer
class RandomContrast(_Augmentation):
    """Scales each channel's deviation from its mean by a random factor while training (identity at inference).

    Args:
        factor: one number f draws factors in [1, 1 + f] (Keras 3); a range (a, b) draws in [1 - a, 1 + b].
        value_range: the pixel range the output is clipped to.

    Input shape: ``(batch, height, width, channels)``.  Output shape: the same.
    """

    class_name = "RandomContrast"
    factors = (("factor", 0.0, False),)
    fields = (Field("factor", "floats", doc="Contrast range: f for [1, 1 + f], or (a, b) for [1 - a, 1 + b]."),
              VALUE_RANGE, SEED)

    def numerics(self) -> Numerics:
        return Numerics(num.random_contrast_forward, num.random_contrast_backward,
                        args={**self.factor_args(), "value_range": self.config["value_range"]}, training_args=True)


@register_layer
class RandomBrightness(_Augmentation):
    """Adds a random offset to each image while training and clips to ``value_range`` (identity at inference).

    Args:
        factor: a fraction of the value range: ``0.2`` draws offsets in [-20 %, +20 %]; two numbers give the range.
        value_range: the pixel range; offsets are scaled to it and the output is clipped to it.

    Input shape: ``(batch, height, width, channels)``.  Output shape: the same.
    """

    class_name = "RandomBrightness"
    factors = (("factor", -1.0, False),)
    fields = (Field("factor", "floats", doc="Offset range as a fraction of value_range, in [-1, 1]."),
              VALUE_RANGE, SEED)

    def numerics(self) -> Numerics:
        return Numerics(num.random_brightness_forward, num.random_brightness_backward,
                        args={**self.factor_args(), "value_range": self.config["value_range"]}, training_args=True)


@register_layer
class RandomCrop(_Augmentation):
    """Crops a random ``height`` x ``width`` window while training (one place per batch); at inference, and
    while training on images not larger than the crop, keeps the largest central window of that aspect ratio,
    resized (bilinear) to ``height`` x ``width``.

    Input shape: ``(batch, height, width, channels)`` with known sizes.
    Output shape: ``(batch, height, width, channels)`` with the new sizes.
    """

    class_name = "RandomCrop"
    fields = (Field("height", "int", doc="Output height in pixels.", min=1),
              Field("width", "int", doc="Output width in pixels.", min=1), SEED, DATA_FORMAT)

    def summary_args(self) -> str:
        return f"{self.config['height']}×{self.config['width']}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        self._image(shape)
        first = self.data_format() == "channels_first"
        h, w = (shape[2], shape[3]) if first else (shape[1], shape[2])
        if h is None or w is None:
            raise self.shape_error(f"needs known input height and width but gets {fmt_shape(shape)}; "
                                   "give the Input a full shape.")
        size = (self.config["height"], self.config["width"])
        return (shape[0], shape[1], *size) if first else (shape[0], *size, shape[3])

    def numerics(self) -> Numerics:
        return Numerics(num.random_crop_forward, num.random_crop_backward,
                        args={**self.config_args("height", "width"), "data_format": self.data_format()},
                        training_args=True)
