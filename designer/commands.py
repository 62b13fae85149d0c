"""One ``QUndoCommand`` per user action, built from ids plus old and new values.

``redo``/``undo`` call ``GraphDocument`` only; they never touch canvas items (the items follow the
document's signals).  Every command is pushed through :func:`push`, which refuses while the
document is locked (training) and when the command's ``check()`` finds the action illegal, so a
command on the stack always succeeds.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from engine.errors import ConfigError, GraphError
from engine.graph import Edge, LayerGraph, Node, Position, jsonable
from engine.layers import layer_class

_MOVE_ID = 1001
_CONFIG_ID = 1002


def push(doc, command: "Command") -> str | None:
    """Push ``command`` on ``doc``'s undo stack; return the reason when it is refused, else None."""
    if doc.locked_reason:
        return doc.locked_reason
    why = command.check()
    if why:
        return why
    doc.undo_stack.push(command)
    return None


class Command(QUndoCommand):
    """Base: keeps the document; ``check()`` says why the action cannot be done (None when it can)."""

    def __init__(self, doc, text: str = "") -> None:
        super().__init__(text)
        self.doc = doc

    @property
    def graph(self) -> LayerGraph:
        return self.doc.graph

    def check(self) -> str | None:
        return None

    def _name(self, node_id: str) -> str:
        return self.graph.node(node_id).name


class CompositeCommand(Command):
    """Several commands as one undo step (redo in order, undo in reverse)."""

    def __init__(self, doc, text: str, commands: list[Command]) -> None:
        super().__init__(doc, text)
        self.commands = list(commands)

    def check(self) -> str | None:
        if not self.commands:
            return "nothing to do"
        return self.commands[0].check()

    def redo(self) -> None:
        for c in self.commands:
            c.redo()

    def undo(self) -> None:
        for c in reversed(self.commands):
            c.undo()


# ----- nodes ------------------------------------------------------------------------------------------
class AddNodeCommand(Command):
    """Add a layer; ``node_id`` and ``name`` are fixed by the first redo and reused afterwards."""

    def __init__(self, doc, class_name: str, config: dict[str, Any], position: Position,
                 name: str | None = None) -> None:
        super().__init__(doc)
        self.class_name = class_name
        self.config = dict(config)
        self.position = (float(position[0]), float(position[1]))
        self.name = name
        self.node_id: str | None = None
        shown = name or _predict_name(doc.graph, class_name)
        self.setText(f"Add {class_name} '{shown}'")

    def check(self) -> str | None:
        try:
            cls = layer_class(self.class_name)
            cls({**self.config, "name": self.name or cls.base_name()})
        except ConfigError as exc:
            return str(exc)
        if self.name is not None and self.graph.node_by_name(self.name) is not None:
            return f"the name '{self.name}' is already used by another layer; choose another"
        return None

    def redo(self) -> None:
        self.node_id = self.doc.add_node(self.class_name, self.config, self.position, self.name, self.node_id)
        self.name = self.graph.node(self.node_id).name

    def undo(self) -> None:
        self.doc.remove_nodes([self.node_id])


def _predict_name(graph: LayerGraph, class_name: str) -> str:
    try:
        return graph.unique_name(layer_class(class_name).base_name())
    except ConfigError:
        return class_name


class RemoveNodesCommand(Command):
    """Delete nodes with their edges; undo restores the same ids, names, edge indices, node order
    and trained weights."""

    def __init__(self, doc, node_ids: list[str]) -> None:
        super().__init__(doc)
        self.node_ids = [n for n in doc.graph.nodes if n in set(node_ids)]
        self._nodes: list[Node] = []
        self._edges: list[Edge] = []
        self._order: list[str] = []
        self._weights = None  # the deleted layers' trained weights (``doc.node_weights``)
        if len(self.node_ids) == 1:
            self.setText(f"Delete '{self._name(self.node_ids[0])}'")
        else:
            self.setText(f"Delete {len(self.node_ids)} layers")

    def check(self) -> str | None:
        return None if self.node_ids else "nothing selected to delete"

    def redo(self) -> None:
        self._order = list(self.graph.nodes)
        self._weights = self.doc.node_weights(self.node_ids)
        removed = self.doc.remove_nodes(self.node_ids)
        self._nodes = [n for n, _ in removed]
        self._edges = sorted({e for _, es in removed for e in es})

    def undo(self) -> None:
        self.doc.restore_nodes(self._nodes, self._edges, self._order, self._weights)


