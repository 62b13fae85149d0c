"""Which saved weights a graph may use: the one rule for every place weights are loaded.

Weights read from a file must cover the graph exactly.  The document lists, in its ``weight_shapes``
manifest, the nodes (and their weight shapes) the ``.npz`` beside it belongs to.  For a listed node,
every array its layer needs must be in the file, with the manifest's and the layer's shapes, and
finite; an array the manifest or the layer does not know is an error too.  Each of these is a one-line
``FileFormatError`` naming the layer, so no command (and not the designer's open) silently
re-initialises a layer and returns random numbers.

A node with no manifest entry at all was added after the weights were saved (saving drops the
weights of a layer edited since training, so an edited layer has no entry either): it starts from
fresh initial weights, and every caller shows a notice naming it (``fresh_notice``).  Documents
written before the manifest existed count every node present in the ``.npz`` as listed.

Weights held in memory (the designer between a run and the next edit) follow the same comparison in
``split_usable``, except that a node whose shapes no longer fit was edited since, so it starts fresh
(with the notice) instead of being an error.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from engine.errors import FileFormatError
from engine.graph import LayerGraph
from engine.validation import ValidationResult, infer_shapes

Weights = dict[str, dict[str, np.ndarray]]
Manifest = dict[str, dict[str, list[int]]]
"""node id -> weight name -> shape, as stored in a document's ``weight_shapes``."""


def manifest_of(weights: Weights) -> Manifest:
    return {nid: {w: [int(d) for d in arr.shape] for w, arr in ws.items()} for nid, ws in weights.items()}


def needed_shapes(graph: LayerGraph, result: ValidationResult | None = None) -> dict[str, dict[str, tuple] | None]:
    """Node id -> weight name -> shape for every node with weights; None where the shapes are unknown
    (an invalid part of the graph)."""
    result = result or infer_shapes(graph)
    out: dict[str, dict[str, tuple] | None] = {}
    for nid in graph.nodes:
        ins = [result.node_shapes.get(s) for s in graph.inputs_of(nid)]
        if result.node_shapes.get(nid) is None or any(s is None for s in ins):
            out[nid] = None
            continue
        specs = graph.layer(nid).weight_specs(ins)
        if specs:
            out[nid] = {s.name: tuple(s.shape) for s in specs}
    return out


def fit_problem(need: Mapping[str, tuple], have: Mapping[str, Any]) -> str | None:
    """Why the arrays ``have`` cannot serve a layer that needs ``need`` (missing, extra or mis-shaped), else None."""
    for name, shape in need.items():
        if name not in have:
            return f"has no saved weight '{name}'"
        if tuple(have[name].shape) != tuple(shape):
            return (f"has a saved weight '{name}' of shape {tuple(have[name].shape)} but the layer needs "
                    f"{tuple(shape)}")
    extra = [k for k in have if k not in need]
    if extra:
        return f"has a saved weight '{str(extra[0])[:80]}' the layer does not have"
    return None


def check_file_weights(graph: LayerGraph, weights: Weights, manifest: Manifest | None, where: str) -> list[str]:
    """Refuse weights read from ``where`` that do not cover what the manifest promises, or do not fit the
    graph, or hold NaN/Inf (``FileFormatError`` naming the layer); return the ids of the nodes that start
    from fresh weights (no manifest entry)."""
    listed = manifest_of(weights) if manifest is None else manifest
    for nid, ws in weights.items():
        for name in ws:
            if name not in listed.get(nid, {}):
                raise FileFormatError(f"{where}: array '{str(name)[:80]}' of {_owner(graph, nid)} is not in the "
                                      "document's weight list; the weights file belongs to another document.")
    need = needed_shapes(graph)
    for nid, shapes in listed.items():
        if nid not in graph:
            raise FileFormatError(f"{where}: the document lists weights for node {nid[:80]!r}, which is not in "
                                  "the graph.")
        owner = _owner(graph, nid)
        have = weights.get(nid, {})
        problem = fit_problem({k: tuple(v) for k, v in shapes.items()}, have)
        if problem is None and need.get(nid) is not None:
            problem = fit_problem(need[nid], have)
        if problem is None and nid not in need:
            problem = "has saved weights but the layer has none"
        if problem is not None:
            raise FileFormatError(f"{where}: {owner} {problem}; the weights do not match the graph (restore the "
                                  "matching weights file, or delete it to train from scratch).")
        for name, arr in have.items():
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise FileFormatError(f"{where}: {owner}'s saved weight '{name}' holds NaN or Inf; delete the "
                                      "weights file and train again (with a lower learning rate).")
    return [nid for nid, shapes in need.items() if shapes is not None and nid not in listed]


def split_usable(plan, weights: Weights) -> tuple[Weights, list[str], list[str]]:
    """In-memory weights for a compiled plan: ``(usable per node, fresh node ids, messages)``.

    A node without weights starts fresh; one whose saved arrays no longer fit (edited since training)
    starts fresh with a message naming it.
    """
    usable: Weights = {}
    fresh: list[str] = []
    messages: list[str] = []
    for nid in plan.order:
        specs = plan.weight_specs(nid)
        if not specs:
            continue
        saved = weights.get(nid)
        if not saved:
            fresh.append(nid)
            continue
        problem = fit_problem({s.name: tuple(s.shape) for s in specs}, saved)
        if problem is not None:
            fresh.append(nid)
            messages.append(f"{plan.owner(nid)} {problem}; this layer starts from fresh weights.")
            continue
        usable[nid] = saved
    return usable, fresh, messages


def fresh_notice(graph: LayerGraph, node_ids: list[str]) -> str:
    """One line naming the layers that start from fresh initial weights."""
    verb = "has" if len(node_ids) == 1 else "have"
    return (f"{describe_layers(graph, node_ids)} {verb} no saved weights (added or changed since the weights were "
            f"saved) and start{'s' if len(node_ids) == 1 else ''} from fresh initial weights.")


def describe_layers(graph: LayerGraph, node_ids: list[str]) -> str:
    """``Dense 'a', Dense 'b', LSTM 'c' and 2 more``."""
    owners = [_owner(graph, nid) for nid in node_ids]
    return ", ".join(owners[:3]) + (f" and {len(owners) - 3} more" if len(owners) > 3 else "")


def _owner(graph: LayerGraph, nid: str) -> str:
    if nid not in graph:
        return f"node {nid[:80]!r}"
    node = graph.node(nid)
    return f"{node.class_name} '{node.name[:80]}'"


def weights_to_save(graph: LayerGraph, weights: Weights) -> Weights:
    """What a save writes: the arrays of nodes still in the graph that fit their layer.  A layer edited
    since training loses its stale arrays, so it reopens as changed (fresh weights, with the notice);
    nodes whose shapes are unknown (an invalid part of the graph) keep theirs."""
    need = needed_shapes(graph)
    return {nid: ws for nid, ws in weights.items()
            if nid in need and ws and (need[nid] is None or fit_problem(need[nid], ws) is None)}
