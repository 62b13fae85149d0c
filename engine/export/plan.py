"""What both exporters need from a graph: a valid topological order, safe identifiers, shapes, weights."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import GraphError, LayergraphError
from engine.export.identifiers import Identifiers
from engine.graph import LayerGraph
from engine.layers import Layer, WeightSpec, layer_class
from engine.layers.group import Group, split_weights
from engine.shapes import Shape
from engine.validation import ValidationResult, infer_shapes

Weights = dict[str, dict[str, np.ndarray]]


@dataclass
class ExportPlan:
    graph: LayerGraph
    result: ValidationResult
    order: list[str]
    idents: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    specs: dict[str, list[WeightSpec]] = field(default_factory=dict)
    #: Inside a group's exported function: weights are looked up under the ``prefix`` argument.
    in_group: bool = False

    def layer(self, nid: str) -> Layer:
        return self.graph.layer(nid)

    def name(self, nid: str) -> str:
        return self.graph.node(nid).name

    def in_shapes(self, nid: str) -> list[Shape]:
        return [self.result.node_shapes[s] for s in self.graph.inputs_of(nid)]

    def is_merge(self, nid: str) -> bool:
        """Whether the layer is called on a list of inputs (a custom layer declares its count per instance;
        a recurrent layer's extra inputs are its initial state)."""
        try:
            layer: Any = self.layer(nid)
        except LayergraphError:
            layer = layer_class(self.graph.node(nid).class_name)
        return (layer.max_inputs is None or layer.max_inputs > 1) and not layer.takes_initial_state


def make_plan(graph: LayerGraph, result: ValidationResult | None = None, strict: bool = True,
              reserved: tuple[str, ...] | frozenset[str] = ()) -> ExportPlan:
    """Raise ``GraphError`` listing the problems unless the graph is valid (or ``strict`` is off).

    A non-strict plan (the designer's live code view) keeps every node in topological order; nodes
    whose shapes are unknown get no weight specs.  A cycle is always an error.
    """
    result = result or infer_shapes(graph)
    if strict and not result.ok:
        lines = []
        for p in result.problems[:5]:
            where = f"{graph.node(p.node_id).name}: " if p.node_id in graph else ""
            lines.append(f"  {where}{p.message}")
        more = f"\n  ... and {len(result.problems) - 5} more" if len(result.problems) > 5 else ""
        raise GraphError("the graph is not valid, so it cannot be exported:\n" + "\n".join(lines) + more)
    if strict and not graph.output_nodes():
        raise GraphError("the graph has no output layer; connect a layer after the Input.")
    order = graph.topological_order()
    ids = Identifiers(reserved)
    idents = ids.assign({nid: graph.node(nid).name for nid in order})
    plan = ExportPlan(graph, result, order, idents, graph.input_nodes(), graph.output_nodes())
    for nid in order:
        shapes = [result.node_shapes.get(s) for s in graph.inputs_of(nid)]
        if strict or (result.node_shapes.get(nid) is not None and all(s is not None for s in shapes)):
            plan.specs[nid] = plan.layer(nid).weight_specs(shapes)
        else:
            plan.specs[nid] = []
    return plan


def weight_arrays(plan: ExportPlan, weights: Weights | None, key_name: Any = None,
                  names_of: Any = None) -> dict[str, np.ndarray]:
    """The document's weights as ``{"<layer name>/<i>": array}`` in Keras ``get_weights()`` order.

    ``key_name(nid)`` gives the layer name used in the key (the Keras exporter rewrites names Keras
    refuses).  A group's inner layers are keyed ``"<group name>/<inner layer name>/<i>"`` (deeper for
    nested groups), named by ``names_of(inner plan)`` (a ``{node id: name}`` dict; plain names by default).
    Raises ``GraphError`` when a weight is missing or has the wrong shape.
    """
    out: dict[str, np.ndarray] = {}
    if not weights:
        return out
    for nid in plan.order:
        specs = plan.specs[nid]
        if not specs:
            continue
        have = weights.get(nid, {})
        name = key_name(nid) if key_name else plan.name(nid)
        _check_weights(plan, nid, have)
        layer = plan.layer(nid)
        if isinstance(layer, Group):
            inner = make_plan(layer.inner)
            inner_names = names_of(inner) if names_of else {n: inner.name(n) for n in inner.order}
            arrays = weight_arrays(inner, split_weights(have), inner_names.__getitem__, names_of)
            out.update({f"{name}/{k}": v for k, v in arrays.items()})
            continue
        for i, spec in enumerate(specs):
            out[f"{name}/{i}"] = np.array(have[spec.name], order="C")  # (ascontiguousarray makes 0-d 1-d)
    return out


def _check_weights(plan: ExportPlan, nid: str, have: dict[str, np.ndarray]) -> None:
    for spec in plan.specs[nid]:
        arr = have.get(spec.name)
        if arr is None:
            raise GraphError(f"{plan.layer(nid).owner} has no saved weight '{spec.name}'; train the graph "
                             "again or export without weights.")
        if tuple(arr.shape) != tuple(spec.shape):
            raise GraphError(f"{plan.layer(nid).owner}: saved weight '{spec.name}' has shape {tuple(arr.shape)} "
                             f"but the layer needs {tuple(spec.shape)}; train the graph again.")
