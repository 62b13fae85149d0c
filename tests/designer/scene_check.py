"""The canvas's bookkeeping invariant: every item the scene can find belongs to a node or a wire of
the document, and every wire is drawn once, between its own ports, labelled with its shape.

A wire item left in the scene's index after removal is what the user sees as a ghost wire (and,
once the item is freed, what crashes the next paint).  ``scene.items()`` does not report such an
item, but the view still paints it, so ``PaintWatch`` records what each repaint actually drew and
``scene_problems`` checks those items too.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF

from designer.canvas.edge_item import EdgeItem
from designer.canvas.group_frame import GroupFrameItem
from designer.canvas.node_item import NodeItem
from designer.canvas.port_item import PortItem
from engine.shapes import fmt_shape

TOLERANCE = 0.5  # scene units between a wire's end and its port


class PaintWatch:
    """Records the canvas items painted while active (``with PaintWatch() as watch: view.repaint()``).

    It holds the painted items only until ``clear()``, so it does not keep removed items alive.  The
    recording ``paint`` methods are installed once and never removed: shiboken caches the Python
    override it finds, so swapping methods back and forth would leave it calling a freed function."""

    active: PaintWatch | None = None

    def __init__(self) -> None:
        self.painted: list = []
        _install_recorders()

    def __enter__(self) -> PaintWatch:
        PaintWatch.active = self
        return self

    def __exit__(self, *exc) -> None:
        PaintWatch.active = None
        self.clear()

    def clear(self) -> None:
        self.painted.clear()


_RECORDING: set = set()


def _install_recorders() -> None:
    for cls in (NodeItem, PortItem, EdgeItem):
        if cls in _RECORDING:
            continue
        _RECORDING.add(cls)
        original = cls.paint

        def paint(item, painter, option, widget=None, original=original):
            if PaintWatch.active is not None:
                PaintWatch.active.painted.append(item)
            original(item, painter, option, widget)
        cls.paint = paint


def _owned(scene, item) -> str | None:
    """Why ``item`` belongs to nothing (None when it belongs)."""
    if item.scene() is not scene:
        return f"{type(item).__name__} removed from the scene is still in its index"
    if isinstance(item, NodeItem):
        return None if scene.node_item(item.node_id) is item else f"node card {item.node_id} of no node"
    if isinstance(item, PortItem):
        node = item.node_item
        if scene.node_item(node.node_id) is not node:
            return f"port of a removed card {node.node_id}"
        return None if item is node.out_port or item in node.in_ports else f"stray port of {node.node_id}"
    if isinstance(item, EdgeItem):
        return None if scene.edge_item(item.edge) is item else f"wire {item.edge} of no edge"
    if isinstance(item, GroupFrameItem):
        return None if scene.frame_item(item.key) is item and item.key in scene.doc.group_frames \
            else f"frame {item.key} of no expanded group"
    if item is scene.wire:
        return None
    return f"unknown item {type(item).__name__}"


def _near(p: QPointF, q: QPointF) -> bool:
    return abs(p.x() - q.x()) <= TOLERANCE and abs(p.y() - q.y()) <= TOLERANCE


def _wire_problems(scene, doc) -> list[str]:
    out = []
    shapes = doc.result.node_shapes
    for item in scene.edge_items():
        e = item.edge
        if item.source_item is not scene.node_item(e.source) or item.target_item is not scene.node_item(e.target):
            out.append(f"wire {e} attached to stale cards")
            continue
        path = item.path()
        a, b = item.endpoints()
        if path.isEmpty() or not _near(path.pointAtPercent(0.0), a) or not _near(path.pointAtPercent(1.0), b):
            out.append(f"wire {e} is not drawn between its ports")
        shape = shapes.get(e.source)
        want = fmt_shape(shape) if shape is not None else ""
        if item.label != want:
            out.append(f"wire {e} labelled {item.label!r}, its source's shape is {want!r}")
        if item not in item.source_item.edges or item not in item.target_item.edges:
            out.append(f"wire {e} not known to its cards")
    return out


def _node_problems(scene, doc) -> list[str]:
    out = []
    for nid, node in doc.graph.nodes.items():
        item = scene.node_item(nid)
        if (item.pos().x(), item.pos().y()) != tuple(node.position):
            out.append(f"card {nid} at {item.pos().toTuple()}, the document says {node.position}")
        connected = {e.index for e in doc.graph.in_edges(nid)}
        lit = {p.index for p in item.in_ports if p.connected}
        if lit != connected:
            out.append(f"card {nid} shows inputs {sorted(lit)} connected, the document {sorted(connected)}")
        stale = [e.edge for e in item.edges if scene.edge_item(e.edge) is not e]
        if stale:
            out.append(f"card {nid} still moves removed wires {stale}")
    return out


def scene_problems(scene, painted=()) -> list[str]:
    """Everything wrong with the scene's items against its document (empty when all is in order).

    ``painted``: the items the last repaint drew (``PaintWatch.painted``); each must belong too."""
    doc = scene.doc
    out = []
    if set(doc.graph.nodes) != {it.node_id for it in scene.node_items()}:
        out.append("the cards are not the document's nodes")
        return out
    if set(doc.graph.edges) != {it.edge for it in scene.edge_items()}:
        out.append("the wires are not the document's edges")
        return out
    seen = {}
    for item in [*scene.items(), *scene.items(scene.sceneRect()), *painted]:
        seen[id(item)] = item
    for item in seen.values():
        why = _owned(scene, item)
        if why:
            out.append(why + (" (and painted)" if any(it is item for it in painted) else ""))
    drawn_wires = sum(isinstance(it, EdgeItem) for it in scene.items())
    if drawn_wires != len(doc.graph.edges):
        out.append(f"{drawn_wires} wire items for {len(doc.graph.edges)} edges")
    return out + _node_problems(scene, doc) + _wire_problems(scene, doc)
