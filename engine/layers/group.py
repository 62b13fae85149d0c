"""``Group``: a node whose content is a whole subgraph (a nested model, Keras's model-used-as-a-layer).

The subgraph is kept in the node's config as ``LayerGraph.to_dict`` data (so files, the clipboard and
undo carry it like any other config).  Its ``Input`` layers, in node order, are the group's input
ports; its one output layer is the group's output.  The group computes by running the subgraph with
the ordinary executor, so inner layers need nothing special.

Inner weights live under the group node in the ``ParamStore`` as ``"<inner node id>/<weight>"``
(``WEIGHT_SEP``); ids never contain ``/`` and weight names do not either, so the name splits back into
a path, which is how the ``.npz`` member scheme stores it (``fileformat.member_name``), at any depth.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from engine.errors import ConfigError, GraphError, shown
from engine.layers.base import Field, Layer, WeightSpec, register_layer
from engine.shapes import Shape, fmt_shape

WEIGHT_SEP = "/"

#: What a group dropped from the palette holds: one Dense layer behind its Input.
STARTER_GRAPH = {"nodes": [{"id": "n1", "name": "block_input", "class_name": "Input", "config": {"shape": [32]}},
                           {"id": "n2", "name": "block_dense", "class_name": "Dense",
                            "config": {"units": 32, "activation": "relu"}}],
                 "edges": [{"source": "n1", "target": "n2", "index": 0}]}


def inner_weight_name(inner_id: str, weight: str) -> str:
    """The group-level name of an inner layer's weight."""
    return f"{inner_id}{WEIGHT_SEP}{weight}"


