"""``PortItem``: an input or output socket on a node; pressing it starts a wire drag."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer.canvas import overview
from designer.canvas.colors import HoverHighlight

RADIUS = 6.0


class PortItem(HoverHighlight, QGraphicsItem):
    """A child of ``NodeItem``; ``kind`` is ``"in"`` or ``"out"``, ``index`` the input number."""

    def __init__(self, node_item, kind: str, index: int = 0) -> None:
        super().__init__(node_item)
        self.node_item = node_item
        self.kind = kind
        self.index = index
        self.connected = False
        self.hovered = False
        self.drop_state: str | None = None  # None | "ok" | "bad" while a wire is dragged over it
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor)
        self.setZValue(2)

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:  # noqa: N802
        r = RADIUS + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        r = RADIUS + 4  # a little larger than drawn: easy to grab
        p.addEllipse(QRectF(-r, -r, 2 * r, 2 * r))
        return p

    def paint(self, painter, option, widget=None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if self.drop_state is None and lod < overview.OVERVIEW_LOD:
            return  # too small to see or grab when zoomed out
        c = self.node_item.colors
        border = QColor(c["port_border"])
        fill = QColor(c["port"])
        r = RADIUS
        if self.drop_state == "ok":
            border = fill = QColor(c["ok"])
            r += 2
        elif self.drop_state == "bad":
            border = fill = QColor(c["error"])
            r += 2
        elif self.hovered:
            border = QColor(c["selected"])
            r += 1.5
        if self.connected and self.drop_state is None:
            fill = border
        painter.setPen(QPen(border, 2))
        painter.setBrush(QBrush(fill))
        painter.drawEllipse(QRectF(-r, -r, 2 * r, 2 * r))

    def set_drop_state(self, state: str | None) -> None:
        if state != self.drop_state:
            self.drop_state = state
            overview.adopt(self)  # in overview mode a lit port paints itself over the batched cards
            self.update()

    def set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self.update()

    # ----- interaction: the scene owns the wire drag ----------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.LeftButton and self.scene() is not None:
            self.scene().begin_wire(self)
            event.accept()
            return
        event.ignore()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self.scene() is not None:
            self.scene().drag_wire(event.scenePos())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self.scene() is not None:
            self.scene().end_wire(event.scenePos())
