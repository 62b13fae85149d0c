"""A standalone NumPy module for a graph: ``predict(x)`` running the engine's own numerics.

Each layer declares its computation as functions of ``engine.numerics`` (``Layer.numerics()``); this
module writes the same forward calls the engine makes and copies the source of exactly the functions
the graph needs (``numerics_source``), so the exported file imports only numpy (and math) and nothing
is written twice.  Weights go to ``<stem>.weights.npz`` beside the module as ``"<layer name>/<i>"`` in
Keras ``get_weights()`` order.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import GraphError
from engine.export.custom_code import (SELF_CLASS, SHIM_CLASS, custom_names, definitions_of, numpy_function_name,
                                       numpy_function_source, self_arguments, shim_source, used_ops)
from engine.export.identifiers import call, camel_case, comment, literal
from engine.export.numerics_source import definitions, is_numerics_function, sources_for
from engine.export.plan import ExportPlan, Weights, make_plan
from engine.graph import LayerGraph
from engine.layers.base import Fn
from engine.layers.custom import CustomLayer
from engine.memory import check_allocation, init_bytes

#: Names a generated module defines itself; layer outputs never take them.
RUNTIME_NAMES = frozenset(definitions()) | {"os", "np", "math", "WEIGHTS_FILE", "_W", "W", "M", "x", "load_weights",
                                           "predict"}


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, (list, tuple)) else v


def _wref(plan: ExportPlan, nid: str, i: int) -> str:
    key = literal(f"{plan.name(nid)}/{i}")
    return f"W[prefix + {key}]" if plan.in_group else f"W[{key}]"


# ----- groups: each its own function ``GroupBlock(inputs..., W, prefix)`` -----------------------------------
def group_line(plan: ExportPlan, nid: str, blocks: dict[str, list[str]], used_numerics: set[str]) -> str:
    """``var = NameBlock(inputs, W, prefix)``, defining the function in ``blocks`` (name -> source lines)."""
    layer = plan.layer(nid)
    fn = base = f"{camel_case(plan.idents[nid])}Block"
    i = 1
    while fn in blocks:
        fn, i = f"{base}{i}", i + 1
    inner = make_plan(layer.inner, reserved=RUNTIME_NAMES | {"prefix"})
    inner.in_group = True
    params = [inner.idents[n] for n in inner.inputs]
    blocks[fn] = []  # taken before the inner groups name theirs
    body = [ln for n in inner.order if n not in inner.inputs for ln in node_lines(inner, n, used_numerics, blocks)]
    blocks[fn] = [f"def {fn}({', '.join(params)}, W, prefix):",
                  f"    # the layers of the group {comment(plan.name(nid))}",
                  *(["    M = {}"] if inner.result.mask_sources else []),
                  *("    " + ln for ln in body), f"    return {inner.idents[inner.outputs[0]]}"]
    key = literal(f"{plan.name(nid)}/")
    prefix = f"prefix + {key}" if plan.in_group else key
    srcs = [plan.idents[s] for s in plan.graph.inputs_of(nid)]
    return call(f"{plan.idents[nid]} = {fn}", [*srcs, "W", prefix])


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
    num = layer.numerics_for(len(plan.graph.inputs_of(nid)))
    used_numerics.add(num.forward.__name__)
    params = inspect.signature(num.forward).parameters
    index = {s.name: i for i, s in enumerate(plan.specs[nid])}
    weights = [_wref(plan, nid, index[w]) if w in index else "None" for w in num.weights]
    while weights and weights[-1] == "None" and _defaults_to_none(params, num.weights[len(weights) - 1]):
        weights.pop()
    kwargs = []
    for name, value in num.args.items():
        default = params[name].default
        if default is not inspect.Parameter.empty and _tuples(_plain(value)) == _tuples(default):
            continue
        kwargs.append(f"{name}={_numerics_value(value, layer.owner, used_numerics)}")
    sources = plan.graph.inputs_of(nid)
    for name, src in zip(layer.mask_args, sources):
        if name is not None and plan.result.mask_sources.get(src):
            kwargs.append(f"{name}={_mask_ref(plan, src)}")
    srcs = [plan.idents[s] for s in sources]
    if num.inputs is not None:  # an optional input left unconnected (an attention's key) keeps its position
        srcs += ["None"] * (num.inputs - len(srcs))
    return call(f"{plan.idents[nid]} = {num.forward.__name__}", [*srcs, *weights, *kwargs], tail="[0]")


def _defaults_to_none(params, name: str) -> bool:
    """Whether leaving out weight ``name`` passes None: its default, or a wrapper's ``*weights`` (TimeDistributed)."""
    return params[name].default is None if name in params else any(
        p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values())


def _mask_ref(plan: ExportPlan, nid: str) -> str:
    """The generated code's name for a node's output mask (kept in the dict ``M`` by layer name)."""
    return f"M[{literal(plan.name(nid))}]"


