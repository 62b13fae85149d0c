"""Write a graph as a Keras 3 ``.keras`` archive with json and h5py only (Keras is never imported).

The archive is what ``model.save`` writes for a functional model: ``metadata.json``, ``config.json``
(the functional model's ``get_config`` with ``__keras_tensor__`` inbound nodes, plus the training
settings as ``compile_config``) and ``model.weights.h5`` (``layers/<snake_case class>[_n]/vars/<i>``
in Keras's ``model.layers`` order, which ``keras_order`` reproduces).  The layer mapping itself
lives in ``keras_config``, shared with the importer.
"""
from __future__ import annotations

import io
import json
import zipfile
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError, GraphError
from engine.export.keras_code import training_settings, keras_names
from engine.export.keras_config import (h5_layer_paths, input_layer_config, keras_call_arguments, keras_layer_config,
                                        layer_envelope)
from engine.export.plan import ExportPlan, Weights, make_plan
from engine.graph import LayerGraph
from engine.layers import layer_class

KERAS_VERSION = "3.15.1"  # metadata.json: the Keras whose format this writes (studied and tested with it)


def keras_order(plan: ExportPlan) -> list[str]:
    """Node ids in the order Keras's ``map_graph`` gives ``model.layers`` (ops/function.py): a
    depth-first walk from the outputs numbers the layers, depth is the longest path to an output,
    and layers come by decreasing depth, then walk number.  The weights file is laid out in this order."""
    graph = plan.graph
    index: dict[str, int] = {}
    finished: list[str] = []
    done: set[str] = set()

    for out in plan.outputs:
        stack = [(out, iter(graph.inputs_of(out)))]
        index.setdefault(out, len(index))
        while stack:
            nid, parents = stack[-1]
            nxt = next((p for p in parents if p not in done), None)
            if nxt is None:
                stack.pop()
                if nid not in done:
                    done.add(nid)
                    finished.append(nid)
                continue
            index.setdefault(nxt, len(index))
            stack.append((nxt, iter(graph.inputs_of(nxt))))
    depth: dict[str, int] = {}
    for nid in reversed(finished):
        d = depth.setdefault(nid, 0)
        for p in graph.inputs_of(nid):
            depth[p] = max(depth.get(p, 0), d + 1)
    for nid in plan.inputs:  # an input that reaches no output still belongs to the model
        if nid not in depth:
            depth[nid], index[nid] = 0, -1
    by_depth: dict[int, list[str]] = defaultdict(list)
    for nid, d in depth.items():
        by_depth[d].append(nid)
    return [nid for d in sorted(by_depth, reverse=True) for nid in sorted(by_depth[d], key=index.__getitem__)]


def _tensor(plan: ExportPlan, nid: str, names: dict[str, str]) -> dict[str, Any]:
    layer = plan.layer(nid)
    dtype = layer.config.get("dtype", "float32") if layer_class(layer.class_name).max_inputs == 0 else "float32"
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(plan.result.node_shapes[nid]), "dtype": dtype,
                       "keras_history": [names[nid], 0, 0]}}


def _layer_entry(plan: ExportPlan, nid: str, names: dict[str, str]) -> dict[str, Any]:
    layer, name = plan.layer(nid), names[nid]
    if layer_class(layer.class_name).max_inputs == 0:
        entry = layer_envelope("InputLayer", input_layer_config(layer, name))
        return {**entry, "name": name, "inbound_nodes": []}
    srcs = plan.graph.inputs_of(nid)
    tensors = [_tensor(plan, s, names) for s in srcs]
    shapes = [list(plan.result.node_shapes[s]) for s in srcs]
    merge = plan.is_merge(nid)
    entry = layer_envelope(layer.class_name, keras_layer_config(layer, name), layer.keras_module)
    if layer.keras_inputs_as_arguments:  # build(query_shape, value_shape, key_shape), call(query, value, key)
        names = ("query_shape", "value_shape", "key_shape")
        entry["build_config"] = {"shapes_dict": dict(zip(names, shapes))}
        args = tensors
    else:
        entry["build_config"] = {"input_shape": shapes if merge else shapes[0]}
        args = [tensors if merge else tensors[0]]
    entry["name"] = name
    kwargs = dict(keras_call_arguments(layer))
    if layer.takes_initial_state and len(tensors) > 1:
        kwargs["initial_state"] = tensors[1:]
    entry["inbound_nodes"] = [{"args": args, "kwargs": kwargs}]
    return entry


def _io_layers(nids: list[str], names: dict[str, str]) -> list:
    refs = [[names[n], 0, 0] for n in nids]
    return refs[0] if len(refs) == 1 else refs


