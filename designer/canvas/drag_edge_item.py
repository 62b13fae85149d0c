"""``DragEdgeItem``: the live wire that follows the cursor while the user connects two ports.

It is anchored at a fixed port (an output, or an input when wiring backwards or re-routing) and
ends at the cursor or at the candidate port, coloured green when ``LayerGraph.can_connect``
allows the connection and red otherwise (``reason`` holds the engine's sentence).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer.canvas.edge_item import bezier


class DragEdgeItem(QGraphicsItem):
    def __init__(self, anchor, colors: dict[str, str]) -> None:
        super().__init__()
        self.anchor = anchor          # PortItem the wire starts from
        self.colors = colors
        self.end = anchor.scenePos()
        self.target = None            # PortItem under the cursor, if any
        self.ok: bool | None = None   # None: no candidate
        self.reason = ""
        self._path = QPainterPath()
        self.setZValue(10)
        self.setAcceptedMouseButtons(Qt.NoButton)
        self._rebuild()

    def set_end(self, pos: QPointF, target=None, ok: bool | None = None, reason: str = "") -> None:
        if self.target is not None and self.target is not target:
            self.target.set_drop_state(None)
        self.target, self.ok, self.reason = target, ok, reason
        if target is not None:
            target.set_drop_state("ok" if ok else "bad")
            pos = target.scenePos()
        self.end = QPointF(pos)
        self._rebuild()

    def clear_target(self) -> None:
        if self.target is not None:
            self.target.set_drop_state(None)

    def _rebuild(self) -> None:
        self.prepareGeometryChange()
        a = self.anchor.scenePos()
        if self.anchor.kind == "out":
            self._path = bezier(a, self.end)
        else:
            self._path = bezier(self.end, a)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._path.boundingRect().adjusted(-4, -4, 4, 4)

    def paint(self, painter, option, widget=None) -> None:
        if self.ok is None:
            color = QColor(self.colors["selected"])
        else:
            color = QColor(self.colors["ok" if self.ok else "error"])
        pen = QPen(color, 2.5, Qt.DashLine if not self.ok else Qt.SolidLine, Qt.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path)