class MoveNodesCommand(Command):
    """One drag (or nudge) of one or more nodes: ``{id: (old, new)}``."""

    def __init__(self, doc, moves: dict[str, tuple[Position, Position]], nudge: bool = False) -> None:
        super().__init__(doc)
        self.moves = {nid: (tuple(o), tuple(n)) for nid, (o, n) in moves.items()}
        self.nudge = nudge
        if len(self.moves) == 1:
            self.setText(f"Move '{self._name(next(iter(self.moves)))}'")
        else:
            self.setText(f"Move {len(self.moves)} layers")

    def id(self) -> int:  # noqa: A003  (Qt's name)
        return _MOVE_ID if self.nudge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802
        if not isinstance(other, MoveNodesCommand) or not other.nudge or set(other.moves) != set(self.moves):
            return False
        self.moves = {nid: (self.moves[nid][0], other.moves[nid][1]) for nid in self.moves}
        return True

    def check(self) -> str | None:
        return None if self.moves else "nothing to move"

    def redo(self) -> None:
        for nid, (_, new) in self.moves.items():
            self.doc.move_node(nid, new)

    def undo(self) -> None:
        for nid, (old, _) in self.moves.items():
            self.doc.move_node(nid, old)


class AutoLayoutCommand(Command):
    """Apply positions computed by ``engine.layout``; undo puts every node back."""

    def __init__(self, doc, positions: dict[str, Position]) -> None:
        super().__init__(doc, "Auto-layout")
        self.new = {nid: (float(p[0]), float(p[1])) for nid, p in positions.items() if nid in doc.graph}
        self.old = {nid: doc.graph.node(nid).position for nid in self.new}

    def check(self) -> str | None:
        return None if self.new else "the graph is empty"

    def redo(self) -> None:
        for nid, p in self.new.items():
            self.doc.move_node(nid, p)

    def undo(self) -> None:
        for nid, p in self.old.items():
            self.doc.move_node(nid, p)


# ----- edges ------------------------------------------------------------------------------------------
class ConnectCommand(Command):
    def __init__(self, doc, source: str, target: str, index: int | None = None) -> None:
        super().__init__(doc)
        self.source, self.target = source, target
        self.index = doc.graph.free_input_index(target) if index is None and target in doc.graph else index
        if source in doc.graph and target in doc.graph:
            self.setText(f"Connect {self._name(source)} → {self._name(target)}")

    def check(self) -> str | None:
        ok, why = self.graph.can_connect(self.source, self.target, self.index)
        return None if ok else why

    @property
    def edge(self) -> Edge:
        return Edge(self.source, self.target, self.index)

    def redo(self) -> None:
        self.doc.connect(self.source, self.target, self.index)

    def undo(self) -> None:
        self.doc.disconnect(self.edge)


class DisconnectCommand(Command):
    def __init__(self, doc, edge: Edge) -> None:
        super().__init__(doc)
        self.edge = edge
        if edge.source in doc.graph and edge.target in doc.graph:
            self.setText(f"Disconnect {self._name(edge.source)} → {self._name(edge.target)}")

    def check(self) -> str | None:
        return None if self.edge in self.graph.in_edges(self.edge.target) else f"no connection {self.edge}"

    def redo(self) -> None:
        self.doc.disconnect(self.edge)

    def undo(self) -> None:
        self.doc.connect(self.edge.source, self.edge.target, self.edge.index)


# ----- arguments and names ----------------------------------------------------------------------------
class SetConfigCommand(Command):
    """Replace a node's config; consecutive edits of the same field of the same node merge."""

    def __init__(self, doc, node_id: str, new_config: dict[str, Any]) -> None:
        super().__init__(doc)
        self.node_id = node_id
        self.old = dict(doc.graph.node(node_id).config)
        self.new = {**self.old, **{k: v for k, v in new_config.items() if k != "name"}}
        self.keys = tuple(sorted(k for k in self.new if jsonable(self.new[k]) != jsonable(self.old.get(k))))
        self._relabel()

    def _relabel(self) -> None:
        name = self._name(self.node_id)
        if len(self.keys) == 1:
            k = self.keys[0]
            self.setText(f"Change {k} of '{name}' to {_show(self.new[k])}")
        else:
            self.setText(f"Change arguments of '{name}'")

    def check(self) -> str | None:
        if not self.keys:
            return "no argument changed"
        node = self.graph.node(self.node_id)
        try:
            layer_class(node.class_name)({**self.new, "name": node.name})
        except ConfigError as exc:
            return str(exc)
        return None

    def id(self) -> int:  # noqa: A003
        return _CONFIG_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802
        if not isinstance(other, SetConfigCommand) or other.node_id != self.node_id:
            return False
        if len(self.keys) != 1 or other.keys != self.keys:
            return False
        self.new = other.new
        self._relabel()
        if jsonable(self.new) == jsonable(self.old):
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.doc.set_config(self.node_id, self.new)

    def undo(self) -> None:
        self.doc.set_config(self.node_id, self.old)



class SetCustomCodeCommand(SetConfigCommand):
    """A committed edit of a custom layer's code: one undo step each (edits of code never merge)."""

    def _relabel(self) -> None:
        self.setText(f"Edit the code of '{self._name(self.node_id)}'")

    def id(self) -> int:  # noqa: A003
        return -1


