"""Activation layers with arguments: ReLU, LeakyReLU, ELU, Softmax, PReLU (``keras/src/layers/activations``).

The plain ``Activation`` layer lives in ``core.py``; these are the ones whose behaviour depends on their
config (and PReLU, which learns its slopes).
"""
from __future__ import annotations

import numpy as np

from engine.activations import elu, elu_grad, softmax_grad
from engine.errors import ConfigError
from engine.layers.base import Field, Layer, WeightSpec, register_layer
from engine.shapes import Shape, fmt_shape

_KEPT = "Kept for Keras round trips; not applied by the engine."


class _Elementwise(Layer):
    family = "activation"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]


@register_layer
class ReLU(_Elementwise):
    """Rectified linear unit with optional ceiling, threshold and leak.

    ``f(x) = min(x, max_value)`` for ``x > threshold``, else ``negative_slope * (x - threshold)``.

    Args:
        max_value: largest output value (None = no ceiling).
        negative_slope: slope below the threshold.
        threshold: inputs at or below this value are damped (or zeroed).

    Input shape: any.  Output shape: same as the input.
    """

    class_name = "ReLU"
    fields = (
        Field("max_value", "float", None, "Largest output value (None = no ceiling).", min=0.0, optional=True),
        Field("negative_slope", "float", 0.0, "Slope for inputs below the threshold.", min=0.0),
        Field("threshold", "float", 0.0, "Inputs at or below this value are damped.", min=0.0),
    )

    def summary_args(self) -> str:
        c = self.config
        parts = []
        if c["max_value"] is not None:
            parts.append(f"max {c['max_value']:g}")
        if c["negative_slope"]:
            parts.append(f"slope {c['negative_slope']:g}")
        if c["threshold"]:
            parts.append(f"threshold {c['threshold']:g}")
        return ", ".join(parts)

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        c = self.config
        t, s, m = c["threshold"], c["negative_slope"], c["max_value"]
        above = x > t
        y = np.where(above, x, 0).astype(x.dtype, copy=False)
        if m is not None:
            y = np.clip(y, 0, m).astype(x.dtype, copy=False)
        if s:
            y = y + (s * np.minimum(x - t, 0)).astype(x.dtype, copy=False)
        return y, x

    def backward(self, grad_out, cache, weights):
        x = cache
        c = self.config
        t, s, m = c["threshold"], c["negative_slope"], c["max_value"]
        d = x > t
        if m is not None:
            d &= x < m
        slope = d.astype(x.dtype) + s * (x < t)
        return [grad_out * slope], {}


@register_layer
class LeakyReLU(_Elementwise):
    """Leaky rectified linear unit: ``x`` if ``x >= 0`` else ``negative_slope * x``.

    Args:
        negative_slope: slope for negative inputs (Keras 3 default 0.3).

    Input shape: any.  Output shape: same as the input.
    """

    class_name = "LeakyReLU"
    fields = (Field("negative_slope", "float", 0.3, "Slope for negative inputs.", min=0.0),)

    def summary_args(self) -> str:
        return f"α {self.config['negative_slope']:g}"

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        s = self.config["negative_slope"]
        return np.where(x >= 0, x, s * x).astype(x.dtype, copy=False), x

    def backward(self, grad_out, cache, weights):
        x = cache
        return [np.where(x >= 0, grad_out, self.config["negative_slope"] * grad_out)], {}


