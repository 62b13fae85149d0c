"""Regularization layers: Dropout, SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout,
ActivityRegularization (``keras/src/layers/regularization``).

All of them are the identity at inference.  While training they draw their noise from the ``rng`` the
executor passes to ``forward`` (``seed`` is kept for Keras round trips and only used when no ``rng`` is
given); their numerics live in ``engine.numerics.regularization``.
"""
from __future__ import annotations

from engine.errors import ConfigError
from engine.layers.base import Field, Layer, Numerics, register_layer
from engine.numerics import regularization as num
from engine.shapes import Shape, fmt_shape

_SEED = Field("seed", "int", None, "Seed kept for Keras round trips; the engine draws from the trainer's generator.",
              optional=True)


class BaseDropout(Layer):
    """Shared rate field, identity shape and masked backward of the dropout layers."""
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    family = "regularization"

    def summary_args(self) -> str:
        return f"rate {self.config['rate']:g}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def noise_shape(self) -> tuple[int | None, ...] | None:
        """The mask shape, None entries following the input (None = the input's shape)."""
        return None

    def numerics(self) -> Numerics:
        return Numerics(num.dropout_forward, num.dropout_backward,
                        args={"rate": self.config["rate"], "noise_shape": self.noise_shape(),
                              "seed": self.config["seed"]}, training_args=True)


@register_layer
class Dropout(BaseDropout):
    """Randomly sets a fraction ``rate`` of the inputs to 0 while training and scales the rest by
    ``1 / (1 - rate)`` so the expected sum is unchanged.  At inference it passes the input through.

    Args:
        rate: float between 0 and 1, fraction of the inputs to drop.
        noise_shape: optional shape of the binary mask (batch included), broadcast to the input; e.g.
            ``(None, 1, features)`` drops the same features at every time step.  None entries take the
            input's size.
        seed: kept for Keras round trips.

    Input shape: any.  Output shape: same as the input.
    """

    class_name = "Dropout"
    fields = (
        Field("rate", "float", doc="Fraction of the inputs to drop, between 0 and 1.", min=0.0, max=1.0),
        Field("noise_shape", "shape", None, "Shape of the dropout mask (batch first, None = input size), "
              "broadcast to the input.", optional=True, allow_unknown=True),
        _SEED,
    )

    def check_config(self) -> None:
        ns = self.config["noise_shape"]
        if ns is not None and any(d is not None and d < 1 for d in ns):
            raise ConfigError(f"{self.owner}: argument 'noise_shape' dimensions must be positive integers or None, "
                              f"got {list(ns)}.", "noise_shape")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        ns = self.config["noise_shape"]
        if ns is not None:
            if len(ns) != len(shape):
                raise self.shape_error(f"has noise_shape {fmt_shape(ns)} of rank {len(ns)} but its input "
                                       f"{fmt_shape(shape)} has rank {len(shape)}; give one entry per input axis "
                                       "(batch first, None to follow the input).")
            for i, (n, d) in enumerate(zip(ns, shape)):
                if n is not None and n != 1 and d is not None and n != d:
                    raise self.shape_error(f"has noise_shape {fmt_shape(ns)} that cannot broadcast to its input "
                                           f"{fmt_shape(shape)} on axis {i}; use 1, None or {d} there.")
        return shape

    def noise_shape(self):
        return self.config["noise_shape"]


class BaseSpatialDropout(BaseDropout):
    """Dropout of whole feature maps: one keep/drop decision per sample and channel."""

    rank: int = 2
    fields = (
        Field("rate", "float", doc="Fraction of the channels to drop, between 0 and 1.", min=0.0, max=1.0),
        Field("data_format", "choice", None, "Where the channels are: channels_last (default) or channels_first.",
              choices=("channels_last", "channels_first"), optional=True),
        _SEED,
    )

    @classmethod
    def all_fields(cls) -> tuple[Field, ...]:
        # Keras's SpatialDropout constructors take no 'trainable' (it has no weights anyway), so leaving it
        # out keeps get_config() loadable by keras.layers.SpatialDropout2D.from_config.
        return tuple(cls.fields)

    def _channels_last(self) -> bool:
        return self.config.get("data_format") in (None, "channels_last")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        n = self.rank + 2
        what = {3: "a sequence (batch, steps, channels)", 4: "an image (batch, rows, cols, channels)",
                5: "a volume (batch, d1, d2, d3, channels)"}[n]
        self.expect_rank(shape, n, what, f"use plain Dropout for other inputs, or a {self.class_name} "
                                         "matching the input's rank")
        return shape

    def noise_shape(self):
        ones = (1,) * self.rank
        return (None, *ones, None) if self._channels_last() else (None, None, *ones)


