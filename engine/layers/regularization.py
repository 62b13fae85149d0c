"""Regularization layers: Dropout, SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout
(``keras/src/layers/regularization``).

All of them are the identity at inference.  While training they draw their noise from the ``rng`` the
executor passes to ``forward`` (``seed`` is kept for Keras round trips and only used when no ``rng`` is
given), and ``backward`` reuses the mask/noise stored in the cache.
"""
from __future__ import annotations

import math

import numpy as np

from engine.errors import ConfigError
from engine.layers.base import Field, Layer, register_layer
from engine.shapes import Shape, fmt_shape

_SEED = Field("seed", "int", None, "Seed kept for Keras round trips; the engine draws from the trainer's generator.",
              optional=True)


def _rng(layer: Layer, rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng(layer.config["seed"])


def _dropout(x: np.ndarray, rate: float, noise_shape: tuple[int, ...], rng: np.random.Generator):
    """Keras's rule: keep where ``uniform < 1 - rate`` and scale kept values by ``1 / (1 - rate)``."""
    if rate >= 1.0:
        mask = np.zeros(noise_shape, dtype=x.dtype)
    else:
        keep = 1.0 - rate
        mask = (rng.random(noise_shape) < keep).astype(x.dtype) / np.asarray(keep, dtype=x.dtype)
    return x * mask, mask


class BaseDropout(Layer):
    """Shared rate field, identity shape and masked backward of the dropout layers."""

    family = "regularization"

    def summary_args(self) -> str:
        return f"rate {self.config['rate']:g}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def noise_shape(self, x_shape: tuple[int, ...]) -> tuple[int, ...]:
        return x_shape

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        rate = self.config["rate"]
        if not training or rate == 0:
            return x, None
        y, mask = _dropout(x, rate, self.noise_shape(x.shape), _rng(self, rng))
        return y, mask

    def backward(self, grad_out, cache, weights):
        mask = cache
        return [grad_out if mask is None else grad_out * mask], {}


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

    def noise_shape(self, x_shape):
        ns = self.config["noise_shape"]
        if ns is None:
            return x_shape
        return tuple(d if n is None else n for n, d in zip(ns, x_shape))


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

    def noise_shape(self, x_shape):
        ones = (1,) * self.rank
        if self._channels_last():
            return (x_shape[0], *ones, x_shape[-1])
        return (x_shape[0], x_shape[1], *ones)


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

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        s = self.config["stddev"]
        if not training or s == 0:
            return x, None
        noise = _rng(self, rng).normal(0.0, s, size=x.shape).astype(x.dtype)
        return x + noise, None

    def backward(self, grad_out, cache, weights):
        return [grad_out], {}


@register_layer
class GaussianDropout(Layer):
    """Multiplies the inputs by Gaussian noise of mean 1 and stddev ``sqrt(rate / (1 - rate))`` while training.

    Args:
        rate: float in [0, 1), the drop probability of the equivalent Dropout.
        seed: kept for Keras round trips.

    Input shape: any.  Output shape: same as the input.
    """

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

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        rate = self.config["rate"]
        if not training or rate == 0:
            return x, None
        std = math.sqrt(rate / (1.0 - rate))
        noise = _rng(self, rng).normal(1.0, std, size=x.shape).astype(x.dtype)
        return x * noise, noise

    def backward(self, grad_out, cache, weights):
        return [grad_out if cache is None else grad_out * cache], {}
