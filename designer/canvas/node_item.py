"""``NodeItem``: the card drawn for one layer.

It shows the layer type on a title bar coloured by family, the layer's name, its key arguments,
its output shape and parameter count; input ports on the left, one output port on the right.
The item keeps only what it draws (a copy of the document's values, refreshed by the scene when
the node changes) and transient state (hover, selection, badge, highlight).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from designer.canvas import overview
from designer.canvas.colors import HoverHighlight, LIGHT, title_color
from designer.canvas.port_item import PortItem
from engine.shapes import fmt_shape

WIDTH = 200.0
HEADER = 24.0
LINE = 16.0
BODY_LINES = 4
PORT_GAP = 20.0
BASE_HEIGHT = HEADER + BODY_LINES * LINE + 12.0
RADIUS = 7.0
TEXT_LOD = 0.45  # below this zoom, only the coloured card is drawn (fast when zoomed out)
BAND = 1.5  # a flat card's title band is taller than the title bar, so it still reads when tiny

_fonts: dict[str, QFont] = {}
_metrics_cache: dict[str, QFontMetrics] = {}


def _font(kind: str) -> QFont:
    f = _fonts.get(kind)
    if f is None:
        f = QFont()
        f.setPointSizeF(9.0 if kind != "small" else 8.0)
        f.setBold(kind in ("title", "name"))
        _fonts[kind] = f
    return f


def _metrics(kind: str) -> QFontMetrics:
    m = _metrics_cache.get(kind)
    if m is None:
        m = _metrics_cache[kind] = QFontMetrics(_font(kind))
    return m


class NodeItem(HoverHighlight, QGraphicsItem):
    def __init__(self, node_id: str, class_name: str, family: str, min_inputs: int, max_inputs: int | None) -> None:
        super().__init__()
        self.node_id = node_id
        self.class_name = class_name
        self.family = family
        self.min_inputs = min_inputs
        self.max_inputs = max_inputs
        self.name = ""
        self.args = ""
        self.doc = ""
        self.shape_value: tuple | None = None
        self.params = 0
        self.problems: tuple[str, ...] = ()
        self.badge: str | None = None
        self.highlight: str | None = None
        self.hovered = False
        self.edges: set = set()  # EdgeItems attached to this node (moved along with it)
        self.height = BASE_HEIGHT
        self.in_ports: list[PortItem] = []
        self._rows_key: tuple | None = None  # see ``_text_rows``
        self._rows: list = []
        self._card_path = (0.0, QPainterPath())
        self.out_port = PortItem(self, "out")
        self.out_port.setPos(WIDTH, HEADER + (BASE_HEIGHT - HEADER) / 2)
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.sync_ports(set())

    # ----- state from the document -----------------------------------------------------------------------
    @property
    def title_color(self) -> str:
        return title_color(self.class_name, self.family)

    @property
    def colors(self) -> dict[str, str]:
        sc = self.scene()
        return getattr(sc, "colors", LIGHT)

    def set_text(self, name: str, args: str, doc: str) -> None:
        if (name, args, doc) != (self.name, self.args, self.doc):
            self.name, self.args, self.doc = name, args, doc
            self._update_tooltip()
            self.update()

    def set_validation(self, shape: tuple | None, params: int, problems: tuple[str, ...]) -> None:
        self.shape_value, self.params, self.problems = shape, params, problems
        self._update_tooltip()
        self.update()

    def set_badge(self, text: str | None) -> None:
        if text != self.badge:
            self.badge = text
            self.update()

    def set_highlight(self, message: str | None) -> None:
        self.highlight = message
        self._update_tooltip()
        self.update()

    def _update_tooltip(self) -> None:
        lines = [f"{self.class_name} '{self.name}'"]
        if self.highlight:
            lines.append(self.highlight)
        if self.problems:
            lines.extend(self.problems)
        elif self.doc:
            lines.append(self.doc)
        self.setToolTip("\n".join(lines))

    # ----- ports -------------------------------------------------------------------------------------
    def port_count(self, connected: set[int]) -> int:
        if self.max_inputs is None:  # merge layers grow a free port as inputs are connected
            top = max(connected) + 1 if connected else 0
            return max(self.min_inputs, top + 1, len(connected) + 1)
        return self.max_inputs

    def sync_ports(self, connected: set[int]) -> None:
        """Create/remove input ports for the connected indices and lay them out."""
        n = self.port_count(connected)
        while len(self.in_ports) < n:
            self.in_ports.append(PortItem(self, "in", len(self.in_ports)))
            overview.adopt(self.in_ports[-1])
        while len(self.in_ports) > n:
            p = self.in_ports.pop()
            p.setParentItem(None)
            if p.scene() is not None:
                p.scene().removeItem(p)
        height = max(BASE_HEIGHT, HEADER + PORT_GAP * (n + 1))
        if height != self.height:
            self.prepareGeometryChange()
            self.height = height
            overview.touch(self)
        body = self.height - HEADER
        for i, p in enumerate(self.in_ports):
            p.setPos(0.0, HEADER + body * (i + 1) / (n + 1))
            p.set_connected(i in connected)
        self.out_port.setPos(WIDTH, HEADER + body / 2)
        self.out_port.set_connected(bool(self.out_port.connected))

    def input_port(self, index: int) -> PortItem | None:
        return self.in_ports[index] if 0 <= index < len(self.in_ports) else None

    def free_input_port(self) -> PortItem | None:
        for p in self.in_ports:
            if not p.connected:
                return p
        return None

    # ----- geometry and painting ---------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-10, -14, WIDTH + 20, self.height + 24)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addRoundedRect(QRectF(0, 0, WIDTH, self.height), RADIUS, RADIUS)
        return p

    def card_rect(self) -> QRectF:
        return QRectF(0, 0, WIDTH, self.height)

    def band_rect(self) -> QRectF:
        """The title band of the flat card drawn when zoomed out."""
        return QRectF(0, 0, WIDTH, HEADER * BAND)

    def update(self, *args) -> None:
        super().update(*args)
        overview.touch(self)

    def paint(self, painter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        c = self.colors
        rect = self.card_rect()
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < TEXT_LOD:  # zoomed out: flat rectangles only (cheap for 1,000 nodes)
            painter.fillRect(rect, QColor(c["node"]))
            painter.fillRect(self.band_rect(), QColor(self.title_color))
            painter.setBrush(Qt.NoBrush)
            painter.setPen(self.border_pen(c))
            painter.drawRect(rect)
            return
        if self._card_path[0] != self.height:  # the rounded card, rebuilt only when its height changes
            card = QPainterPath()
            card.addRoundedRect(rect, RADIUS, RADIUS)
            self._card_path = (self.height, card)
        card = self._card_path[1]
        painter.setPen(Qt.NoPen)
        painter.setBrush(QBrush(QColor(c["node"])))
        painter.drawPath(card)
        painter.save()
        painter.setClipPath(card)
        painter.fillRect(QRectF(0, 0, WIDTH, HEADER), QColor(self.title_color))
        painter.restore()
        painter.setBrush(Qt.NoBrush)
        painter.setPen(self.border_pen(c))
        painter.drawPath(card)
        self._paint_text(painter, c)
        if self.badge:
            self._paint_badge(painter, c)

    def border_pen(self, c: dict[str, str]) -> QPen:
        if self.problems or self.highlight:
            pen = QPen(QColor(c["error"]), 2.5)
            if self.highlight and not self.problems:
                pen.setStyle(Qt.DashLine)
            return pen
        if self.isSelected():
            return QPen(QColor(c["selected"]), 2.5)
        if self.hovered:
            return QPen(QColor(c["hover"]), 1.5)
        return QPen(QColor(c["node_border"]), 1.0)

    def _text_rows(self, c: dict[str, str]) -> list[tuple[QFont, QColor, QRectF, str]]:
        """What the card's text says and where (elided to fit), worked out once per change, not per paint."""
        key = (id(c), self.class_name, self.name, self.args, self.shape_value, self.params, bool(self.problems))
        if self._rows_key == key:
            return self._rows
        pad = 10.0
        w = WIDTH - 2 * pad
        rows = [(_font("title"), QColor(c["title_text"]), QRectF(pad, 0, w, HEADER), self.class_name)]
        y = HEADER + 6
        for kind, color, text in (
                ("name", c["text"], self.name),
                ("body", c["muted"], self.args),
                ("body", c["error"] if self.problems else c["text"],
                 "→ " + (fmt_shape(self.shape_value) if self.shape_value is not None else "?")),
                ("small", c["muted"], f"{self.params:,} params" if self.params else "no params")):
            if text:
                font = _font(kind)
                text = _metrics(kind).elidedText(text, Qt.ElideRight, int(w))
                rows.append((font, QColor(color), QRectF(pad, y, w, LINE), text))
            y += LINE
        self._rows_key, self._rows = key, rows
        return rows

    def _paint_text(self, painter, c: dict[str, str]) -> None:
        flags = Qt.AlignVCenter | Qt.AlignLeft
        for font, color, rect, text in self._text_rows(c):
            painter.setFont(font)
            painter.setPen(color)
            painter.drawText(rect, flags, text)

    def _paint_badge(self, painter, c: dict[str, str]) -> None:
        font = _font("small")
        fm = QFontMetrics(font)
        text = fm.elidedText(self.badge, Qt.ElideRight, int(WIDTH * 0.7))
        bw = fm.horizontalAdvance(text) + 12
        r = QRectF(WIDTH - bw - 4, -10, bw, 18)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(c["badge"]))
        painter.drawRoundedRect(r, 9, 9)
        painter.setFont(font)
        painter.setPen(QColor(c["badge_text"]))
        painter.drawText(r, Qt.AlignCenter, text)

    # ----- interaction --------------------------------------------------------------------------------
    def itemChange(self, change, value):  # noqa: N802
        if change == QGraphicsItem.ItemPositionChange:
            sc = self.scene()
            if sc is not None and getattr(sc, "snap_to_grid", False) and sc.dragging_nodes:
                g = sc.grid_size
                return QPointF(round(value.x() / g) * g, round(value.y() / g) * g)
        elif change == QGraphicsItem.ItemPositionHasChanged:
            for e in self.edges:
                e.update_path()
            overview.touch(self)
        elif change == QGraphicsItem.ItemVisibleHasChanged:
            overview.touch(self)
        elif change == QGraphicsItem.ItemSelectedHasChanged:
            self.update()
        return super().itemChange(change, value)
