"""Convolutional LSTM layers in 1, 2 and 3 spatial dimensions (``keras/src/layers/rnn/conv_lstm*.py``).

One declaration for every rank (``ConvLSTM2D`` only states ``rank = 2``), computed by the rank-generic
``engine.numerics.conv_lstm`` on top of the convolution numerics.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from engine.errors import ConfigError
from engine.layers.base import (PENALTY_DOC, Field, Numerics, WeightSpec, activation_fn, register_layer)
from engine.layers.spatial import AXIS_NAMES, SpatialLayer, compact
from engine.numerics import conv_lstm as num
from engine.shapes import Shape, conv_output_length, fmt_shape


def _fields(rank: int) -> tuple[Field, ...]:
    return (
        Field("filters", "int", doc="Number of output channels (the state's channels).", min=1),
        Field("kernel_size", "ints", doc="Size of the convolution window, e.g. 3 or (3, 3).", length=rank, min=1),
        Field("strides", "ints", (1,) * rank, "Step of the input convolution's window along each axis.",
              length=rank, min=1),
        Field("padding", "choice", "valid", "Padding of the input convolution ('valid' or 'same'); the state's "
              "convolution always uses 'same'.", choices=("valid", "same")),
        Field("data_format", "choice", "channels_last", "Axis order; the engine supports channels_last "
              "(batch, time, ..., channels).", choices=("channels_last",), optional=True),
        Field("dilation_rate", "ints", (1,) * rank, "Spacing between kernel taps of the input convolution.",
              length=rank, min=1),
        Field("activation", "activation", "tanh", "Activation of the candidate and of the cell output.",
              optional=True),
        Field("recurrent_activation", "activation", "sigmoid", "Activation of the gates.", optional=True),
        Field("use_bias", "bool", True, "Whether the layer uses a bias vector."),
        Field("kernel_initializer", "initializer", "glorot_uniform", "Initializer of the input kernel."),
        Field("recurrent_initializer", "initializer", "orthogonal", "Initializer of the recurrent kernel."),
        Field("bias_initializer", "initializer", "zeros", "Initializer of the bias."),
        Field("unit_forget_bias", "bool", True, "Add 1 to the forget-gate bias at initialisation."),
        *(Field(n, "json", None, PENALTY_DOC) for n in (
            "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
            "kernel_constraint", "recurrent_constraint", "bias_constraint")),
        Field("dropout", "float", 0.0, "Fraction of the input dropped during training (the same positions for "
              "every time step, one mask per gate).", min=0.0, max=1.0),
        Field("recurrent_dropout", "float", 0.0, "Fraction of the state dropped during training (the same "
              "positions for every time step, one mask per gate).", min=0.0, max=1.0),
        Field("seed", "int", None, "Seed of the dropout masks (the engine uses the trainer's generator).",
              optional=True),
        Field("return_sequences", "bool", False, "Return every step's state (batch, time, ..., filters) instead "
              "of the last one."),
        Field("return_state", "bool", False, "Keras option returning the final states as extra outputs; the "
              "engine's layers have one output, so only false."),
        Field("go_backwards", "bool", False, "Process the sequence backwards and return the reversed sequence."),
        Field("stateful", "bool", False, "Keras option carrying states across batches; the engine supports "
              "only false."),
        Field("unroll", "bool", False, "Keras speed option; the result is the same either way."),
        Field("zero_output_for_mask", "bool", False, "Keras masking option; the engine does not use masks."),
    )


class ConvLSTM(SpatialLayer):
    """Shared declaration of ConvLSTM1D/2D/3D."""

    family = "recurrent"
    rank: ClassVar[int] = 2

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.fields = _fields(cls.rank)

    def check_config(self) -> None:
        cfg = self.config
        for name in ("return_state", "stateful"):
            if cfg[name]:
                raise ConfigError(f"{self.owner}: '{name}' = true is not supported by the engine (a layer here has "
                                  "one output and keeps no state between batches); set it to false.", name)
        for name in ("dropout", "recurrent_dropout"):
            if cfg[name] >= 1.0:
                raise ConfigError(f"{self.owner}: '{name}' must be below 1 (1 drops everything).", name)
        if max(cfg["strides"]) > 1 and max(cfg["dilation_rate"]) > 1:
            raise ConfigError(f"{self.owner}: strides {cfg['strides']} cannot be combined with dilation_rate "
                              f"{cfg['dilation_rate']}; set one of them to 1.", "dilation_rate")

    def summary_args(self) -> str:
        cfg = self.config
        out = f"{cfg['filters']} filters {'×'.join(map(str, cfg['kernel_size']))}"
        return out + (", sequences" if cfg["return_sequences"] else "")

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        (shape,) = input_shapes
        cfg = self.config
        if len(shape) != self.rank + 3:
            axes = ", ".join(AXIS_NAMES[self.rank])
            raise self.shape_error(f"expects a {self.rank + 3}-D input (batch, time, {axes}, channels) but gets "
                                   f"{fmt_shape(shape)}; add a Reshape before it.")
        if shape[-1] is None or any(n is None for n in shape[2:-1]):
            raise self.shape_error(f"needs known spatial and channel sizes but gets {fmt_shape(shape)}; give the "
                                   "Input a full shape.")
        out = []
        for axis, n, k, s, d in zip(AXIS_NAMES[self.rank], shape[2:-1], cfg["kernel_size"], cfg["strides"],
                                    cfg["dilation_rate"]):
            o = conv_output_length(n, k, cfg["padding"], s, d)
            if o <= 0:
                raise self.shape_error(f"needs at least {d * (k - 1) + 1} input {axis} for its kernel_size {k} but "
                                       f"the input {fmt_shape(shape)} has {axis} {n}; use padding='same', a smaller "
                                       "kernel_size, or a larger input.")
            out.append(o)
        if cfg["return_sequences"]:
            return (shape[0], shape[1], *out, cfg["filters"])
        return (shape[0], *out, cfg["filters"])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        self.output_shape(input_shapes)
        cfg = self.config
        k, f = tuple(cfg["kernel_size"]), cfg["filters"]
        specs = [WeightSpec("kernel", (*k, input_shapes[0][-1], 4 * f), cfg["kernel_initializer"]),
                 WeightSpec("recurrent_kernel", (*k, f, 4 * f), cfg["recurrent_initializer"])]
        if cfg["use_bias"]:
            specs.append(WeightSpec("bias", (4 * f,), cfg["bias_initializer"]))
        return specs

    def keras_weight_groups(self, input_shapes: list[Shape]) -> list[tuple[str, int]]:
        return [("", 0), ("cell", len(self.weight_specs(input_shapes)))]   # Keras keeps them in the RNN's cell

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        weights = super().init_weights(input_shapes, rng, dtype)
        if self.config["use_bias"] and self.config["unit_forget_bias"]:
            f = self.config["filters"]
            weights["bias"][f:2 * f] = 1.0
        return weights

    def numerics(self) -> Numerics:
        cfg = self.config
        args = {"strides": compact(cfg["strides"]), "padding": cfg["padding"],
                "dilation_rate": compact(cfg["dilation_rate"]), "activation": activation_fn(cfg["activation"]),
                "recurrent_activation": activation_fn(cfg["recurrent_activation"]),
                **self.config_args("return_sequences", "go_backwards", "dropout", "recurrent_dropout")}
        return Numerics(num.conv_lstm_forward, num.conv_lstm_backward, weights=("kernel", "recurrent_kernel", "bias"),
                        args=args, training_args=True)

    def output_activation(self) -> str | None:
        act = self.config["activation"]
        return act if act in ("relu", "relu6") else None


@register_layer
class ConvLSTM1D(ConvLSTM):
    """1-D convolutional LSTM: an LSTM whose input and recurrent transformations are convolutions.

    Args:
        filters: number of output channels.
        kernel_size: size of the convolution window.
        strides, padding, dilation_rate: of the input convolution (the state's is 'same', stride 1).
        activation, recurrent_activation: as in LSTM (``tanh``, ``sigmoid``).
        return_sequences: return every step's state instead of the last one.
        go_backwards: process the sequence in reverse.
        dropout, recurrent_dropout: fractions of the input and state dropped during training.

    Input shape: ``(batch, time, steps, channels)``.
    Output shape: ``(batch, [time,] new_steps, filters)``.
    """

    class_name = "ConvLSTM1D"
    rank = 1


@register_layer
class ConvLSTM2D(ConvLSTM):
    """2-D convolutional LSTM: an LSTM whose input and recurrent transformations are convolutions.

    Args:
        filters: number of output channels.
        kernel_size: size of the convolution window.
        strides, padding, dilation_rate: of the input convolution (the state's is 'same', stride 1).
        activation, recurrent_activation: as in LSTM (``tanh``, ``sigmoid``).
        return_sequences: return every step's state instead of the last one.
        go_backwards: process the sequence in reverse.
        dropout, recurrent_dropout: fractions of the input and state dropped during training.

    Input shape: ``(batch, time, height, width, channels)``.
    Output shape: ``(batch, [time,] new_height, new_width, filters)``.
    """

    class_name = "ConvLSTM2D"
    rank = 2


@register_layer
class ConvLSTM3D(ConvLSTM):
    """3-D convolutional LSTM: an LSTM whose input and recurrent transformations are convolutions.

    Args:
        filters: number of output channels.
        kernel_size: size of the convolution window.
        strides, padding, dilation_rate: of the input convolution (the state's is 'same', stride 1).
        activation, recurrent_activation: as in LSTM (``tanh``, ``sigmoid``).
        return_sequences: return every step's state instead of the last one.
        go_backwards: process the sequence in reverse.
        dropout, recurrent_dropout: fractions of the input and state dropped during training.

    Input shape: ``(batch, time, depth, height, width, channels)``.
    Output shape: ``(batch, [time,] new_depth, new_height, new_width, filters)``.
    """

    class_name = "ConvLSTM3D"
    rank = 3
