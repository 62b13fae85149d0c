"""Live validation: structure checks plus shape inference in topological order.

``Validator`` keeps the last result per node so that, after an edit, only the edited nodes and what
lies downstream of them are re-inferred.  ``infer_shapes(graph)`` is the one-shot form.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from engine.errors import ConfigError, ShapeError
from engine.graph import Edge, LayerGraph
from engine.layers import layer_class
from engine.shapes import Shape


@dataclass(frozen=True)
class Problem:
    """What is wrong, where (a node and/or an edge) and how to fix it, in one sentence."""

    node_id: str | None
    message: str
    edge: Edge | None = None


@dataclass
class ValidationResult:
    problems: list[Problem] = field(default_factory=list)
    node_shapes: dict[str, Shape | None] = field(default_factory=dict)
    param_counts: dict[str, int] = field(default_factory=dict)
    #: For each node whose output carries a mask, the ids of the layers that made it (``Layer.mask_rule``).
    mask_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def edge_shape(self, edge: Edge) -> Shape | None:
        """The tensor shape carried by an edge (its source's output)."""
        return self.node_shapes.get(edge.source)

    def edge_mask(self, edge: Edge) -> tuple[str, ...]:
        """The ids of the layers whose mask an edge carries (empty when it carries none)."""
        return self.mask_sources.get(edge.source, ())

    def problems_for(self, node_id: str) -> list[Problem]:
        return [p for p in self.problems if p.node_id == node_id]

    @property
    def total_params(self) -> int:
        return sum(self.param_counts.values())


class Validator:
    """Incremental validator bound to one ``LayerGraph``."""

    def __init__(self, graph: LayerGraph) -> None:
        self.graph = graph
        self._shapes: dict[str, Shape | None] = {}
        self._params: dict[str, int] = {}
        self._masks: dict[str, tuple[str, ...]] = {}
        self._node_problems: dict[str, list[Problem]] = {}
        self._global: list[Problem] = []
        self._order: list[str] = []
        self._order_version = -1
        self._cyclic: set[str] = set()

    def validate(self, full: bool = False) -> ValidationResult:
        g = self.graph
        dirty = g.take_dirty()
        structure_changed = self._order_version != g.structure_version
        if structure_changed:
            self._refresh_structure()
        live = set(g.nodes)
        for cache in (self._shapes, self._params, self._node_problems, self._masks):
            for nid in list(cache):
                if nid not in live:
                    del cache[nid]
        if full or not self._shapes:
            todo = list(self._order)
        else:
            seeds = set(dirty)
            seeds.update(n for n in live if n not in self._shapes)
            affected: set[str] = set(seeds)
            nxg = g.nx_graph
            for s in seeds:
                if s not in self._cyclic:
                    affected |= nx.descendants(nxg, s)
            todo = [n for n in self._order if n in affected]
        for nid in todo:
            self._infer_node(nid)
        for nid in self._cyclic:
            self._shapes[nid] = None
            self._params.setdefault(nid, 0)
        problems = list(self._global)
        for nid in g.nodes:
            problems.extend(self._node_problems.get(nid, ()))
        masks = {nid: m for nid, m in self._masks.items() if m}
        return ValidationResult(problems, dict(self._shapes), dict(self._params), masks)

    def _refresh_structure(self) -> None:
        g = self.graph
        nxg = g.nx_graph
        self._global = []
        self._cyclic = set()
        for comp in nx.strongly_connected_components(nxg):
            if len(comp) > 1:
                self._cyclic |= comp
                names = [g.node(n).name for n in g.nodes if n in comp]
                self._global.append(Problem(sorted(comp)[0], "These layers form a cycle: " + " → ".join(names)
                                            + "; remove one of the connections between them."))
        acyclic = nxg.subgraph([n for n in g.nodes if n not in self._cyclic]) if self._cyclic else nxg
        index = {nid: i for i, nid in enumerate(g.nodes)}
        self._order = list(nx.lexicographical_topological_sort(acyclic, key=index.__getitem__))
        if g.nodes and not g.input_nodes():
            self._global.append(Problem(None, "The graph has no Input layer; add one from the palette "
                                              "(core → Input) and connect it to the first layer."))
        self._order_version = g.structure_version

    def _infer_node(self, nid: str) -> None:
        g = self.graph
        node = g.node(nid)
        cls = layer_class(node.class_name)
        owner = f"{node.class_name} '{node.name}'"
        problems: list[Problem] = []
        self._node_problems[nid] = problems
        self._shapes[nid] = None
        self._params[nid] = 0
        self._masks[nid] = ()
        edges = g.in_edges(nid)
        n_in = len(edges)
        if cls.max_inputs == 0:
            if g.nx_graph.out_degree(nid) == 0 and len(g) > 1:
                problems.append(Problem(nid, f"{owner} is not connected to anything; connect its output to a "
                                             "layer or delete it."))
        elif n_in == 0:
            problems.append(Problem(nid, f"{owner} has no input; drag a connection from another layer's output "
                                         "to it."))
            return
        elif n_in < cls.min_inputs:
            problems.append(Problem(nid, f"{owner} needs at least {cls.min_inputs} inputs but has {n_in}; "
                                         "connect another branch to it."))
            return
        elif cls.max_inputs is not None and n_in > cls.max_inputs:
            problems.append(Problem(nid, f"{owner} takes {cls.max_inputs} input(s) but has {n_in}; "
                                         "remove the extra connections or use a merge layer (Add, Concatenate)."))
            return
        in_shapes = [self._shapes.get(e.source) for e in edges]
        if any(s is None for s in in_shapes):
            return  # an upstream problem is already reported; don't pile on
        try:
            layer = g.layer(nid)
            out = layer.output_shape(list(in_shapes))
            self._params[nid] = layer.param_count(list(in_shapes))
        except (ShapeError, ConfigError) as exc:
            edge = edges[0] if len(edges) == 1 else None
            problems.append(Problem(nid, str(exc), edge))
            return
        self._shapes[nid] = tuple(out)
        self._infer_mask(nid, layer, [e.source for e in edges], problems)

    def _infer_mask(self, nid: str, layer, sources: list[str], problems: list[Problem]) -> None:
        """Which layers' mask the output carries (Keras propagates masks by structure, so this is static)."""
        in_masks = [self._masks.get(s, ()) for s in sources]
        if layer.mask_rule == "refuse" and any(in_masks):
            names = ", ".join(self.graph.node(m).name for m in dict.fromkeys(x for ms in in_masks for x in ms))
            problems.append(Problem(nid, f"{layer.owner} gets a mask (from {names}) but {layer.mask_refusal}"))
            return
        if not layer.output_carries_mask([bool(m) for m in in_masks]):
            self._masks[nid] = ()
        elif layer.mask_rule == "make":
            self._masks[nid] = (nid,)
        else:
            self._masks[nid] = tuple(dict.fromkeys(x for ms in in_masks for x in ms))


def infer_shapes(graph: LayerGraph) -> ValidationResult:
    """Validate ``graph`` from scratch: every problem and the inferred output shape of every node."""
    return Validator(graph).validate(full=True)
