"""``NodeItem``: the card drawn for one layer.

It shows the layer type on a title bar coloured by family, the layer's name, its key arguments,
its output shape and parameter count; input ports on the left, one output port on the right.
Zoomed out, the card drops detail before readability (``legibility``): it shows only the class,
the name and the output shape in large type, and below ``READABLE_ZOOM`` it is a flat coloured card.
The item keeps only what it draws (a copy of the document's values, refreshed by the scene when
the node changes) and transient state (hover, selection, badge, highlight).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from designer.canvas import overview
from designer.canvas.colors import HoverHighlight, LIGHT, title_color
from designer.canvas.edge_item import compact_label
from designer.canvas.legibility import BIG_MIN_PX, FONT_PX, text_zoom
from designer.canvas.port_item import PortItem
from engine.shapes import fmt_shape

WIDTH = 200.0
HEADER = 24.0
LINE = 16.0
BODY_LINES = 4
PORT_GAP = 20.0
BASE_HEIGHT = HEADER + BODY_LINES * LINE + 12.0
RADIUS = 7.0
BAND_HEIGHT = 38.0  # the title band of the simplified and the flat card

_fonts: dict[tuple[str, int], QFont] = {}
_metrics_cache: dict[tuple[str, int], QFontMetrics] = {}


def _font(kind: str, px: int | None = None) -> QFont:
    key = (kind, px or FONT_PX[kind])
    f = _fonts.get(key)
    if f is None:
        f = QFont()
        f.setPixelSize(key[1])  # pixels, not points: the card's text scales with the zoom alone
        f.setBold(kind in ("title", "name", "big_title"))
        _fonts[key] = f
    return f


def _metrics(kind: str, px: int | None = None) -> QFontMetrics:
    key = (kind, px or FONT_PX[kind])
    m = _metrics_cache.get(key)
    if m is None:
        m = _metrics_cache[key] = QFontMetrics(_font(kind, px))
    return m


def _fitted(kind: str, text: str, width: float, mode=Qt.ElideRight) -> tuple[QFont, str]:
    """The largest size of ``kind`` (down to ``BIG_MIN_PX``) at which ``text`` fits ``width``;
    elided at the smallest size when it never does."""
    for px in range(FONT_PX[kind], BIG_MIN_PX - 1, -2):
        if _metrics(kind, px).horizontalAdvance(text) <= width:
            return _font(kind, px), text
    return _font(kind, BIG_MIN_PX), _metrics(kind, BIG_MIN_PX).elidedText(text, mode, int(width))


EXPAND_BOX = QRectF(WIDTH - 22, 4, 16, 16)  # a group card's expand button, in its title bar
GROUP_INSET = 3.5  # a group card's second border, inside the first


class NodeItem(HoverHighlight, QGraphicsItem):
    def __init__(self, node_id: str, class_name: str, family: str, min_inputs: int, max_inputs: int | None,
                 composite: bool = False) -> None:
        super().__init__()
        self.node_id = node_id
        #: a group node: drawn with a double border and an expand button
        self.composite = composite
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
        #: A comparison's marks (designer/compare_view.py): border colour of the status, card tint.
        self.outline: str | None = None
        self.fill: str | None = None
        self.hovered = False
        self.edges: set = set()  # EdgeItems attached to this node (moved along with it)
        self.height = BASE_HEIGHT
        self.in_ports: list[PortItem] = []
        self._rows: dict[str, tuple[tuple, list]] = {}  # per mode: (what it says, rows); see ``text_rows``
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

    def set_marks(self, outline: str | None, fill: str | None) -> None:
        """Colour the border (``outline``) and the card (``fill``) instead of the theme's colours."""
        if (outline, fill) != (self.outline, self.fill):
            self.outline, self.fill = outline, fill
            self.update()

    def card_color(self, c: dict[str, str]) -> str:
        return self.fill or c["node"]

    def _update_tooltip(self) -> None:
        lines = [f"{self.class_name} '{self.name}'"]
        if self.highlight:
            lines.append(self.highlight)
        if self.problems:
            lines.extend(self.problems)
        elif self.doc:
            lines.append(self.doc)
        if self.composite:
            lines.append("Double-click to open the group; + expands it in place.")
        self.setToolTip("\n".join(lines))

    # ----- ports -------------------------------------------------------------------------------------
    def port_count(self, connected: set[int]) -> int:
        top = max(connected) + 1 if connected else 0
        if self.max_inputs is None:  # merge layers grow a free port as inputs are connected
            return max(self.min_inputs, top + 1, len(connected) + 1)
        return max(self.max_inputs, top)  # an edge the layer cannot take still has a port (validation marks it)

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
        """The title band of the simplified and flat cards drawn when zoomed out."""
        return QRectF(0, 0, WIDTH, BAND_HEIGHT)

    def update(self, *args) -> None:
        super().update(*args)
        overview.touch(self)

    def paint(self, painter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        c = self.colors
        rect = self.card_rect()
        mode = text_zoom(option.levelOfDetailFromTransform(painter.worldTransform()))
        if mode != "full":  # zoomed out: a flat card (cheap for 1,000 nodes), in large type when it reads
            painter.fillRect(rect, QColor(self.card_color(c)))
            painter.fillRect(self.band_rect(), QColor(self.title_color))
            painter.setBrush(Qt.NoBrush)
            painter.setPen(self.border_pen(c))
            painter.drawRect(rect)
            if mode == "simple":
                self._paint_text(painter, c, mode)
            if self.composite:
                self._paint_group_marks(painter, c, button=False)
            return
        if self._card_path[0] != self.height:  # the rounded card, rebuilt only when its height changes
            card = QPainterPath()
            card.addRoundedRect(rect, RADIUS, RADIUS)
            self._card_path = (self.height, card)
        card = self._card_path[1]
        painter.setPen(Qt.NoPen)
        painter.setBrush(QBrush(QColor(self.card_color(c))))
        painter.drawPath(card)
        painter.save()
        painter.setClipPath(card)
        painter.fillRect(QRectF(0, 0, WIDTH, HEADER), QColor(self.title_color))
        painter.restore()
        painter.setBrush(Qt.NoBrush)
        painter.setPen(self.border_pen(c))
        painter.drawPath(card)
        self._paint_text(painter, c, mode)
        if self.composite:
            self._paint_group_marks(painter, c)
        if self.badge:
            self._paint_badge(painter, c)

    def _paint_group_marks(self, painter, c: dict[str, str], button: bool = True) -> None:
        """The group's look: a second border inside the first, and the expand button in the title bar."""
        painter.setBrush(Qt.NoBrush)
        painter.setPen(QPen(self.border_pen(c).color(), 1.5))
        inner = self.card_rect().adjusted(GROUP_INSET, GROUP_INSET, -GROUP_INSET, -GROUP_INSET)
        painter.drawRoundedRect(inner, RADIUS - 2, RADIUS - 2)
        if not button:
            return
        painter.setPen(QPen(QColor(c["title_text"]), 1.2))
        painter.drawRect(EXPAND_BOX)
        mid = EXPAND_BOX.center()
        painter.drawLine(QPointF(mid.x() - 4, mid.y()), QPointF(mid.x() + 4, mid.y()))
        painter.drawLine(QPointF(mid.x(), mid.y() - 4), QPointF(mid.x(), mid.y() + 4))

    def expand_button_hit(self, pos: QPointF) -> bool:
        """Whether ``pos`` (item coordinates) is on the group's expand button (a little generous)."""
        return self.composite and EXPAND_BOX.adjusted(-3, -3, 3, 3).contains(pos)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        sc = self.scene()
        if event.button() == Qt.LeftButton and self.expand_button_hit(event.pos()) and sc is not None:
            event.accept()
            sc.expand_group(self.node_id)
            return
        super().mousePressEvent(event)

    def border_pen(self, c: dict[str, str]) -> QPen:
        if self.problems or self.highlight:
            pen = QPen(QColor(c["error"]), 2.5)
            if self.highlight and not self.problems:
                pen.setStyle(Qt.DashLine)
            return pen
        if self.isSelected():
            return QPen(QColor(c["selected"]), 2.5)
        if self.outline:
            return QPen(QColor(self.outline), 4.0)
        if self.hovered:
            return QPen(QColor(c["hover"]), 1.5)
        return QPen(QColor(c["node_border"]), 1.0)

    def text_rows(self, c: dict[str, str], mode: str = "full") -> list[tuple[QFont, QColor, QRectF, str]]:
        """What the card's text says and where (elided to fit) in ``mode``, worked out once per
        change, not per paint."""
        key = (id(c), self.class_name, self.name, self.args, self.shape_value, self.params, bool(self.problems))
        cached = self._rows.get(mode)
        if cached is not None and cached[0] == key:
            return cached[1]
        rows = self._full_rows(c) if mode == "full" else self._simple_rows(c)
        self._rows[mode] = (key, rows)
        return rows

    def _simple_rows(self, c: dict[str, str]) -> list[tuple[QFont, QColor, QRectF, str]]:
        """Class, name and output shape in large type (the simplified card)."""
        pad = 8.0
        w = WIDTH - 2 * pad
        shape = "→ " + (compact_label(fmt_shape(self.shape_value)) if self.shape_value is not None else "?")
        rows = []
        for kind, color, text, top, height, mode in (
                ("big_title", c["title_text"], self._simple_title(), 0.0, BAND_HEIGHT, Qt.ElideRight),
                ("big", c["text"], self.name, BAND_HEIGHT + 2, 28.0, Qt.ElideMiddle),
                ("big", c["error"] if self.problems else c["text"], shape, BAND_HEIGHT + 30, 28.0, Qt.ElideRight)):
            font, text = _fitted(kind, text, w, mode)
            rows.append((font, QColor(color), QRectF(pad, top, w, height), text))
        return rows

    def _simple_title(self) -> str:
        """The class, and for a group how many layers it holds (the full card's argument row)."""
        return f"{self.class_name} · {self.args}" if self.composite and self.args else self.class_name

    def _full_rows(self, c: dict[str, str]) -> list[tuple[QFont, QColor, QRectF, str]]:
        pad = 10.0
        w = WIDTH - 2 * pad
        title_w = w - (EXPAND_BOX.width() + 6 if self.composite else 0)
        rows = [(_font("title"), QColor(c["title_text"]), QRectF(pad, 0, title_w, HEADER), self.class_name)]
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
        return rows

    def _paint_text(self, painter, c: dict[str, str], mode: str) -> None:
        flags = Qt.AlignVCenter | Qt.AlignLeft
        for font, color, rect, text in self.text_rows(c, mode):
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
