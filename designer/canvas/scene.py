"""``GraphScene``: the canvas items for one ``GraphDocument``, kept in step with its signals.

Items are built from the document and updated only where the document says something changed
(``node_changed``, ``edge_added``, ...).  Validation results are compared per node with the
previous result, so a 300-node graph repaints only the nodes and wires whose shape, parameter
count or problems changed.  User gestures (wiring, moving, deleting, pasting) become undo commands
pushed through ``designer.commands.push``; nothing here mutates the graph directly.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QGraphicsScene, QToolTip

from designer import commands as cmds
from designer.canvas.colors import DARK, LIGHT
from designer.canvas.drag_edge_item import DragEdgeItem
from designer.canvas.edge_item import EdgeItem
from designer.canvas.group_frame import GroupFrameItem
from designer.canvas.scene_groups import GroupGestures
from engine.layout import layered_positions
from designer.canvas.node_item import BASE_HEIGHT, HEADER, WIDTH, NodeItem
from designer.canvas.placement import free_offset, paste_offset
from designer.canvas.overview import Overview
from designer.canvas.port_item import PortItem
from engine.graph import Edge
from engine.layers import layer_class, starter_config
from engine.shapes import fmt_shape

CLIPBOARD_MIME = "application/x-layergraph-clipboard"
CLIPBOARD_FORMAT = "layergraph-clipboard"
PASTE_STEP = 40.0


class GraphScene(GroupGestures, QGraphicsScene):
    selection_changed_ids = Signal(list)
    #: A sentence for the status bar when an action is refused (locked document, illegal wire, ...).
    status_message = Signal(str)
    #: A group node asked to be opened as its own canvas (double-click or its context menu).
    open_group_requested = Signal(str)

    def __init__(self, doc, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.colors = LIGHT
        self.snap_to_grid = True
        self.grid_size = 20
        self.dragging_nodes = False
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._frames: dict[str, GroupFrameItem] = {}
        self._node_info: dict[str, tuple] = {}
        self._edge_problem: dict[Edge, str] = {}
        self._wire: DragEdgeItem | None = None
        self._reroute: Edge | None = None
        self._last_paste: tuple[str, int] | None = None
        self._selection_blocked = False
        #: Batched drawing when zoomed out (the view switches it on and off with the zoom).
        self.overview = Overview(self)
        self.setSceneRect(QRectF(-50000, -50000, 100000, 100000))
        self.setBackgroundBrush(QColor(self.colors["background"]))
        doc.node_added.connect(self._on_node_added)
        doc.node_removed.connect(self._on_node_removed)
        doc.node_changed.connect(self._on_node_changed)
        doc.node_moved.connect(self._on_node_moved)
        doc.edge_added.connect(self._on_edge_added)
        doc.edge_removed.connect(self._on_edge_removed)
        doc.validation_changed.connect(self._on_validation)
        doc.reset.connect(self.rebuild)
        doc.frames_changed.connect(self._sync_frames)
        self.selectionChanged.connect(self._emit_selection)
        self.rebuild()

    @property
    def graph(self):
        return self.doc.graph

    # ----- building from the document ----------------------------------------------------------------
    def rebuild(self) -> None:
        """Rebuild every item in one pass: nodes, then their ports, then each wire's path once."""
        self._selection_blocked = True
        for item in self._edges.values():
            item.detach()  # cards and wires refer to each other: break the cycle so both are freed now
        for item in list(self._edges.values()) + list(self._nodes.values()) + list(self._frames.values()):
            self.removeItem(item)
        self._frames.clear()
        self._nodes.clear()
        self._edges.clear()
        self._node_info.clear()
        self._edge_problem.clear()
        for nid in self.graph.nodes:
            self._add_node_item(nid)
        for nid, item in self._nodes.items():
            item.sync_ports({e.index for e in self.graph.in_edges(nid)})
        shapes = self.doc.result.node_shapes
        for e in self.graph.edges:
            self._add_edge_item(e, shapes)
        for nid, item in self._nodes.items():
            item.out_port.set_connected(any(e.edge.source == nid for e in item.edges))
        for item in self._edges.values():
            item.update_path()
        self._selection_blocked = False
        self._on_validation(self.doc.result)
        self._sync_frames()
        self.overview.invalidate()
        self._emit_selection()

    def _on_node_added(self, nid: str) -> None:
        self._add_node_item(nid)
        self._refit_frames(nid)

    def _add_node_item(self, nid: str) -> NodeItem:
        node = self.graph.node(nid)
        cls = layer_class(node.class_name)
        least, most = self._input_range(nid)
        item = NodeItem(nid, node.class_name, cls.family, least, most, cls.composite)
        item.setPos(*node.position)
        self._nodes[nid] = item
        self.addItem(item)
        for it in (item, *item.in_ports, item.out_port):
            self.overview.adopt(it)
        self._on_node_changed(nid)
        return item

    def _on_node_removed(self, nid: str) -> None:
        item = self._nodes.pop(nid, None)
        self._node_info.pop(nid, None)
        if item is None:
            return
        for e in list(item.edges):
            self._on_edge_removed(e.edge)
        self.removeItem(item)
        self.overview.invalidate()
        self._refit_frames(nid)

    def _on_node_changed(self, nid: str) -> None:
        item = self._nodes.get(nid)
        if item is None:
            return
        node = self.graph.node(nid)
        try:
            args = self.graph.layer(nid).summary_args()
        except Exception:  # noqa: BLE001  (a bad config must not break drawing; validation reports it)
            args = ""
        item.set_text(node.name, args, layer_class(node.class_name).doc())
        if item.composite and (item.min_inputs, item.max_inputs) != self._input_range(nid):
            item.min_inputs, item.max_inputs = self._input_range(nid)
            self._sync_ports(nid)

    def _input_range(self, nid: str) -> tuple[int, int | None]:
        """How many inputs the node's card offers: a group has exactly one per Input inside it."""
        cls = layer_class(self.graph.node(nid).class_name)
        if cls.composite:
            try:
                n = len(self.graph.layer(nid).input_ids)
                return n, n
            except Exception:  # noqa: BLE001  (a bad group config: validation reports it; keep the class's ports)
                pass
        return cls.min_inputs, cls.max_inputs

    def _on_node_moved(self, nid: str) -> None:
        item = self._nodes.get(nid)
        if item is not None:
            x, y = self.graph.node(nid).position
            if item.pos() != QPointF(x, y):
                item.setPos(x, y)
            self.reroute_around(item)
            self._refit_frames(nid)

    def reroute_around(self, node_item: NodeItem) -> None:
        """Re-plan the wires of other nodes that pass over (or used to detour around) ``node_item``."""
        area = node_item.sceneBoundingRect().adjusted(-40, -200, 40, 40)
        near = {it for it in self.items(area) if isinstance(it, EdgeItem)}
        for it in near | {e for e in self._edges.values() if e.detoured}:
            if it not in node_item.edges:
                it.update_path()

    def _sync_ports(self, nid: str) -> None:
        item = self._nodes.get(nid)
        if item is None:
            return
        item.sync_ports({e.index for e in self.graph.in_edges(nid)})
        item.out_port.set_connected(bool(self.graph.out_edges(nid)))
        for e in item.edges:
            e.update_path()

    def _on_edge_added(self, edge: Edge) -> None:
        src, tgt = self._nodes.get(edge.source), self._nodes.get(edge.target)
        if src is None or tgt is None or edge in self._edges:
            return
        self._sync_ports(edge.target)
        item = self._add_edge_item(edge, self.doc.result.node_shapes)
        item.update_path()  # now in the scene: it can see the cards it would cross
        self._sync_ports(edge.source)

    def _add_edge_item(self, edge: Edge, shapes: dict) -> EdgeItem:
        """Create and add the wire's item; its path is planned by the caller (once its ports exist)."""
        item = EdgeItem(edge, self._nodes[edge.source], self._nodes[edge.target])
        shape = shapes.get(edge.source)
        item.set_label(fmt_shape(shape) if shape is not None else "")
        self._edges[edge] = item
        self.addItem(item)
        self.overview.adopt(item)
        return item

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self._edges.pop(edge, None)
        self._edge_problem.pop(edge, None)
        if item is None:
            return
        item.detach()
        self.removeItem(item)
        self.overview.invalidate()
        for nid in (edge.source, edge.target):
            if nid in self.graph:
                self._sync_ports(nid)

    def _on_validation(self, result) -> None:
        """Apply a validation result, touching only nodes and wires whose display changed."""
        node_problems: dict[str, list[str]] = {}
        edge_problems: dict[Edge, str] = {}
        for p in result.problems:
            if p.node_id is not None:
                node_problems.setdefault(p.node_id, []).append(p.message)
            if p.edge is not None:
                edge_problems[p.edge] = p.message
        reshaped: set[str] = set()
        for nid, item in self._nodes.items():
            info = (result.node_shapes.get(nid), result.param_counts.get(nid, 0), tuple(node_problems.get(nid, ())))
            old = self._node_info.get(nid)
            if old != info:
                if old is None or old[0] != info[0]:
                    reshaped.add(nid)
                self._node_info[nid] = info
                item.set_validation(*info)
        for nid in reshaped:
            shape = result.node_shapes.get(nid)
            text = fmt_shape(shape) if shape is not None else ""
            for e in self._nodes[nid].edges:
                if e.edge.source == nid:
                    e.set_label(text)
        for edge in set(self._edge_problem) | set(edge_problems):
            msg = edge_problems.get(edge)
            if self._edge_problem.get(edge) != msg and edge in self._edges:
                self._edges[edge].set_problem(msg)
        self._edge_problem = {e: m for e, m in edge_problems.items() if e in self._edges}

    # ----- lookup and selection ----------------------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem | None:
        return self._nodes.get(node_id)

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        return self._edges.get(edge)

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edges.values())

    def selected_node_ids(self) -> list[str]:
        sel = {it.node_id for it in self.selectedItems() if isinstance(it, NodeItem)}
        return [nid for nid in self.graph.nodes if nid in sel]

    def selected_edges(self) -> list[Edge]:
        return sorted(it.edge for it in self.selectedItems() if isinstance(it, EdgeItem))

    def select_nodes(self, ids) -> None:
        self._selection_blocked = True
        self.clearSelection()
        for nid in ids:
            item = self._nodes.get(nid)
            if item is not None:
                item.setSelected(True)
        self._selection_blocked = False
        self._emit_selection()

    def select_all(self) -> None:
        self.select_nodes(list(self._nodes))

    def _emit_selection(self) -> None:
        if not self._selection_blocked:
            self.selection_changed_ids.emit(self.selected_node_ids())

    def edge_at(self, scene_pos: QPointF) -> Edge | None:
        for it in self.items(scene_pos):
            if isinstance(it, EdgeItem):
                return it.edge
            if isinstance(it, NodeItem):
                return None
        return None

    def nodes_bounding_rect(self) -> QRectF:
        rect = QRectF()
        for item in self._nodes.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    # ----- pushing commands --------------------------------------------------------------------------
    def push(self, command) -> str | None:
        why = cmds.push(self.doc, command)
        if why:
            self.status_message.emit(why)
        return why

    def snap(self, x: float, y: float) -> tuple[float, float]:
        if self.snap_to_grid:
            g = self.grid_size
            x, y = round(x / g) * g, round(y / g) * g
        return (x, y)

    def _drop_position(self, scene_pos: QPointF) -> tuple[float, float]:
        """Where a new card goes for a drop at ``scene_pos``: centred under it, or the nearest free place."""
        x, y = self.snap(scene_pos.x() - WIDTH / 2, scene_pos.y() - HEADER / 2)
        dx, dy = free_offset(self, QRectF(x, y, WIDTH, BASE_HEIGHT), self.visible_rect())
        return (x + dx, y + dy)

    def visible_rect(self) -> QRectF | None:
        """The part of the scene the user is looking at (None without a view)."""
        views = self.views()
        if not views:
            return None
        v = views[0]
        return v.mapToScene(v.viewport().rect()).boundingRect()

    def reveal_nodes(self, ids) -> None:
        """Scroll the view, if needed, so the cards ``ids`` are on screen."""
        rect = QRectF()
        for nid in ids:
            item = self._nodes.get(nid)
            if item is not None:
                rect = rect.united(item.sceneBoundingRect())
        views = self.views()
        if views and not rect.isNull():
            views[0].ensureVisible(rect, 40, 40)

    def add_node_at(self, class_name: str, scene_pos: QPointF) -> str | None:
        """Add a layer with a starter config centred under ``scene_pos`` (or at the nearest place free of
        other cards); returns its id (None if refused)."""
        command = cmds.AddNodeCommand(self.doc, class_name, starter_config(class_name), self._drop_position(scene_pos))
        if self.push(command):
            return None
        self.select_nodes([command.node_id])
        self.reveal_nodes([command.node_id])
        return command.node_id

    def insert_on_edge(self, class_name: str, edge: Edge, scene_pos: QPointF) -> str | None:
        command = cmds.InsertOnEdgeCommand(self.doc, edge, class_name, starter_config(class_name),
                                           self._drop_position(scene_pos))
        if self.push(command):
            return None
        self.select_nodes([command.node_id])
        self.reveal_nodes([command.node_id])
        return command.node_id

    def drop_layer(self, class_name: str, scene_pos: QPointF) -> str | None:
        """Palette drop: on a wire the layer is inserted there, elsewhere it is just added."""
        edge = self.edge_at(scene_pos)
        if edge is not None and layer_class(class_name).max_inputs != 0:
            return self.insert_on_edge(class_name, edge, scene_pos)
        return self.add_node_at(class_name, scene_pos)

    def _delete_command(self, reconnect: bool = False):
        ids = self.selected_node_ids()
        edges = [e for e in self.selected_edges() if e.source not in ids and e.target not in ids]
        if reconnect and len(ids) == 1 and not edges and cmds.can_reconnect_around(self.graph, ids[0]):
            return cmds.ReconnectAroundCommand(self.doc, ids[0])
        parts = [cmds.DisconnectCommand(self.doc, e) for e in edges]
        if ids:
            parts.append(cmds.RemoveNodesCommand(self.doc, ids))
        if len(parts) == 1:
            return parts[0]
        return cmds.CompositeCommand(self.doc, f"Delete {len(ids)} layers and {len(edges)} connections", parts)

    def delete_selection(self, reconnect: bool = False) -> str | None:
        return self.push(self._delete_command(reconnect))

    def can_reconnect_selection(self) -> bool:
        ids = self.selected_node_ids()
        return len(ids) == 1 and not self.selected_edges() and cmds.can_reconnect_around(self.graph, ids[0])

    def nudge(self, dx: float, dy: float) -> str | None:
        moves = {}
        for nid in self.selected_node_ids():
            x, y = self.graph.node(nid).position
            moves[nid] = ((x, y), (x + dx, y + dy))
        if not moves:
            return None
        return self.push(cmds.MoveNodesCommand(self.doc, moves, nudge=True))

    def auto_layout(self) -> str | None:
        heights = {nid: item.height for nid, item in self._nodes.items()}
        return self.push(cmds.AutoLayoutCommand(self.doc, layered_positions(self.graph, heights=heights)))

    # ----- clipboard ---------------------------------------------------------------------------------
    def copy_selection(self) -> str:
        """Put the selection (with the edges among it) on the clipboard as JSON; returns the text."""
        ids = self.selected_node_ids()
        if not ids:
            return ""
        data = {"format": CLIPBOARD_FORMAT, **self.graph.to_dict(ids)}
        text = json.dumps(data, indent=1)
        mime = QMimeData()
        mime.setText(text)
        mime.setData(CLIPBOARD_MIME, text.encode("utf-8"))
        QApplication.clipboard().setMimeData(mime)
        return text

    def paste_from_clipboard(self) -> str | None:
        mime = QApplication.clipboard().mimeData()
        if mime is None:
            return self.push(cmds.PasteCommand(self.doc, {}))
        if mime.hasFormat(CLIPBOARD_MIME):
            text = bytes(mime.data(CLIPBOARD_MIME)).decode("utf-8")
        else:
            text = mime.text()
        return self.paste_text(text)

    def paste_text(self, text: str) -> str | None:
        """Paste clipboard JSON; repeated pastes of the same text step further down-right."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            data = None
        if not isinstance(data, dict) or data.get("format") not in (CLIPBOARD_FORMAT, "layergraph"):
            why = "the clipboard does not hold layergraph layers"
            self.status_message.emit(why)
            return why
        count = self._last_paste[1] + 1 if self._last_paste and self._last_paste[0] == text else 1
        command = cmds.PasteCommand(self.doc, data, paste_offset(self, data, PASTE_STEP * count))
        why = self.push(command)
        if not why:
            self._last_paste = (text, count)
            self.select_nodes(command.node_ids)
            self.reveal_nodes(command.node_ids)
        return why

    def cut(self) -> str | None:
        if not self.copy_selection():
            return None
        command = self._delete_command()
        command.setText("Cut " + command.text().removeprefix("Delete "))
        return self.push(command)

    def duplicate(self) -> str | None:
        ids = self.selected_node_ids()
        if not ids:
            return None
        data = self.graph.to_dict(ids)
        command = cmds.PasteCommand(self.doc, data, paste_offset(self, data, PASTE_STEP))
        command.setText(command.text().replace("Paste", "Duplicate", 1))
        why = self.push(command)
        if not why:
            self.select_nodes(command.node_ids)
            self.reveal_nodes(command.node_ids)
        return why

    # ----- live decorations (training run panel) -----------------------------------------------------
    def set_node_badge(self, node_id: str, text: str | None) -> None:
        item = self._nodes.get(node_id)
        if item is not None:
            item.set_badge(text)

    def highlight_node(self, node_id: str, message: str | None) -> None:
        """Red outline with ``message`` in the tooltip (None clears it)."""
        item = self._nodes.get(node_id)
        if item is not None:
            item.set_highlight(message)

    def clear_decorations(self) -> None:
        for item in self._nodes.values():
            item.set_badge(None)
            if item.highlight:
                item.set_highlight(None)

    def set_canvas_theme(self, dark: bool) -> None:
        self.colors = DARK if dark else LIGHT
        self.setBackgroundBrush(QColor(self.colors["background"]))
        self.overview.invalidate()
        self.update()

    # ----- wiring by drag ----------------------------------------------------------------------------
    def begin_wire(self, port: PortItem) -> None:
        if self.doc.locked_reason:
            self.status_message.emit(self.doc.locked_reason)
            return
        self._reroute = None
        anchor = port
        if port.kind == "in" and port.connected:
            edge = next((e for e in self.graph.in_edges(port.node_id) if e.index == port.index), None)
            if edge is not None:
                self._reroute = edge
                anchor = self._nodes[edge.source].out_port
                self._edges[edge].setVisible(False)
        self._wire = DragEdgeItem(anchor, self.colors)
        self.addItem(self._wire)
        self.drag_wire(port.scenePos())

    def _candidate(self, pos: QPointF) -> PortItem | None:
        anchor = self._wire.anchor
        want = "in" if anchor.kind == "out" else "out"
        best, best_d = None, 1e9
        for it in self.items(QRectF(pos.x() - 12, pos.y() - 12, 24, 24)):
            if isinstance(it, PortItem) and it.kind == want and it.node_item is not anchor.node_item:
                d = (it.scenePos() - pos).manhattanLength()
                if d < best_d:
                    best, best_d = it, d
        if best is not None:
            return best
        for it in self.items(pos):
            if isinstance(it, NodeItem) and it is not anchor.node_item:
                return it.free_input_port() if want == "in" else it.out_port
        return None

    def _check_wire(self, cand: PortItem | None) -> tuple[bool | None, str]:
        if cand is None:
            return None, ""
        anchor = self._wire.anchor
        if anchor.kind == "out":
            source, target, index = anchor.node_id, cand.node_id, cand.index
        else:
            source, target, index = cand.node_id, anchor.node_id, anchor.index
        if self._reroute is not None and Edge(source, target, index) == self._reroute:
            return True, ""
        return self.graph.can_connect(source, target, index)

    def drag_wire(self, scene_pos: QPointF) -> None:
        if self._wire is None:
            return
        cand = self._candidate(scene_pos)
        ok, reason = self._check_wire(cand)
        self._wire.set_end(scene_pos, cand, ok, reason)
        views = self.views()
        if views and reason:
            v = views[0]
            QToolTip.showText(v.viewport().mapToGlobal(v.mapFromScene(scene_pos)), reason, v.viewport())
        elif views:
            QToolTip.hideText()

    def end_wire(self, scene_pos: QPointF) -> str | None:
        if self._wire is None:
            return None
        self.drag_wire(scene_pos)
        wire, self._wire = self._wire, None
        reroute, self._reroute = self._reroute, None
        cand, ok, reason = wire.target, wire.ok, wire.reason
        wire.clear_target()
        self.removeItem(wire)
        QToolTip.hideText()
        if reroute is not None and reroute in self._edges:
            self._edges[reroute].setVisible(True)
        if cand is None:
            return self._drop_wire(reroute) if reroute is not None else None
        if not ok:
            self.status_message.emit(reason)
            return reason
        a = wire.anchor
        src, tgt, idx = (a.node_id, cand.node_id, cand.index) if a.kind == "out" else \
            (cand.node_id, a.node_id, a.index)
        if reroute is None:
            return self.push(cmds.ConnectCommand(self.doc, src, tgt, idx))
        if Edge(src, tgt, idx) == reroute:
            return None
        connect = cmds.ConnectCommand(self.doc, src, tgt, idx)
        return self.push(cmds.CompositeCommand(self.doc, connect.text().replace("Connect", "Reconnect", 1),
                                               [cmds.DisconnectCommand(self.doc, reroute), connect]))

    def _drop_wire(self, edge: Edge) -> str | None:
        """A wire's end dragged off its input onto empty canvas: disconnect it, and say so."""
        command = cmds.DisconnectCommand(self.doc, edge)
        why = self.push(command)
        if not why:
            self.status_message.emit(f"{command.text()} (the wire was dropped on empty canvas; Undo brings it back)")
        return why

    @property
    def wire(self) -> DragEdgeItem | None:
        return self._wire

    # ----- node drags: one MoveNodesCommand per drag ---------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802
        super().mousePressEvent(event)
        if event.button() == Qt.LeftButton and isinstance(self.mouseGrabberItem(), NodeItem):
            self.dragging_nodes = True

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        super().mouseReleaseEvent(event)
        if self.dragging_nodes and event.button() == Qt.LeftButton:
            self.dragging_nodes = False
            self._commit_moves()

    def _commit_moves(self) -> None:
        moves = {}
        for nid, item in self._nodes.items():
            old = self.graph.node(nid).position
            new = (item.pos().x(), item.pos().y())
            if new != old:
                moves[nid] = (old, new)
        if moves and self.push(cmds.MoveNodesCommand(self.doc, moves)):
            for nid in moves:
                self._on_node_moved(nid)
