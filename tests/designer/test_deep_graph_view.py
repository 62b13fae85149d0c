"""A graph as deep as ResNet50 (177 layers) reads after Ctrl+L and Fit: many whole cards on screen,
each with its class and output shape in legible type, starting from the input."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from designer.canvas.legibility import LEGIBLE_PX, text_zoom
from engine.fileformat import Document
from tests.designer.window_helpers import FakeDialogs, make_window, settings  # noqa: F401 (fixtures)
from tests.engine.test_layout import residual_graph


def test_fit_shows_a_deep_graph_at_a_legible_zoom(qtbot, make_window):  # noqa: F811
    w = make_window()
    w.resize(1366, 768)  # the smaller laptop screen
    w.show()
    qtbot.waitExposed(w)
    graph = residual_graph()
    assert len(graph.nodes) >= 177
    w.doc.replace(Document(graph), None)
    w.view.setFocus()
    assert w.act["auto_layout"].shortcut().toString() == "Ctrl+L"
    w.act["auto_layout"].trigger()  # (an offscreen window is never active, so the shortcut itself cannot fire)
    assert w.doc.undo_stack.undoText() == "Auto-layout"
    qtbot.keyClick(w.view, Qt.Key.Key_F)
    qtbot.wait(50)
    zoom, scene = w.view.zoom(), w.scene
    mode = text_zoom(zoom)
    assert mode != "flat", f"Fit left zoom {zoom:.2f}: the cards show no text"
    shown = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    whole = [nid for nid in graph.nodes if shown.contains(scene.node_item(nid).sceneBoundingRect())]
    # one row of 177 cards would show 5 or 6 of them at this zoom; the wrapped flow shows a page
    assert len(whole) >= 15, len(whole)
    assert graph.input_nodes()[0] in whole
    for nid in whole:
        rows = {text: font for font, _color, _rect, text in scene.node_item(nid).text_rows(scene.colors, mode)}
        shape = next(t for t in rows if t.startswith("→"))
        for text in (graph.node(nid).class_name, shape):
            assert rows[text].pixelSize() * zoom >= LEGIBLE_PX, (text, rows[text].pixelSize(), zoom)


def test_the_minimap_shows_the_rest_and_moves_the_view_there(qtbot, make_window):  # noqa: F811
    w = make_window()
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    w.doc.replace(Document(residual_graph()), None)
    w.act["auto_layout"].trigger()
    qtbot.keyClick(w.view, Qt.Key.Key_F)
    qtbot.wait(50)
    graph_rect, mini = w.scene.nodes_bounding_rect(), w.view.minimap
    shown = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert not shown.contains(graph_rect) and mini.isVisible()
    assert w.view.viewport().geometry().contains(mini.geometry())  # in the canvas's corner
    qtbot.mouseClick(mini, Qt.MouseButton.LeftButton, pos=QPoint(mini.width() // 2, mini.height() - 3))
    shown = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert shown.bottom() > graph_rect.bottom() - 200  # the view went to the graph's last band
    for _ in range(30):  # zoomed out until every card shows, the map has nothing to add
        w.view.scale(0.8, 0.8)
    w.view.centerOn(graph_rect.center())
    assert not mini.isVisible()
