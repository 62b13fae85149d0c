"""``GroupFrameItem``: the framed backdrop behind the layers of a group expanded in place.

It shows the group's name and a collapse button, and follows its layers' cards (the scene calls
``refit`` when they move, appear or go).  Like every canvas item it keeps no document state: the
frame itself lives in ``GraphDocument.group_frames`` and changes only through undo commands.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer.canvas.colors import LIGHT

MARGIN = 18.0
TITLE = 40.0  # room for the title at the largest size it is drawn at
BUTTON_WIDTH = 120.0
SCREEN_PX = 12.0  # the title's size on screen when zoomed out (within MIN_PX..MAX_PX scene pixels)
MIN_PX, MAX_PX = 14, 28


class GroupFrameItem(QGraphicsItem):
    def __init__(self, key: str, name: str) -> None:
        super().__init__()
        self.key = key
        self.name = name
        self.rect = QRectF()
        self.setZValue(-2)  # behind wires and cards
        self.setToolTip(f"The layers of group '{name}', expanded in place; Collapse turns them back into "
                        "one group node.")

    def refit(self, cards: list[QRectF]) -> None:
        """Surround ``cards`` (scene rectangles of the group's cards)."""
        rect = QRectF()
        for r in cards:
            rect = rect.united(r)
        if not rect.isNull():
            rect = rect.adjusted(-MARGIN, -MARGIN - TITLE, MARGIN, MARGIN)
        if rect != self.rect:
            self.prepareGeometryChange()
            self.rect = rect

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(self.rect)

    def collapse_button(self) -> QRectF:
        r = self.rect
        return QRectF(r.right() - BUTTON_WIDTH - 6, r.top() + 5, BUTTON_WIDTH, TITLE - 10)

    def paint(self, painter, option, widget=None) -> None:
        if self.rect.isNull():
            return
        c = getattr(self.scene(), "colors", LIGHT)
        fill = QColor(c["selected"])
        fill.setAlpha(18)
        painter.setBrush(fill)
        pen = QPen(QColor(c["selected"]), 1.5, Qt.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(self.rect, 10, 10)
        lod = option.levelOfDetailFromTransform(painter.worldTransform()) or 1.0
        px = int(min(MAX_PX, max(MIN_PX, SCREEN_PX / lod)))  # readable when zoomed out, as cards are
        font = QFont()
        font.setPixelSize(px)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(c["text"]))
        title = QRectF(self.rect.left() + 10, self.rect.top(), self.rect.width() - BUTTON_WIDTH - 24, TITLE)
        painter.drawText(title, Qt.AlignVCenter | Qt.AlignLeft, f"▣ {self.name}")
        button = self.collapse_button()
        painter.setPen(QPen(QColor(c["selected"]), 1.2))
        painter.setBrush(QColor(c["node"]))
        painter.drawRoundedRect(button, 4, 4)
        font.setPixelSize(min(px, 22))
        font.setBold(False)
        painter.setFont(font)
        painter.drawText(button, Qt.AlignCenter, "Collapse")

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.LeftButton and self.collapse_button().contains(event.pos()):
            event.accept()
            self.scene().collapse_frame(self.key)
            return
        event.ignore()
