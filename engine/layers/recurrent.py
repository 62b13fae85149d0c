"""Recurrent layers: SimpleRNN, LSTM, GRU and the Bidirectional wrapper (``keras/src/layers/rnn``).

The numerics live in ``engine/numerics/`` (``recurrent.py``, ``lstm.py``, ``gru.py``); here each layer
declares its weights, its shape rule and which of those functions it runs with which arguments.
Bidirectional passes its inner layers' functions to ``bidirectional_forward``.
"""
from __future__ import annotations

import inspect
import threading
from typing import Any

import numpy as np

from engine.errors import ConfigError, ShapeError
from engine.layers.base import (Field, Fn, Layer, Numerics, WeightSpec, activation_fn, register_layer,
                                PENALTY_DOC)
from engine.numerics import gru, lstm
from engine.numerics import recurrent as num
from engine.shapes import Shape, fmt_shape

_PASSTHROUGH = "Kept for Keras round trips; it does not change the results."


def _json(name: str) -> Field:
    """A regularizer or constraint argument (applied in training, see ``Layer._parse_penalties``)."""
    return Field(name, "json", None, PENALTY_DOC)


def _rnn_fields(*, gates: bool, extra: tuple[Field, ...] = ()) -> tuple[Field, ...]:
    """Keras's RNN constructor arguments, in Keras order."""
    head = (
        Field("units", "int", doc="Dimensionality of the output space (size of the hidden state).", min=1),
        Field("activation", "activation", "tanh", "Activation of the candidate state and of the output.",
              optional=True),
    )
    if gates:
        head += (Field("recurrent_activation", "activation", "sigmoid", "Activation of the gates.",
                       optional=True),)
    head += (
        Field("use_bias", "bool", True, "Whether the layer uses bias vectors."),
        Field("kernel_initializer", "initializer", "glorot_uniform", "Initializer of the input kernel."),
        Field("recurrent_initializer", "initializer", "orthogonal", "Initializer of the recurrent kernel."),
        Field("bias_initializer", "initializer", "zeros", "Initializer of the bias."),
    )
    return head + extra + tuple(_json(n) for n in (
        "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
        "kernel_constraint", "recurrent_constraint", "bias_constraint")) + (
        Field("dropout", "float", 0.0, "Fraction of the input features dropped during training (the same "
              "features for every time step).", min=0.0, max=1.0),
        Field("recurrent_dropout", "float", 0.0, "Fraction of the recurrent state dropped during training "
              "(the same units for every time step).", min=0.0, max=1.0),
        Field("seed", "int", None, "Seed of the dropout masks (the engine uses the trainer's generator).",
              optional=True),
        Field("return_sequences", "bool", False, "Return the full sequence (batch, timesteps, units) instead "
              "of the last output (batch, units)."),
        Field("return_state", "bool", False, "Keras option returning the final states; the engine supports "
              "only false."),
        Field("go_backwards", "bool", False, "Process the sequence backwards and return the reversed sequence."),
        Field("stateful", "bool", False, "Keras option carrying states across batches; the engine supports "
              "only false."),
        Field("unroll", "bool", False, "Keras speed option; the result is the same either way."),
        Field("zero_output_for_mask", "bool", False, "Keras masking option; the engine does not use masks."),
    )


def _rectifier_or_none(activation: str | None) -> str | None:
    return activation if activation in ("relu", "relu6") else None


