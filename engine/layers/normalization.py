"""Normalization layers: BatchNormalization, LayerNormalization (``keras/src/layers/normalization``)."""
from __future__ import annotations

import numpy as np

from engine.errors import ConfigError
from engine.layers.base import Field, Layer, Numerics, WeightSpec, register_layer
from engine.numerics import normalization as num
from engine.shapes import Shape, fmt_shape

_KEPT = "Kept for Keras round trips; not applied by the engine."


def _normalize_axes(layer: Layer, axes, shape: Shape, *, allow_batch: bool = False) -> list[int]:
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
        if shape[p] is None:
            raise layer.shape_error(f"needs a known size on axis {a} but gets {fmt_shape(shape)}; "
                                    "give the Input a full shape.")
        out.append(p)
    if len(set(out)) != len(out):
        raise layer.shape_error(f"lists the same axis twice in axis={list(axes)}; list each axis once.")
    return sorted(out)


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
        Field("beta_regularizer", "json", None, _KEPT),
        Field("gamma_regularizer", "json", None, _KEPT),
        Field("beta_constraint", "json", None, _KEPT),
        Field("gamma_constraint", "json", None, _KEPT),
        Field("synchronized", "bool", False, "Multi-device statistics (TensorFlow only); must stay false."),
        Field("renorm", "bool", False, "Batch renormalization; not supported by the engine, must stay false."),
        Field("renorm_clipping", "json", None, _KEPT),
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

    class_name = "LayerNormalization"
    family = "normalization"
    fields = (
        Field("axis", "ints", (-1,), "Axis or axes to normalize over, usually -1 (the features)."),
        Field("epsilon", "float", 1e-3, "Added to the variance so the division never divides by zero.", min=0.0),
        Field("center", "bool", True, "Add the learned offset beta."),
        Field("scale", "bool", True, "Multiply by the learned scale gamma."),
        Field("rms_scaling", "bool", False, "Deprecated in Keras: divide by sqrt(var + epsilon) without centering "
              "or beta (prefer the default)."),
        Field("beta_initializer", "initializer", "zeros", "Initializer of beta."),
        Field("gamma_initializer", "initializer", "ones", "Initializer of gamma."),
        Field("beta_regularizer", "json", None, _KEPT),
        Field("gamma_regularizer", "json", None, _KEPT),
        Field("beta_constraint", "json", None, _KEPT),
        Field("gamma_constraint", "json", None, _KEPT),
    )

    def check_config(self) -> None:
        if not self.config["axis"]:
            raise ConfigError(f"{self.owner}: argument 'axis' needs at least one axis, e.g. -1.", "axis")

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