def mask_line(plan: ExportPlan, nid: str, used_numerics: set[str]) -> str | None:
    """``M[name] = ...``: the node's output mask as the engine computes it (``Layer.compute_mask``), or None."""
    if not plan.result.mask_sources.get(nid):
        return None
    layer = plan.layer(nid)
    sources = plan.graph.inputs_of(nid)
    if layer.mask_rule == "pass":
        return f"{_mask_ref(plan, nid)} = {_mask_ref(plan, sources[0])}"
    fn, args = layer.mask_numerics()
    used_numerics.add(fn.__name__)
    kwargs = [f"{k}={_numerics_value(v, layer.owner, used_numerics)}" for k, v in args.items()]
    srcs = [plan.idents[s] for s in sources]
    if layer.mask_rule == "merge":
        masks = [_mask_ref(plan, s) if plan.result.mask_sources.get(s) else "None" for s in sources]
        srcs = ["[" + ", ".join(srcs) + "]", "[" + ", ".join(masks) + "]"]
    return call(f"{_mask_ref(plan, nid)} = {fn.__name__}", [*srcs, *kwargs])


def _plain(value: Any) -> Any:
    return value.forward if isinstance(value, Fn) else value


def node_lines(plan: ExportPlan, nid: str, used_numerics: set[str], blocks: dict[str, list[str]]) -> list[str]:
    """``var = <op>_forward(inputs, weights, args)[0]``, the call the engine makes, written out, then the
    output's mask if it carries one; a group calls its own function, whose source goes into ``blocks``."""
    if plan.layer(nid).composite:
        return [group_line(plan, nid, blocks, used_numerics)]
    if isinstance(plan.layer(nid), CustomLayer):
        return [custom_line(plan, nid, blocks)]
    masked = mask_line(plan, nid, used_numerics)
    return [numerics_line(plan, nid, used_numerics), *([masked] if masked else [])]


def custom_line(plan: ExportPlan, nid: str, blocks: dict[str, list[str]]) -> str:
    """``var = Name_call(_LayerSelf(args, weights), inputs)``: the layer's call body, written once per class
    into ``blocks`` with the ``ops`` shim it needs."""
    layer = plan.layer(nid)
    d = layer.definition
    fn = numpy_function_name(d)
    if fn not in blocks:
        blocks[fn] = numpy_function_source(d, fn)
    index = {s.name: i for i, s in enumerate(plan.specs[nid])}
    values = self_arguments(d, layer.config["arguments"]) + [f"{w.name}={_wref(plan, nid, index[w.name])}"
                                                            for w in d.weights]
    srcs = [plan.idents[s] for s in plan.graph.inputs_of(nid)]
    x = f"[{', '.join(srcs)}]" if d.inputs > 1 else srcs[0]
    return f"{plan.idents[nid]} = {fn}({call(SELF_CLASS, values)}, {x})"


def _input_line(plan: ExportPlan, nid: str, multi: bool) -> str:
    var = plan.idents[nid]
    src = f"x[{literal(plan.name(nid))}]" if multi else "x"
    dtype = "np.int64" if plan.layer(nid).config.get("dtype", "float32").startswith("int") else "np.float32"
    return f"{var} = np.asarray({src}, dtype={dtype})"


def numpy_code(graph: LayerGraph, weights_file: str = "model.weights.npz", *, plan: ExportPlan | None = None,
               fresh_weights: bool = False) -> str:
    """Source of the standalone module (raises ``GraphError`` for an invalid graph)."""
    plan = plan or make_plan(graph, reserved=RUNTIME_NAMES | custom_names(graph))
    multi = len(plan.inputs) > 1
    used_numerics: set[str] = set()
    blocks: dict[str, list[str]] = {}
    body = []
    if plan.result.mask_sources:
        body.append("M = {}  # the output masks of the layers that carry one (Keras's _keras_mask)")
    for nid in plan.order:
        if nid in plan.inputs:
            body.append(_input_line(plan, nid, multi))
        else:
            body.extend(node_lines(plan, nid, used_numerics, blocks))
    customs = definitions_of(graph)
    if customs:
        blocks[SHIM_CLASS] = shim_source(set().union(*(used_ops(d) for d in customs)))
    outs = [plan.idents[n] for n in plan.outputs]
    ret = outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"
    names = ", ".join(comment(repr(plan.name(n))) for n in plan.inputs)
    x_doc = (f"a dict of arrays keyed by input name ({names})" if multi else "an array (batch, ...)")
    kernels = sources_for(used_numerics)
    needs_math = any("math." in k for k in kernels)
    lines = ['"""NumPy inference for a model exported from layergraph (needs only numpy)."""',
             *(["import math"] if needs_math else []), "import os", "", "import numpy as np", "",
             f"WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), {literal(weights_file)})",
             "_W = {}", ""]
    if fresh_weights:
        lines += ["# The graph was not trained: the weights file holds freshly initialised weights.", ""]
    for src in kernels:
        lines += ["", src, ""]
    for block in blocks.values():
        lines += ["", *block, ""]
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

    plan = make_plan(graph, reserved=RUNTIME_NAMES | custom_names(graph))
    fresh = not weights
    arrays = weight_arrays(plan, init_fresh_weights(plan) if fresh else weights)
    wname = f"{out.stem}.weights.npz"
    return numpy_code(graph, wname, plan=plan, fresh_weights=fresh and bool(arrays)), arrays