class BaseRNN(Layer):
    """Shared config checks, shape rule, weights and numerics arguments of the RNN layers.

    Inputs after the sequence are Keras's ``initial_state``: ``states`` arrays ``(batch, units)`` (h, or h and c).
    """

    family = "recurrent"
    gates: int = 1
    states: int = 1
    max_inputs = 2
    takes_initial_state = True

    def check_config(self) -> None:
        for name in ("return_state", "stateful"):
            if self.config[name]:
                raise ConfigError(f"{self.owner}: '{name}' = true is not supported by the engine; set it to "
                                  "false.", name)
        for name in ("dropout", "recurrent_dropout"):
            if self.config[name] >= 1.0:
                raise ConfigError(f"{self.owner}: '{name}' must be below 1 (1 drops everything).", name)

    def summary_args(self) -> str:
        out = f"{self.config['units']} units"
        if self.config["return_sequences"]:
            out += ", sequences"
        return out + (", backwards" if self.config["go_backwards"] else "")

    # ----- shapes and weights ------------------------------------------------------------------------
    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        self.check_initial_state(input_shapes)
        if len(shape) != 3:
            raise self.shape_error(f"expects a 3-D sequence input (batch, timesteps, features) but gets "
                                   f"{fmt_shape(shape)}; add a Reshape or RepeatVector before it.")
        if shape[-1] is None:
            raise self.shape_error(f"needs a known number of features but gets {fmt_shape(shape)}; "
                                   "give the Input a full shape.")
        u = self.config["units"]
        return (shape[0], shape[1], u) if self.config["return_sequences"] else (shape[0], u)

    def check_initial_state(self, input_shapes: list[Shape]) -> None:
        states = input_shapes[1:]
        if not states:
            return
        names = "h and c" if self.states == 2 else "h"
        if len(states) != self.states:
            raise self.shape_error(f"takes its initial state as {self.states} input{'s' * (self.states > 1)} "
                                   f"({names}) after the sequence but gets {len(states)}; connect "
                                   f"{'both' if self.states == 2 else 'one'} or none.")
        u = self.config["units"]
        for s in states:
            if len(s) != 2 or s[-1] != u:
                raise self.shape_error(f"needs initial states of shape (batch, {u}) but gets {fmt_shape(s)}; "
                                       f"give the state a Dense({u}) or an Input of shape ({u},).")

    def numerics_for(self, n_inputs: int) -> Numerics:
        plain = self.numerics()
        if n_inputs == 1:
            return plain
        return Numerics(num.rnn_initial_state_forward, num.rnn_initial_state_backward, weights=plain.weights,
                        args={"layer": Fn(plain.forward, plain.backward),
                              "layer_args": _non_default_args(plain.forward, plain.args), "n_states": n_inputs - 1},
                        training_args=True)

    def bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.config["units"],)

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        self.output_shape(input_shapes)
        d, gu = input_shapes[0][-1], self.gates * self.config["units"]
        specs = [WeightSpec("kernel", (d, gu), self.config["kernel_initializer"]),
                 WeightSpec("recurrent_kernel", (self.config["units"], gu), self.config["recurrent_initializer"])]
        if self.config["use_bias"]:
            specs.append(WeightSpec("bias", self.bias_shape(), self.config["bias_initializer"]))
        return specs

    def keras_weight_groups(self, input_shapes: list[Shape]) -> list[tuple[str, int]]:
        return [("", 0), ("cell", len(self.weight_specs(input_shapes)))]  # Keras keeps them in the RNN's cell

    # ----- computation -------------------------------------------------------------------------------
    def numerics(self) -> Numerics:
        cfg = self.config
        args = {"activation": activation_fn(cfg["activation"])}
        if "recurrent_activation" in cfg:
            args["recurrent_activation"] = activation_fn(cfg["recurrent_activation"])
        args.update(self.extra_args())
        args.update(self.config_args("return_sequences", "go_backwards", "dropout", "recurrent_dropout"))
        return Numerics(*self.functions, weights=("kernel", "recurrent_kernel", "bias"), args=args,
                        training_args=True)

    def extra_args(self) -> dict[str, Any]:
        return {}

    def forward(self, inputs, weights, *, training=False, rng=None):
        return forward_with_buffers(self, inputs, weights, training, rng)


def forward_with_buffers(layer: Layer, inputs, weights, training: bool, rng):
    """The base forward call plus this thread's reusable work arrays at inference (the numerics'
    ``buffers`` argument); training allocates fresh, since its caches outlive the call."""
    num, args = layer.bound_numerics(backward=False, n_inputs=len(inputs))
    return num.forward(*inputs, *(weights.get(w) for w in num.weights), **args,
                       training=training, rng=rng, buffers=None if training else _inference_buffers())


_BUFFERS = threading.local()


def _inference_buffers() -> dict:
    pool = getattr(_BUFFERS, "pool", None)
    if pool is None:
        pool = _BUFFERS.pool = {}
    return pool


@register_layer
class SimpleRNN(BaseRNN):
    """Fully-connected RNN where the output is fed back: ``h_t = activation(x_t @ W + h_{t-1} @ U + b)``.

    Args:
        units: size of the hidden state.
        activation: activation of the state (``tanh``).
        return_sequences: return every step's output instead of the last one.
        go_backwards: process the sequence in reverse.
        dropout: fraction of input features dropped during training.
        recurrent_dropout: fraction of the recurrent state dropped during training.

    Input shape: ``(batch, timesteps, features)``.
    Output shape: ``(batch, timesteps, units)`` with return_sequences, else ``(batch, units)``.
    """

    class_name = "SimpleRNN"
    gates = 1
    fields = _rnn_fields(gates=False)
    functions = (num.simple_rnn_forward, num.simple_rnn_backward)


