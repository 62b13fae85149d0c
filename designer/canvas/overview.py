"""``Overview``: the zoomed-out canvas drawn in a handful of batched painter calls.

Below ``OVERVIEW_LOD`` a card is a flat rectangle with a coloured title band and a wire is a thin
curve, so painting 1,000 cards and 1,200 wires one item at a time (a Python ``paint`` call each,
plus the ports') costs far more than the pixels.  In overview mode every node, port and wire item
is flagged ``ItemHasNoContents``: it still takes hover, clicks, drags and rubber-band selection,
but Qt no longer paints it.  The view instead asks the ``Overview`` to draw all of them from a
cache of rectangle lists and merged paths grouped by colour and pen, rebuilt only after something
changed (items call ``touch``).  The picture is the one the items themselves draw at that zoom.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer.canvas.legibility import READABLE_ZOOM

#: Below this zoom the canvas is drawn in batches (ports are not drawn below it either): where the
#: cards' text no longer reads, so the items would draw nothing the batches do not.
OVERVIEW_LOD = READABLE_ZOOM
_NO_CONTENTS = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents


def touch(item) -> None:
    """Tell the item's scene that something it draws changed (geometry, colour, visibility)."""
    sc = item.scene()
    overview = getattr(sc, "overview", None)
    if overview is not None:
        overview.invalidate()


def pen_key(pen: QPen) -> tuple:
    return (pen.color().rgba(), pen.widthF(), int(pen.style().value), int(pen.capStyle().value))


class Overview:
    """Batched drawing of a ``GraphScene``'s cards and wires, and the switch in and out of it."""

    def __init__(self, scene) -> None:
        self.scene = scene
        self.active = False
        self._batches: tuple | None = None

    # ----- mode ----------------------------------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """Enter or leave overview mode: items stop (or resume) painting themselves."""
        if on == self.active:
            return
        self.active = on
        self._batches = None
        for node in self.scene.node_items():
            self.adopt(node)
            for port in (*node.in_ports, node.out_port):
                self.adopt(port)
        for edge in self.scene.edge_items():
            self.adopt(edge)

    def adopt(self, item) -> None:
        """Give a (new) item the painting mode of the scene; a port lit by a wire drag paints itself."""
        no_contents = self.active and getattr(item, "drop_state", None) is None
        if bool(item.flags() & _NO_CONTENTS) != no_contents:
            item.setFlag(_NO_CONTENTS, no_contents)

    def invalidate(self) -> None:
        self._batches = None
        if self.active:
            self.scene.update()

    # ----- drawing -------------------------------------------------------------------------------------
    def paint(self, painter, rect: QRectF) -> None:
        if self._batches is None:
            self._batches = self._build()
        wires, cards, bands, borders = self._batches
        painter.setBrush(Qt.NoBrush)
        for pen, path in wires:
            painter.setPen(pen)
            painter.drawPath(path)
        painter.setPen(Qt.NoPen)
        for color, rects in (*cards, *bands):
            painter.setBrush(color)
            painter.drawRects(rects)
        painter.setBrush(Qt.NoBrush)
        for pen, rects in borders:
            painter.setPen(pen)
            painter.drawRects(rects)

    def _build(self) -> tuple:
        c = self.scene.colors
        wires: dict[tuple, tuple[QPen, QPainterPath]] = {}
        for edge in self.scene.edge_items():
            if not edge.isVisible():
                continue
            pen = edge.pen()
            key = pen_key(pen)
            if key not in wires:
                wires[key] = (pen, QPainterPath())
            wires[key][1].addPath(edge.path())
        cards: dict[str, list[QRectF]] = {}
        bands: dict[str, list[QRectF]] = {}
        borders: dict[tuple, tuple[QPen, list[QRectF]]] = {}
        for node in self.scene.node_items():
            if not node.isVisible():
                continue
            x, y = node.x(), node.y()
            r = node.card_rect().translated(x, y)
            cards.setdefault(node.card_color(c), []).append(r)
            bands.setdefault(node.title_color, []).append(node.band_rect().translated(x, y))
            pen = node.border_pen(c)
            key = pen_key(pen)
            if key not in borders:
                borders[key] = (pen, [])
            borders[key][1].append(r)
        return (list(wires.values()), [(QColor(k), v) for k, v in cards.items()],
                [(QColor(k), v) for k, v in bands.items()], list(borders.values()))


def adopt(item) -> None:
    """Give ``item`` (new, or with a changed drop state) the painting mode of its scene."""
    sc = item.scene()
    ov = getattr(sc, "overview", None)
    if ov is not None:
        ov.adopt(item)