def compile_config(plan: ExportPlan, training: dict | None) -> dict[str, Any]:
    """The document's training settings as ``model.compile`` arguments (what ``compile_config`` holds)."""
    t = training_settings(plan, training)
    opt_config: dict[str, Any] = {"name": t["optimizer"].lower()}
    if t["learning_rate"] is not None:
        opt_config["learning_rate"] = t["learning_rate"]
    return {"optimizer": {"module": "keras.optimizers", "class_name": t["optimizer"], "config": opt_config,
                          "registered_name": None},
            "loss": t["loss"], "loss_weights": None, "metrics": t["metrics"], "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": True}


def model_config(plan: ExportPlan, order: list[str], training: dict | None, model_name: str) -> dict[str, Any]:
    names = keras_names(plan)
    body = {"name": model_name, "trainable": True,
            "layers": [_layer_entry(plan, nid, names) for nid in order],
            "input_layers": _io_layers(plan.inputs, names), "output_layers": _io_layers(plan.outputs, names)}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": body,
            "registered_name": "Functional", "build_config": {"input_shape": None},
            "compile_config": compile_config(plan, training)}


def _weights_h5(plan: ExportPlan, order: list[str], weights: Weights | None) -> bytes:
    """``model.weights.h5``: every layer's group (empty ``vars`` included, as Keras writes them)."""
    import h5py

    buf = io.BytesIO()
    paths = h5_layer_paths([plan.graph.node(nid).class_name for nid in order])
    with h5py.File(buf, "w") as h5:
        root = h5.create_group("layers")
        for nid, path in zip(order, paths):
            _write_layer(plan, nid, root.create_group(path), (weights or {}).get(nid))
        h5.create_group("vars")
    return buf.getvalue()


def _write_layer(plan: ExportPlan, nid: str, group, have: dict[str, np.ndarray] | None) -> None:
    layer, specs = plan.layer(nid), plan.specs[nid]
    if specs and have is None:
        raise GraphError(f"{layer.owner} has no trained weights; a .keras file needs them. Train the graph "
                         "(or initialise its weights) first.")
    start = 0
    for sub, count in layer.keras_weight_groups(plan.in_shapes(nid)):
        vars_ = group.require_group(f"{sub}/vars" if sub else "vars")
        for i, spec in enumerate(specs[start:start + count]):
            arr = have.get(spec.name)
            if arr is None or tuple(arr.shape) != tuple(spec.shape):
                got = "missing" if arr is None else f"shape {tuple(arr.shape)}"
                raise GraphError(f"{layer.owner}: weight '{spec.name}' is {got}, the layer needs "
                                 f"{tuple(spec.shape)}; train the graph again.")
            vars_.create_dataset(str(i), data=np.asarray(arr, dtype=np.float32))
        start += count


def keras_archive(graph: LayerGraph, weights: Weights | None, training: dict | None = None,
                  model_name: str = "model") -> bytes:
    """The bytes of a ``.keras`` file for ``graph``; ``GraphError``/``ConfigError`` when it cannot be written.

    A graph without any weights (never trained) gets the engine's initial weights, seeded by the
    training settings' seed, as a fresh Keras model would get its own."""
    plan = make_plan(graph)
    groups = [plan.layer(n).owner for n in plan.order if plan.layer(n).composite]
    if groups:
        raise GraphError(f"{groups[0]} is a group; saving groups as .keras (nested models) is not supported yet. "
                         "Ungroup it, or export Keras code, which writes each group as its own model.")
    customs = [plan.layer(n).owner for n in plan.order if plan.layer(n).gradient == "automatic"]
    if customs:
        raise GraphError(f"{customs[0]} is a custom layer; a .keras file holds no code, so Keras could not load it. "
                         "Export Keras code (--to keras), which defines the layer's class, and save from Keras.")
    if not weights and any(plan.specs.values()):
        from engine.executor import compile_graph

        weights = compile_graph(graph, seed=(training or {}).get("seed") or 0)[1].values
    order = keras_order(plan)
    try:
        config = json.dumps(model_config(plan, order, training, model_name), allow_nan=False)
    except ValueError as exc:
        raise ConfigError(f"a layer argument cannot be written as JSON ({exc}).") from None
    h5 = _weights_h5(plan, order, weights)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.now(timezone.utc).strftime("%Y-%m-%d@%H:%M:%S")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # Keras stores the members uncompressed too
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("config.json", config)
        zf.writestr("model.weights.h5", h5)
    return buf.getvalue()


def write_keras_file(graph: LayerGraph, weights: Weights | None, out: str | Path,
                     training: dict | None = None) -> Path:
    """Write ``out`` atomically (nothing is written when the archive cannot be built)."""
    from engine.fileformat import atomic_write_bytes

    out = Path(out)
    payload = keras_archive(graph, weights, training, model_name=model_name_for(out))
    atomic_write_bytes(out, payload)
    return out


def model_name_for(out: Path) -> str:
    """The model's name in the file: the file name, as an identifier."""
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in out.stem)
    return name or "model"


__all__ = ["keras_archive", "keras_order", "model_name_for", "write_keras_file"]
