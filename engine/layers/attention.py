"""Attention layers and EinsumDense (``keras/src/layers/attention``, ``keras/src/layers/core/einsum_dense.py``).

The attention layers take their inputs on numbered ports: 0 = query, 1 = value, 2 = key (optional; the value
is the key when it is not connected).  ``use_causal_mask`` is a call argument (``Field.call_arg``).  The
numerics live in ``engine.numerics.attention``; the attention weights of a forward are ``cache[0]`` of its
cache, ``(batch, Tq, Tv)`` for Attention and ``(batch, heads, Tq, Tv)`` for the multi-head layers.
"""
from __future__ import annotations

import math
import re

import numpy as np

from engine.errors import ConfigError
from engine.initializers import get_initializer
from engine.layers.base import PENALTY_DOC, Field, Layer, Numerics, WeightSpec, activation_fn, register_layer
from engine.numerics import attention as num
from engine.shapes import Shape, fmt_shape

_EQUATION_FORMS = (re.compile(r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$"),
                   re.compile(r"^\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$"),
                   re.compile(r"^([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.$"))
_DROPOUT = Field("dropout", "float", 0.0, "Fraction of the attention weights dropped while training.", min=0.0,
                 max=1.0)
_SEED = Field("seed", "int", None, "Seed kept for Keras round trips; the engine draws from the trainer's generator.",
              optional=True)
_CAUSAL = Field("use_causal_mask", "bool", False, "Call argument: query step i attends only to steps j <= i "
                "(decoder self-attention).", call_arg=True)


def split_equation(equation: str) -> tuple[str, str, str, bool]:
    """``(input spec, kernel spec, output spec, left elided)`` of an equation Keras's EinsumDense accepts."""
    for i, form in enumerate(_EQUATION_FORMS):
        m = form.match(equation)
        if m:
            return m.group(1), m.group(2), m.group(3), i == 1
    raise ValueError(f"equation {equation!r} is not of the form [X],[Y]->[Z], ...[X],[Y]->...[Z] or "
                     "[X]...,[Y]->[Z]...")


def analyze_einsum(equation: str, bias_axes: str | None, input_shape: Shape, output_shape: tuple):
    """Keras's ``_analyze_einsum_string``: kernel shape, bias shape, full output shape, and the kernel's input
    and output axes.  Raises ``ValueError`` with Keras's reasons."""
    in_spec, w_spec, out_spec, left = split_equation(equation)
    elided = len(input_shape) - len(in_spec)
    if elided < 0 or ("..." not in equation and elided):
        raise ValueError(f"the equation's input '{in_spec}' has rank {len(in_spec)} but the input "
                         f"{fmt_shape(input_shape)} has rank {len(input_shape)}")
    full = [input_shape[0], *output_shape]
    if elided > 0 and left:
        for i in range(1, elided):
            full.insert(1, input_shape[i])
    elif elided > 0:
        full += list(input_shape[len(input_shape) - elided:])
    if left:
        in_map = {d: i + elided - len(input_shape) for i, d in enumerate(in_spec)}
        out_map = {d: i + elided for i, d in enumerate(out_spec)}
    else:
        in_map = {d: i for i, d in enumerate(in_spec)}
        out_map = {d: i for i, d in enumerate(out_spec)}
    if len(full) != len(out_spec) + max(elided, 0):
        raise ValueError(f"output_shape {fmt_shape(tuple(output_shape))} does not give one size per output axis "
                         f"of '{out_spec}' after the batch axis")
    for d in in_spec:
        if d in out_map and full[out_map[d]] is not None and full[out_map[d]] != input_shape[in_map[d]]:
            raise ValueError(f"input and output_shape differ at the shared axis '{d}' ({input_shape[in_map[d]]} vs "
                             f"{full[out_map[d]]})")
    for d in out_spec:
        if d not in in_spec and d not in w_spec:
            raise ValueError(f"output axis '{d}' is in neither the input '{in_spec}' nor the kernel '{w_spec}'")
    kernel, in_axes, out_axes = [], [], []
    for i, d in enumerate(w_spec):
        if d in out_map:
            kernel.append(full[out_map[d]])
            out_axes.append(i)
        elif d in in_map:
            kernel.append(input_shape[in_map[d]])
            in_axes.append(i)
        else:
            raise ValueError(f"kernel axis '{d}' is in neither the input '{in_spec}' nor the output '{out_spec}'")
    bias = None
    if bias_axes is not None:
        for c in bias_axes:
            if c not in out_spec:
                raise ValueError(f"bias axis '{c}' is not an axis of the output '{out_spec}'")
        offset = elided if left else 0
        sizes = {c: full[i + offset] for i, c in enumerate(out_spec)}
        first = min(out_spec.find(c) for c in bias_axes)
        bias = [sizes[c] if c in bias_axes else 1 for c in out_spec[first:]]
        bias += [1] * (0 if left else max(elided, 0))
    return kernel, bias, tuple(full), in_axes, out_axes


def init_kernel(name: str, shape: tuple, in_axes, out_axes, rng, dtype):
    """A kernel drawn with Keras's fans for einsum kernels (the product of its input axes, of its output axes)."""
    fan_in = math.prod(shape[i] for i in in_axes)
    return get_initializer(name)((fan_in, math.prod(shape) // max(fan_in, 1)), rng, dtype).reshape(shape)


@register_layer
class EinsumDense(Layer):
    """A dense layer of any rank: ``activation(einsum(equation, x, kernel) + bias)``.

    Args:
        equation: ``ab,bc->ac``-style equation of input, kernel and output axes (``...`` on the left or right
            of the input and output for axes passed through).
        output_shape: the output's sizes after the batch axis (None = the input's size on a shared axis).
        activation: activation applied to the output (None = linear).
        bias_axes: the output letters the bias spans, or None for no bias.

    Input shape: the equation's input axes.  Output shape: ``(batch, *output_shape)``.
    """

    class_name = "EinsumDense"
    family = "core"
    fields = (
        Field("equation", "str", doc="Einsum equation of input, kernel and output, e.g. 'ab,bc->ac'.",
              starter="ab,bc->ac"),
        Field("output_shape", "shape", doc="Output sizes after the batch axis (None = from the input).",
              allow_unknown=True, starter=(32,)),
        Field("activation", "activation", None, "Activation applied to the output (None = linear).", optional=True),
        Field("bias_axes", "str", None, "Output letters the bias spans (None = no bias).", optional=True),
        Field("kernel_initializer", "initializer", "glorot_uniform", "Initializer of the kernel."),
        Field("bias_initializer", "initializer", "zeros", "Initializer of the bias."),
        Field("kernel_regularizer", "json", None, PENALTY_DOC),
        Field("bias_regularizer", "json", None, PENALTY_DOC),
        Field("activity_regularizer", "json", None, PENALTY_DOC),
        Field("kernel_constraint", "json", None, PENALTY_DOC),
        Field("bias_constraint", "json", None, PENALTY_DOC),
    )

    def check_config(self) -> None:
        try:
            specs = split_equation(self.config["equation"])[:3]
        except ValueError as e:
            raise ConfigError(f"{self.owner}: {e}.", "equation") from None
        for spec in specs:
            if len(set(spec)) != len(spec):
                raise ConfigError(f"{self.owner}: the equation repeats a letter within '{spec}'; each operand "
                                  "needs distinct axis letters.", "equation")
        axes = self.config["bias_axes"]
        if axes is not None and (not axes or not axes.isalpha() or any(c not in specs[2] for c in axes)):
            raise ConfigError(f"{self.owner}: bias_axes {axes!r} must be letters of the output '{specs[2]}'.",
                              "bias_axes")

    def summary_args(self) -> str:
        return self.config["equation"]

    def _analysis(self, input_shapes: list[Shape]):
        try:
            return analyze_einsum(self.config["equation"], self.config["bias_axes"], tuple(input_shapes[0]),
                                  tuple(self.config["output_shape"]))
        except ValueError as e:
            raise self.shape_error(f"cannot apply its equation to {fmt_shape(input_shapes[0])}: {e}.") from None

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        kernel, *_rest = self._analysis(input_shapes)
        if any(d is None for d in kernel):
            raise self.shape_error(f"needs the sizes of the kernel axes but {fmt_shape(input_shapes[0])} leaves one "
                                   "unknown; give the Input a full shape or set output_shape.")
        return self._analysis(input_shapes)[2]

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        kernel, bias, *_ = self._analysis(input_shapes)
        specs = [WeightSpec("kernel", tuple(kernel), self.config["kernel_initializer"])]
        if bias is not None:
            specs.append(WeightSpec("bias", tuple(bias), self.config["bias_initializer"]))
        return specs

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        kernel, bias, _, in_axes, out_axes = self._analysis(input_shapes)
        out = {"kernel": init_kernel(self.config["kernel_initializer"], tuple(kernel), in_axes, out_axes, rng, dtype)}
        if bias is not None:
            out["bias"] = get_initializer(self.config["bias_initializer"])(tuple(bias), rng, dtype)
        return out

    def numerics(self) -> Numerics:
        act = self.config["activation"]
        args = {"equation": self.config["equation"]}
        if act not in (None, "linear"):
            args["activation"] = activation_fn(act)
        return Numerics(num.einsum_dense_forward, num.einsum_dense_backward, ("kernel", "bias"), args)


class BaseAttention(Layer):
    """Shared inputs (query, value, optional key), shape checks and dropout of the attention layers."""

    family = "attention"
    min_inputs = 2
    max_inputs = 3
    # Keras fills a call's ``<input>_mask`` / ``mask`` arguments from the inputs' masks (never saved in the
    # file); the output carries the query's mask (Attention's compute_mask, MultiHeadAttention's call)
    mask_rule = "pass"
    mask_args = ("query_mask", "value_mask", None)   # Attention reads mask[0] and mask[1], never the key's
    keras_masks_implicit = True

    def summary_args(self) -> str:
        return "causal" if self.config.get("use_causal_mask") else ""

    def sequence_shapes(self, input_shapes: list[Shape]) -> tuple[Shape, Shape, Shape]:
        """Query, value and key shapes, each checked to be ``(batch, steps, features)``."""
        if not 2 <= len(input_shapes) <= 3:
            raise self.shape_error(f"takes a query and a value (and optionally a key) but gets {len(input_shapes)} "
                                   "inputs; connect port 0 = query, 1 = value, 2 = key.")
        for what, shape in zip(("query", "value", "key"), input_shapes):
            if len(shape) != 3 or shape[-1] is None:
                raise self.shape_error(f"expects a (batch, steps, features) {what} but gets {fmt_shape(shape)}; "
                                       "give the Input a full shape such as (10, 16).")
        q, v = input_shapes[0], input_shapes[1]
        k = input_shapes[2] if len(input_shapes) > 2 else v
        if None not in (v[1], k[1]) and v[1] != k[1]:
            raise self.shape_error(f"needs as many value steps as key steps but gets value {fmt_shape(v)} and key "
                                   f"{fmt_shape(k)}.")
        return q, v, k

    def check_same_features(self, q: Shape, k: Shape) -> None:
        if q[-1] != k[-1]:
            raise self.shape_error(f"compares query {fmt_shape(q)} with key {fmt_shape(k)}, whose feature sizes "
                                   "differ; give both the same last dimension (e.g. a Dense before one of them).")


@register_layer
class Attention(BaseAttention):
    """Dot-product attention, a.k.a. Luong-style attention: ``softmax(query . key) . value``.

    Args:
        use_scale: learn a scalar that scales the scores.
        score_mode: ``"dot"`` (query-key dot product) or ``"concat"`` (sum of ``tanh(query + key)``).
        dropout: fraction of the attention weights dropped while training.
        use_causal_mask: call argument; position i attends only to positions j <= i.

    Input shape: query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, key ``(batch, Tv, dim)`` (optional).
    Output shape: ``(batch, Tq, dim_v)``.
    """

    class_name = "Attention"
    fields = (
        Field("use_scale", "bool", False, "Learn a scalar that scales the attention scores."),
        Field("score_mode", "choice", "dot", "How scores are computed: 'dot' product or 'concat' (tanh of sums).",
              choices=("dot", "concat")),
        _DROPOUT, _SEED, _CAUSAL,
    )

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        q, v, k = self.sequence_shapes(input_shapes)
        self.check_same_features(q, k)
        return (*q[:-1], v[-1])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        specs = [WeightSpec("scale", (), "ones")] if self.config["use_scale"] else []
        if self.config["score_mode"] == "concat":
            specs.append(WeightSpec("concat_score_weight", (), "ones"))
        return specs

    def numerics(self) -> Numerics:
        return Numerics(num.attention_forward, num.attention_backward, ("scale", "concat_score_weight"),
                        self.config_args("score_mode", "dropout", "use_causal_mask", "seed"), training_args=True,
                        inputs=3)


@register_layer
class AdditiveAttention(BaseAttention):
    """Additive attention, a.k.a. Bahdanau-style attention: scores ``sum(scale * tanh(query + key))``.

    Args:
        use_scale: learn a per-feature scale of the scores.
        dropout: fraction of the attention weights dropped while training.
        use_causal_mask: call argument; position i attends only to positions j <= i.

    Input shape: query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, key ``(batch, Tv, dim)`` (optional).
    Output shape: ``(batch, Tq, dim_v)``.
    """

    class_name = "AdditiveAttention"
    fields = (
        Field("use_scale", "bool", True, "Learn a per-feature scale of the attention scores."),
        _DROPOUT, _SEED, _CAUSAL,
    )

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        q, v, k = self.sequence_shapes(input_shapes)
        self.check_same_features(q, k)
        return (*q[:-1], v[-1])

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        if not self.config["use_scale"]:
            return []
        return [WeightSpec("scale", (input_shapes[0][-1],), "glorot_uniform")]

    def numerics(self) -> Numerics:
        return Numerics(num.attention_forward, num.attention_backward, ("scale", "concat_score_weight"),
                        {"score_mode": "additive", **self.config_args("dropout", "use_causal_mask", "seed")},
                        training_args=True, inputs=3)


_PROJECTIONS = ("query", "key", "value", "attention_output")


class BaseMultiHeadAttention(BaseAttention):
    """Shared weights (four EinsumDense projections, Keras's sub-layers), fans and call convention."""

    keras_inputs_as_arguments = True
    mask_args = ("query_mask", "value_mask", "key_mask")

    def projection_shapes(self, input_shapes: list[Shape]) -> list[tuple[tuple, tuple, int]]:
        """``(kernel shape, bias shape, fan_in)`` of the query, key, value and output projections."""
        raise NotImplementedError

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        specs = []
        for name, (kernel, bias, _fan_in) in zip(_PROJECTIONS, self.projection_shapes(input_shapes)):
            specs.append(WeightSpec(f"{name}_kernel", kernel, self.config["kernel_initializer"]))
            if self.config["use_bias"]:
                specs.append(WeightSpec(f"{name}_bias", bias, self.config["bias_initializer"]))
        return specs

    def init_weights(self, input_shapes, rng, dtype=np.float32):
        out = {}
        for name, (kernel, bias, fan_in) in zip(_PROJECTIONS, self.projection_shapes(input_shapes)):
            out[f"{name}_kernel"] = init_kernel(self.config["kernel_initializer"], kernel, range(fan_in), (), rng,
                                                dtype)
            if self.config["use_bias"]:
                out[f"{name}_bias"] = get_initializer(self.config["bias_initializer"])(bias, rng, dtype)
        return out

    def keras_weight_groups(self, input_shapes: list[Shape]) -> list[tuple[str, int]]:
        per = 2 if self.config["use_bias"] else 1
        return [(group, per) for group in self.keras_sublayer_groups]

    keras_sublayer_groups: tuple[str, ...] = ()
    weight_order = tuple(f"{p}_{w}" for p in _PROJECTIONS for w in ("kernel", "bias"))


@register_layer
class MultiHeadAttention(BaseMultiHeadAttention):
    """Multi-head attention (Vaswani et al.): ``num_heads`` scaled dot-product attentions of learned projections
    of query, key and value, concatenated and projected back.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value (None = key_dim).
        dropout: fraction of the attention weights dropped while training.
        use_bias: whether the projections have biases.
        output_shape: the output's trailing shape (None = the query's last dimension).
        attention_axes: the axes attention runs over (None = all axes between batch and features).
        use_causal_mask: call argument; position i attends only to positions j <= i.

    Input shape: query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, key ``(batch, Tv, dim_k)`` (optional).
    Output shape: ``(batch, Tq, dim)`` or ``(batch, Tq, *output_shape)``.
    """

    class_name = "MultiHeadAttention"
    keras_sublayer_groups = ("query_dense", "key_dense", "value_dense", "output_dense")
    fields = (
        Field("num_heads", "int", doc="Number of attention heads.", min=1, starter=2),
        Field("key_dim", "int", doc="Size of each attention head for query and key.", min=1, starter=16),
        Field("value_dim", "int", None, "Size of each attention head for value (None = key_dim).", min=1,
              optional=True),
        _DROPOUT,
        Field("use_bias", "bool", True, "Whether the query, key, value and output projections have biases."),
        Field("output_shape", "shape", None, "The output's trailing shape (None = the query's last dimension).",
              optional=True),
        Field("attention_axes", "ints", None, "Axes attention runs over (None = every axis between batch and "
              "features).", optional=True),
        Field("kernel_initializer", "initializer", "glorot_uniform", "Initializer of the projection kernels."),
        Field("bias_initializer", "initializer", "zeros", "Initializer of the projection biases."),
        _SEED, _CAUSAL,
    )

    def summary_args(self) -> str:
        causal = ", causal" if self.config["use_causal_mask"] else ""
        return f"{self.config['num_heads']} heads × {self.config['key_dim']}{causal}"

    def _axes(self, query_rank: int) -> tuple[int, ...]:
        """Attention axes of the projected tensors (rank ``query_rank + 1``), normalised like Keras."""
        axes = self.config["attention_axes"]
        if axes is None:
            return tuple(range(1, query_rank - 1))
        return tuple(a if a >= 0 else query_rank + a for a in axes)

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        if not 2 <= len(input_shapes) <= 3:
            raise self.shape_error(f"takes a query and a value (and optionally a key) but gets {len(input_shapes)} "
                                   "inputs; connect port 0 = query, 1 = value, 2 = key.")
        q, v = input_shapes[0], input_shapes[1]
        k = input_shapes[2] if len(input_shapes) > 2 else v
        rank = len(q)
        if rank < 3 or any(len(s) != rank for s in (v, k)) or any(s[-1] is None for s in (q, v, k)):
            raise self.shape_error(f"expects query, value and key of one rank >= 3 with known features but gets "
                                   f"{', '.join(fmt_shape(s) for s in (q, v, k)[:len(input_shapes)])}.")
        if tuple(v[1:-1]) != tuple(k[1:-1]):
            raise self.shape_error(f"needs value and key equal except in the last axis but gets {fmt_shape(v)} and "
                                   f"{fmt_shape(k)}.")
        axes = self._axes(rank)
        if not axes or any(not 1 <= a <= rank - 2 for a in axes) or len(set(axes)) != len(axes):
            raise self.shape_error(f"has attention_axes {list(self.config['attention_axes'])} but a rank-{rank} "
                                   f"query allows axes 1..{rank - 2} (or negative ones counted from the heads axis).")
        for i in range(1, rank - 1):
            if i not in axes and None not in (q[i], v[i]) and q[i] != v[i]:
                raise self.shape_error(f"attends over axes {list(axes)}, so axis {i} is a batch axis that query "
                                       f"{fmt_shape(q)} and value {fmt_shape(v)} must share; add {i} to "
                                       "attention_axes or make the sizes equal.")
        if self.config["use_causal_mask"] and rank != 3:
            raise self.shape_error(f"supports use_causal_mask on (batch, steps, features) inputs only, not "
                                   f"{fmt_shape(q)}.")
        return (*q[:-1], *(self.config["output_shape"] or (q[-1],)))

    def projection_shapes(self, input_shapes: list[Shape]) -> list[tuple[tuple, tuple, int]]:
        q, v = input_shapes[0], input_shapes[1]
        k = input_shapes[2] if len(input_shapes) > 2 else v
        n, kd = self.config["num_heads"], self.config["key_dim"]
        vd = self.config["value_dim"] or kd
        out = tuple(self.config["output_shape"] or (q[-1],))
        return [((q[-1], n, kd), (n, kd), 1), ((k[-1], n, kd), (n, kd), 1), ((v[-1], n, vd), (n, vd), 1),
                ((n, vd, *out), out, 2)]

    def numerics(self) -> Numerics:
        args = {"key_dim": self.config["key_dim"], "attention_axes": self.config["attention_axes"],
                "output_rank": len(self.config["output_shape"] or (1,))}
        args.update(self.config_args("dropout", "use_causal_mask", "seed"))
        return Numerics(num.mha_forward, num.mha_backward, self.weight_order, args, training_args=True, inputs=3)


@register_layer
class GroupQueryAttention(BaseMultiHeadAttention):
    """Grouped-query attention (Ainslie et al., 2023): ``num_query_heads`` query heads share
    ``num_key_value_heads`` key/value heads, each serving ``num_query_heads // num_key_value_heads`` queries.

    Args:
        head_dim: size of each attention head.
        num_query_heads: number of query heads.
        num_key_value_heads: number of key and value heads (must divide num_query_heads).
        dropout: fraction of the attention weights dropped while training.
        use_bias: whether the projections have biases.
        use_causal_mask: call argument; position i attends only to positions j <= i.

    Input shape: query ``(batch, Tq, dim)``, value ``(batch, Tv, dim)``, key ``(batch, Tv, dim)`` (optional).
    Output shape: ``(batch, Tq, dim)``.
    """

    class_name = "GroupQueryAttention"
    keras_python_name = "GroupedQueryAttention"
    keras_sublayer_groups = ("_query_dense", "_key_dense", "_value_dense", "_output_dense")
    fields = (
        Field("head_dim", "int", doc="Size of each attention head.", min=1, starter=16),
        Field("num_query_heads", "int", doc="Number of query heads.", min=1, starter=4),
        Field("num_key_value_heads", "int", doc="Number of key and value heads (divides num_query_heads).", min=1,
              starter=2),
        _DROPOUT,
        Field("use_bias", "bool", True, "Whether the query, key, value and output projections have biases."),
        Field("kernel_initializer", "initializer", "glorot_uniform", "Initializer of the projection kernels."),
        Field("bias_initializer", "initializer", "zeros", "Initializer of the projection biases."),
        _SEED, _CAUSAL,
    )

    def check_config(self) -> None:
        if self.config["num_query_heads"] % self.config["num_key_value_heads"]:
            raise ConfigError(f"{self.owner}: num_query_heads ({self.config['num_query_heads']}) must be a multiple "
                              f"of num_key_value_heads ({self.config['num_key_value_heads']}).", "num_key_value_heads")

    def summary_args(self) -> str:
        causal = ", causal" if self.config["use_causal_mask"] else ""
        return f"{self.config['num_query_heads']}/{self.config['num_key_value_heads']} heads × " \
               f"{self.config['head_dim']}{causal}"

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        q, v, k = self.sequence_shapes(input_shapes)
        if q[-1] != v[-1]:
            raise self.shape_error(f"needs query and value with the same last dimension but gets {fmt_shape(q)} and "
                                   f"{fmt_shape(v)}.")
        return q

    def projection_shapes(self, input_shapes: list[Shape]) -> list[tuple[tuple, tuple, int]]:
        q, v = input_shapes[0], input_shapes[1]
        k = input_shapes[2] if len(input_shapes) > 2 else v
        h, nq, nkv = self.config["head_dim"], self.config["num_query_heads"], self.config["num_key_value_heads"]
        return [((q[-1], nq, h), (nq, h), 1), ((k[-1], nkv, h), (nkv, h), 1), ((v[-1], nkv, h), (nkv, h), 1),
                ((nq, h, q[-1]), (q[-1],), 2)]

    def numerics(self) -> Numerics:
        args = {"head_dim": self.config["head_dim"], **self.config_args("dropout", "use_causal_mask", "seed")}
        return Numerics(num.gqa_forward, num.gqa_backward, self.weight_order, args, training_args=True, inputs=3)
