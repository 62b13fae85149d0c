"""Undo commands for group nodes: make a group, ungroup, expand in place, collapse again, and edits
made inside a group opened as its own canvas.

Each is one undo step.  The planning (which wires go where, which ids and names) is
``engine.grouping``'s; these commands apply a plan through ``GraphDocument``'s mutators, carry the
layers' trained weights over (a group keeps its layers' weights under ``"<inner id>/<weight>"``) and
keep the node order, which is the model's input and output order.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QUndoCommand

from designer.commands import Command
from engine.errors import ConfigError, GraphError
from engine.graph import Edge, Node, Position, jsonable
from engine.layers import layer_class
from engine.grouping import GroupHint, plan_group, plan_ungroup
from engine.layers.group import join_weights, split_weights
from engine.layout import layered_positions

CARD_WIDTH = 200.0
CARD_HEIGHT = 100.0
FRAME_MARGIN = 40.0  # room around expanded layers for the frame and its title


@dataclass(frozen=True)
class GroupFrame:
    """A group expanded in place: its layers (outer ids), what it was, and how others moved aside."""

    key: str
    hint: GroupHint
    members: tuple[str, ...]
    shifted: tuple[tuple[str, float, float], ...]  # (node id, dx, dy) moved out of the layers' way

    @property
    def name(self) -> str:
        return self.hint.name


class MakeGroupCommand(Command):
    """Replace layers by one group node wired as they were; undo puts them back exactly."""

    def __init__(self, doc, node_ids: list[str], hint: GroupHint | None = None) -> None:
        super().__init__(doc)
        self.why: str | None = None
        try:
            self.plan = plan_group(doc.graph, node_ids, doc.result.node_shapes, hint=hint)
        except GraphError as exc:
            self.plan, self.why = None, f"Cannot make a group: {exc}"
        self.group_id: str | None = None
        if hint is not None and self.plan is not None and (hint.group_id not in doc.graph
                                                           or hint.group_id in self.plan.members):
            self.group_id = hint.group_id  # the id it had (free again once its layers are taken out)
        self._removed: list[tuple[Node, list[Edge]]] = []
        self._order: list[str] = []
        self._weights = None
        if self.plan is not None:
            n = len(self.plan.members)
            self.setText(f"Group {n} layer{'s' if n != 1 else ''} as '{self.plan.name}'")

    def check(self) -> str | None:
        return self.why

    def redo(self) -> None:
        p, doc = self.plan, self.doc
        self._order = list(self.graph.nodes)
        self._weights = doc.node_weights(p.members)
        self._removed = doc.remove_nodes(p.members)
        self.group_id = doc.add_node("Group", p.config, p.position, p.name, self.group_id)
        for k, src in enumerate(p.sources):
            doc.connect(src, self.group_id, k)
        for target, index in p.out_edges:
            doc.connect(self.group_id, target, index)
        members = set(p.members)
        doc.reorder_nodes([self.group_id if n == p.output else n for n in self._order
                           if n not in members or n == p.output])
        if self._weights.arrays:
            doc.put_weights({self.group_id: join_weights({p.inner_of[m]: ws
                                                          for m, ws in self._weights.arrays.items()})})

    def undo(self) -> None:
        self.doc.remove_nodes([self.group_id])
        edges = sorted({e for _, es in self._removed for e in es})
        self.doc.restore_nodes([n for n, _ in self._removed], edges, self._order, self._weights)


class UngroupCommand(Command):
    """Put a group's layers in its place, wired as the group was; undo brings the group node back."""

    def __init__(self, doc, group_id: str, origin: Position | None = None,
                 positions: dict[str, Position] | None = None) -> None:
        super().__init__(doc)
        self.group_id = group_id
        self.why: str | None = None
        try:
            self.plan = plan_ungroup(doc.graph, group_id, origin, positions)
        except GraphError as exc:
            self.plan, self.why = None, f"Cannot ungroup: {exc}"
        self._group: tuple[Node, list[Edge]] | None = None
        self._order: list[str] = []
        self._weights = None
        if self.plan is not None:
            self.setText(f"Ungroup '{self._name(group_id)}'")

    @property
    def node_ids(self) -> list[str]:
        return [nd["id"] for nd in self.plan.data["nodes"]] if self.plan else []

    def check(self) -> str | None:
        return self.why

    def redo(self) -> None:
        doc, gid = self.doc, self.group_id
        self._order = list(self.graph.nodes)
        self._weights = doc.node_weights([gid])
        (self._group,) = doc.remove_nodes([gid])
        doc.add_subgraph(self.plan.data, fresh=False)
        for e in self.plan.edges:
            doc.connect(e.source, e.target, e.index)
        at = self._order.index(gid)
        doc.reorder_nodes(self._order[:at] + self.node_ids + self._order[at + 1:])
        held = self._weights.arrays.get(gid)
        if held:
            doc.put_weights({self.plan.outer_id_of[inner]: ws for inner, ws in split_weights(held).items()
                             if inner in self.plan.outer_id_of})

    def undo(self) -> None:
        self.doc.remove_nodes(self.node_ids)
        node, edges = self._group
        self.doc.restore_nodes([node], edges, self._order, self._weights)


