"""``EdgeItem``: a wire from a node's output port to an input port, with the tensor shape on it."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem

from designer.canvas import overview
from designer.canvas.colors import HoverHighlight
from designer.canvas.legibility import FONT_PX, LEGIBLE_PX, text_zoom
from engine.graph import Edge

HIT_WIDTH = 14.0
DETOUR_GAP = 26.0  # how far above the cards a detouring wire runs
LABEL_ROOM = 6.0  # scene units kept free between the label and each port (the port's radius)
MASK_MARK = " ◐"  # after the shape on a wire that carries a mask (half of the steps may be padding)

_label_fonts: dict[int, QFont] = {}
_label_metrics: dict[int, QFontMetrics] = {}
_label_widths: dict[tuple[str, int], int] = {}


def bezier(a: QPointF, b: QPointF) -> QPainterPath:
    """The horizontal S-curve used by all wires (also the drag preview)."""
    if b.x() < a.x() - 80:
        return backward(a, b)
    dx = max(abs(b.x() - a.x()) * 0.5, 40.0)
    path = QPainterPath(a)
    path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path


def stroke(path: QPainterPath, width: float) -> QPainterPath:
    """The outline of ``path`` drawn ``width`` wide (for hit tests and overlap checks)."""
    stroker = QPainterPathStroker()
    stroker.setWidth(width)
    return stroker.createStroke(path)


def detour(a: QPointF, b: QPointF, top: float) -> QPainterPath:
    """A wire that climbs right after its source, runs along ``top`` and drops into its target.

    Used when the plain curve would pass behind other cards (a residual connection in a row)."""
    path = QPainterPath(a)
    rise = min(40.0, max((b.x() - a.x()) / 4, 10.0))
    path.cubicTo(QPointF(a.x() + rise, a.y()), QPointF(a.x() + rise / 2, top), QPointF(a.x() + 1.5 * rise, top))
    path.lineTo(QPointF(b.x() - 1.5 * rise, top))
    path.cubicTo(QPointF(b.x() - rise / 2, top), QPointF(b.x() - rise, b.y()), b)
    return path


def compact_label(text: str) -> str:
    """``(None, 8, 8, 16)`` -> ``8×8×16``: the shape without the batch dimension, for short wires (a mask
    mark stays)."""
    mark = MASK_MARK if text.endswith(MASK_MARK) else ""
    shape = text[:-len(mark)] if mark else text
    parts = [p.strip() for p in shape.strip("()").split(",") if p.strip()]
    if parts and parts[0] == "None":
        parts = parts[1:]
    return ("×".join("?" if p == "None" else p for p in parts) + mark) if parts else text


def backward(a: QPointF, b: QPointF) -> QPainterPath:
    """A wire to a port on its left (a chain wrapped into rows): out of the source, along the gap
    between the rows (or under a single row), into the target from its left, never behind cards."""
    y = (a.y() + b.y()) / 2 if abs(b.y() - a.y()) > 160 else max(a.y(), b.y()) + 90.0
    r = 60.0
    path = QPainterPath(a)
    path.cubicTo(QPointF(a.x() + r, a.y()), QPointF(a.x() + r, y), QPointF(a.x(), y))
    path.lineTo(QPointF(b.x(), y))
    path.cubicTo(QPointF(b.x() - r, y), QPointF(b.x() - r, b.y()), b)
    return path


def label_font(px: int = FONT_PX["label"]) -> QFont:
    """The label's font: ``FONT_PX["label"]`` pixels, or the large type shown when zoomed out."""
    f = _label_fonts.get(px)
    if f is None:
        f = _label_fonts[px] = QFont()
        f.setPixelSize(px)
        if px > FONT_PX["label"]:  # large type fits the gap between two cards a little more often
            f.setStretch(QFont.Stretch.Condensed)
    return f


def label_metrics(px: int = FONT_PX["label"]) -> QFontMetrics:
    m = _label_metrics.get(px)
    if m is None:
        m = _label_metrics[px] = QFontMetrics(label_font(px))
    return m


