"""Recurrent layers whose activations ONNX's RNN, LSTM and GRU operators lack, unrolled over the time steps.

The input projection of every step is one MatMul; each step then adds ``h @ recurrent_kernel`` and applies the
gates with the Keras activations of ``onnx_activations``, exactly as the engine's step (``engine.numerics``).
Unrolling needs the number of steps, so an Input with an unknown sequence length is refused.
"""
from __future__ import annotations

import numpy as np

from engine.export.onnx_activations import activation
from engine.export.onnx_export import LayerContext, OnnxRefusedError, Value


class _Step:
    """Names one unrolled step's tensors under the layer, and applies activations to them."""

    def __init__(self, cx: LayerContext, base: str):
        self.cx, self.base = cx, base

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        return self.cx.b.op(op_type, inputs, self.base, **attrs)

    def act(self, name: str, fn: str | None) -> str:
        sub = LayerContext(self.cx.b, self.cx.layer, self.base, self.cx.in_shapes, {})
        return activation(sub, Value(name, (0, 1)), fn).name

    def cols(self, name: str, k: int, units: int) -> str:
        """Gate block ``k`` (columns ``k*units`` to ``(k+1)*units``) of ``name``."""
        b = self.cx.b
        return self.op("Slice", [name, b.ints(f"{self.base}/start", [k * units]),
                                 b.ints(f"{self.base}/end", [(k + 1) * units]), b.ints(f"{self.base}/axis", [1])])


def unrolled(cx: LayerContext, x: Value, layer, weights: dict, base: str, keras_order_out: bool) -> Value:
    steps = cx.in_shapes[0][1]
    if steps is None:
        raise OnnxRefusedError(f"cannot export to ONNX: {layer.owner} needs a known number of time steps: its "
                               "activations have no ONNX recurrent operator, so it is unrolled; give the Input "
                               "a full shape.")
    s = _Step(cx, base)
    b = cx.b
    cfg = layer.config
    u = cfg["units"]
    bias = weights.get("bias")
    in_bias = None if bias is None else (bias[0] if bias.ndim == 2 else bias)
    xw = s.op("MatMul", [b.keras(x), b.const(f"{base}/kernel", weights["kernel"])])
    if in_bias is not None:
        xw = s.op("Add", [xw, b.const(f"{base}/bias", in_bias)])
    zeros_shape = s.op("Concat", [s.op("Slice", [s.op("Shape", [b.keras(x)]), b.ints(f"{base}/zero", [0]),
                                                 b.ints(f"{base}/one", [1])]), b.ints(f"{base}/units", [u])], axis=0)
    h = s.op("ConstantOfShape", [zeros_shape], value=b.onnx.helper.make_tensor("zero", 1, [1], [0.0]))
    c = h
    order = range(steps - 1, -1, -1) if cfg["go_backwards"] else range(steps)
    outs = []
    step = {"SimpleRNN": _simple_step, "LSTM": _lstm_step, "GRU": _gru_step}[layer.class_name]
    consts = _recurrent_consts(b, base, layer, weights)
    for t in order:
        xt = s.op("Gather", [xw, b.ints(f"{base}/t", [t])], axis=1)
        xt = s.op("Squeeze", [xt, b.ints(f"{base}/time_axis", [1])])
        h, c = step(s, cfg, u, xt, h, c, consts)
        outs.append(h)
    if not cfg["return_sequences"]:
        return Value(h, (0, 1))
    if cfg["go_backwards"] and not keras_order_out:
        outs = outs[::-1]
    seq = [s.op("Unsqueeze", [o, b.ints(f"{base}/time_axis", [1])]) for o in outs]
    return Value(s.op("Concat", seq, axis=1), (0, 1, 2))


def _recurrent_consts(b, base: str, layer, weights: dict) -> dict:
    rk = weights["recurrent_kernel"]
    out = {"recurrent_kernel": b.const(f"{base}/recurrent_kernel", rk)}
    bias = weights.get("bias")
    if layer.class_name == "GRU" and layer.config["reset_after"] and bias is not None:
        out["recurrent_bias"] = b.const(f"{base}/recurrent_bias", bias[1])
    if layer.class_name == "GRU" and not layer.config["reset_after"]:
        u = layer.config["units"]
        out["recurrent_zr"] = b.const(f"{base}/recurrent_kernel_zr", rk[:, :2 * u])
        out["recurrent_h"] = b.const(f"{base}/recurrent_kernel_h", rk[:, 2 * u:])
    return out


def _simple_step(s: _Step, cfg, u, xt, h, c, k):
    return s.act(s.op("Add", [xt, s.op("MatMul", [h, k["recurrent_kernel"]])]), cfg["activation"]), c


def _lstm_step(s: _Step, cfg, u, xt, h, c, k):
    z = s.op("Add", [xt, s.op("MatMul", [h, k["recurrent_kernel"]])])
    i, f, g, o = (s.cols(z, n, u) for n in range(4))
    rec = cfg["recurrent_activation"]
    c = s.op("Add", [s.op("Mul", [s.act(f, rec), c]), s.op("Mul", [s.act(i, rec), s.act(g, cfg["activation"])])])
    return s.op("Mul", [s.act(o, rec), s.act(c, cfg["activation"])]), c


def _gru_step(s: _Step, cfg, u, xt, h, c, k):
    rec = cfg["recurrent_activation"]
    if cfg["reset_after"]:
        inner = s.op("MatMul", [h, k["recurrent_kernel"]])
        if "recurrent_bias" in k:
            inner = s.op("Add", [inner, k["recurrent_bias"]])
        z = s.act(s.op("Add", [s.cols(xt, 0, u), s.cols(inner, 0, u)]), rec)
        r = s.act(s.op("Add", [s.cols(xt, 1, u), s.cols(inner, 1, u)]), rec)
        hh = s.op("Add", [s.cols(xt, 2, u), s.op("Mul", [r, s.cols(inner, 2, u)])])
    else:
        inner = s.op("MatMul", [h, k["recurrent_zr"]])
        z = s.act(s.op("Add", [s.cols(xt, 0, u), s.cols(inner, 0, u)]), rec)
        r = s.act(s.op("Add", [s.cols(xt, 1, u), s.cols(inner, 1, u)]), rec)
        hh = s.op("Add", [s.cols(xt, 2, u), s.op("MatMul", [s.op("Mul", [r, h]), k["recurrent_h"]])])
    hh = s.act(hh, cfg["activation"])
    one = s.cx.b.const(f"{s.base}/one_f", np.float32(1.0))
    return s.op("Add", [s.op("Mul", [z, h]), s.op("Mul", [s.op("Sub", [one, z]), hh])]), c
