"""``MiniMap``: the whole graph in a corner of the canvas when the view shows only part of it.

Fit never zooms out past readable text, so a large graph (an imported ResNet50 or NASNetMobile) opens
showing its inputs; the map shows where that is in the whole graph (cards as coloured boxes, the view
as a frame) and a click or drag on it moves the view there.  It is hidden whenever the view already
shows every card.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

SIDE = 180  # the map's longer side, in pixels
MARGIN = 10  # from the canvas's bottom-right corner


class MiniMap(QWidget):
    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("The whole graph: click or drag to move the view")
        self._shown = QRectF()
        self._graph: QRectF | None = None  # the cards' bounds, kept until the graph changes
        self.hide()

    def graph_rect(self) -> QRectF:
        if self._graph is None:
            sc = self.view.scene()
            self._graph = QRectF() if sc is None else sc.nodes_bounding_rect()  # (no scene while closing)
        return self._graph

    def sync(self) -> None:
        """Show, place and redraw the map when the view shows only part of the graph; else hide it."""
        rect = self.graph_rect()
        shown = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        need = not rect.isNull() and not shown.contains(rect)
        if need:
            scale = SIDE / max(rect.width(), rect.height())
            w, h = max(40, round(rect.width() * scale)), max(40, round(rect.height() * scale))
            vp = self.view.viewport().geometry()
            self.setGeometry(vp.right() - w - MARGIN, vp.bottom() - h - MARGIN, w, h)
            if shown != self._shown:
                self._shown = shown
                self.update()
        if need != self.isVisible():
            self.setVisible(need)

    def redraw(self, *_args) -> None:
        """After the graph changed (a card added, removed or moved, a new document)."""
        self._shown, self._graph = QRectF(), None
        self.sync()

    def _transform(self) -> tuple[QRectF, float]:
        rect = self.graph_rect()
        return rect, min(self.width() / max(rect.width(), 1.0), self.height() / max(rect.height(), 1.0))

    def paintEvent(self, event) -> None:  # noqa: N802
        rect, s = self._transform()
        sc = self.view.scene()
        if sc is None or rect.isNull():
            return
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(sc.colors["background"]))
        p.setPen(Qt.NoPen)
        for node in sc.node_items():
            r = node.card_rect().translated(node.x(), node.y())
            p.setBrush(QColor(node.title_color))
            p.drawRect(QRectF((r.left() - rect.left()) * s, (r.top() - rect.top()) * s,
                              max(r.width() * s, 1.5), max(r.height() * s, 1.5)))
        p.setBrush(Qt.NoBrush)
        p.setPen(QPen(QColor(40, 110, 220), 2))
        v = self._shown
        p.drawRect(QRectF((v.left() - rect.left()) * s, (v.top() - rect.top()) * s, v.width() * s, v.height() * s)
                   .intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        p.setPen(QPen(QColor(120, 120, 120), 1))
        p.drawRect(QRectF(self.rect()).adjusted(0, 0, -1, -1))
        p.end()

    def scene_point(self, pos: QPointF) -> QPointF:
        rect, s = self._transform()
        return QPointF(rect.left() + pos.x() / s, rect.top() + pos.y() / s)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.view.centerOn(self.scene_point(event.position()))
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if event.buttons() & Qt.LeftButton:
            self.view.centerOn(self.scene_point(event.position()))
        event.accept()
