"""An ONNX model of a graph (``layergraph export --to onnx``), built with the optional ``onnx`` package.

Keras tensors are channels-last; ONNX's Conv, pooling and Resize are channels-first.  Every tensor of the
ONNX graph therefore carries a layout (``Value.perm``: the ONNX tensor is the Keras tensor transposed by
``perm``), and a layer asks for the layout it needs (``OnnxBuilder.layout``): a Transpose is written only
where the layout changes, so a chain of convolutions, poolings and element-wise layers stays channels-first
and Flatten, Dense or the graph's outputs get Keras's order back.  The per-layer operators are the tables
of ``onnx_layers`` and ``onnx_recurrent``; a layer in neither is refused, all such layers in one message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.errors import GraphError, LayergraphError
from engine.export.plan import ExportPlan, Weights, make_plan, weight_arrays
from engine.graph import LayerGraph
from engine.layers.group import split_weights
from engine.validation import infer_shapes

#: The opset the models declare (Reduce* take their axes as an input from 18 on).
OPSET = 18
#: A protobuf message (an ONNX file without external data) is limited to 2 GB; leave room for the graph.
MAX_PROTOBUF_BYTES = 2 ** 31 - 2 ** 24
INSTALL_HINT = "ONNX export needs the onnx package: pip install layergraph[onnx]"


class OnnxMissingError(LayergraphError):
    """The optional ``onnx`` package is not installed."""


class OnnxRefusedError(GraphError):
    """Layers of the graph have no ONNX equivalent (the message names them all)."""


def require_onnx():
    """The ``onnx`` module, or ``OnnxMissingError`` with the install line."""
    try:
        import onnx
        from onnx import helper, numpy_helper  # noqa: F401
    except ImportError:
        raise OnnxMissingError(INSTALL_HINT) from None
    return onnx


@dataclass(frozen=True)
class Value:
    """A tensor of the ONNX graph standing for a Keras tensor: ``onnx = keras.transpose(perm)``."""

    name: str
    perm: tuple[int, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.perm)

    def axis(self, keras_axis: int) -> int:
        """Where the Keras axis ``keras_axis`` lies in the ONNX tensor."""
        return self.perm.index(keras_axis % self.rank)


def keras_order(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def channels_first(rank: int) -> tuple[int, ...]:
    """The layout ONNX's spatial operators want for a channels-last Keras tensor: (N, C, spatial...)."""
    return (0, rank - 1, *range(1, rank - 1))


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/:]")
#: Within one layer's name a "/" is unsafe too: it separates a group's name from its layers'.
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_.\-:]")


class OnnxBuilder:
    """Nodes and initializers of one ONNX graph, with unique sanitized names."""

    def __init__(self, onnx_module):
        self.onnx = onnx_module
        self.helper = onnx_module.helper
        self.nodes: list = []
        self.initializers: list = []
        self.used: set[str] = set()
        self.bases: set[str] = set()
        self._layouts: dict[tuple[str, tuple[int, ...]], str] = {}

    def unique(self, base: str) -> str:
        base = _UNSAFE.sub("_", base) or "t"
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name

    def layer_base(self, name: str) -> str:
        """A unique sanitized name for a layer; its tensors are named ``<base>`` and ``<base>/...``."""
        base = _UNSAFE.sub("_", name) or "layer"
        unique, i = base, 1
        while unique in self.bases or unique in self.used:
            unique, i = f"{base}_{i}", i + 1
        self.bases.add(unique)
        return unique

    def const(self, base: str, array: Any, dtype: Any = np.float32) -> str:
        name = self.unique(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.array(array, dtype=dtype), name))
        return name

    def ints(self, base: str, values) -> str:
        return self.const(base, np.asarray(values, dtype=np.int64).reshape(-1), np.int64)

    def op(self, op_type: str, inputs: list[str], base: str, n_outputs: int = 1, **attrs) -> Any:
        """Add a node; its output name (or names, with ``n_outputs`` > 1)."""
        outs = [self.unique(f"{base}/{op_type}" + (f"_{i}" if i else "")) for i in range(n_outputs)]
        self.nodes.append(self.helper.make_node(op_type, inputs, outs, name=self.unique(f"{base}/{op_type}_node"),
                                                **attrs))
        return outs[0] if n_outputs == 1 else outs

    def layout(self, value: Value, perm: tuple[int, ...]) -> str:
        """``value`` in layout ``perm``: a Transpose when it is stored otherwise (one per tensor and layout)."""
        perm = tuple(perm)
        if value.perm == perm:
            return value.name
        key = (value.name, perm)
        if key not in self._layouts:
            to = [value.perm.index(p) for p in perm]
            self._layouts[key] = self.op("Transpose", [value.name], value.name.split("/")[0], perm=to)
        return self._layouts[key]

    def keras(self, value: Value) -> str:
        return self.layout(value, keras_order(value.rank))

    def rename_output(self, old: str, new_base: str, first_node: int) -> str | None:
        """Give the tensor ``old``, written by a node added since ``first_node``, the name ``new_base``."""
        for node in reversed(self.nodes[first_node:]):
            if old in node.output:
                new = self.unique(new_base)
                node.output[list(node.output).index(old)] = new
                self._layouts = {k: (new if v == old else v) for k, v in self._layouts.items()}
                return new
        return None