def label_width(text: str, px: int = FONT_PX["label"]) -> int:
    """The label's advance in pixels, measured once per distinct text (shapes repeat a lot)."""
    w = _label_widths.get((text, px))
    if w is None:
        w = _label_widths[(text, px)] = label_metrics(px).horizontalAdvance(text)
    return w


class EdgeItem(HoverHighlight, QGraphicsItem):
    """Behind the nodes, selectable; red with the problem sentence as tooltip when it is the culprit."""

    def __init__(self, edge: Edge, source_item, target_item) -> None:
        super().__init__()
        self.edge = edge
        self.source_item = source_item
        self.target_item = target_item
        self.label = ""
        #: The tensor shape the wire carries, and the names of the layers whose mask it carries ("" for none).
        self.shape_text = ""
        self.mask_from = ""
        #: What is drawn: ``label``, its compact form on a short wire, or "" when neither fits.
        self.shown_label = ""
        self.problem: str | None = None
        self.drop_target = False  # a palette drag hovers this wire (insert on edge)
        self.hovered = False
        self.detoured = False  # routed over other cards (see ``detour``)
        self._path = QPainterPath()
        self._hit = QPainterPath()
        self._label_rect = QRectF()
        #: The compact label in large type, drawn zoomed out when the wire has room for it ("" if not).
        self.big_label = ""
        self._big_rect = QRectF()
        self._big_px = FONT_PX["big"]
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(-1)
        source_item.edges.add(self)
        target_item.edges.add(self)

    def detach(self) -> None:
        self.source_item.edges.discard(self)
        self.target_item.edges.discard(self)

    @property
    def colors(self) -> dict[str, str]:
        return self.source_item.colors

    def endpoints(self) -> tuple[QPointF, QPointF]:
        a = self.source_item.out_port.scenePos()
        port = self.target_item.input_port(self.edge.index)
        b = port.scenePos() if port is not None else self.target_item.scenePos()
        return a, b

    def update_path(self) -> None:
        a, b = self.endpoints()
        path = bezier(a, b)
        top = self._blocked_top(a, b, path)
        if top is not None:
            path = detour(a, b, top)
        # The scene query above must come before prepareGeometryChange(): a query in between
        # re-indexes this item under its old bounding rect, and removing it later (by its new rect)
        # would leave a dangling pointer in the scene's BSP index, drawn as a ghost wire and a
        # segmentation fault in the next paint once the item is freed.
        self.prepareGeometryChange()
        self._path = path
        self.detoured = top is not None
        self._hit = stroke(path, HIT_WIDTH)
        self._layout_label()
        overview.touch(self)

    def _blocked_top(self, a: QPointF, b: QPointF, path: QPainterPath) -> float | None:
        """The height to route ``path`` over when it would cross other cards (None: it crosses none)."""
        sc = self.scene()
        if sc is None or b.x() - a.x() < 300:
            return None
        ends = (self.source_item, self.target_item)
        line = stroke(path, 2.0)  # an open path's own "area" would include its closing chord
        blockers = [it for it in sc.items(path.boundingRect().adjusted(0, -2, 0, 2))
                    if hasattr(it, "card_rect") and it not in ends
                    and line.intersects(it.mapRectToScene(it.card_rect()))]
        if not blockers:
            return None
        cards = [it.mapRectToScene(it.card_rect()) for it in (*blockers, *ends)]
        return min(r.top() for r in cards) - DETOUR_GAP

    def _layout_label(self) -> None:
        """Place the label at the wire's middle; a wire too short for it gets the compact form or none."""
        self._label_rect, self._big_rect = QRectF(), QRectF()
        self.shown_label = self.big_label = ""
        if not self.label or self._path.isEmpty():  # no path yet: ``update_path`` lays it out
            return
        a, b = self.endpoints()
        room = max(abs(b.x() - a.x()), abs(b.y() - a.y())) - 2 * LABEL_ROOM
        mid = self._path.pointAtPercent(0.5)
        compact = compact_label(self.label)
        # the full card's size, then large type for when zoomed out (as large as the wire has room for)
        sizes = [(self.label, FONT_PX["label"]), (compact, FONT_PX["label"])]
        sizes += [(compact, px) for px in range(FONT_PX["big"], FONT_PX["label"], -1)]
        for text, px in sizes:
            w, h = label_width(text, px) + 6, label_metrics(px).height() + 4
            if w > room:
                continue
            rect = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)
            if px > FONT_PX["label"]:
                self._big_rect, self.big_label, self._big_px = rect, text, px
                return
            if not self.shown_label:
                self._label_rect, self.shown_label = rect, text

    def set_label(self, text: str) -> None:
        """The shape carried (``(None, 5, 3)``); the mask mark is added by ``set_mask``."""
        self.shape_text = text
        self._refresh_label()

    def set_mask(self, sources: str) -> None:
        """Mark the wire as carrying the mask of the layers named in ``sources`` ("" for no mask)."""
        self.mask_from = sources
        self._refresh_label()

    @property
    def info(self) -> str:
        """The tooltip without a problem: the shape, and where its mask comes from."""
        if not self.mask_from:
            return self.shape_text
        return f"{self.shape_text}\ncarries a mask from {self.mask_from}".strip()

    def _refresh_label(self) -> None:
        text = self.shape_text + (MASK_MARK if self.mask_from and self.shape_text else "")
        if text != self.label:
            self.prepareGeometryChange()
            self.label = text
            self._layout_label()
            self.update()
        if not self.problem:
            self.setToolTip(self.info)

    def set_problem(self, message: str | None) -> None:
        self.problem = message
        self.setToolTip(message or self.info)
        self.update()

    def set_drop_target(self, on: bool) -> None:
        if on != self.drop_target:
            self.drop_target = on
            self.update()

    def path(self) -> QPainterPath:
        return self._path

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._hit.boundingRect().united(self._label_rect).united(self._big_rect).adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        s = QPainterPath(self._hit)
        if not self._label_rect.isNull():
            s.addRect(self._label_rect)
        return s

    def pen(self) -> QPen:
        """The wire's pen for its state: problem, palette drop target, selected, hovered or plain."""
        c = self.colors
        if self.problem:
            color, width = QColor(c["error"]), 2.5
        elif self.drop_target:
            color, width = QColor(c["drop"]), 4.0
        elif self.isSelected():
            color, width = QColor(c["wire_selected"]), 3.0
        else:
            color, width = QColor(c["wire"]), 2.5 if self.hovered else 1.8
        return QPen(color, width, Qt.SolidLine, Qt.RoundCap)

    def update(self, *args) -> None:
        super().update(*args)
        overview.touch(self)

    def itemChange(self, change, value):  # noqa: N802
        if change == QGraphicsItem.ItemSelectedHasChanged:
            self.update()
        elif change == QGraphicsItem.ItemVisibleHasChanged:
            overview.touch(self)
        return super().itemChange(change, value)

    def paint(self, painter, option, widget=None) -> None:
        c = self.colors
        pen = self.pen()
        color = pen.color()
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        mode = text_zoom(lod)
        text, rect, px = ((self.shown_label, self._label_rect, FONT_PX["label"]) if mode == "full" else
                          (self.big_label, self._big_rect, self._big_px) if mode == "simple" else ("", None, 0))
        if text and lod * px >= LEGIBLE_PX - 1e-6:  # legible (else the tooltip says it)
            painter.setPen(QPen(color, 1.0))
            painter.setBrush(QColor(c["label_bg"]))
            painter.drawRoundedRect(rect, 4, 4)
            painter.setFont(label_font(px))
            painter.setPen(QColor(c["error"] if self.problem else c["label_text"]))
            painter.drawText(rect, Qt.AlignCenter, text)