def split_weights(weights: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Group-level weights -> ``{inner node id: {weight: array}}`` (nested groups keep their own prefix)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in weights.items():
        nid, _, rest = key.partition(WEIGHT_SEP)
        out.setdefault(nid, {})[rest] = arr
    return out


def join_weights(per_node: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The inverse of ``split_weights``."""
    return {inner_weight_name(nid, k): v for nid, ws in per_node.items() for k, v in ws.items()}


MAX_GROUP_DEPTH = 32
"""Deepest nesting of groups accepted (far beyond real models; bounds the recursion of building them)."""


def _nesting_depth(data: Any) -> int:
    """How many levels of groups ``data`` holds inside it (0 for none), walked without recursion."""
    depth, level = 0, [data]
    while level and depth <= MAX_GROUP_DEPTH:
        inner = [nd.get("config", {}).get("graph") for g in level if isinstance(g, dict)
                 for nd in (g.get("nodes") if isinstance(g.get("nodes"), list) else [])
                 if isinstance(nd, dict) and nd.get("class_name") == "Group" and isinstance(nd.get("config"), dict)]
        level = inner
        depth += bool(inner)
    return depth


def _edge_triples(edges: list, graph) -> list[tuple[str, str, int]]:
    """``(source, target, index)`` of edge data, each checked to be plain and to name inner nodes."""
    out = []
    for i, ed in enumerate(edges):
        s, t, k = (ed.get("source"), ed.get("target"), ed.get("index", 0)) if isinstance(ed, dict) else (0, 0, 0)
        if s not in graph or t not in graph or not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise GraphError(f"edge {i} ({shown(ed)}) must join two layers of the group at a non-negative index")
        out.append((s, t, k))
    return out


@register_layer
class Group(Layer):
    """A group of layers used as one layer (a nested model).

    Its ``graph`` holds the layers inside: their ``Input`` layers are the group's inputs, in order, and
    its single unconnected output is the group's output.  Expanding or opening the group shows them.
    """

    class_name = "Group"
    mask_rule = "refuse"
    mask_refusal = ("masks are not carried into a group yet; put the layer that makes the mask inside the "
                    "group, or ungroup it.")
    family = "core"
    composite = True
    fields = (
        Field("graph", "json", doc="The layers inside the group and their connections ({'nodes', 'edges'}).",
              starter=STARTER_GRAPH),
    )
    min_inputs = 1
    max_inputs = None

    def check_config(self) -> None:
        # build and check the subgraph now (a bad one is a ConfigError at once) and keep it in the
        # canonical form, full inner configs, so that equal groups have equal configs
        self.config["graph"] = self.inner.to_dict()

    @cached_property
    def inner(self):
        """The subgraph as a ``LayerGraph`` (built once per layer object; treat it as read-only)."""
        from engine.graph import LayerGraph  # engine.graph imports the layer catalog

        data = self.config["graph"]
        if _nesting_depth(data) > MAX_GROUP_DEPTH:
            raise ConfigError(f"{self.owner}: groups are nested more than {MAX_GROUP_DEPTH} deep; a file like this "
                              "is damaged or hostile.", "graph")
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) \
                or not isinstance(data.get("edges", []), list):
            raise ConfigError(f"{self.owner}: argument 'graph' must be {{'nodes': [...], 'edges': [...]}}, "
                              f"got {shown(data)}.", "graph")
        g = LayerGraph()
        try:
            g.add_subgraph({"nodes": data["nodes"]}, fresh=False)
            g.connect_many(_edge_triples(data.get("edges", []), g))
        except (ConfigError, GraphError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{self.owner}: inside the group: {exc}", "graph") from None
        if not g.input_nodes():
            raise ConfigError(f"{self.owner}: the group has no Input layer inside; a group needs at least one.",
                              "graph")
        outs = g.output_nodes()
        if len(outs) != 1:
            names = ", ".join(g.node(n).name for n in outs) or "none"
            raise ConfigError(f"{self.owner}: a group has exactly one output layer inside, this one has "
                              f"{len(outs)} ({names}); connect or remove the others.", "graph")
        return g

    @property
    def input_ids(self) -> list[str]:
        return self.inner.input_nodes()

    @property
    def output_id(self) -> str:
        return self.inner.output_nodes()[0]

    def summary_args(self) -> str:
        n = len(self.inner) - len(self.input_ids)
        return f"{n} layer{'s' if n != 1 else ''}"

    # ----- shapes ---------------------------------------------------------------------------------
    def _plan(self, input_shapes: list[Shape]):
        """The compiled subgraph after checking that ``input_shapes`` fit the inner Inputs."""
        ids = self.input_ids
        if len(input_shapes) != len(ids):
            raise self.shape_error(f"takes {len(ids)} input(s) (the Input layers inside it) but has "
                                   f"{len(input_shapes)}; connect one branch per inner Input.")
        for nid, got in zip(ids, input_shapes):
            inp = self.inner.layer(nid)
            want = (None, *inp.config["shape"])
            if len(got) != len(want) or any(w not in (None, -1) and w != g for w, g in zip(want[1:], got[1:])):
                raise self.shape_error(f"input '{inp.name}' expects {fmt_shape(want)} but gets {fmt_shape(got)}; "
                                       "change the Input inside the group or what feeds it.")
        return self._compiled

    @cached_property
    def _compiled(self):
        from engine.executor import CompiledGraph
        from engine.validation import infer_shapes

        result = infer_shapes(self.inner)
        if not result.ok:
            p = result.problems[0]
            where = f"'{self.inner.node(p.node_id).name}': " if p.node_id in self.inner else ""
            raise self.shape_error(f"has a problem inside: {where}{p.message}")
        return CompiledGraph(self.inner, result)

    def output_shape(self, input_shapes: list[Shape]) -> Shape:
        plan = self._plan(input_shapes)
        return plan.shapes[self.output_id]

    def weight_specs(self, input_shapes: list[Shape]) -> list[WeightSpec]:
        plan = self._plan(input_shapes)
        out = []
        for nid in plan.order:
            trainable = plan.layers[nid].config.get("trainable", True)
            for s in plan.weight_specs(nid):
                out.append(WeightSpec(inner_weight_name(nid, s.name), s.shape, s.initializer,
                                      s.trainable and trainable))
        return out

    def init_weights(self, input_shapes: list[Shape], rng: np.random.Generator,
                     dtype: Any = np.float32) -> dict[str, np.ndarray]:
        plan = self._plan(input_shapes)
        per_node = {nid: plan.layers[nid].init_weights(list(plan.in_shapes[nid]), rng, dtype)
                    for nid in plan.order if plan.weight_specs(nid)}
        return join_weights(per_node)

    # ----- computation: the subgraph through the ordinary executor -------------------------------
    def forward(self, inputs: list[np.ndarray], weights: dict[str, np.ndarray], *, training: bool = False,
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, Any]:
        from engine.executor import Executor

        plan = self._compiled
        fwd = Executor(plan).forward(split_weights(weights), dict(zip(self.input_ids, inputs)),
                                     training=training, rng=rng)
        return fwd.activations[self.output_id], (plan, fwd)

    def backward(self, grad_out: np.ndarray, cache: Any,
                 weights: dict[str, np.ndarray]) -> tuple[list[np.ndarray | None], dict[str, np.ndarray]]:
        from engine.executor import Executor

        plan, fwd = cache
        wgrads, in_grads = Executor(plan).backward(split_weights(weights), fwd, {self.output_id: grad_out})
        return [in_grads.get(nid) for nid in self.input_ids], join_weights(wgrads)

    def state_updates(self, cache: Any) -> dict[str, np.ndarray]:
        plan, fwd = cache
        return join_weights({nid: upd for nid, layer in plan.layers.items()
                             if (upd := layer.state_updates(fwd.caches[nid]))})
