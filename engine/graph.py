"""``LayerGraph``: the document model — layer nodes, numbered-input edges, names, positions.

It is the single source of truth for a graph: the designer wraps it, the validator, executor and
exporters read it.  It emits no signals; every mutation records which nodes became dirty so that
validation re-infers only what lies downstream of an edit.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import networkx as nx

from engine.errors import ConfigError, GraphError, shown
from engine.layers import Layer, layer_class

Position = tuple[float, float]


class EdgesError(GraphError):
    """An edge of ``LayerGraph.connect_many`` is illegal; ``index`` is its position, None for a cycle."""

    def __init__(self, message: str, index: int | None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Node:
    """One layer on the canvas.  ``config`` is the Keras constructor kwargs without ``name``."""

    id: str
    class_name: str
    name: str
    config: dict[str, Any] = field(default_factory=dict, compare=True, hash=False)
    position: Position = (0.0, 0.0)


@dataclass(frozen=True, order=True)
class Edge:
    """The output of ``source`` feeds input number ``index`` of ``target``."""

    source: str
    target: str
    index: int = 0


_NAME_SUFFIX = re.compile(r"^(.*?)(?:_(\d+))?$")

MAX_NAME_LENGTH = 200
"""Longest layer name or node id accepted (Keras has no limit; a 50 MB name only makes output unusable)."""


def check_name(name: Any) -> None:
    """A layer name is non-empty Unicode text without NUL, at most ``MAX_NAME_LENGTH`` characters.

    Anything else printable is allowed (exporters sanitize names into identifiers), but NUL ends strings
    in C libraries (HDF5, zip) and an unpaired surrogate cannot be written as UTF-8.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a layer name must be non-empty text, got {shown(name)}", "name")
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"the layer name {shown(name)} has {len(name):,} characters; at most "
                          f"{MAX_NAME_LENGTH} are allowed", "name")
    if "\0" in name or not _is_utf8(name):
        raise ConfigError(f"the layer name {shown(name)} contains a NUL or an unpaired surrogate; use plain text",
                          "name")