@dataclass
class LayerContext:
    """What a layer's converter needs: the builder, the layer, its shapes and its weights."""

    b: OnnxBuilder
    layer: Any
    base: str
    in_shapes: list[tuple]
    weights: dict[str, np.ndarray]

    def w(self, name: str, array: Any = None) -> str:
        """An initializer named after the layer and the weight (``array``: the weight rearranged)."""
        data = self.weights[name] if array is None else array
        return self.b.const(f"{self.base}/{name}", data)

    def has(self, name: str) -> bool:
        return name in self.weights

    def op(self, op_type: str, inputs: list[str], **attrs) -> Any:
        return self.b.op(op_type, inputs, self.base, **attrs)

    @property
    def config(self) -> dict:
        return self.layer.config


Converter = Callable[[LayerContext, list[Value]], Value]


def converters() -> dict[str, Converter]:
    from engine.export.onnx_layers import CONVERTERS
    from engine.export.onnx_recurrent import RECURRENT_CONVERTERS

    return {**CONVERTERS, **RECURRENT_CONVERTERS}


def refusals() -> dict[str, Callable[[Any], str | None]]:
    """``{class name: check(layer) -> reason or None}`` for layers exported only with some arguments."""
    from engine.export.onnx_layers import CONDITIONS
    from engine.export.onnx_recurrent import RECURRENT_CONDITIONS

    return {**CONDITIONS, **RECURRENT_CONDITIONS}


#: Layers with no ONNX equivalent, and why (README's "ONNX export" table lists the same).
REFUSED: dict[str, str] = {
    "TimeDistributed": "not mapped to ONNX yet (it would be the wrapped layer on a (batch*time, ...) reshape)",
    "RNN": "not mapped to ONNX yet (a single cell is the LSTM, GRU or SimpleRNN layer, which export)",
    **{f"ConvLSTM{r}D": "ONNX has no convolutional LSTM operator (it would have to be unrolled)" for r in (1, 2, 3)},
    **{name: "its ONNX converter (Einsum, MatMul and Softmax nodes) is not written yet"
       for name in ("EinsumDense", "Attention", "AdditiveAttention", "MultiHeadAttention", "GroupQueryAttention")},
    "CustomLayer": "its code has no ONNX operators yet (export Keras code, which defines the layer, and convert "
                   "that)",
}
INITIAL_STATE_REASON = "its initial_state inputs are not exported to ONNX yet"


def refusal_reason(layer) -> str | None:
    """Why ``layer`` cannot be exported to ONNX, or None."""
    name = layer.class_name
    if name in REFUSED:
        return REFUSED[name]
    if layer.composite or name == "Input":
        return None
    if name not in converters():
        return "no ONNX operator is mapped for it"
    check = refusals().get(name)
    return check(layer) if check else None


def refused_layers(graph: LayerGraph, prefix: str = "") -> list[str]:
    """``"'name' (Class: reason)"`` for every layer the export refuses, inside groups too."""
    out = []
    masked = infer_shapes(graph).mask_sources
    for nid in graph.topological_order():
        layer = graph.layer(nid)
        name = prefix + graph.node(nid).name
        if layer.composite:
            out += refused_layers(layer.inner, f"{name}/")
            continue
        reason = refusal_reason(layer)
        if not reason and layer.takes_initial_state and len(graph.inputs_of(nid)) > 1:
            reason = INITIAL_STATE_REASON
        if not reason and layer.mask_args and any(masked.get(s) for s in graph.inputs_of(nid)):
            reason = "its input carries a mask, which the ONNX export does not apply"
        if reason:
            out.append(f"'{name}' ({layer.class_name}: {reason})")
    return out


def _emit_graph(b: OnnxBuilder, plan: ExportPlan, weights: Weights, inputs: dict[str, Value],
                prefix: str, table: dict[str, Converter], outputs: frozenset[str] = frozenset()) -> dict[str, Value]:
    """Write every layer of ``plan`` (inputs given); the value of each node id (``outputs`` in Keras's order)."""
    values = dict(inputs)
    for nid in plan.order:
        if nid in values:
            continue
        layer = plan.layer(nid)
        xs = [values[s] for s in plan.graph.inputs_of(nid)]
        base = b.layer_base(prefix + _UNSAFE_IN_NAME.sub("_", plan.name(nid)))
        if layer.composite:
            out = _emit_group(b, plan, nid, xs, weights.get(nid, {}), f"{base}/", table)
            if nid in outputs:
                first = len(b.nodes)
                name = b.op("Identity", [b.keras(out)], base)
                out = Value(b.rename_output(name, base, first), keras_order(out.rank), out.dtype)
            values[nid] = out
            continue
        cx = LayerContext(b, layer, base, plan.in_shapes(nid), weights.get(nid, {}))
        first = len(b.nodes)
        out = table[layer.class_name](cx, xs)
        if nid in outputs:  # the model's outputs in Keras's order, named after their layers
            out = Value(b.keras(out), keras_order(out.rank), out.dtype)
        renamed = b.rename_output(out.name, base, first)
        if renamed is None:  # the layer passed a tensor through
            renamed = b.op("Identity", [out.name], base)
        values[nid] = Value(renamed, out.perm, out.dtype)
    return values


