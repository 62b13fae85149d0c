"""ONNX operators of the recurrent layers: SimpleRNN, LSTM and GRU as ONNX's RNN, LSTM and GRU, and Bidirectional.

ONNX runs them time-major (``(steps, batch, features)``); the output sequence stays time-major until a layer
needs Keras's order.  Keras's LSTM gates are ``i, f, c, o``, ONNX's ``i, o, f, c``; GRU's ``z, r, h`` are the
same in both, and Keras's ``reset_after=True`` is ONNX's ``linear_before_reset=1``.  Keras's ``go_backwards``
returns the sequence in processing order (reversed), ONNX's ``reverse`` direction in the input's order.
"""
from __future__ import annotations

import numpy as np

from engine.export.onnx_export import LayerContext, Value

#: Keras activations ONNX's recurrent operators accept: (ONNX name, alpha, beta).  Not softplus: onnxruntime's
#: recurrent Softplus computes log(1 + exp(x)) naively (inf above x = 88, 1 % off below x = -9).
RNN_ACTIVATIONS = {"tanh": ("Tanh", 0.0, 0.0), "sigmoid": ("Sigmoid", 0.0, 0.0), "relu": ("Relu", 0.0, 0.0),
                   "softsign": ("Softsign", 0.0, 0.0),
                   "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5), "linear": ("Affine", 1.0, 0.0),
                   "elu": ("Elu", 1.0, 0.0), "leaky_relu": ("LeakyRelu", 0.2, 0.0)}
_TIME_MAJOR = (1, 0, 2)


def _lstm_gates(w: np.ndarray, units: int) -> np.ndarray:
    """Columns in Keras's ``i, f, c, o`` blocks reordered to ONNX's ``i, o, f, c``."""
    i, f, c, o = (w[..., k * units:(k + 1) * units] for k in range(4))
    return np.concatenate([i, o, f, c], axis=-1)


def _operands(layer, weights: dict) -> tuple[str, dict, np.ndarray, np.ndarray, np.ndarray]:
    """``(op type, attributes, W, R, B)`` of one recurrent layer, in ONNX's shapes (one direction)."""
    u = layer.config["units"]
    kernel, recurrent = weights["kernel"], weights["recurrent_kernel"]
    gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[layer.class_name]
    bias = weights.get("bias")
    acts = [layer.config["activation"] or "linear"]
    attrs: dict = {}
    if layer.class_name == "LSTM":
        kernel, recurrent = _lstm_gates(kernel, u), _lstm_gates(recurrent, u)
        bias = None if bias is None else _lstm_gates(bias, u)
        acts = [layer.config["recurrent_activation"] or "linear", acts[0], acts[0]]
    elif layer.class_name == "GRU":
        acts = [layer.config["recurrent_activation"] or "linear", acts[0]]
        attrs["linear_before_reset"] = int(layer.config["reset_after"])
    if bias is None:
        b = np.zeros(2 * gates * u, np.float32)
    elif bias.ndim == 2:  # GRU reset_after: input and recurrent biases
        b = bias.reshape(-1)
    else:
        b = np.concatenate([bias, np.zeros_like(bias)])
    op = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}[layer.class_name]
    onnx_names = [RNN_ACTIVATIONS[a][0] for a in acts]
    attrs.update(hidden_size=u, activations=onnx_names)
    # alpha and beta are listed only for the activations that take them, in order (as onnxruntime reads them)
    alphas = [RNN_ACTIVATIONS[a][1] for a, n in zip(acts, onnx_names) if n in ("HardSigmoid", "Affine", "Elu",
                                                                            "LeakyRelu")]
    betas = [RNN_ACTIVATIONS[a][2] for a, n in zip(acts, onnx_names) if n in ("HardSigmoid", "Affine")]
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    return op, attrs, kernel.T[None], recurrent.T[None], b[None]


def recurrent(cx: LayerContext, x: Value, layer, weights: dict, base: str, keras_order_out: bool = True) -> Value:
    """One recurrent layer on ``x``; with ``keras_order_out`` off, a backwards sequence stays in the input's
    time order (what Bidirectional merges)."""
    if not _has_onnx_operator(layer):
        from engine.export.onnx_unrolled import unrolled

        return unrolled(cx, x, layer, weights, base, keras_order_out)
    op, attrs, w, r, b = _operands(layer, weights)
    consts = [cx.b.const(f"{base}/{name}", arr) for name, arr in
              (("kernel", w), ("recurrent_kernel", r), ("bias", b))]
    backwards = layer.config["go_backwards"]
    outs = cx.b.op(op, [cx.b.layout(x, _TIME_MAJOR), *consts], base, n_outputs=2,
                   direction="reverse" if backwards else "forward", **attrs)
    if not layer.config["return_sequences"]:
        return Value(cx.b.op("Squeeze", [outs[1], cx.b.ints(f"{base}/direction_axis", [0])], base), (0, 1))
    y = cx.b.op("Squeeze", [outs[0], cx.b.ints(f"{base}/direction_axis", [1])], base)
    if backwards and keras_order_out:
        y = cx.b.op("Slice", [y, cx.b.ints(f"{base}/starts", [-1]), cx.b.ints(f"{base}/ends", [-2 ** 63]),
                              cx.b.ints(f"{base}/axes", [0]), cx.b.ints(f"{base}/steps", [-1])], base)
    return Value(y, _TIME_MAJOR)


def _rnn(cx, xs):
    return recurrent(cx, xs[0], cx.layer, cx.weights, cx.base)


def _bidirectional(cx, xs):
    layer = cx.layer
    outs = []
    for prefix, inner in (("forward", layer.forward_layer), ("backward", layer.backward_layer)):
        weights = {k[len(prefix) + 1:]: v for k, v in cx.weights.items() if k.startswith(f"{prefix}_")}
        outs.append(recurrent(cx, xs[0], inner, weights, f"{cx.base}/{prefix}", keras_order_out=False))
    f, b = outs
    mode = cx.config["merge_mode"]
    if mode == "concat":
        return Value(cx.op("Concat", [f.name, b.name], axis=f.axis(-1)), f.perm)
    if mode == "ave":
        total = cx.op("Add", [f.name, b.name])
        return Value(cx.op("Mul", [total, cx.b.const(f"{cx.base}/half", 0.5)]), f.perm)
    return Value(cx.op("Add" if mode == "sum" else "Mul", [f.name, b.name]), f.perm)


def _has_onnx_operator(rnn) -> bool:
    """Whether ONNX's RNN/LSTM/GRU operator takes the layer's activations (else it is unrolled)."""
    return all((rnn.config.get(key) or "linear") in RNN_ACTIVATIONS
               for key in ("activation", "recurrent_activation") if key in rnn.config)


RECURRENT_CONVERTERS = {"SimpleRNN": _rnn, "LSTM": _rnn, "GRU": _rnn, "Bidirectional": _bidirectional}
RECURRENT_CONDITIONS: dict = {}  # every recurrent configuration exports (unrolled where ONNX lacks the activation)
