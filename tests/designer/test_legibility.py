"""Readable at laptop size: after Fit to view, every card's text is at least 9 px high on screen.

Measured twice: from what the card draws (font pixel size x zoom) and from the pixels on screen
(the height of the class name's ink in the title band of a grabbed viewport)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor

from designer.canvas.legibility import FONT_PX, LEGIBLE_PX, text_zoom
from designer.main_window import EXAMPLES_DIR
from tests.designer.window_helpers import FakeDialogs, make_window, settings  # noqa: F401 (fixtures)

CAP_SHARE = 0.7  # a capital letter's ink is ~0.7 of the font's pixel size (DejaVu Sans: 0.73)


def _ink_height(img, rect, ink: QColor, band: QColor) -> int:
    """The height of the text drawn on the coloured band inside ``rect`` (viewport pixels): how
    many rows, from the first to the last, that are mostly band colour hold a pixel nearer the text
    colour than the band's."""
    def dist(p: QColor, q: QColor) -> int:
        return sum(abs(a - b) for a, b in zip(p.getRgb()[:3], q.getRgb()[:3]))

    rows = []
    xs = range(max(0, int(rect.left())), min(img.width(), int(rect.right())))
    for y in range(max(0, int(rect.top())), min(img.height(), int(rect.bottom()))):
        pixels = [QColor(img.pixel(x, y)) for x in xs]
        on_band = sum(dist(p, band) < 40 for p in pixels)
        if on_band > 0.3 * len(pixels) and any(dist(p, ink) * 3 < dist(p, band) for p in pixels):
            rows.append(y)
    return max(rows) - min(rows) + 1 if rows else 0


@pytest.mark.parametrize("size", [(1366, 768), (1680, 1050)])
def test_cards_read_after_fit_on_a_laptop_screen(qtbot, make_window, size):  # noqa: F811
    w = make_window()
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    w.files.open_example(EXAMPLES_DIR / "digits_cnn.lgraph", ask=False)
    w.view.setFocus()
    qtbot.keyClick(w.view, Qt.Key.Key_F)
    qtbot.wait(50)
    zoom, scene = w.view.zoom(), w.scene
    mode = text_zoom(zoom)
    assert mode != "flat", f"Fit left zoom {zoom:.2f}: the cards show no text"
    colors = scene.colors
    img = w.view.viewport().grab().toImage()
    for nid, node in w.doc.graph.nodes.items():
        item = scene.node_item(nid)
        rows = {text: font for font, _color, _rect, text in item.text_rows(colors, mode)}
        shape = next(t for t in rows if t.startswith("→"))
        for text in (node.class_name, node.name, shape):  # whole, not elided, and big enough
            assert text in rows, (text, list(rows))
            assert rows[text].pixelSize() * zoom >= LEGIBLE_PX, (text, rows[text].pixelSize(), zoom)
        if set(node.class_name) & set("gjpqy"):  # descenders would add to the ink's height
            continue
        band = w.view.mapFromScene(item.mapRectToScene(QRectF(0, 0, item.card_rect().width(), 38))).boundingRect()
        ink = _ink_height(img, band.adjusted(2, 2, -2, -2), QColor(colors["title_text"]), QColor(item.title_color))
        assert ink >= CAP_SHARE * LEGIBLE_PX, (node.class_name, ink, zoom)
    for edge in scene.edge_items():  # a shape on every wire, as large as the cards' text
        text, px = (edge.shown_label, FONT_PX["label"]) if mode == "full" else (edge.big_label, edge._big_px)
        assert text and px * zoom >= LEGIBLE_PX, (edge.label, text, px, zoom)
