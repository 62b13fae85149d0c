"""Core layers: Input, Dense, Activation, Embedding (``keras/src/layers/core``), and ConvNeXt's LayerScale."""
from __future__ import annotations

import numpy as np

from engine.layers.base import PENALTY_DOC, Field, Layer, Numerics, WeightSpec, activation_fn, register_layer
from engine.numerics import core as num
from engine.shapes import Shape, fmt_shape


@register_layer
class Input(Layer):
    """The entry point of a graph: a tensor of ``shape`` (batch dimension excluded).

    Args:
        shape: the shape of one sample, e.g. ``(28, 28, 1)``.
        dtype: ``float32`` for features, ``int32`` for token ids feeding an Embedding.
    """

    class_name = "Input"
    family = "core"
    min_inputs = 0
    max_inputs = 0
    default_name_base = "input_layer"
    fields = (
        Field("shape", "shape", (1,), "Shape of one sample, batch dimension excluded, e.g. (28, 28, 1).",
              allow_unknown=True),
        Field("dtype", "choice", "float32", "Element type of the input tensor.", choices=("float32", "int32")),
    )

    def summary_args(self) -> str:
        return "×".join("?" if d is None else str(d) for d in self.config["shape"])

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return (None, *self.config["shape"])

    def forward(self, inputs, weights, *, training=False, rng=None):
        return inputs[0], None

    def backward(self, grad_out, cache, weights):
        return [grad_out], {}