def check_node_id(node_id: Any) -> None:
    """A node id is non-empty printable text without ``/``, at most ``MAX_NAME_LENGTH`` characters."""
    if not isinstance(node_id, str) or not node_id:
        raise GraphError(f"a node id must be non-empty text, got {shown(node_id)}")
    if len(node_id) > MAX_NAME_LENGTH:
        raise GraphError(f"the node id {shown(node_id)} has {len(node_id):,} characters; at most "
                         f"{MAX_NAME_LENGTH} are allowed")
    if "/" in node_id or not node_id.isprintable() or not _is_utf8(node_id):
        raise GraphError(f"the node id {shown(node_id)} contains '/', a control character or an unpaired "
                         "surrogate; ids are plain printable text")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class LayerGraph:
    """Nodes with stable string ids and unique Keras-style names, edges into numbered inputs."""

    def __init__(self) -> None:
        self._g = nx.MultiDiGraph()
        self._nodes: dict[str, Node] = {}
        self._layers: dict[str, Layer] = {}
        self._in_edges: dict[str, dict[int, Edge]] = {}
        self._names: dict[str, str] = {}  # name -> node id
        self._ids = itertools.count(1)
        self.structure_version = 0
        self._dirty: set[str] = set()
        self.metadata: dict[str, Any] = {}
        self._removed_at: dict[str, int] = {}

    # ----- reading ---------------------------------------------------------------------------------
    @property
    def nx_graph(self) -> nx.MultiDiGraph:
        """The networkx view (read-only by convention)."""
        return self._g

    @property
    def nodes(self) -> dict[str, Node]:
        return self._nodes

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id {node_id!r}") from None

    def node_by_name(self, name: str) -> Node | None:
        nid = self._names.get(name)
        return self._nodes[nid] if nid else None

    def layer(self, node_id: str) -> Layer:
        """The validated layer object of a node (cached until its config or name changes)."""
        lay = self._layers.get(node_id)
        if lay is None:
            n = self.node(node_id)
            lay = layer_class(n.class_name)({**n.config, "name": n.name})
            self._layers[node_id] = lay
        return lay

    @property
    def edges(self) -> list[Edge]:
        return sorted(e for ins in self._in_edges.values() for e in ins.values())

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into ``node_id`` ordered by input index."""
        ins = self._in_edges.get(node_id, {})
        return [ins[i] for i in sorted(ins)]

    def out_edges(self, node_id: str) -> list[Edge]:
        return sorted(Edge(s, t, k) for s, t, k in self._g.out_edges(node_id, keys=True))

    def inputs_of(self, node_id: str) -> list[str]:
        return [e.source for e in self.in_edges(node_id)]

    def input_nodes(self) -> list[str]:
        """Input layers in insertion order."""
        return [nid for nid, n in self._nodes.items() if layer_class(n.class_name).max_inputs == 0]

    def output_nodes(self) -> list[str]:
        """Nodes whose output feeds nothing (the model's outputs), in insertion order."""
        return [nid for nid in self._nodes if self._g.out_degree(nid) == 0
                and layer_class(self._nodes[nid].class_name).max_inputs != 0]

    def topological_order(self) -> list[str]:
        """Node ids in a stable topological order; raises ``GraphError`` on a cycle."""
        order = {nid: i for i, nid in enumerate(self._nodes)}
        try:
            return list(nx.lexicographical_topological_sort(self._g, key=order.__getitem__))
        except nx.NetworkXUnfeasible:
            raise GraphError("the graph has a cycle") from None

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    # ----- names and ids ---------------------------------------------------------------------------
    def unique_name(self, base: str, exclude: str | None = None) -> str:
        """``base`` if free, else ``base_1``, ``base_2``, ... (Keras's scheme)."""
        def taken(n: str) -> bool:
            owner = self._names.get(n)
            return owner is not None and owner != exclude

        if not taken(base):
            return base
        for i in itertools.count(1):
            cand = f"{base}_{i}"
            if not taken(cand):
                return cand
        raise AssertionError("unreachable")

    def _new_id(self) -> str:
        while True:
            nid = f"n{next(self._ids)}"
            if nid not in self._nodes:
                return nid

    # ----- mutations -------------------------------------------------------------------------------
    def add_node(self, class_name: str, config: dict[str, Any] | None = None, position: Position = (0.0, 0.0),
                 name: str | None = None, node_id: str | None = None) -> str:
        """Add a layer; ``config`` is validated by the layer class.  Returns the node id."""
        cls = layer_class(class_name)
        cfg = dict(config or {})
        cfg.pop("name", None)
        if name is not None:
            check_name(name)
            if name in self._names:
                raise ConfigError(f"the name '{name}' is already used by another layer; choose another", "name")
        else:
            name = self.unique_name(cls.base_name())
        layer = cls({**cfg, "name": name})
        if node_id is None:
            node_id = self._new_id()
        else:
            check_node_id(node_id)
        if node_id in self._nodes:
            raise GraphError(f"node id {node_id!r} already exists")
        full = layer.get_config()
        full.pop("name")
        self._nodes[node_id] = Node(node_id, class_name, name, full, (float(position[0]), float(position[1])))
        self._layers[node_id] = layer
        self._names[name] = node_id
        self._g.add_node(node_id)
        self._in_edges[node_id] = {}
        self._touch_structure(node_id)
        return node_id

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its edges; returns both so the caller can undo."""
        node = self.node(node_id)
        self._removed_at[node_id] = list(self._nodes).index(node_id)
        edges = self.in_edges(node_id) + self.out_edges(node_id)
        for e in edges:
            self.disconnect(e)
        self._g.remove_node(node_id)
        del self._nodes[node_id]
        del self._in_edges[node_id]
        self._layers.pop(node_id, None)
        self._names.pop(node.name, None)
        self._dirty.discard(node_id)
        self.structure_version += 1
        return node, edges

    def restore_node(self, node: Node) -> None:
        """Put back a node removed by ``remove_node`` (undo), with its id, name, config and place in order."""
        self.add_node(node.class_name, node.config, node.position, node.name, node.id)
        at = self._removed_at.pop(node.id, None)
        if at is not None and at < len(self._nodes) - 1:
            items = list(self._nodes.items())
            items.insert(at, items.pop())
            self._nodes = dict(items)

    def reorder_nodes(self, order: list[str]) -> None:
        """Put nodes in ``order`` (ids missing from it keep their relative place at the end).

        Node order is the order of the model's inputs and outputs, so undo restores it exactly.
        """
        rank = [n for n in order if n in self._nodes]
        rest = [n for n in self._nodes if n not in set(rank)]
        self._nodes = {n: self._nodes[n] for n in rank + rest}
        self.structure_version += 1

    def free_input_index(self, node_id: str) -> int:
        ins = self._in_edges.get(node_id, {})
        i = 0
        while i in ins:
            i += 1
        return i

    def can_connect(self, source: str, target: str, index: int | None = None) -> tuple[bool, str]:
        """Whether ``source -> target[index]`` is legal; the reason when it is not."""
        why = self._edge_problem(source, target, index)
        if not why and nx.has_path(self._g, target, source):
            why = f"connecting '{self._nodes[source].name}' to '{self._nodes[target].name}' would create a cycle"
        return not why, why

    def _edge_problem(self, source: str, target: str, index: int | None) -> str:
        """Why the edge is illegal apart from cycles ("" when it is fine)."""
        if source not in self._nodes or target not in self._nodes:
            return "both ends must be layers in the graph"
        if source == target:
            return "a layer cannot feed itself"
        tgt = self._nodes[target]
        cls = layer_class(tgt.class_name)
        ins = self._in_edges[target]
        if cls.max_inputs == 0:
            return f"{tgt.class_name} '{tgt.name}' is an Input and takes no incoming connection"
        if index is None:
            index = self.free_input_index(target)
        if index < 0:
            return "input index must be non-negative"
        if index in ins:
            return f"input {index} of '{tgt.name}' is already connected; disconnect it first"
        if cls.max_inputs is not None and index >= cls.max_inputs:
            return f"{tgt.class_name} '{tgt.name}' takes at most {cls.max_inputs} input(s)"
        return ""

    def connect(self, source: str, target: str, index: int | None = None) -> Edge:
        ok, why = self.can_connect(source, target, index)
        if not ok:
            raise GraphError(why)
        if index is None:
            index = self.free_input_index(target)
        return self._add_edge(Edge(source, target, index))

    def connect_many(self, edges: Iterable[tuple[str, str, int]]) -> None:
        """Add many edges with one cycle check at the end (loading a file): linear, where ``connect``'s
        per-edge path search would make a long chain listed in reverse quadratic.

        All or nothing: on an illegal edge or a cycle, the edges added so far are removed and
        ``EdgesError`` says which edge (its position in ``edges``) or that they form a cycle.
        """
        added: list[Edge] = []
        try:
            for i, (s, t, k) in enumerate(edges):
                why = self._edge_problem(s, t, k)
                if why:
                    raise EdgesError(why, i)
                added.append(self._add_edge(Edge(s, t, k)))
            if added and not nx.is_directed_acyclic_graph(self._g):
                cycle = [self._nodes[u].name for u, _v, *_ in nx.find_cycle(self._g)]
                raise EdgesError(f"the connections form a cycle through {', '.join(shown(n) for n in cycle[:5])}"
                                 + (", ..." if len(cycle) > 5 else ""), None)
        except EdgesError:
            for e in reversed(added):
                self.disconnect(e)
            raise

    def _add_edge(self, edge: Edge) -> Edge:
        self._g.add_edge(edge.source, edge.target, key=edge.index)
        self._in_edges[edge.target][edge.index] = edge
        self._touch_structure(edge.target)
        self._dirty.add(edge.source)  # an Input's "not connected" problem depends on its out-edges
        return edge

    def disconnect(self, edge: Edge) -> None:
        if self._in_edges.get(edge.target, {}).get(edge.index) != edge:
            raise GraphError(f"no connection {edge}")
        del self._in_edges[edge.target][edge.index]
        self._g.remove_edge(edge.source, edge.target, key=edge.index)
        self._touch_structure(edge.target)
        self._dirty.add(edge.source)

    def set_config(self, node_id: str, config: dict[str, Any]) -> None:
        """Replace a node's config after the layer class validated it (``ConfigError`` otherwise)."""
        node = self.node(node_id)
        cfg = {k: v for k, v in config.items() if k != "name"}
        layer = layer_class(node.class_name)({**cfg, "name": node.name})
        full = layer.get_config()
        full.pop("name")
        self._nodes[node_id] = replace(node, config=full)
        self._layers[node_id] = layer
        self._dirty.add(node_id)

    def set_config_value(self, node_id: str, key: str, value: Any) -> None:
        self.set_config(node_id, {**self.node(node_id).config, key: value})

    def rename(self, node_id: str, name: str) -> None:
        node = self.node(node_id)
        if name == node.name:
            return
        check_name(name)
        if name in self._names:
            raise ConfigError(f"the name '{name}' is already used by another layer; choose another", "name")
        del self._names[node.name]
        self._names[name] = node_id
        self._nodes[node_id] = replace(node, name=name)
        self._layers.pop(node_id, None)
        self._dirty.add(node_id)

    def move(self, node_id: str, position: Position) -> None:
        self._nodes[node_id] = replace(self.node(node_id), position=(float(position[0]), float(position[1])))

    # ----- incremental validation support ----------------------------------------------------------
    def _touch_structure(self, node_id: str) -> None:
        self.structure_version += 1
        self._dirty.add(node_id)

    def take_dirty(self) -> set[str]:
        """Nodes edited since the last call (the validator re-infers them and what lies downstream)."""
        d, self._dirty = self._dirty, set()
        return {n for n in d if n in self._nodes}

    # ----- (de)serialisation of the structure -----------------------------------------------------
    def to_dict(self, node_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """Nodes and the edges among them as JSON-ready data (also the clipboard format)."""
        keep = list(self._nodes) if node_ids is None else [n for n in self._nodes if n in set(node_ids)]
        keep_set = set(keep)
        nodes = []
        for nid in keep:
            n = self._nodes[nid]
            nodes.append({"id": n.id, "name": n.name, "class_name": n.class_name,
                          "config": jsonable(n.config), "position": [n.position[0], n.position[1]]})
        edges = [{"source": e.source, "target": e.target, "index": e.index}
                 for e in self.edges if e.source in keep_set and e.target in keep_set]
        return {"nodes": nodes, "edges": edges}

    def add_subgraph(self, data: dict[str, Any], offset: Position = (0.0, 0.0),
                     fresh: bool = True) -> dict[str, str]:
        """Add nodes/edges from ``to_dict`` data; with ``fresh`` they get new ids and unique names.

        Returns the map from the data's ids to the ids in this graph.  Nothing is added if any node fails.
        """
        staged: list[tuple[str, Node]] = []
        names = set(self._names)
        for nd in data.get("nodes", []):
            cls = layer_class(nd["class_name"])
            base = nd.get("name") or cls.base_name()
            if fresh:
                m = _NAME_SUFFIX.match(base)
                stem = m.group(1) if m and m.group(2) else base
                name = base if base not in names else self._free_name(stem, names)
            else:
                name = base
            names.add(name)
            cfg = dict(nd.get("config", {}))
            layer = cls({**cfg, "name": name})
            full = layer.get_config()
            full.pop("name")
            pos = nd.get("position", (0.0, 0.0))
            staged.append((nd["id"], Node("", nd["class_name"], name, full,
                                          (float(pos[0]) + offset[0], float(pos[1]) + offset[1]))))
        mapping: dict[str, str] = {}
        for old_id, n in staged:
            nid = self._new_id() if fresh or old_id in self._nodes else old_id
            self.add_node(n.class_name, n.config, n.position, n.name, nid)
            mapping[old_id] = nid
        for ed in data.get("edges", []):
            s, t = mapping.get(ed["source"]), mapping.get(ed["target"])
            if s is None or t is None:
                continue
            self._add_edge(Edge(s, t, int(ed.get("index", 0))))
        return mapping

    def _free_name(self, stem: str, taken: set[str]) -> str:
        if stem not in taken:
            return stem
        for i in itertools.count(1):
            if f"{stem}_{i}" not in taken:
                return f"{stem}_{i}"
        raise AssertionError("unreachable")

    def copy(self) -> "LayerGraph":
        g = LayerGraph()
        g.add_subgraph(self.to_dict(), fresh=False)
        g.metadata = dict(self.metadata)
        return g


def jsonable(value: Any) -> Any:
    """The JSON form of a config value: tuples become lists, recursively (so equal configs compare equal)."""
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value