@register_layer
class ELU(_Elementwise):
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    Args:
        alpha: scale of the negative part.

    Input shape: any.  Output shape: same as the input.
    """

    class_name = "ELU"
    fields = (Field("alpha", "float", 1.0, "Scale of the negative part: alpha * (exp(x) - 1)."),)

    def summary_args(self) -> str:
        return f"α {self.config['alpha']:g}"

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        y = elu(x, self.config["alpha"]).astype(x.dtype, copy=False)
        return y, (x, y)

    def backward(self, grad_out, cache, weights):
        x, y = cache
        return [elu_grad(x, y, grad_out, self.config["alpha"])], {}


@register_layer
class Softmax(_Elementwise):
    """Softmax over ``axis``: ``exp(x) / sum(exp(x))``; with several axes the sum runs over all of them.

    Args:
        axis: int or list of ints, the axes to normalize over (default -1).

    Input shape: any.  Output shape: same as the input.
    """

    class_name = "Softmax"
    fields = (Field("axis", "ints", (-1,), "Axis or axes the probabilities sum to 1 over, usually -1."),)

    def check_config(self) -> None:
        if not self.config["axis"]:
            raise ConfigError(f"{self.owner}: argument 'axis' needs at least one axis, e.g. -1.", "axis")

    def summary_args(self) -> str:
        return "axis " + ", ".join(map(str, self.config["axis"]))

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        rank = len(shape)
        for a in self.config["axis"]:
            if not -rank <= a < rank:
                raise self.shape_error(f"normalizes axis {a}, which does not exist in an input of shape "
                                       f"{fmt_shape(shape)}; pick an axis between {-rank + 1} and {rank - 1}.")
            if a % rank == 0:
                raise self.shape_error(f"would normalize over the batch axis (axis {a}) of {fmt_shape(shape)}; "
                                       "use axis=-1.")
        return shape

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        ax = tuple(a % x.ndim for a in self.config["axis"])
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        y = e / e.sum(axis=ax, keepdims=True)
        return y, (y, ax)

    def backward(self, grad_out, cache, weights):
        y, ax = cache
        return [softmax_grad(y, grad_out, axis=ax)], {}


@register_layer
class PReLU(_Elementwise):
    """Parametric ReLU: ``x`` if ``x >= 0`` else ``alpha * x`` with a learned ``alpha`` per input element.

    Args:
        alpha_initializer: initializer of the slopes (default zeros, i.e. starts as a ReLU).
        shared_axes: axes (1 = first axis after the batch) along which one slope is shared, e.g. ``[1, 2]``
            for one slope per channel of an image.

    Input shape: any, with known sizes on the axes that are not shared.  Output shape: same as the input.
    Weights: ``alpha`` of the input shape without the batch axis, with shared axes of size 1.
    """

    class_name = "PReLU"
    fields = (
        Field("alpha_initializer", "initializer", "zeros", "Initializer of the learned slopes."),
        Field("alpha_regularizer", "json", None, _KEPT),
        Field("alpha_constraint", "json", None, _KEPT),
        Field("shared_axes", "ints", None, "Axes sharing one slope (1 = first axis after the batch).",
              optional=True),
    )

    def summary_args(self) -> str:
        sa = self.config["shared_axes"]
        return f"shared axes {', '.join(map(str, sa))}" if sa else ""

    def _alpha_shape(self, shape: Shape) -> tuple[int, ...]:
        rank = len(shape)
        shared = self.config["shared_axes"] or ()
        for a in shared:
            if not 1 <= a < rank:
                raise self.shape_error(f"shares its slopes along axis {a}, but an input of shape {fmt_shape(shape)} "
                                       f"has axes 1 to {rank - 1} after the batch; pick shared_axes from those.")
        out = []
        for i in range(1, rank):
            if i in shared:
                out.append(1)
            elif shape[i] is None:
                raise self.shape_error(f"needs a known size on axis {i} to give it slopes but gets "
                                       f"{fmt_shape(shape)}; give the Input a full shape or share that axis.")
            else:
                out.append(shape[i])
        return tuple(out)

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        if len(shape) < 2:
            raise self.shape_error(f"expects an input with a feature axis but gets {fmt_shape(shape)}.")
        self._alpha_shape(shape)
        return shape

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        return [WeightSpec("alpha", self._alpha_shape(input_shapes[0]), self.config["alpha_initializer"])]

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        alpha = weights["alpha"].astype(x.dtype, copy=False)
        return np.where(x >= 0, x, alpha * x), x

    def backward(self, grad_out, cache, weights):
        x = cache
        alpha = weights["alpha"]
        neg = x < 0
        gx = np.where(neg, alpha * grad_out, grad_out)
        ga = (grad_out * np.where(neg, x, 0)).sum(axis=0)
        axes = tuple(i for i, n in enumerate(alpha.shape) if n == 1 and ga.shape[i] != 1)
        if axes:
            ga = ga.sum(axis=axes, keepdims=True)
        return [gx], {"alpha": ga}