@register_layer
class LSTM(BaseRNN):
    """Long Short-Term Memory layer (Hochreiter 1997), Keras 3 gate order i, f, c, o.

    Args:
        units: size of the hidden and cell states.
        activation: activation of the candidate and of the cell output (``tanh``).
        recurrent_activation: activation of the input, forget and output gates (``sigmoid``).
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et al. 2015).
        return_sequences: return every step's output instead of the last one.
        go_backwards: process the sequence in reverse.
        dropout: fraction of input features dropped during training.
        recurrent_dropout: fraction of the recurrent state dropped during training.

    Input shape: ``(batch, timesteps, features)``.
    Output shape: ``(batch, timesteps, units)`` with return_sequences, else ``(batch, units)``.
    """

    class_name = "LSTM"
    gates = 4
    states = 2
    max_inputs = 3
    fields = _rnn_fields(gates=True, extra=(
        Field("unit_forget_bias", "bool", True, "Add 1 to the forget-gate bias at initialisation."),
    )) + (Field("use_cudnn", "json", "auto", _PASSTHROUGH),)
    functions = (lstm.lstm_forward, lstm.lstm_backward)

    def output_activation(self) -> str | None:
        # h = o * activation(c): the gate in (0, 1) keeps a rectifier's zeros but not probabilities
        return _rectifier_or_none(self.config["activation"])

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        weights = super().init_weights(input_shapes, rng, dtype)
        if self.config["use_bias"] and self.config["unit_forget_bias"]:
            u = self.config["units"]
            weights["bias"][u:2 * u] = 1.0
        return weights

@register_layer
class GRU(BaseRNN):
    """Gated Recurrent Unit (Cho et al. 2014), Keras 3 gate order z, r, h.

    Args:
        units: size of the hidden state.
        activation: activation of the candidate state (``tanh``).
        recurrent_activation: activation of the update and reset gates (``sigmoid``).
        reset_after: apply the reset gate after the recurrent matmul (Keras 3 default, bias shape
            ``(2, 3*units)``: input bias then recurrent bias).
        return_sequences: return every step's output instead of the last one.
        go_backwards: process the sequence in reverse.
        dropout: fraction of input features dropped during training.
        recurrent_dropout: fraction of the recurrent state dropped during training.

    Input shape: ``(batch, timesteps, features)``.
    Output shape: ``(batch, timesteps, units)`` with return_sequences, else ``(batch, units)``.
    """

    class_name = "GRU"
    gates = 3
    fields = _rnn_fields(gates=True) + (
        Field("reset_after", "bool", True, "Apply the reset gate after the recurrent matmul (Keras 3 default)."),
        Field("use_cudnn", "json", "auto", _PASSTHROUGH),
    )
    functions = (gru.gru_forward, gru.gru_backward)

    def output_activation(self) -> str | None:
        # h = z * h_prev + (1 - z) * activation(...) from h = 0: a rectifier's zeros survive, probabilities not
        return _rectifier_or_none(self.config["activation"])

    def bias_shape(self):
        u3 = 3 * self.config["units"]
        return (2, u3) if self.config["reset_after"] else (u3,)

    def extra_args(self) -> dict[str, Any]:
        return self.config_args("reset_after")


RNN_CLASSES: dict[str, type[BaseRNN]] = {c.class_name: c for c in (SimpleRNN, LSTM, GRU)}