@register_layer
class SpatialDropout1D(BaseSpatialDropout):
    """Dropout that drops entire 1-D feature maps (a channel at every time step) while training.

    Args:
        rate: float between 0 and 1, fraction of the channels to drop.
        seed: kept for Keras round trips.

    Input shape: ``(batch, steps, channels)``.  Output shape: same as the input.
    """

    class_name = "SpatialDropout1D"
    rank = 1
    fields = tuple(f for f in BaseSpatialDropout.fields if f.name != "data_format")


@register_layer
class SpatialDropout2D(BaseSpatialDropout):
    """Dropout that drops entire 2-D feature maps (a whole channel of an image) while training.

    Neighbouring pixels are strongly correlated, so dropping single pixels barely regularizes a
    convolution; dropping whole channels does.

    Args:
        rate: float between 0 and 1, fraction of the channels to drop.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: kept for Keras round trips.

    Input shape: ``(batch, rows, cols, channels)``.  Output shape: same as the input.
    """

    class_name = "SpatialDropout2D"
    rank = 2


@register_layer
class SpatialDropout3D(BaseSpatialDropout):
    """Dropout that drops entire 3-D feature maps (a whole channel of a volume) while training.

    Args:
        rate: float between 0 and 1, fraction of the channels to drop.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: kept for Keras round trips.

    Input shape: ``(batch, d1, d2, d3, channels)``.  Output shape: same as the input.
    """

    class_name = "SpatialDropout3D"
    rank = 3


@register_layer
class GaussianNoise(Layer):
    """Adds zero-centred Gaussian noise of standard deviation ``stddev`` while training (identity at inference).

    Args:
        stddev: float between 0 and 1, standard deviation of the noise.
        seed: kept for Keras round trips.

    Input shape: any.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "GaussianNoise"
    family = "regularization"
    fields = (
        Field("stddev", "float", doc="Standard deviation of the added noise, between 0 and 1.", min=0.0, max=1.0),
        _SEED,
    )

    def summary_args(self) -> str:
        return f"σ {self.config['stddev']:g}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def numerics(self) -> Numerics:
        return Numerics(num.gaussian_noise_forward, num.gaussian_noise_backward,
                        args=self.config_args("stddev", "seed"), training_args=True)


@register_layer
class GaussianDropout(Layer):
    """Multiplies the inputs by Gaussian noise of mean 1 and stddev ``sqrt(rate / (1 - rate))`` while training.

    Args:
        rate: float in [0, 1), the drop probability of the equivalent Dropout.
        seed: kept for Keras round trips.

    Input shape: any.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "GaussianDropout"
    family = "regularization"
    fields = (
        Field("rate", "float", doc="Drop probability of the equivalent Dropout, in [0, 1).", min=0.0, max=1.0),
        _SEED,
    )

    def check_config(self) -> None:
        if self.config["rate"] >= 1.0:
            raise ConfigError(f"{self.owner}: argument 'rate' must be below 1 (rate 1 gives infinite noise); "
                              "use a smaller rate.", "rate")

    def summary_args(self) -> str:
        return f"rate {self.config['rate']:g}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def numerics(self) -> Numerics:
        return Numerics(num.gaussian_dropout_forward, num.gaussian_dropout_backward,
                        args=self.config_args("rate", "seed"), training_args=True)


@register_layer
class AlphaDropout(Dropout):
    """Dropout that keeps a SELU network self-normalizing: while training, dropped inputs are set to SELU's
    negative saturation value and the result is scaled and shifted to keep the mean and variance.

    Args:
        rate: float between 0 and 1, fraction of the inputs to drop.
        noise_shape: optional shape of the drop mask (batch first, None entries follow the input).
        seed: kept for Keras round trips.

    Input shape: any.  Output shape: same as the input.
    """

    class_name = "AlphaDropout"

    def numerics(self) -> Numerics:
        return Numerics(num.alpha_dropout_forward, num.alpha_dropout_backward,
                        args=self.config_args("rate", "noise_shape", "seed"), training_args=True)


@register_layer
class ActivityRegularization(Layer):
    """Passes its input through and adds ``(l1 * sum|x| + l2 * sum x²) / batch`` to the loss, which pushes
    the activations towards zero (sparse or small) while training.

    Args:
        l1: L1 factor (sparsity).
        l2: L2 factor (small activations).

    Input shape: any.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "ActivityRegularization"
    family = "regularization"
    fields = (
        Field("l1", "float", 0.0, "Factor of the sum of absolute activations added to the loss.", min=0.0),
        Field("l2", "float", 0.0, "Factor of the sum of squared activations added to the loss.", min=0.0),
    )

    def summary_args(self) -> str:
        return ", ".join(f"{k} {self.config[k]:g}" for k in ("l1", "l2") if self.config[k])

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def numerics(self) -> Numerics:
        return Numerics(num.activity_regularization_forward, num.activity_regularization_backward,
                        args=self.config_args("l1", "l2"))

    def added_loss(self, cache) -> float:
        return num.activity_penalty(cache, self.config["l1"], self.config["l2"])