@register_layer
class Dense(Layer):
    """Densely-connected layer: ``activation(dot(x, kernel) + bias)`` on the last axis.

    Args:
        units: dimensionality of the output space.
        activation: activation applied to the output (None = linear).
        use_bias: whether to add a bias vector.

    Input shape: ``(batch, ..., input_dim)``.  Output shape: ``(batch, ..., units)``.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "Dense"
    family = "core"
    fields = (
        Field("units", "int", doc="Number of output units.", min=1),
        Field("activation", "activation", None, "Activation applied to the output (None = linear).",
              optional=True),
        Field("use_bias", "bool", True, "Whether to add a learned bias vector."),
        Field("kernel_initializer", "initializer", "glorot_uniform", "Initializer of the kernel matrix."),
        Field("bias_initializer", "initializer", "zeros", "Initializer of the bias vector."),
        Field("kernel_regularizer", "json", None, PENALTY_DOC),
        Field("bias_regularizer", "json", None, PENALTY_DOC),
        Field("activity_regularizer", "json", None, PENALTY_DOC),
        Field("kernel_constraint", "json", None, PENALTY_DOC),
        Field("bias_constraint", "json", None, PENALTY_DOC),
    )

    def summary_args(self) -> str:
        act = self.config["activation"]
        return f"{self.config['units']} units" + (f", {act}" if act and act != "linear" else "")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        if len(shape) < 2:
            raise self.shape_error(f"expects an input with a feature axis but gets {fmt_shape(shape)}.")
        if shape[-1] is None:
            raise self.shape_error(f"needs a known last dimension but gets {fmt_shape(shape)}; "
                                   "give the Input a full shape.")
        return (*shape[:-1], self.config["units"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        d = input_shapes[0][-1]
        u = self.config["units"]
        specs = [WeightSpec("kernel", (d, u), self.config["kernel_initializer"])]
        if self.config["use_bias"]:
            specs.append(WeightSpec("bias", (u,), self.config["bias_initializer"]))
        return specs

    def numerics(self) -> Numerics:
        act = self.config["activation"]
        return Numerics(num.dense_forward, num.dense_backward, ("kernel", "bias"),
                        {"activation": activation_fn(act)} if act not in (None, "linear") else {})


@register_layer
class Activation(Layer):
    """Applies an activation function element-wise (softmax over the last axis).

    Args:
        activation: the activation's name.
    """
    mask_rule = "pass"   # Keras: supports_masking, the mask flows through

    class_name = "Activation"
    family = "core"
    fields = (Field("activation", "activation", doc="Name of the activation function."),)

    def summary_args(self) -> str:
        return self.config["activation"]

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return input_shapes[0]

    def numerics(self) -> Numerics:
        return Numerics(num.activation_forward, num.activation_backward,
                        args={"activation": activation_fn(self.config["activation"])})


@register_layer
class Embedding(Layer):
    """Turns integer token ids into dense vectors of ``output_dim``.

    Args:
        input_dim: size of the vocabulary (largest id + 1).
        output_dim: dimension of each embedding vector.
        mask_zero: treat id 0 as padding: the output carries a mask that is false there, which
            recurrent layers, GlobalAveragePooling1D and losses honour downstream (as in Keras).

    Input shape: ``(batch, ...)`` integers.  Output shape: ``(batch, ..., output_dim)``.
    """

    class_name = "Embedding"
    family = "core"
    integer_inputs = True
    fields = (
        Field("input_dim", "int", doc="Vocabulary size (largest token id + 1).", min=1),
        Field("output_dim", "int", doc="Dimension of each embedding vector.", min=1),
        Field("embeddings_initializer", "initializer", "random_uniform", "Initializer of the embedding matrix."),
        Field("embeddings_regularizer", "json", None, PENALTY_DOC),
        Field("embeddings_constraint", "json", None, PENALTY_DOC),
        Field("mask_zero", "bool", False, "Treat id 0 as padding and mask it downstream (recurrent layers "
              "skip those steps, GlobalAveragePooling1D and the loss leave them out)."),
    )
    mask_rule = "make"

    def mask_numerics(self):
        return (num.embedding_zero_mask, {}) if self.config["mask_zero"] else None

    def summary_args(self) -> str:
        return f"{self.config['input_dim']} → {self.config['output_dim']}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        return (*input_shapes[0], self.config["output_dim"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        return [WeightSpec("embeddings", (self.config["input_dim"], self.config["output_dim"]),
                           self.config["embeddings_initializer"])]

    def numerics(self) -> Numerics:
        return Numerics(num.embedding_forward, num.embedding_backward, ("embeddings",))

    def forward(self, inputs, weights, *, training=False, rng=None):
        try:
            return super().forward(inputs, weights, training=training, rng=rng)
        except ValueError as e:
            raise ValueError(f"{self.owner} got {e}") from None


@register_layer
class Masking(Layer):
    """Masks a sequence: time steps whose features all equal ``mask_value`` are skipped downstream.

    Masked steps are set to zero, and the output carries a mask (false on them) that recurrent layers,
    GlobalAveragePooling1D and the loss honour, as in Keras.

    Args:
        mask_value: the value marking a padded step (every feature of the step equal to it).

    Input shape: ``(batch, steps, features)`` (any rank; the last axis holds the features).
    Output shape: the input's.
    """

    class_name = "Masking"
    family = "core"
    mask_rule = "make"
    fields = (Field("mask_value", "float", 0.0, "Steps whose features all equal this value are masked."),)

    def summary_args(self) -> str:
        return f"value {self.config['mask_value']:g}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        if len(input_shapes[0]) < 2:
            raise self.shape_error("needs an input with a feature axis (batch, ..., features); add a Reshape "
                                   "before it.")
        return tuple(input_shapes[0])

    def mask_numerics(self):
        return num.masking_mask, self.config_args("mask_value")

    def numerics(self) -> Numerics:
        return Numerics(num.masking_forward, num.masking_backward, args=self.config_args("mask_value"))


@register_layer
class LayerScale(Layer):
    """Multiplies each channel (the last axis) by a learned scale, as in ConvNeXt blocks.

    Keras's internal layer of ``keras.applications.ConvNeXt*`` (``keras/src/applications/convnext.py``).

    Args:
        init_values: the starting value of every scale (ConvNeXt uses 1e-6).
        projection_dim: the number of channels (the size of the last axis).
    """

    class_name = "LayerScale"
    family = "core"
    keras_module = "keras.src.applications.convnext"
    keras_required_args = ("init_values", "projection_dim")
    fields = (
        Field("init_values", "float", doc="Starting value of every scale.", starter=1e-6),
        Field("projection_dim", "int", doc="Number of channels: the size of the input's last axis.", min=1,
              starter=32),
    )

    def summary_args(self) -> str:
        return f"{self.config['projection_dim']} scales"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        if len(shape) < 2 or shape[-1] != self.config["projection_dim"]:
            raise self.shape_error(f"scales {self.config['projection_dim']} channels but gets {fmt_shape(shape)}; "
                                   "set projection_dim to the size of the input's last axis.")
        return shape

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        # Keras's name: its add_weight gives none (the attribute is ``gamma``); filled by init_weights
        return [WeightSpec("variable", (self.config["projection_dim"],), "ones")]

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        return {"variable": np.full((self.config["projection_dim"],), self.config["init_values"], dtype)}

    def numerics(self) -> Numerics:
        return Numerics(num.layer_scale_forward, num.layer_scale_backward, ("variable",))