@register_layer
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges both outputs.

    Args:
        layer: the recurrent layer, ``{"class_name": "LSTM" | "GRU" | "SimpleRNN", "config": {...}}``.
        merge_mode: how the two outputs are combined: ``concat`` (default), ``sum``, ``mul`` or ``ave``.
        backward_layer: optional config of the backward layer (it must have go_backwards=true);
            by default a copy of ``layer`` processing the sequence in reverse.

    Input shape: ``(batch, timesteps, features)``.
    Output shape: the wrapped layer's, with the last axis doubled for ``concat``.
    """

    class_name = "Bidirectional"
    family = "recurrent"
    fields = (
        Field("layer", "layer", doc="The recurrent layer to run in both directions."),
        Field("merge_mode", "choice", "concat", "How the forward and backward outputs are combined.",
              choices=("concat", "sum", "mul", "ave")),
        Field("backward_layer", "layer", None, "Optional config of the backward layer (defaults to a "
              "reversed copy of 'layer').", optional=True),
    )

    def __init__(self, config: dict | None = None, **kwargs: Any) -> None:
        cfg = {**(config or {}), **kwargs}
        if "merge_mode" in cfg and cfg["merge_mode"] is None:
            raise ConfigError(f"Bidirectional '{cfg.get('name') or self.base_name()}': merge_mode=None (the two "
                              "directions as separate outputs) is not supported, a layer has one output here; "
                              "use 'concat', 'sum', 'mul' or 'ave'.", "merge_mode")
        super().__init__(cfg)

    def check_config(self) -> None:
        base = self.config["layer"]
        self.forward_layer = self._inner(base, "layer", go_backwards=False)
        back = self.config["backward_layer"] or base
        self.backward_layer = self._inner(back, "backward_layer", go_backwards=True,
                                          force=self.config["backward_layer"] is None)
        for attr in ("return_sequences",):
            if self.forward_layer.config[attr] != self.backward_layer.config[attr]:
                raise ConfigError(f"{self.owner}: the forward and backward layers must agree on '{attr}'.",
                                  "backward_layer")

    def _inner(self, spec: dict, field: str, *, go_backwards: bool, force: bool = True) -> BaseRNN:
        cls = RNN_CLASSES.get(spec.get("class_name"))
        if cls is None:
            raise ConfigError(f"{self.owner}: '{field}' must be an LSTM, GRU or SimpleRNN layer, got "
                              f"{spec.get('class_name')!r}.", field)
        cfg = dict(spec.get("config") or {})
        if not force and cfg.get("go_backwards") is not True:
            raise ConfigError(f"{self.owner}: the backward layer must have go_backwards=true.", field)
        if force and cfg.get("go_backwards"):
            raise ConfigError(f"{self.owner}: the wrapped layer must have go_backwards=false; Bidirectional "
                              "adds the reversed copy itself.", field)
        inner_name = str(cfg.get("name") or cls.base_name())
        cfg["name"] = ("backward_" if go_backwards else "forward_") + inner_name
        cfg["go_backwards"] = go_backwards
        try:
            return cls(cfg)
        except ConfigError as e:
            raise ConfigError(f"{self.owner}: in '{field}': {e}", field) from None

    def summary_args(self) -> str:
        return f"{self.forward_layer.class_name} {self.forward_layer.summary_args()}, {self.config['merge_mode']}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        try:
            shape = self.forward_layer.output_shape(input_shapes)
        except ShapeError as e:  # re-word the inner layer's error under this layer's name
            msg = str(e).replace(self.forward_layer.owner, "").strip()
            raise self.shape_error(msg) from None
        if self.config["merge_mode"] == "concat":
            shape = (*shape[:-1], 2 * shape[-1])
        return shape

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        self.output_shape(input_shapes)
        return [WeightSpec(f"{prefix}_{s.name}", s.shape, s.initializer, s.trainable)
                for prefix, inner in (("forward", self.forward_layer), ("backward", self.backward_layer))
                for s in inner.weight_specs(input_shapes)]

    def keras_weight_groups(self, input_shapes: list[Shape]) -> list[tuple[str, int]]:
        return [("", 0)] + [(f"{prefix}/{path}".rstrip("/"), n)
                            for prefix, inner in (("forward_layer", self.forward_layer),
                                                  ("backward_layer", self.backward_layer))
                            for path, n in inner.keras_weight_groups(input_shapes)]

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        self.output_shape(input_shapes)
        out = {}
        for prefix, inner in (("forward", self.forward_layer), ("backward", self.backward_layer)):
            out.update({f"{prefix}_{k}": v for k, v in inner.init_weights(input_shapes, rng, dtype).items()})
        return out

    def numerics(self) -> Numerics:
        """The inner layers' functions run through ``bidirectional_forward``, their args passed along."""
        inner = {}
        for prefix, layer in (("forward", self.forward_layer), ("backward", self.backward_layer)):
            n = layer.numerics()
            inner[f"{prefix}_layer"] = Fn(n.forward, n.backward)
            inner[f"{prefix}_args"] = _non_default_args(n.forward, n.args)
        weights = tuple(f"{p}_{w}" for p in ("forward", "backward") for w in ("kernel", "recurrent_kernel", "bias"))
        return Numerics(num.bidirectional_forward, num.bidirectional_backward, weights=weights,
                        args={**inner, **self.config_args("merge_mode")}, training_args=True)

    def forward(self, inputs, weights, *, training=False, rng=None):
        return forward_with_buffers(self, inputs, weights, training, rng)


def _non_default_args(fn, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` without those equal to ``fn``'s defaults (shorter exported calls; the same computation)."""
    params = inspect.signature(fn).parameters
    out = {}
    for k, v in args.items():
        value = v.forward if isinstance(v, Fn) else v
        if params[k].default is inspect.Parameter.empty or params[k].default != value:
            out[k] = v
    return out
