"""Activation layers with arguments: ReLU, LeakyReLU, ELU, Softmax, PReLU (``keras/src/layers/activations``).

The plain ``Activation`` layer lives in ``core.py``; these are the ones whose behaviour depends on their
config (and PReLU, which learns its slopes).
"""
from __future__ import annotations

from engine.layers.base import PENALTY_DOC, Field, Layer, Numerics, WeightSpec, register_layer, require_axes
from engine.numerics import activation_layers as num
from engine.shapes import Shape, fmt_shape


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
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

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

    def output_activation(self) -> str | None:
        # without a leak, outputs below the threshold are exactly zero, as after a plain relu
        return "relu" if not self.config["negative_slope"] else None

    def numerics(self) -> Numerics:
        return Numerics(num.relu_layer_forward, num.relu_layer_backward,
                        args=self.config_args("max_value", "negative_slope", "threshold"))


@register_layer
class LeakyReLU(_Elementwise):
    """Leaky rectified linear unit: ``x`` if ``x >= 0`` else ``negative_slope * x``.

    Args:
        negative_slope: slope for negative inputs (Keras 3 default 0.3).

    Input shape: any.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "LeakyReLU"
    fields = (Field("negative_slope", "float", 0.3, "Slope for negative inputs.", min=0.0),)

    def summary_args(self) -> str:
        return f"α {self.config['negative_slope']:g}"

    def numerics(self) -> Numerics:
        return Numerics(num.leaky_relu_layer_forward, num.leaky_relu_layer_backward,
                        args=self.config_args("negative_slope"))


@register_layer
class ELU(_Elementwise):
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    Args:
        alpha: scale of the negative part.

    Input shape: any.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "ELU"
    fields = (Field("alpha", "float", 1.0, "Scale of the negative part: alpha * (exp(x) - 1)."),)

    def summary_args(self) -> str:
        return f"α {self.config['alpha']:g}"

    def numerics(self) -> Numerics:
        return Numerics(num.elu_layer_forward, num.elu_layer_backward, args=self.config_args("alpha"))


@register_layer
class Softmax(_Elementwise):
    """Softmax over ``axis``: ``exp(x) / sum(exp(x))``; with several axes the sum runs over all of them.

    Args:
        axis: int or list of ints, the axes to normalize over (default -1).

    Input shape: any.  Output shape: same as the input.
    """

    class_name = "Softmax"
    mask_rule = "refuse"
    mask_refusal = ("Keras's Softmax refuses a sequence mask that does not broadcast to its input; put the "
                    "Softmax before the layer that makes the mask, or pool the sequence first.")
    fields = (Field("axis", "ints", (-1,), "Axis or axes the probabilities sum to 1 over, usually -1."),)

    def check_config(self) -> None:
        require_axes(self)

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

    def output_activation(self) -> str | None:
        return "softmax"

    def numerics(self) -> Numerics:
        return Numerics(num.softmax_layer_forward, num.softmax_layer_backward,
                        args=self.config_args("axis"))


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
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "PReLU"
    fields = (
        Field("alpha_initializer", "initializer", "zeros", "Initializer of the learned slopes."),
        Field("alpha_regularizer", "json", None, PENALTY_DOC),
        Field("alpha_constraint", "json", None, PENALTY_DOC),
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

    def numerics(self) -> Numerics:
        return Numerics(num.prelu_forward, num.prelu_backward, ("alpha",))