def expanded_positions(doc, group_id: str) -> dict[str, Position]:
    """Where a group's layers go when expanded: its inner graph laid out by ``engine.layout``, the first
    column at the group's place (inner Inputs are left out: the group's wires replace them)."""
    group = doc.graph.layer(group_id)
    laid = layered_positions(group.inner)
    inner = {n: p for n, p in laid.items() if group.inner.node(n).class_name != "Input"}
    if not inner:
        return {}
    x0 = min(p[0] for p in inner.values())
    y0 = min(p[1] for p in inner.values())
    gx, gy = doc.graph.node(group_id).position
    return {n: (gx + x - x0, gy + y - y0) for n, (x, y) in inner.items()}


class ExpandGroupCommand(Command):
    """Expand a group in place: its layers replace the node inside a frame, and the cards to its right
    and below move aside to make room; ``CollapseGroupCommand`` turns the frame back into the node."""

    def __init__(self, doc, group_id: str) -> None:
        super().__init__(doc)
        self.ungroup = UngroupCommand(doc, group_id, positions=expanded_positions(doc, group_id)
                                      if doc.graph.node(group_id).class_name == "Group" else None)
        self.frame: GroupFrame | None = None
        if self.ungroup.plan is not None:
            self.setText(f"Expand '{self._name(group_id)}'")

    def check(self) -> str | None:
        why = self.ungroup.check()
        return why.replace("Cannot ungroup", "Cannot expand", 1) if why else None

    def redo(self) -> None:
        if self.frame is None:
            self.frame = self._make_frame()
        for nid, dx, dy in self.frame.shifted:
            x, y = self.graph.node(nid).position
            self.doc.move_node(nid, (x + dx, y + dy))
        self.ungroup.redo()
        self.doc.set_frame(self.frame.key, self.frame)

    def undo(self) -> None:
        self.doc.set_frame(self.frame.key, None)
        self.ungroup.undo()
        for nid, dx, dy in self.frame.shifted:
            x, y = self.graph.node(nid).position
            self.doc.move_node(nid, (x - dx, y - dy))

    def _make_frame(self) -> GroupFrame:
        gid, plan = self.ungroup.group_id, self.ungroup.plan
        node, group = self.graph.node(gid), self.graph.layer(gid)
        feeds = {e.index: e.source for e in self.graph.in_edges(gid)}
        inner_of = {outer: inner for inner, outer in plan.outer_id_of.items()
                    if group.inner.node(inner).class_name != "Input"}
        node_data = {nd["id"]: nd for nd in group.config["graph"]["nodes"]}
        inputs = [(feeds[k], node_data[i]) for k, i in enumerate(group.input_ids)]
        hint = GroupHint(node.name, inner_of, inputs,
                         {n: nd.position for n, nd in group.inner.nodes.items() if nd.class_name != "Input"}, gid)
        pos = [(nd["position"][0], nd["position"][1]) for nd in plan.data["nodes"]]
        gx, gy = node.position
        # how much wider and taller than the card the expanded layers are
        dx = max(x for x, _ in pos) - gx + FRAME_MARGIN if pos else 0.0
        dy = max(y for _, y in pos) - gy + FRAME_MARGIN if pos else 0.0
        shifted = []
        for nid, n in self.graph.nodes.items():
            if nid == gid:
                continue
            x, y = n.position
            if x >= gx + CARD_WIDTH / 2:
                shifted.append((nid, dx, 0.0))
            elif x > gx - CARD_WIDTH and y >= gy + CARD_HEIGHT / 2:
                shifted.append((nid, 0.0, dy))
        key = f"{gid}:{node.name}"
        return GroupFrame(key, hint, tuple(plan.outer_id_of[i] for i in inner_of.values()), tuple(shifted))