def _show(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(str(x) for x in v) + ")"
    return "None" if v is None else str(v)


class RenameCommand(Command):
    def __init__(self, doc, node_id: str, new_name: str) -> None:
        super().__init__(doc)
        self.node_id = node_id
        self.old = doc.graph.node(node_id).name
        self.new = new_name
        self.setText(f"Rename '{self.old}' to '{new_name}'")

    def check(self) -> str | None:
        if self.new == self.old:
            return "the name is unchanged"
        if not isinstance(self.new, str) or not self.new.strip():
            return "a layer name must be non-empty text"
        if self.graph.node_by_name(self.new) is not None:
            return f"the name '{self.new}' is already used by another layer; choose another"
        return None

    def redo(self) -> None:
        self.doc.rename(self.node_id, self.new)

    def undo(self) -> None:
        self.doc.rename(self.node_id, self.old)


# ----- compound actions -------------------------------------------------------------------------------
class PasteCommand(Command):
    """Add a clipboard subgraph (``graph.to_dict`` data) with fresh ids and unique names."""

    def __init__(self, doc, data: dict[str, Any], offset: Position = (40.0, 40.0)) -> None:
        super().__init__(doc)
        self.data = {"nodes": list(data.get("nodes", [])), "edges": list(data.get("edges", []))}
        self.offset = (float(offset[0]), float(offset[1]))
        self.node_ids: list[str] = []
        self._added: dict[str, Any] | None = None
        n = len(self.data["nodes"])
        self.setText(f"Paste {n} layer{'s' if n != 1 else ''}")

    def check(self) -> str | None:
        if not self.data["nodes"]:
            return "the clipboard holds no layers"
        try:
            LayerGraph().add_subgraph(self.data)
        except (ConfigError, GraphError, KeyError, TypeError, ValueError) as exc:
            return f"the clipboard does not hold a valid layer graph: {exc}"
        return None

    def redo(self) -> None:
        if self._added is None:
            mapping = self.doc.add_subgraph(self.data, self.offset)
            self.node_ids = list(mapping.values())
            self._added = self.graph.to_dict(self.node_ids)
        else:
            self.doc.add_subgraph(self._added, fresh=False)

    def undo(self) -> None:
        self.doc.remove_nodes(self.node_ids)


class InsertOnEdgeCommand(Command):
    """Add a layer on an existing wire: ``source → new → target`` (the target keeps its input index)."""

    def __init__(self, doc, edge: Edge, class_name: str, config: dict[str, Any], position: Position,
                 name: str | None = None) -> None:
        super().__init__(doc)
        self.edge = edge
        self.add = AddNodeCommand(doc, class_name, config, position, name)
        self.setText(f"Insert {class_name} between {self._name(edge.source)} and {self._name(edge.target)}")

    @property
    def node_id(self) -> str | None:
        return self.add.node_id

    def check(self) -> str | None:
        if self.edge not in self.graph.in_edges(self.edge.target):
            return f"no connection {self.edge}"
        cls = layer_class(self.add.class_name)
        if cls.max_inputs == 0:
            return f"an {cls.class_name} layer takes no input, so it cannot be inserted on a connection"
        return self.add.check()

    def redo(self) -> None:
        self.doc.disconnect(self.edge)
        self.add.redo()
        self.doc.connect(self.edge.source, self.add.node_id, 0)
        self.doc.connect(self.add.node_id, self.edge.target, self.edge.index)

    def undo(self) -> None:
        self.add.undo()
        self.doc.connect(self.edge.source, self.edge.target, self.edge.index)


def can_reconnect_around(graph: LayerGraph, node_id: str) -> bool:
    """A node with exactly one input and at least one consumer can be bridged when deleted."""
    return node_id in graph and len(graph.in_edges(node_id)) == 1 and len(graph.out_edges(node_id)) >= 1


class ReconnectAroundCommand(Command):
    """Delete a one-input node and connect its input to each of its consumers (same input indices)."""

    def __init__(self, doc, node_id: str) -> None:
        super().__init__(doc)
        self.node_id = node_id
        self.remove = RemoveNodesCommand(doc, [node_id])
        self.bridges: list[Edge] = []
        if node_id in doc.graph:
            self.setText(f"Delete '{self._name(node_id)}' and reconnect around it")

    def check(self) -> str | None:
        if not can_reconnect_around(self.graph, self.node_id):
            return "only a layer with one input and a consumer can be deleted with reconnection"
        return None

    def redo(self) -> None:
        (src,) = self.graph.inputs_of(self.node_id)
        outs = self.graph.out_edges(self.node_id)
        self.remove.redo()
        self.bridges = [Edge(src, e.target, e.index) for e in outs]
        for e in self.bridges:
            self.doc.connect(e.source, e.target, e.index)

    def undo(self) -> None:
        for e in reversed(self.bridges):
            self.doc.disconnect(e)
        self.remove.undo()