def _emit_group(b: OnnxBuilder, plan: ExportPlan, nid: str, xs: list[Value], weights: dict, prefix: str,
                table: dict[str, Converter]) -> Value:
    """A group inlined: its inner layers named ``group/layer``, its inner Inputs bound to the incoming tensors."""
    inner = make_plan(plan.layer(nid).inner)
    bound = dict(zip(inner.inputs, xs))
    values = _emit_graph(b, inner, split_weights(weights), bound, prefix, table)
    return values[inner.outputs[0]]


def _tensor_type(b: OnnxBuilder, name: str, dtype: str, shape: tuple):
    """A graph input or output: a dynamic ``batch`` dimension, other unknown sizes named after the tensor."""
    dims = ["batch" if i == 0 else (f"{name}_{i}" if d is None else d) for i, d in enumerate(shape)]
    return b.helper.make_tensor_value_info(name, b.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), dims)


def check_exportable(graph: LayerGraph):
    """The ``onnx`` module, once nothing refuses the export (``OnnxRefusedError`` naming every refused layer,
    ``OnnxMissingError``): what can be said before any work or notice."""
    refused = refused_layers(graph)
    if refused:
        raise OnnxRefusedError(f"cannot export to ONNX: {len(refused)} layer{'s' if len(refused) > 1 else ''} "
                               f"without an ONNX equivalent: {'; '.join(refused)}.")
    return require_onnx()


def onnx_model(graph: LayerGraph, weights: Weights | None, model_name: str = "layergraph"):
    """The ONNX ``ModelProto`` of a valid graph (``OnnxRefusedError`` naming every refused layer).

    ``weights`` are the document's; a graph without any gets freshly initialised ones (as the other exports).
    """
    plan = make_plan(graph)
    onnx = check_exportable(graph)
    weights = _checked_weights(plan, weights)
    b = OnnxBuilder(onnx)
    inputs, graph_inputs = {}, []
    for nid in plan.inputs:
        shape = plan.result.node_shapes[nid]
        name = b.layer_base(_UNSAFE_IN_NAME.sub("_", plan.name(nid)))
        b.used.add(name)
        dtype = "int32" if plan.layer(nid).config.get("dtype") == "int32" else "float32"
        graph_inputs.append(_tensor_type(b, name, dtype, shape))
        inputs[nid] = Value(name, keras_order(len(shape)), dtype)
    values = _emit_graph(b, plan, weights, inputs, "", converters(), frozenset(plan.outputs))
    graph_outputs = [_tensor_type(b, values[n].name, values[n].dtype, plan.result.node_shapes[n])
                     for n in plan.outputs]  # (in Keras's order and named after their layers by _emit_graph)
    g = b.helper.make_graph(b.nodes, _UNSAFE.sub("_", model_name) or "layergraph", graph_inputs, graph_outputs,
                            b.initializers)
    model = b.helper.make_model(g, opset_imports=[b.helper.make_opsetid("", OPSET)], producer_name="layergraph")
    model.ir_version = min(model.ir_version, 10)  # readable by onnxruntime releases of the last two years
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # noqa: BLE001 - any checker failure is an exporter bug, reported in one line
        raise GraphError(f"the ONNX model fails onnx's checker, a layergraph bug (please report it): "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return model


def _checked_weights(plan: ExportPlan, weights: Weights | None) -> Weights:
    """The weights to write (fresh ones for an untrained graph), each present with its shape and within
    what one ONNX file holds; else one ``GraphError``."""
    from engine.export.numpy_code import init_fresh_weights

    weights = weights or init_fresh_weights(plan)
    total = sum(a.nbytes for ws in weights.values() for a in ws.values())
    if total > MAX_PROTOBUF_BYTES:
        raise GraphError(f"the weights take {total / 2 ** 30:.1f} GB, more than the 2 GB an ONNX file holds "
                         "without external data (not supported yet); make the layers smaller.")
    weight_arrays(plan, weights)  # raises naming the layer whose weight is missing or mis-shaped
    return weights


def onnx_bytes(graph: LayerGraph, weights: Weights | None, model_name: str = "layergraph") -> bytes:
    """The serialized ONNX model (raises ``OnnxMissingError``, ``GraphError``)."""
    return onnx_model(graph, weights, model_name).SerializeToString()


def write_onnx_file(graph: LayerGraph, weights: Weights | None, out: str | Path) -> Path:
    """Write ``out`` atomically (nothing is written when the model cannot be built)."""
    from engine.fileformat import atomic_write_bytes

    out = Path(out)
    atomic_write_bytes(out, onnx_bytes(graph, weights, out.stem))
    return out
