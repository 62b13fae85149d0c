"""A standalone NumPy module for a graph: ``predict(x)`` with only the kernels the graph uses.

The kernels are the functions of ``numpy_runtime`` (a template importing only numpy); the exporter
copies the ones the graph calls, plus the helpers they call, in the template's order.  Weights go to
``<stem>.weights.npz`` beside the module as ``"<layer name>/<i>"`` in Keras ``get_weights()`` order.
"""
from __future__ import annotations

import ast
import inspect
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import GraphError
from engine.export import numpy_runtime
from engine.export.identifiers import call, comment, literal
from engine.export.numerics_source import definitions, is_numerics_function, sources_for
from engine.layers.base import Fn, Layer
from engine.export.plan import ExportPlan, Weights, make_plan
from engine.graph import LayerGraph
from engine.memory import check_allocation, init_bytes

_CONV = ("strides", "padding", "dilation_rate", "groups", "activation")
_POOL = ("pool_size", "strides", "padding")
_RNN = ("activation", "recurrent_activation", "return_sequences", "go_backwards", "reset_after")

#: class name -> (runtime function, config arguments it takes).  Weights are passed by spec name.
KERNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Dense": ("dense", ("activation",)),
    "Embedding": ("embedding", ()),
    "Conv1D": ("conv1d", _CONV),
    "Conv2D": ("conv2d", _CONV),
    "Conv2DTranspose": ("conv2d_transpose", ("strides", "padding", "output_padding", "dilation_rate",
                                             "activation")),
    "DepthwiseConv2D": ("depthwise_conv2d", ("strides", "padding", "dilation_rate", "activation")),
    "SeparableConv2D": ("separable_conv2d", ("strides", "padding", "dilation_rate", "activation")),
    "MaxPooling1D": ("max_pooling1d", _POOL),
    "MaxPooling2D": ("max_pooling2d", _POOL),
    "AveragePooling1D": ("average_pooling1d", _POOL),
    "AveragePooling2D": ("average_pooling2d", _POOL),
    "GlobalAveragePooling1D": ("global_average_pooling", ("keepdims",)),
    "GlobalAveragePooling2D": ("global_average_pooling", ("keepdims",)),
    "GlobalMaxPooling1D": ("global_max_pooling", ("keepdims",)),
    "GlobalMaxPooling2D": ("global_max_pooling", ("keepdims",)),
    "SimpleRNN": ("simple_rnn", _RNN),
    "LSTM": ("lstm", _RNN),
    "GRU": ("gru", _RNN),
    "BatchNormalization": ("batch_normalization", ("axis", "epsilon")),
    "LayerNormalization": ("layer_normalization", ("axis", "epsilon")),
    "Flatten": ("flatten", ()),
    "Reshape": ("reshape", ("target_shape",)),
    "Permute": ("permute", ("dims",)),
    "RepeatVector": ("repeat_vector", ("n",)),
    "UpSampling2D": ("up_sampling2d", ("size", "interpolation")),
    "ZeroPadding2D": ("zero_padding2d", ("padding",)),
    "Cropping2D": ("cropping2d", ("cropping",)),
    "Add": ("add", ()),
    "Subtract": ("subtract", ()),
    "Multiply": ("multiply", ()),
    "Average": ("average", ()),
    "Maximum": ("maximum", ()),
    "Minimum": ("minimum", ()),
    "Concatenate": ("concatenate", ("axis",)),
    "ReLU": ("relu_layer", ("max_value", "negative_slope", "threshold")),
    "LeakyReLU": ("leaky_relu", ("negative_slope",)),
    "ELU": ("elu", ("alpha",)),
    "Softmax": ("softmax", ("axis",)),
    "PReLU": ("prelu", ()),
}
#: Layers that are the identity at inference.
IDENTITY = frozenset({"Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                      "SpatialDropout1D"})
ACTIVATION_ARGS = ("activation", "recurrent_activation")


@lru_cache(maxsize=1)
def _runtime() -> tuple[dict[str, str], dict[str, set[str]], list[str]]:
    """Source, callees (other top-level functions) and order of every function in the template."""
    text = inspect.getsource(numpy_runtime)
    tree = ast.parse(text)
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    sources, calls = {}, {}
    for name, node in funcs.items():
        sources[name] = ast.get_source_segment(text, node)
        refs = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        calls[name] = {r for r in refs if r in funcs and r != name}  # includes defaults like activation=linear
    return sources, calls, list(funcs)


RUNTIME_NAMES = frozenset(_runtime()[2]) | frozenset(definitions()) | {"os", "np", "math", "WEIGHTS_FILE", "_W", "W",
                                                                      "x", "load_weights", "predict"}


def _closure(names: set[str]) -> list[str]:
    sources, calls, order = _runtime()
    todo, seen = list(names), set()
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(calls[n])
    return [n for n in order if n in seen]


def _defaults(func: str) -> dict[str, Any]:
    """Parameter defaults of a kernel; required parameters map to ``REQUIRED_ARG``."""
    sig = inspect.signature(getattr(numpy_runtime, func))
    return {k: (REQUIRED_ARG if p.default is inspect.Parameter.empty else p.default)
            for k, p in sig.parameters.items()}


REQUIRED_ARG = object()


def _arg(name: str, value: Any, used: set[str]) -> str:
    if name in ACTIVATION_ARGS:
        act = value or "linear"
        if act not in _runtime()[0]:
            raise GraphError(f"the activation {act!r} has no NumPy kernel yet")
        used.add(act)
        return act
    if isinstance(value, list):
        value = _tuples(value)
    return literal(value)


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, (list, tuple)) else v


def _config_args(func: str, config: dict, names: tuple[str, ...], used: set[str]) -> list[str]:
    defaults = _defaults(func)
    out = []
    for name in names:
        if name not in config or name not in defaults:
            continue
        value = config[name]
        if defaults[name] is REQUIRED_ARG:
            out.append(f"{name}={_arg(name, value, used)}")
            continue
        if name in ACTIVATION_ARGS and (value or "linear") == getattr(defaults[name], "__name__", defaults[name]):
            continue
        if name not in ACTIVATION_ARGS and _tuples(value) == _tuples(defaults[name]):
            continue
        out.append(f"{name}={_arg(name, value, used)}")
    return out


def _wref(plan: ExportPlan, nid: str, i: int) -> str:
    return f"W[{literal(f'{plan.name(nid)}/{i}')}]"


def _rnn_call(cls_name: str, cfg: dict, x: str, weights: list[str], used: set[str], head: str = "",
              indent: int = 4) -> str:
    func, names = KERNELS[cls_name]
    used.add(func)
    return call(head + func, [x, *weights, *_config_args(func, cfg, names, used)], indent=indent)


def declares_numerics(layer: Layer) -> bool:
    return type(layer).numerics is not Layer.numerics


def _numerics_value(value: Any, owner: str, used_numerics: set[str]) -> str:
    """Source text of one argument: functions by name (and copied), data as literals."""
    if isinstance(value, Fn):
        value = value.forward
    if callable(value):
        if not is_numerics_function(value):
            raise GraphError(f"{owner}: the NumPy export cannot write the function {value!r}.")
        used_numerics.add(value.__name__)
        return value.__name__
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {_numerics_value(v, owner, used_numerics)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        items = [_numerics_value(v, owner, used_numerics) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return literal(value)


def numerics_line(plan: ExportPlan, nid: str, used_numerics: set[str]) -> str:
    """``var = <op>_forward(inputs, weights, args)[0]``: the call the engine makes, written out."""
    layer = plan.layer(nid)
    num = layer.numerics()
    used_numerics.add(num.forward.__name__)
    params = inspect.signature(num.forward).parameters
    index = {s.name: i for i, s in enumerate(plan.specs[nid])}
    weights = [_wref(plan, nid, index[w]) if w in index else "None" for w in num.weights]
    while weights and weights[-1] == "None" and params[num.weights[len(weights) - 1]].default is None:
        weights.pop()
    kwargs = []
    for name, value in num.args.items():
        default = params[name].default
        if default is not inspect.Parameter.empty and _tuples(_plain(value)) == _tuples(default):
            continue
        kwargs.append(f"{name}={_numerics_value(value, layer.owner, used_numerics)}")
    srcs = [plan.idents[s] for s in plan.graph.inputs_of(nid)]
    return call(f"{plan.idents[nid]} = {num.forward.__name__}", [*srcs, *weights, *kwargs], tail="[0]")


def _plain(value: Any) -> Any:
    return value.forward if isinstance(value, Fn) else value


def node_line(plan: ExportPlan, nid: str, used: set[str], used_numerics: set[str] | None = None) -> str:
    """``var = kernel(inputs, weights, args)`` for one node."""
    if declares_numerics(plan.layer(nid)):
        return numerics_line(plan, nid, used_numerics if used_numerics is not None else set())
    node = plan.graph.node(nid)
    var = plan.idents[nid]
    srcs = [plan.idents[s] for s in plan.graph.inputs_of(nid)]
    cfg = plan.layer(nid).config
    cname = node.class_name
    if cname in IDENTITY:
        return f"{var} = {srcs[0]}  # {cname}: identity at inference"
    if cname == "Activation":
        return f"{var} = {_arg('activation', cfg['activation'], used)}({srcs[0]})"
    specs = plan.specs[nid]
    if cname == "Bidirectional":
        bi = plan.layer(nid)
        fwd, bwd = bi.forward_layer, bi.backward_layer  # the backward one has go_backwards=True
        half = len(fwd.weight_specs(plan.in_shapes(nid)))
        fw = _rnn_call(fwd.class_name, fwd.config, srcs[0], [_wref(plan, nid, i) for i in range(half)], used,
                       indent=8)
        bw = _rnn_call(bwd.class_name, bwd.config, srcs[0],
                       [_wref(plan, nid, i) for i in range(half, len(specs))], used, indent=8)
        used.add("bidirectional")
        extra = _config_args("bidirectional", {**cfg, "return_sequences": fwd.config["return_sequences"]},
                             ("merge_mode", "return_sequences"), used)
        return f"{var} = bidirectional(\n        " + ",\n        ".join([fw, bw, *extra]) + ")"
    if cname not in KERNELS:
        raise GraphError(f"{plan.layer(nid).owner}: the NumPy export has no kernel for {cname} yet.")
    func, names = KERNELS[cname]
    used.add(func)
    if cname in ("SimpleRNN", "LSTM", "GRU"):
        return _rnn_call(cname, cfg, srcs[0], [_wref(plan, nid, i) for i in range(len(specs))], used, f"{var} = ")
    wargs = [f"{s.name}={_wref(plan, nid, i)}" for i, s in enumerate(specs)]
    return call(f"{var} = {func}", [*srcs, *wargs, *_config_args(func, cfg, names, used)])


def _input_line(plan: ExportPlan, nid: str, multi: bool) -> str:
    var = plan.idents[nid]
    src = f"x[{literal(plan.name(nid))}]" if multi else "x"
    dtype = "np.int64" if plan.layer(nid).config.get("dtype", "float32").startswith("int") else "np.float32"
    return f"{var} = np.asarray({src}, dtype={dtype})"


def numpy_code(graph: LayerGraph, weights_file: str = "model.weights.npz", *, plan: ExportPlan | None = None,
               fresh_weights: bool = False) -> str:
    """Source of the standalone module (raises ``GraphError`` for an invalid graph)."""
    plan = plan or make_plan(graph, reserved=RUNTIME_NAMES)
    multi = len(plan.inputs) > 1
    used: set[str] = set()
    used_numerics: set[str] = set()
    body = []
    for nid in plan.order:
        if nid in plan.inputs:
            body.append(_input_line(plan, nid, multi))
        else:
            body.append(node_line(plan, nid, used, used_numerics))
    outs = [plan.idents[n] for n in plan.outputs]
    ret = outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"
    names = ", ".join(comment(repr(plan.name(n))) for n in plan.inputs)
    x_doc = (f"a dict of arrays keyed by input name ({names})" if multi else "an array (batch, ...)")
    shared = sources_for(used_numerics)
    shared_names = {n for n in definitions() if any(src.startswith((f"def {n}(", f"{n} =")) for src in shared)}
    kernels = shared + [_runtime()[0][n] for n in _closure(used) if n not in shared_names]
    needs_math = any("math." in k for k in kernels)
    lines = ['"""NumPy inference for a model exported from layergraph (needs only numpy)."""',
             *(["import math"] if needs_math else []), "import os", "", "import numpy as np", "",
             f"WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), {literal(weights_file)})",
             "_W = {}", ""]
    if fresh_weights:
        lines += ["# The graph was not trained: the weights file holds freshly initialised weights.", ""]
    for src in kernels:
        lines += ["", src, ""]
    lines += ["",
              "def load_weights(path=WEIGHTS_FILE):",
              '    """The trained weights, read once: arrays "<layer name>/<i>" in Keras get_weights() order."""',
              "    if not _W:",
              "        with np.load(path, allow_pickle=False) as data:",
              "            _W.update({k: data[k] for k in data.files})",
              "    return _W",
              "", "",
              "def predict(x):",
              f'    """Run the model on {x_doc}."""',
              *(["    W = load_weights()"] if any(plan.specs.values()) else [])]
    lines += ["    " + ln for ln in body]
    lines += [f"    return {ret}", ""]
    return "\n".join(lines)


def init_fresh_weights(plan: ExportPlan, seed: int = 0) -> Weights:
    """Weights drawn with the layers' own initializers (for exporting a graph that was never trained).

    Refused over the memory limit before any is drawn: the arrays, then the ``.npz`` written of them."""
    check_allocation(2 * init_bytes(plan.specs, np.float32), "The exported weights", GraphError,
                     "make the layers smaller")
    rng = np.random.default_rng(seed)
    return {nid: plan.layer(nid).init_weights(plan.in_shapes(nid), rng) for nid in plan.order if plan.specs[nid]}


def write_numpy_export(graph: LayerGraph, weights: Weights | None, out: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Source and weight arrays for ``out`` (the caller writes both atomically)."""
    from engine.export.plan import weight_arrays

    plan = make_plan(graph, reserved=RUNTIME_NAMES)
    fresh = not weights
    arrays = weight_arrays(plan, init_fresh_weights(plan) if fresh else weights)
    wname = f"{out.stem}.weights.npz"
    return numpy_code(graph, wname, plan=plan, fresh_weights=fresh and bool(arrays)), arrays