class CollapseGroupCommand(Command):
    """Turn an expanded group's frame back into one group node (the cards moved aside move back)."""

    def __init__(self, doc, key: str) -> None:
        super().__init__(doc)
        self.frame: GroupFrame | None = doc.group_frames.get(key)
        members = [m for m in self.frame.members if m in doc.graph] if self.frame else []
        self.make = MakeGroupCommand(doc, members, hint=self.frame.hint if self.frame else None)
        if self.frame is not None:
            self.setText(f"Collapse '{self.frame.name}'")

    @property
    def group_id(self) -> str | None:
        return self.make.group_id

    def check(self) -> str | None:
        if self.frame is None:
            return "no expanded group to collapse"
        return self.make.check()

    def redo(self) -> None:
        self.doc.set_frame(self.frame.key, None)
        self.make.redo()
        for nid, dx, dy in self.frame.shifted:
            if nid in self.graph:
                x, y = self.graph.node(nid).position
                self.doc.move_node(nid, (x - dx, y - dy))

    def undo(self) -> None:
        for nid, dx, dy in self.frame.shifted:
            if nid in self.graph:
                x, y = self.graph.node(nid).position
                self.doc.move_node(nid, (x + dx, y + dy))
        self.make.undo()
        self.doc.set_frame(self.frame.key, self.frame)


class InnerEditCommand(QUndoCommand):
    """An edit made inside a group opened as its own canvas, as one step of the outer document's stack.

    ``inner_command`` acts on the open group's own document.  The group node's config follows whenever
    the inner graph is a valid group (one output, an Input); while it is not (a layer just added and not
    yet wired) the group keeps its last valid config.  Undo and redo later (the canvas may be closed by
    then) set the group's config and hand the inner graph recorded before or after to ``on_change``,
    which reloads the open canvas."""

    def __init__(self, doc, group_id: str, inner_doc, inner_command, on_change) -> None:
        super().__init__(f"{inner_command.text()} in '{doc.graph.node(group_id).name}'")
        self.doc, self.group_id = doc, group_id
        self.inner_doc, self.inner_command = inner_doc, inner_command
        self.on_change = on_change
        self.old = doc.graph.node(group_id).config
        self.new = self.old
        self.inner_before = inner_doc.graph.to_dict()
        self.inner_after: dict | None = None

    def redo(self) -> None:
        if self.inner_after is None:
            self.inner_command.redo()
            self.inner_after = self.inner_doc.graph.to_dict()
            try:
                layer_class("Group")({"graph": self.inner_after, "name": self._group_name})
                self.new = {**self.old, "graph": self.inner_after}
            except ConfigError:
                self.new = self.old  # not a group yet: the group waits for a valid inner graph
            self._set(self.new)
            return
        self._set(self.new)
        self.on_change(self.group_id, self.inner_after)

    def undo(self) -> None:
        self._set(self.old)
        self.on_change(self.group_id, self.inner_before)

    @property
    def _group_name(self) -> str:
        return self.doc.graph.node(self.group_id).name

    def _set(self, config: dict) -> None:
        if jsonable(config) != jsonable(self.doc.graph.node(self.group_id).config):
            self.doc.set_config(self.group_id, config)
