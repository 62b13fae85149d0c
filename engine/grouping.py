"""Making a group from layers of a graph and putting a group's layers back (Qt-free planning).

``plan_group`` works out what replacing some layers by one ``Group`` node means: the group's inner
graph (the layers with their ids, names and configs, plus one inner ``Input`` per outside layer that
feeds them), the wires into the group (one input port per feeding layer) and the wires out of it.
``plan_ungroup`` is the inverse: the inner layers with ids and names free in the outer graph and the
wires that replace the group's.  The designer's undo commands apply these plans; nothing here mutates
a graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from engine.errors import ConfigError, GraphError
from engine.graph import Edge, LayerGraph, Position, jsonable
from engine.layers import layer_class

INPUT_GAP = 300.0  # inner Inputs sit one column left of the group's first layers


@dataclass(frozen=True)
class GroupHint:
    """What an expanded group was, so collapsing it gives the same group back (ids, names, input order)."""

    name: str
    inner_id_of: dict[str, str]  # outer node id -> its id inside the group
    inputs: list[tuple[str, dict[str, Any]]]  # (outer source id, inner Input node data), in port order
    positions: dict[str, Position] = field(default_factory=dict)  # inner id -> inner position
    group_id: str | None = None  # the group node's id, given back when still free


@dataclass(frozen=True)
class GroupPlan:
    """A group replacing ``members``: its name, place, config, and the wires into and out of it."""

    name: str
    position: Position
    config: dict[str, Any]
    members: list[str]
    inner_of: dict[str, str]  # member id -> its id inside the group (its weights go under that id)
    output: str  # the member whose result leaves the group
    sources: list[str]  # the outer layer feeding each group input, in port order
    out_edges: list[tuple[str, int]]  # (target, index) fed by the group


@dataclass(frozen=True)
class UngroupPlan:
    """The layers of a group in the outer graph: ``data`` for ``add_subgraph(fresh=False)`` and the wires."""

    data: dict[str, Any]
    outer_id_of: dict[str, str]  # inner id -> outer id (inner Inputs map to what feeds them)
    edges: list[Edge]  # wires joining the inner layers to the rest of the graph


def plan_group(graph: LayerGraph, node_ids: list[str], shapes: dict[str, Any], name: str | None = None,
               hint: GroupHint | None = None) -> GroupPlan:
    """The group that replaces ``node_ids``; raises ``GraphError`` with one line when it cannot be made.

    ``shapes`` are the validated output shapes (they give the inner Inputs their shapes)."""
    members = [n for n in graph.nodes if n in set(node_ids)]
    if not members:
        raise GraphError("select the layers to put into a group")
    inside = set(members)
    for nid in members:
        if graph.node(nid).class_name == "Input":
            raise GraphError(f"'{graph.node(nid).name}' is an Input layer, which cannot go into a group; "
                             "select the layers after it")
    _check_convex(graph, inside)
    output = _single_output(graph, members, inside)
    sources = _sources(graph, members, inside, hint)
    inputs = _inner_inputs(graph, sources, shapes, members, hint)
    inner_of = {m: (hint.inner_id_of.get(m, m) if hint else m) for m in members}
    if len(set(inner_of.values()) | {d["id"] for d in inputs.values()}) != len(inner_of) + len(inputs):
        inner_of = {m: m for m in members}  # a hint that no longer fits: keep the outer ids
    nodes = [inputs[s] for s in sources]
    x0 = min(graph.node(m).position[0] for m in members)
    y0 = min(graph.node(m).position[1] for m in members)
    for m in members:
        n = graph.node(m)
        pos = (hint.positions.get(inner_of[m]) if hint else None) or (n.position[0] - x0, n.position[1] - y0)
        nodes.append({"id": inner_of[m], "name": n.name, "class_name": n.class_name,
                      "config": jsonable(n.config), "position": [pos[0], pos[1]]})
    edges = []
    for m in members:
        for e in graph.in_edges(m):
            src = inner_of[e.source] if e.source in inside else inputs[e.source]["id"]
            edges.append({"source": src, "target": inner_of[m], "index": e.index})
    config = {"graph": {"nodes": nodes, "edges": edges}}
    if hint is not None and graph.node_by_name(hint.name) is None:
        gname = hint.name
    else:
        gname = graph.unique_name(name or layer_class("Group").base_name())
    try:
        layer_class("Group")({**config, "name": gname})
    except ConfigError as exc:
        raise GraphError(str(exc)) from None
    outs = [(e.target, e.index) for e in graph.out_edges(output)]
    return GroupPlan(gname, (x0, y0), config, members, inner_of, output, sources, outs)


def _check_convex(graph: LayerGraph, inside: set[str]) -> None:
    """Refuse a selection with an outside layer on a path between two of its layers (grouping would loop)."""
    g = graph.nx_graph
    below: set[str] = set()
    for n in inside:
        below |= nx.descendants(g, n)
    below -= inside
    for n in below:
        if nx.descendants(g, n) & inside:
            raise GraphError(f"'{graph.node(n).name}' lies between layers of the selection; "
                             "add it to the selection or leave out the layers after it")


def _single_output(graph: LayerGraph, members: list[str], inside: set[str]) -> str:
    """The one member whose output leaves the selection (or ends the model); a group has one output."""
    outs = [m for m in members if any(e.target not in inside for e in graph.out_edges(m))
            or not graph.out_edges(m)]
    if len(outs) != 1:
        names = ", ".join(graph.node(m).name for m in outs)
        raise GraphError(f"the selection has {len(outs)} outputs ({names}); a group has one output, so "
                         "select layers whose result leaves through one layer")
    return outs[0]


def _sources(graph: LayerGraph, members: list[str], inside: set[str], hint: GroupHint | None) -> list[str]:
    """The outside layers feeding the selection, in port order (a hint's order first)."""
    found = []
    for m in members:
        for e in sorted(graph.in_edges(m), key=lambda e: e.index):
            if e.source not in inside and e.source not in found:
                found.append(e.source)
    if not found:
        raise GraphError("nothing feeds the selection from outside; a group needs at least one input")
    first = [s for s, _ in (hint.inputs if hint else []) if s in found]
    return first + [s for s in found if s not in first]


def _inner_inputs(graph: LayerGraph, sources: list[str], shapes: dict[str, Any], members: list[str],
                  hint: GroupHint | None) -> dict[str, dict[str, Any]]:
    """One inner ``Input`` node per source, shaped like the source's output."""
    hinted = {s: nd for s, nd in (hint.inputs if hint else [])}
    used_ids = set(members) | (set(hint.inner_id_of.values()) if hint else set())
    used_names = {graph.node(m).name for m in members}
    out = {}
    for k, s in enumerate(sources):
        shape = shapes.get(s)
        if shape is None:
            raise GraphError(f"the shape coming out of '{graph.node(s).name}' is unknown; fix the problems "
                             "listed first")
        dtype = graph.node(s).config.get("dtype", "float32") if graph.node(s).class_name == "Input" else "float32"
        old = hinted.get(s)
        if old is not None and old["id"] not in used_ids and old["name"] not in used_names:
            nid, nm, pos = old["id"], old["name"], old.get("position", [-INPUT_GAP, 0.0])
        else:
            nid = _free(f"in{k + 1}", used_ids)
            nm = _free(f"{graph.node(s).name}_in", used_names)
            pos = [-INPUT_GAP, 150.0 * k]
        used_ids.add(nid)
        used_names.add(nm)
        out[s] = {"id": nid, "name": nm, "class_name": "Input",
                  "config": {"shape": list(shape[1:]), "dtype": dtype}, "position": list(pos)}
    return out


def _free(base: str, taken: set[str]) -> str:
    cand, i = base, 0
    while cand in taken:
        i += 1
        cand = f"{base}_{i}"
    return cand


def plan_ungroup(graph: LayerGraph, group_id: str, origin: Position | None = None,
                 positions: dict[str, Position] | None = None) -> UngroupPlan:
    """The group's layers back in ``graph`` (ids and names kept where free); ``GraphError`` when it
    cannot be done (an input of the group is not connected).

    Layers are placed at their inner positions offset to ``origin`` (the group's place by default), or
    at ``positions`` (inner id -> outer position) when given."""
    node = graph.node(group_id)
    if node.class_name != "Group":
        raise GraphError(f"'{node.name}' is not a group")
    group = graph.layer(group_id)
    inner = group.inner
    feeds = {e.index: e.source for e in graph.in_edges(group_id)}
    missing = [inner.node(i).name for k, i in enumerate(group.input_ids) if k not in feeds]
    if missing:
        raise GraphError(f"input '{missing[0]}' of group '{node.name}' is not connected; connect every "
                         "input before putting the layers back")
    outer_of = {i: feeds[k] for k, i in enumerate(group.input_ids)}
    taken_ids = set(graph.nodes) - {group_id}
    taken_names = {n.name for n in graph.nodes.values() if n.id != group_id}
    ox, oy = origin if origin is not None else node.position
    nodes = []
    for nid, n in inner.nodes.items():
        if n.class_name == "Input":
            continue
        new_id, new_name = _free(nid, taken_ids), _free(n.name, taken_names)
        taken_ids.add(new_id)
        taken_names.add(new_name)
        outer_of[nid] = new_id
        pos = (positions or {}).get(nid) or (ox + n.position[0], oy + n.position[1])
        nodes.append({"id": new_id, "name": new_name, "class_name": n.class_name,
                      "config": jsonable(n.config), "position": [pos[0], pos[1]]})
    inner_edges = [{"source": outer_of[e.source], "target": outer_of[e.target], "index": e.index}
                   for e in inner.edges if inner.node(e.source).class_name != "Input"]
    edges = [Edge(outer_of[e.source], outer_of[e.target], e.index)
             for e in inner.edges if inner.node(e.source).class_name == "Input"]
    out = outer_of[group.output_id]
    edges += [Edge(out, e.target, e.index) for e in graph.out_edges(group_id)]
    return UngroupPlan({"nodes": nodes, "edges": inner_edges}, outer_of, edges)
