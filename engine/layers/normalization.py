"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization,
RMSNormalization (``keras/src/layers/normalization``)."""
from __future__ import annotations

import numpy as np

from engine.errors import ConfigError
from engine.layers.base import PENALTY_DOC, Field, Layer, Numerics, WeightSpec, register_layer, require_axes
from engine.numerics import normalization as num
from engine.shapes import Shape, fmt_shape



def _normalize_axes(layer: Layer, axes, shape: Shape, *, allow_batch: bool = False,
                    allow_unknown: bool = False) -> list[int]:
    """Turn possibly negative axes into sorted positive indices of ``shape``, or raise the fix."""
    rank = len(shape)
    out = []
    for a in axes:
        if a >= rank or a < -rank:
            raise layer.shape_error(f"normalizes axis {a}, which does not exist in an input of shape "
                                    f"{fmt_shape(shape)}; pick an axis between {-rank + 1} and {rank - 1}.")
        p = a % rank
        if p == 0 and not allow_batch:
            raise layer.shape_error(f"cannot normalize over the batch axis (axis {a}) of {fmt_shape(shape)}; "
                                    "use axis=-1 (the features/channels).")
        if shape[p] is None and not allow_unknown:
            raise layer.shape_error(f"needs a known size on axis {a} but gets {fmt_shape(shape)}; "
                                    "give the Input a full shape.")
        out.append(p)
    if len(set(out)) != len(out):
        raise layer.shape_error(f"lists the same axis twice in axis={list(axes)}; list each axis once.")
    return sorted(out)


#: The learned offset and scale's arguments, in Keras's order (LayerNormalization, GroupNormalization).
BETA_GAMMA_FIELDS = (
    Field("beta_initializer", "initializer", "zeros", "Initializer of beta."),
    Field("gamma_initializer", "initializer", "ones", "Initializer of gamma."),
    Field("beta_regularizer", "json", None, PENALTY_DOC),
    Field("gamma_regularizer", "json", None, PENALTY_DOC),
    Field("beta_constraint", "json", None, PENALTY_DOC),
    Field("gamma_constraint", "json", None, PENALTY_DOC),
)

@register_layer
class BatchNormalization(Layer):
    """Normalizes each feature/channel with the batch's statistics while training, moving averages at inference.

    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta``.  While training, ``mean`` and ``var`` (biased)
    are taken over every axis except ``axis``, and the moving statistics become
    ``moving * momentum + batch * (1 - momentum)``.  At inference the moving statistics are used.

    Args:
        axis: the features axis (usually -1, the channels).
        momentum: momentum of the moving averages.
        epsilon: small float added to the variance to avoid dividing by zero.
        center: whether to add the learned offset ``beta``.
        scale: whether to multiply by the learned ``gamma``.

    Input shape: any, with a known size on ``axis``.  Output shape: same as the input.
    """

    class_name = "BatchNormalization"
    mask_rule = "refuse"
    mask_refusal = ("the engine does not compute Keras's masked batch statistics; use LayerNormalization, "
                    "or put the BatchNormalization before the layer that makes the mask.")
    family = "normalization"
    fields = (
        Field("axis", "int", -1, "The axis that holds the features (normalized separately), usually -1."),
        Field("momentum", "float", 0.99, "Momentum of the moving mean and variance.", min=0.0, max=1.0),
        Field("epsilon", "float", 1e-3, "Added to the variance so the division never divides by zero.", min=0.0),
        Field("center", "bool", True, "Add the learned offset beta."),
        Field("scale", "bool", True, "Multiply by the learned scale gamma."),
        Field("beta_initializer", "initializer", "zeros", "Initializer of beta."),
        Field("gamma_initializer", "initializer", "ones", "Initializer of gamma."),
        Field("moving_mean_initializer", "initializer", "zeros", "Initializer of the moving mean."),
        Field("moving_variance_initializer", "initializer", "ones", "Initializer of the moving variance."),
        Field("beta_regularizer", "json", None, PENALTY_DOC),
        Field("gamma_regularizer", "json", None, PENALTY_DOC),
        Field("beta_constraint", "json", None, PENALTY_DOC),
        Field("gamma_constraint", "json", None, PENALTY_DOC),
        Field("synchronized", "bool", False, "Multi-device statistics (TensorFlow only); must stay false."),
        Field("renorm", "bool", False, "Batch renormalization; not supported by the engine, must stay false."),
        Field("renorm_clipping", "json", None, "Kept for Keras round trips (unused while renorm is off)."),
        Field("renorm_momentum", "float", 0.99, "Momentum of batch renormalization (unused while renorm is off)."),
    )

    def check_config(self) -> None:
        if self.config["synchronized"]:
            raise ConfigError(f"{self.owner}: synchronized=True only works with Keras's TensorFlow backend; "
                              "set it to false.", "synchronized")
        if self.config["renorm"]:
            raise ConfigError(f"{self.owner}: renorm=True (batch renormalization) is not supported by the "
                              "engine; set it to false.", "renorm")

    def summary_args(self) -> str:
        return f"axis {self.config['axis']}, momentum {self.config['momentum']:g}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        _normalize_axes(self, [self.config["axis"]], shape)
        return shape

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        shape = input_shapes[0]
        (ax,) = _normalize_axes(self, [self.config["axis"]], shape)
        c = (shape[ax],)
        cfg = self.config
        specs = []
        if cfg["scale"]:
            specs.append(WeightSpec("gamma", c, cfg["gamma_initializer"]))
        if cfg["center"]:
            specs.append(WeightSpec("beta", c, cfg["beta_initializer"]))
        specs.append(WeightSpec("moving_mean", c, cfg["moving_mean_initializer"], trainable=False))
        specs.append(WeightSpec("moving_variance", c, cfg["moving_variance_initializer"], trainable=False))
        return specs

    def numerics(self) -> Numerics:
        # a frozen layer (trainable=False) normalizes with its moving statistics even while training, as in Keras
        return Numerics(num.batch_normalization_forward, num.batch_normalization_backward,
                        ("gamma", "beta", "moving_mean", "moving_variance"), self.config_args("axis", "epsilon"),
                        training_args=self.config["trainable"])

    def state_updates(self, cache) -> dict[str, np.ndarray]:
        stats = num.batch_normalization_moving_stats(cache, self.config["momentum"])
        return {} if stats is None else {"moving_mean": stats[0], "moving_variance": stats[1]}


@register_layer
class LayerNormalization(Layer):
    """Normalizes each sample over ``axis`` (the features), then scales by ``gamma`` and shifts by ``beta``.

    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta`` with the mean and (biased) variance taken over
    ``axis`` of every sample separately; it behaves the same while training and at inference.

    Args:
        axis: int or list of ints, the axes to normalize over (usually -1).
        epsilon: small float added to the variance to avoid dividing by zero.
        center: whether to add the learned offset ``beta``.
        scale: whether to multiply by the learned ``gamma``.
        rms_scaling: deprecated Keras flag: ``x / sqrt(var + epsilon) * gamma`` without centering or beta.

    Input shape: any, with known sizes on ``axis``.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "LayerNormalization"
    family = "normalization"
    fields = (
        Field("axis", "ints", (-1,), "Axis or axes to normalize over, usually -1 (the features)."),
        Field("epsilon", "float", 1e-3, "Added to the variance so the division never divides by zero.", min=0.0),
        Field("center", "bool", True, "Add the learned offset beta."),
        Field("scale", "bool", True, "Multiply by the learned scale gamma."),
        Field("rms_scaling", "bool", False, "Deprecated in Keras: divide by sqrt(var + epsilon) without centering "
              "or beta (prefer the default)."),
        *BETA_GAMMA_FIELDS,
    )

    def check_config(self) -> None:
        require_axes(self)

    def summary_args(self) -> str:
        axes = self.config["axis"]
        return "axis " + (str(axes[0]) if len(axes) == 1 else ", ".join(map(str, axes)))

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        _normalize_axes(self, self.config["axis"], shape)
        return shape

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        shape = input_shapes[0]
        _normalize_axes(self, self.config["axis"], shape)
        # Keras sorts the raw (possibly negative) axes, so axis=[-1, 1] gives gamma (shape[-1], shape[1]);
        # the forward pass reshapes it (no transpose) onto the positive axis order, exactly like Keras.
        wshape = tuple(shape[a] for a in sorted(self.config["axis"]))
        cfg = self.config
        specs = []
        if cfg["scale"] or cfg["rms_scaling"]:
            specs.append(WeightSpec("gamma", wshape, cfg["gamma_initializer"]))
        if cfg["center"] and not cfg["rms_scaling"]:
            specs.append(WeightSpec("beta", wshape, cfg["beta_initializer"]))
        return specs

    def numerics(self) -> Numerics:
        return Numerics(num.layer_normalization_forward, num.layer_normalization_backward, ("gamma", "beta"),
                        self.config_args("axis", "epsilon", "rms_scaling"))


