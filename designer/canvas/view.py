"""``GraphView``: zoom, pan, rubber-band selection, palette drops and canvas keys over a ``GraphScene``."""
from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QGraphicsView, QMenu, QMessageBox

from designer.canvas.edge_item import EdgeItem
from designer.canvas.legibility import READABLE_ZOOM
from designer.canvas.minimap import MiniMap
from designer.canvas.node_item import NodeItem
from designer.canvas.overview import OVERVIEW_LOD
from designer.canvas.port_item import PortItem
from designer.canvas.quick_add import QuickAddPopup

LAYER_MIME = "application/x-layergraph-layer"
MIN_ZOOM, MAX_ZOOM = 0.02, 4.0
FIT_MAX_ZOOM = 1.0   # fitting never magnifies: small graphs show at their real size
FIT_MARGIN = 32      # viewport pixels left free around the graph by fit-to-view
EMPTY_HINT = "Drag a layer from the palette, or press Tab to search"


class GraphView(QGraphicsView):
    def __init__(self, scene, parent=None) -> None:
        super().__init__(scene, parent)
        self.reconnect_policy = "ask"  # "ask" | "always" | "never": deleting a 1-in node with consumers
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.DontSavePainterState)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.NoAnchor)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self._pan_from: QPointF | None = None
        self._space = False
        self._drop_edge: EdgeItem | None = None
        self.quick_add = QuickAddPopup(self)
        self._quick_add_pos = QPointF()
        self.quick_add.chosen.connect(lambda name: self.scene().add_node_at(name, self._quick_add_pos))
        self._hint_shown = bool(self.hint_text())
        doc = scene.doc
        for signal in (doc.node_added, doc.node_removed, doc.reset):
            signal.connect(self._refresh_hint)
        self.minimap = MiniMap(self)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.valueChanged.connect(self.minimap.sync)
            bar.rangeChanged.connect(self.minimap.sync)
        for signal in (doc.node_added, doc.node_removed, doc.node_moved, doc.reset):
            signal.connect(self.minimap.redraw)

    # ----- properties --------------------------------------------------------------------------------
    @property
    def snap_to_grid(self) -> bool:
        return self.scene().snap_to_grid

    @snap_to_grid.setter
    def snap_to_grid(self, on: bool) -> None:
        self.scene().snap_to_grid = bool(on)

    def zoom(self) -> float:
        return self.transform().m11()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.minimap.sync()

    # ----- zoom and pan -------------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:  # noqa: N802
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            return
        factor = math.pow(1.0015, delta)
        z = self.zoom()
        factor = max(MIN_ZOOM / z, min(MAX_ZOOM / z, factor))
        pos = event.position().toPoint()
        before = self.mapToScene(pos)
        self.scale(factor, factor)
        # Keep the scene point under the cursor fixed (AnchorUnderMouse needs a real cursor over the view).
        shift = (self.mapToScene(pos) - before) * self.zoom()
        self._pan_by(shift)
        event.accept()

    def fit_to_view(self, max_zoom: float = FIT_MAX_ZOOM) -> None:
        """Show every node with ``FIT_MARGIN`` pixels around them, never zoomed in beyond 100 %
        (or ``max_zoom``: the compare window shows two graphs at one zoom).

        Never zoomed out so far that the cards' text would not read (``READABLE_ZOOM``): a graph
        too large for that is shown from its inputs (top left), and the wheel zooms out for the rest.
        """
        rect = self.scene().nodes_bounding_rect()
        if rect.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
            return
        vp = self.viewport().rect()
        room_w, room_h = max(vp.width() - 2 * FIT_MARGIN, 1), max(vp.height() - 2 * FIT_MARGIN, 1)
        z = min(room_w / max(rect.width(), 1.0), room_h / max(rect.height(), 1.0))
        z = max(READABLE_ZOOM, min(max_zoom, z))
        self.resetTransform()
        self.scale(z, z)
        self.centerOn(self._fit_centre(rect, z))

    def _fit_centre(self, rect: QRectF, z: float) -> QPointF:
        """Where fit-to-view centres: the graph's middle when it fits, else its inputs' corner."""
        vp = self.viewport().rect()
        half_w, half_h, margin = vp.width() / z / 2, vp.height() / z / 2, FIT_MARGIN / z
        x, y = rect.center().x(), rect.center().y()
        if rect.width() + 2 * margin > 2 * half_w:
            x = rect.left() - margin + half_w
        if rect.height() + 2 * margin > 2 * half_h:
            sc = self.scene()
            inputs = [sc.node_item(n) for n in sc.graph.input_nodes()] or sc.node_items()
            y = min(r.center().y() for r in (it.sceneBoundingRect() for it in inputs if it is not None))
            y = max(y, rect.top() - margin + half_h)  # never show empty room above the graph
        return QPointF(x, y)

    def auto_layout(self) -> str | None:
        """Arrange the graph left to right, then show all of it."""
        why = self.scene().auto_layout()
        if not why:
            self.fit_to_view()
        return why

    def _pan_by(self, delta: QPointF) -> None:
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - round(delta.x()))
        v.setValue(v.value() - round(delta.y()))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MiddleButton or (event.button() == Qt.LeftButton and self._space):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            pos = event.position()
            self._pan_by(pos - self._pan_from)
            self._pan_from = pos
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None and event.button() in (Qt.MiddleButton, Qt.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.OpenHandCursor if self._space else Qt.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        item = self.itemAt(event.position().toPoint())
        if isinstance(item, NodeItem) and item.composite and event.button() == Qt.LeftButton:
            self.scene().open_group_requested.emit(item.node_id)
            event.accept()
            return
        if item is None and event.button() == Qt.LeftButton:
            self.open_quick_add(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def open_quick_add(self, scene_pos: QPointF | None = None) -> QuickAddPopup:
        if scene_pos is None:
            local = self.viewport().mapFromGlobal(QCursor.pos())
            if not self.viewport().rect().contains(local):
                local = self.viewport().rect().center()
            scene_pos = self.mapToScene(local)
        self._quick_add_pos = QPointF(scene_pos)
        self.quick_add.popup_at(self.viewport().mapToGlobal(self.mapFromScene(scene_pos)))
        return self.quick_add

    # ----- context menu ---------------------------------------------------------------------------------
    def contextMenuEvent(self, event) -> None:  # noqa: N802
        menu = self.context_menu(self.mapToScene(event.pos()))
        if menu is not None:
            menu.popup(event.globalPos())
        event.accept()

    def context_menu(self, scene_pos: QPointF) -> QMenu | None:
        """The menu for a right-click at ``scene_pos``: a card there joins (or becomes) the selection."""
        sc = self.scene()
        card = next((it for it in sc.items(scene_pos) if isinstance(it, NodeItem)), None)
        if card is not None and not card.isSelected():
            sc.select_nodes([card.node_id])
        menu = QMenu(self)
        if card is not None and card.composite:
            nid = card.node_id
            menu.addAction("Open group", lambda: sc.open_group_requested.emit(nid))
            menu.addAction("Expand in place", lambda: sc.expand_group(nid))
            menu.addAction("Ungroup\tCtrl+Shift+G", lambda: sc.ungroup(nid))
        if sc.selected_node_ids():
            menu.addAction("Make group\tCtrl+G", sc.make_group)
        key = sc.frame_at(scene_pos)
        if key is not None:
            menu.addAction(f"Collapse '{sc.doc.group_frames[key].name}'", lambda: sc.collapse_frame(key))
        if sc.selected_node_ids():
            menu.addSeparator()
            menu.addAction("Duplicate", sc.duplicate)
            menu.addAction("Delete", self.delete_selected)
        self._menu = menu  # kept alive while it shows
        return menu if menu.actions() else None

    # ----- keys ---------------------------------------------------------------------------------------
    def event(self, event) -> bool:
        # Tab would move focus to the next widget; on the canvas it opens quick-add instead.
        if event.type() == event.Type.KeyPress and event.key() == Qt.Key_Tab:
            self.open_quick_add()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        sc = self.scene()
        if key == Qt.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.OpenHandCursor)
        elif key in (Qt.Key_Delete, Qt.Key_Backspace):
            self.delete_selected()
        elif key == Qt.Key_F and not event.modifiers():
            self.fit_to_view()
        elif event.matches(QKeySequence.SelectAll):
            sc.select_all()
        elif key in (Qt.Key_Left, Qt.Key_Right, Qt.Key_Up, Qt.Key_Down) and sc.selected_node_ids():
            step = sc.grid_size if event.modifiers() & Qt.ShiftModifier else 1
            dx = {Qt.Key_Left: -step, Qt.Key_Right: step}.get(key, 0)
            dy = {Qt.Key_Up: -step, Qt.Key_Down: step}.get(key, 0)
            sc.nudge(dx, dy)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.viewport().setCursor(Qt.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def delete_selected(self) -> str | None:
        """Delete the selection; for one node with one input and consumers, maybe bridge around it."""
        sc = self.scene()
        if sc.doc.locked_reason:  # refuse before asking anything
            sc.status_message.emit(sc.doc.locked_reason)
            return sc.doc.locked_reason
        reconnect = False
        if sc.can_reconnect_selection():
            reconnect = self.reconnect_policy == "always"
            if self.reconnect_policy == "ask":
                name = sc.graph.node(sc.selected_node_ids()[0]).name
                answer = QMessageBox.question(
                    self, "Delete layer",
                    f"Reconnect the input of '{name}' to the layers it feeds after deleting it?",
                    QMessageBox.Yes | QMessageBox.No | QMessageBox.Cancel, QMessageBox.Yes)
                if answer == QMessageBox.Cancel:
                    return None
                reconnect = answer == QMessageBox.Yes
        return sc.delete_selection(reconnect=reconnect)

    # ----- drops from the palette -----------------------------------------------------------------------
    def _set_drop_edge(self, item: EdgeItem | None) -> None:
        if self._drop_edge is not None and self._drop_edge is not item:
            self._drop_edge.set_drop_target(False)
        self._drop_edge = item
        if item is not None:
            item.set_drop_target(True)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if not event.mimeData().hasFormat(LAYER_MIME):
            event.ignore()
            return
        edge = self.scene().edge_at(self.mapToScene(event.position().toPoint()))
        self._set_drop_edge(self.scene().edge_item(edge) if edge is not None else None)
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._set_drop_edge(None)

    def dropEvent(self, event) -> None:  # noqa: N802
        self._set_drop_edge(None)
        md = event.mimeData()
        if not md.hasFormat(LAYER_MIME):
            event.ignore()
            return
        name = bytes(md.data(LAYER_MIME)).decode("utf-8")
        self.scene().drop_layer(name, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()
        self.setFocus()

    # ----- the hint on an empty canvas -------------------------------------------------------------------
    def hint_text(self) -> str:
        """The sentence drawn in the middle of an empty canvas ("" once it has a layer)."""
        return EMPTY_HINT if len(self.scene().graph) == 0 else ""

    def _refresh_hint(self, *_args) -> None:
        shown = bool(self.hint_text())
        if shown != self._hint_shown:
            self._hint_shown = shown
            self.viewport().update()

    def drawForeground(self, painter, rect: QRectF) -> None:  # noqa: N802
        super().drawForeground(painter, rect)
        text = self.hint_text()
        if not text:
            return
        painter.save()
        painter.resetTransform()  # draw in viewport pixels, whatever the zoom
        font = painter.font()
        font.setPointSizeF(13.0)
        painter.setFont(font)
        painter.setPen(QColor(self.scene().colors["muted"]))
        painter.drawText(QRectF(self.viewport().rect()).adjusted(24, 24, -24, -24),
                         Qt.AlignCenter | Qt.TextWordWrap, text)
        painter.restore()

    # ----- background grid ------------------------------------------------------------------------------
    def drawBackground(self, painter, rect: QRectF) -> None:  # noqa: N802
        super().drawBackground(painter, rect)
        sc = self.scene()
        lod = self.zoom()
        g = sc.grid_size
        while g * lod < 8:  # keep grid lines at least 8 px apart at any zoom
            g *= 5
        colors = sc.colors
        left, top = math.floor(rect.left() / g) * g, math.floor(rect.top() / g) * g
        minor, major = [], []
        x = left
        while x < rect.right():
            (major if round(x / g) % 5 == 0 else minor).append(QLineF(x, rect.top(), x, rect.bottom()))
            x += g
        y = top
        while y < rect.bottom():
            (major if round(y / g) % 5 == 0 else minor).append(QLineF(rect.left(), y, rect.right(), y))
            y += g
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing, False)  # axis-parallel hairlines: ~10× cheaper without
        painter.setPen(QPen(QColor(colors["grid"]), 0))
        painter.drawLines(minor)
        painter.setPen(QPen(QColor(colors["grid_major"]), 0))
        painter.drawLines(major)
        painter.restore()
        # Zoomed out, the cards and wires are drawn here in a few batches instead of item by item.
        sc.overview.set_active(lod + 1e-6 < OVERVIEW_LOD)  # (Fit may land exactly on it: cards with text)
        if sc.overview.active:
            sc.overview.paint(painter, rect)


def item_kind(item) -> str:
    """What a hit-tested item is, for tests and tooltips: node, port, edge or empty."""
    if isinstance(item, PortItem):
        return "port"
    if isinstance(item, NodeItem):
        return "node"
    if isinstance(item, EdgeItem):
        return "edge"
    return "empty"
