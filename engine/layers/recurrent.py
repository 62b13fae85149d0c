"""Recurrent layers: SimpleRNN, LSTM, GRU and the Bidirectional wrapper (``keras/src/layers/rnn``).

The time loops live in ``engine/kernels/recurrent.py``; here each layer projects the inputs of all
time steps in one matmul, hands the projection to its kernel, and turns the kernel's gradients back
into kernel, bias and input gradients with one matmul each.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import ConfigError, ShapeError
from engine.kernels import recurrent as K
from engine.layers.base import Field, Layer, WeightSpec, register_layer
from engine.shapes import Shape, fmt_shape

_PASSTHROUGH = "Kept for Keras round trips; not applied by the engine."


def _json(name: str) -> Field:
    return Field(name, "json", None, _PASSTHROUGH)


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
    """Shared shape rule, input projection, dropout and backward bookkeeping of the RNN layers."""

    family = "recurrent"
    gates: int = 1

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
        (shape,) = input_shapes
        if len(shape) != 3:
            raise self.shape_error(f"expects a 3-D sequence input (batch, timesteps, features) but gets "
                                   f"{fmt_shape(shape)}; add a Reshape or RepeatVector before it.")
        if shape[-1] is None:
            raise self.shape_error(f"needs a known number of features but gets {fmt_shape(shape)}; "
                                   "give the Input a full shape.")
        u = self.config["units"]
        return (shape[0], shape[1], u) if self.config["return_sequences"] else (shape[0], u)

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

    # ----- computation -------------------------------------------------------------------------------
    def input_bias(self, weights: dict[str, np.ndarray]) -> np.ndarray | None:
        return weights["bias"] if self.config["use_bias"] else None

    def run(self, xp: np.ndarray, weights: dict[str, np.ndarray], rec_masks: np.ndarray | None):
        """Time loop over the projected inputs ``(t, b, gates*u)``; returns ``(hs (t, b, u), cache)``."""
        raise NotImplementedError

    def run_backward(self, d_hs: np.ndarray, cache: Any):
        """Returns ``(d_xp, d_recurrent_kernel, d_recurrent_bias or None)``."""
        raise NotImplementedError

    def dropout_masks(self, batch: int, feats: int, dtype, training: bool, rng):
        """Keras's masks, fixed over time: ``(n, b, f)`` input and ``(gates, b, u)`` recurrent (or None).

        With recurrent dropout Keras switches to its per-gate implementation, so each gate gets its own
        input mask; otherwise one input mask serves all gates.
        """
        rate, rec_rate = self.config["dropout"], self.config["recurrent_dropout"]
        if not training or (rate == 0 and rec_rate == 0):
            return None, None
        rng = rng if rng is not None else np.random.default_rng()

        def draw(r, shape):
            return ((rng.uniform(size=shape) < 1.0 - r) / (1.0 - r)).astype(dtype)

        n_in = self.gates if rec_rate > 0 else 1
        in_masks = draw(rate, (n_in, batch, feats)) if rate > 0 else None
        rec_masks = draw(rec_rate, (self.gates, batch, self.config["units"])) if rec_rate > 0 else None
        return in_masks, rec_masks

    def forward(self, inputs, weights, *, training=False, rng=None):
        x = inputs[0]
        xt = x.transpose(1, 0, 2)              # time-major (t, b, f)
        if self.config["go_backwards"]:
            xt = xt[::-1]
        xt = np.ascontiguousarray(xt)
        steps, batch, feats = xt.shape
        in_masks, rec_masks = self.dropout_masks(batch, feats, x.dtype, training, rng)
        kernel = weights["kernel"]
        if in_masks is None:
            xp = (xt.reshape(-1, feats) @ kernel).reshape(steps, batch, -1)
        else:                                   # one block of gate columns per input mask
            xp = np.empty((steps, batch, kernel.shape[1]), dtype=np.result_type(x, kernel))
            for blk, m in self._blocks(in_masks, kernel.shape[1]):
                xp[..., blk] = ((xt * m).reshape(-1, feats) @ kernel[:, blk]).reshape(steps, batch, -1)
        bias = self.input_bias(weights)
        if bias is not None:
            xp += bias
        hs, cache = self.run(xp, weights, rec_masks)
        out = hs.transpose(1, 0, 2) if self.config["return_sequences"] else hs[-1]
        return np.ascontiguousarray(out), (xt, in_masks, cache, hs.shape)

    @staticmethod
    def _blocks(masks: np.ndarray, width: int):
        w = width // len(masks)
        return [(slice(k * w, (k + 1) * w), m) for k, m in enumerate(masks)]

    def backward(self, grad_out, cache, weights):
        xt, in_masks, kcache, hs_shape = cache
        steps, batch, feats = xt.shape
        if self.config["return_sequences"]:
            d_hs = np.ascontiguousarray(grad_out.transpose(1, 0, 2))
        else:
            d_hs = np.zeros(hs_shape, dtype=grad_out.dtype)
            d_hs[-1] = grad_out
        d_xp, d_r, d_rb = self.run_backward(d_hs, kcache)
        kernel = weights["kernel"]
        d_xp2 = d_xp.reshape(steps * batch, -1)
        if in_masks is None:
            d_k = xt.reshape(-1, feats).T @ d_xp2
            dx = (d_xp2 @ kernel.T).reshape(steps, batch, feats)
        else:
            d_k = np.empty_like(kernel)
            dx = np.zeros_like(xt)
            for blk, m in self._blocks(in_masks, kernel.shape[1]):
                d_k[:, blk] = (xt * m).reshape(-1, feats).T @ d_xp2[:, blk]
                dx += (d_xp2[:, blk] @ kernel[:, blk].T).reshape(steps, batch, feats) * m
        grads = {"kernel": d_k, "recurrent_kernel": d_r}
        if self.config["use_bias"]:
            d_b = d_xp2.sum(axis=0)
            grads["bias"] = d_b if d_rb is None else np.stack([d_b, d_rb])  # GRU reset_after: (2, 3u)
        if self.config["go_backwards"]:
            dx = dx[::-1]
        return [np.ascontiguousarray(dx.transpose(1, 0, 2))], grads


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

    def run(self, xp, weights, rec_masks):
        return K.simple_rnn_forward(xp, weights["recurrent_kernel"], self.config["activation"], rec_masks)

    def run_backward(self, d_hs, cache):
        return (*K.simple_rnn_backward(d_hs, cache), None)


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
    fields = _rnn_fields(gates=True, extra=(
        Field("unit_forget_bias", "bool", True, "Add 1 to the forget-gate bias at initialisation."),
    )) + (Field("use_cudnn", "json", "auto", _PASSTHROUGH),)

    def output_activation(self) -> str | None:
        # h = o * activation(c): the gate in (0, 1) keeps a rectifier's zeros but not probabilities
        return _rectifier_or_none(self.config["activation"])

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        weights = super().init_weights(input_shapes, rng, dtype)
        if self.config["use_bias"] and self.config["unit_forget_bias"]:
            u = self.config["units"]
            weights["bias"][u:2 * u] = 1.0
        return weights

    def run(self, xp, weights, rec_masks):
        return K.lstm_forward(xp, weights["recurrent_kernel"], self.config["activation"],
                              self.config["recurrent_activation"], rec_masks)

    def run_backward(self, d_hs, cache):
        return (*K.lstm_backward(d_hs, cache), None)

    def _fused(self, training: bool) -> bool:
        cfg = self.config
        dropout = training and (cfg["dropout"] > 0 or cfg["recurrent_dropout"] > 0)
        return cfg["activation"] == "tanh" and cfg["recurrent_activation"] == "sigmoid" and not dropout

    def forward(self, inputs, weights, *, training=False, rng=None):
        """The default cell without dropout runs the fused feature-major kernel; the rest the generic one.

        Inference keeps no per-step cache (only the input): a backward after it reruns the forward.
        """
        if not self._fused(training):
            return super().forward(inputs, weights, training=training, rng=rng)
        x = inputs[0]
        if training:
            return self._fused_forward(x, weights)
        seq = self.config["return_sequences"]
        xa = self._feature_major(x, self.input_bias(weights) is not None, pooled=True)
        hs = K.lstm_fused_infer(xa, weights["kernel"], weights["recurrent_kernel"], self.input_bias(weights), seq)
        out = (hs.transpose(2, 0, 1) if seq else hs.T).copy()          # hs is a scratch array: always copy
        return out, ("fused", x, None)

    def _feature_major(self, x: np.ndarray, ones: bool, pooled: bool = False) -> np.ndarray:
        """``(t, f [+ ones row], b)`` copy of ``x (b, t, f)``, reversed in time for go_backwards."""
        batch, steps, feats = x.shape
        shape = (steps, feats + ones, batch)
        xa = K.scratch("lstm_x", shape, x.dtype) if pooled else np.empty(shape, dtype=x.dtype)
        xa[:, :feats] = x.transpose(1, 2, 0)[::-1] if self.config["go_backwards"] else x.transpose(1, 2, 0)
        xa[:, feats:] = 1
        return xa

    def _fused_forward(self, x: np.ndarray, weights):
        bias = self.input_bias(weights)
        xa = self._feature_major(x, bias is not None)
        hs, kcache = K.lstm_fused_forward(xa, weights["kernel"], weights["recurrent_kernel"], bias)
        out = hs[1:].transpose(2, 0, 1) if self.config["return_sequences"] else hs[-1].T
        return np.ascontiguousarray(out), ("fused", xa[:, :x.shape[2]], kcache)

    def backward(self, grad_out, cache, weights):
        if not (isinstance(cache[0], str) and cache[0] == "fused"):
            return super().backward(grad_out, cache, weights)
        if cache[2] is None:                                            # inference forward: rerun with a cache
            cache = self._fused_forward(cache[1], weights)[1]
        _, xt, kcache = cache
        steps, feats, batch = xt.shape
        seq = self.config["return_sequences"]
        d_hs = grad_out.transpose(1, 2, 0) if seq else grad_out.T
        d_xp, d_r = K.lstm_fused_backward(np.ascontiguousarray(d_hs), kcache, weights["recurrent_kernel"],
                                          last_only=not seq)
        x2 = xt.transpose(0, 2, 1).reshape(steps * batch, feats)      # (t, b) rows like d_xp's columns (a copy)
        kernel = weights["kernel"]
        grads = {"kernel": x2.T @ d_xp.T, "recurrent_kernel": d_r}
        if self.config["use_bias"]:
            grads["bias"] = d_xp.sum(axis=1)
        dx = (kernel @ d_xp).reshape(feats, steps, batch)                # (f, t, b)
        if self.config["go_backwards"]:
            dx = dx[:, ::-1]
        return [np.ascontiguousarray(dx.transpose(2, 1, 0))], grads


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

    def output_activation(self) -> str | None:
        # h = z * h_prev + (1 - z) * activation(...) from h = 0: a rectifier's zeros survive, probabilities not
        return _rectifier_or_none(self.config["activation"])

    def bias_shape(self):
        u3 = 3 * self.config["units"]
        return (2, u3) if self.config["reset_after"] else (u3,)

    def input_bias(self, weights):
        if not self.config["use_bias"]:
            return None
        return weights["bias"][0] if self.config["reset_after"] else weights["bias"]

    def _recurrent_bias(self, weights):
        return weights["bias"][1] if self.config["use_bias"] and self.config["reset_after"] else None

    def run(self, xp, weights, rec_masks):
        return K.gru_forward(xp, weights["recurrent_kernel"], self._recurrent_bias(weights),
                             self.config["activation"], self.config["recurrent_activation"],
                             self.config["reset_after"], rec_masks)

    def run_backward(self, d_hs, cache):
        return K.gru_backward(d_hs, cache)


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

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        self.output_shape(input_shapes)
        out = {}
        for prefix, inner in (("forward", self.forward_layer), ("backward", self.backward_layer)):
            out.update({f"{prefix}_{k}": v for k, v in inner.init_weights(input_shapes, rng, dtype).items()})
        return out

    @staticmethod
    def _split(weights: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
        n = len(prefix) + 1
        return {k[n:]: v for k, v in weights.items() if k.startswith(prefix + "_")}

    def forward(self, inputs, weights, *, training=False, rng=None):
        y, fc = self.forward_layer.forward(inputs, self._split(weights, "forward"), training=training, rng=rng)
        y_rev, bc = self.backward_layer.forward(inputs, self._split(weights, "backward"), training=training,
                                                rng=rng)
        seq = self.forward_layer.config["return_sequences"]
        if seq:
            y_rev = y_rev[:, ::-1]
        mode = self.config["merge_mode"]
        if mode == "concat":
            out = np.concatenate([y, y_rev], axis=-1)
        elif mode == "sum":
            out = y + y_rev
        elif mode == "ave":
            out = (y + y_rev) / 2
        else:
            out = y * y_rev
        return out, (fc, bc, y, y_rev, seq)

    def backward(self, grad_out, cache, weights):
        fc, bc, y, y_rev, seq = cache
        mode = self.config["merge_mode"]
        if mode == "concat":
            u = y.shape[-1]
            g_f, g_b = grad_out[..., :u], grad_out[..., u:]
        elif mode == "sum":
            g_f = g_b = grad_out
        elif mode == "ave":
            g_f = g_b = grad_out / 2
        else:
            g_f, g_b = grad_out * y_rev, grad_out * y
        if seq:
            g_b = g_b[:, ::-1]
        (dx_f,), gw_f = self.forward_layer.backward(np.ascontiguousarray(g_f), fc, self._split(weights, "forward"))
        (dx_b,), gw_b = self.backward_layer.backward(np.ascontiguousarray(g_b), bc,
                                                     self._split(weights, "backward"))
        grads = {f"forward_{k}": v for k, v in gw_f.items()}
        grads.update({f"backward_{k}": v for k, v in gw_b.items()})
        return [dx_f + dx_b], grads