@register_layer
class GroupNormalization(Layer):
    """Splits the channels into ``groups`` and normalizes each sample's group over its channels and positions.

    ``groups=1`` is LayerNormalization over all non-batch axes, ``groups=-1`` (one group per channel) is
    instance normalization.  It behaves the same while training and at inference.

    Args:
        groups: number of groups; the channel count must be a multiple of it (-1 = one per channel).
        axis: the channels axis (usually -1).
        epsilon: small float added to the variance to avoid dividing by zero.
        center: whether to add the learned offset ``beta``.
        scale: whether to multiply by the learned ``gamma``.

    Input shape: any, with a known size on ``axis``.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "GroupNormalization"
    family = "normalization"
    fields = (
        Field("groups", "int", 32, "Number of channel groups (-1 = one group per channel).", min=-1),
        Field("axis", "int", -1, "The axis that holds the channels, usually -1."),
        Field("epsilon", "float", 1e-3, "Added to the variance so the division never divides by zero.", min=0.0),
        Field("center", "bool", True, "Add the learned offset beta."),
        Field("scale", "bool", True, "Multiply by the learned scale gamma."),
        *BETA_GAMMA_FIELDS,
    )

    def check_config(self) -> None:
        if self.config["groups"] == 0:
            raise ConfigError(f"{self.owner}: argument 'groups' must be a positive integer or -1 (one group per "
                              "channel), got 0.", "groups")

    def summary_args(self) -> str:
        g = self.config["groups"]
        return "one group per channel" if g == -1 else f"{g} groups"

    def _groups(self, shape: Shape) -> int:
        (ax,) = _normalize_axes(self, [self.config["axis"]], shape)
        c, g = shape[ax], self.config["groups"]
        g = c if g == -1 else g
        if g > c or c % g:
            raise self.shape_error(f"splits {c} channels (input {fmt_shape(shape)}) into {g} groups; the channel "
                                   f"count must be a multiple of groups, so pick a divisor of {c} or -1.")
        return g

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        self._groups(input_shapes[0])
        return input_shapes[0]

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        shape = input_shapes[0]
        self._groups(shape)
        c = (shape[self.config["axis"]],)
        specs = []
        if self.config["scale"]:
            specs.append(WeightSpec("gamma", c, self.config["gamma_initializer"]))
        if self.config["center"]:
            specs.append(WeightSpec("beta", c, self.config["beta_initializer"]))
        return specs

    def numerics(self) -> Numerics:
        return Numerics(num.group_normalization_forward, num.group_normalization_backward, ("gamma", "beta"),
                        self.config_args("groups", "axis", "epsilon"))


@register_layer
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis``: ``x / ||x||``.

    Args:
        axis: int or list of ints, the axes the norm is taken over (usually -1).

    Input shape: any.  Output shape: same as the input.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "UnitNormalization"
    family = "normalization"
    fields = (Field("axis", "ints", (-1,), "Axis or axes the L2 norm is taken over, usually -1."),)

    def check_config(self) -> None:
        require_axes(self)

    def summary_args(self) -> str:
        return "axis " + ", ".join(map(str, self.config["axis"]))

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        _normalize_axes(self, self.config["axis"], shape, allow_unknown=True)
        return shape

    def numerics(self) -> Numerics:
        return Numerics(num.unit_normalization_forward, num.unit_normalization_backward,
                        args=self.config_args("axis"))


@register_layer
class RMSNormalization(Layer):
    """Root-mean-square normalization: ``x / sqrt(mean(x²) + epsilon) * scale`` over ``axis``.

    Unlike LayerNormalization it does not subtract the mean and has no offset (as in many Transformers).

    Args:
        axis: int or list of ints, the trailing axes to normalize over (usually -1).
        epsilon: small float added to the mean square to avoid dividing by zero.

    Input shape: any, with known sizes on ``axis``.  Output shape: same as the input.
    Weights: ``scale`` with the sizes of ``axis`` (initialised to ones).
    """

    class_name = "RMSNormalization"
    family = "normalization"
    fields = (
        Field("axis", "ints", (-1,), "Axis or axes to normalize over, usually -1 (the features)."),
        Field("epsilon", "float", 1e-6, "Added to the mean square so the division never divides by zero.", min=0.0),
    )

    def check_config(self) -> None:
        require_axes(self)

    def summary_args(self) -> str:
        return "axis " + ", ".join(map(str, self.config["axis"]))

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        axes = _normalize_axes(self, self.config["axis"], shape)
        # Keras multiplies by scale (shaped like the sorted axes) with plain broadcasting, which lines up
        # only when the axes are the trailing ones in order
        if [a % len(shape) for a in sorted(self.config["axis"])] != list(range(len(shape) - len(axes), len(shape))):
            raise self.shape_error(f"normalizes axes {list(self.config['axis'])} of {fmt_shape(shape)}; Keras's "
                                   "RMSNormalization only works over the last axes, e.g. axis=-1 or [-2, -1].")
        return shape

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        shape = input_shapes[0]
        self.output_shape(input_shapes)
        return [WeightSpec("scale", tuple(shape[a] for a in sorted(self.config["axis"])), "ones")]

    def numerics(self) -> Numerics:
        return Numerics(num.rms_normalization_forward, num.rms_normalization_backward, ("scale",),
                        self.config_args("axis", "epsilon"))
