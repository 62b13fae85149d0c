# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""New cards go where the user is looking and never on top of another card; auto-layout shows the
result; a wire dragged off its input says what happened; a locked graph refuses Delete before asking
anything (issue 15, items 10 and 11).  Driven with real mouse and keyboard events."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from designer import commands as c
from designer.canvas.scene import GraphScene
from designer.canvas.view import GraphView
from designer.document import GraphDocument
from engine.graph import Edge
from tests.designer.window_helpers import make_window, settings, window  # noqa: F401

L, NOMOD, CTRL = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier
LOCKED = "Training is running; stop it to edit the graph."


def add(doc, cls, cfg, pos):
    cmd = c.AddNodeCommand(doc, cls, cfg, pos)
    assert c.push(doc, cmd) is None
    return cmd.node_id


def cards(scene) -> dict:
    return {it.node_id: it.mapRectToScene(it.card_rect()) for it in scene.node_items()}


def visible(view):
    return view.mapToScene(view.viewport().rect()).boundingRect()


def assert_placed_well(scene, view, new_ids) -> None:
    """Each new card is on screen and overlaps no other card."""
    rects = cards(scene)
    for n in new_ids:
        assert visible(view).contains(rects[n]), f"{n} is off screen"
        others = [m for m, r in rects.items() if m != n and r.intersects(rects[n])]
        assert not others, f"{n} lies on top of {others}"


@pytest.fixture
def canvas(qtbot):
    """A bare canvas (document, scene, view) at a laptop's size, cheaper than a main window."""
    doc = GraphDocument()
    scene = GraphScene(doc)
    view = GraphView(scene)
    qtbot.addWidget(view)
    view.resize(1100, 650)
    view.show()
    qtbot.waitExposed(view)
    return doc, scene, view


def ready(qtbot, w) -> None:
    w.resize(1366, 768)
    w.show()
    QTest.qWaitForWindowExposed(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=2000)
    w.view.setFocus()


def test_paste_after_scrolling_away_lands_on_screen_and_on_no_card(qtbot, window):
    w = window
    ready(qtbot, w)
    doc, scene, view = w.doc, w.scene, w.view
    doc.new()
    a = add(doc, "Input", {"shape": (8,)}, (0, 0))
    b = add(doc, "Dense", {"units": 4}, (300, 0))
    c.push(doc, c.ConnectCommand(doc, a, b, 0))
    scene.select_nodes([a, b])
    QTest.keyClick(view, Qt.Key.Key_C, CTRL)
    add(doc, "Dense", {"units": 2}, (3000, 2000))  # something to look at, far away
    view.centerOn(3100, 2050)
    QTest.keyClick(view, Qt.Key.Key_V, CTRL)
    pasted = scene.selected_node_ids()
    assert len(pasted) == 2 and doc.undo_stack.undoText() == "Paste 2 layers"
    assert_placed_well(scene, view, pasted)
    QTest.keyClick(view, Qt.Key.Key_V, CTRL)  # again: next to it, still on no card
    assert_placed_well(scene, view, scene.selected_node_ids())


def test_tab_quick_add_over_two_cards_puts_the_new_one_beside_them(canvas):
    doc, scene, view = canvas
    add(doc, "Dense", {"units": 4}, (0, 0))
    add(doc, "Dense", {"units": 4}, (0, 120))
    view.centerOn(100, 110)
    cursor = view.mapFromScene(QPointF(100, 110))  # between and over the two cards
    QTest.mouseMove(view.viewport(), cursor)
    QTest.keyClick(view, Qt.Key.Key_Tab)
    QTest.keyClicks(view.quick_add.edit, "dropout")
    QTest.keyClick(view.quick_add.edit, Qt.Key.Key_Return)
    new = doc.graph.node_by_name("dropout")
    assert new is not None
    assert_placed_well(scene, view, [new.id])


def test_palette_adds_at_the_centre_never_on_the_previous_card(qtbot, window):
    w = window
    ready(qtbot, w)
    doc, scene, view = w.doc, w.scene, w.view
    doc.new()
    w.palette.filter.setFocus()
    QTest.keyClicks(w.palette.filter, "Dense")
    for _ in range(3):
        QTest.keyClick(w.palette.filter, Qt.Key.Key_Return)
    assert len(doc.graph) == 3
    assert_placed_well(scene, view, list(doc.graph.nodes))


def test_auto_layout_fits_the_view_to_the_result(qtbot, window):
    w = window
    ready(qtbot, w)
    doc, scene, view = w.doc, w.scene, w.view
    doc.new()
    ids = [add(doc, "Input", {"shape": (8,)}, (4000, 3000)), add(doc, "Dense", {"units": 4}, (-3000, 900)),
           add(doc, "Dense", {"units": 2}, (500, -2500))]
    for s, t in zip(ids, ids[1:]):
        c.push(doc, c.ConnectCommand(doc, s, t, 0))
    view.centerOn(4100, 3050)
    QTest.keyClick(view, Qt.Key.Key_L, CTRL)
    assert doc.undo_stack.undoText() == "Auto-layout"
    for r in cards(scene).values():
        assert visible(view).contains(r)


def test_dragging_a_wire_off_its_input_disconnects_it_and_says_so(canvas):
    doc, scene, view = canvas
    a = add(doc, "Input", {"shape": (8,)}, (0, 0))
    b = add(doc, "Dense", {"units": 4}, (300, 0))
    c.push(doc, c.ConnectCommand(doc, a, b, 0))
    view.centerOn(250, 50)
    said = []
    scene.status_message.connect(said.append)
    port = view.mapFromScene(scene.node_item(b).input_port(0).scenePos())
    QTest.mousePress(view.viewport(), L, NOMOD, port)
    for k in range(1, 5):
        QTest.mouseMove(view.viewport(), port + QPoint(-20 * k, 50 * k))
    QTest.mouseRelease(view.viewport(), L, NOMOD, port + QPoint(-80, 200))
    assert doc.graph.edges == []
    assert said and "Disconnect input_layer → dense" in said[-1] and "Undo" in said[-1]
    assert doc.undo_stack.undoText() == "Disconnect input_layer → dense"
    doc.undo_stack.undo()
    assert doc.graph.edges == [Edge(a, b, 0)]


def test_delete_while_locked_refuses_with_the_reason_before_asking(canvas, monkeypatch):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    d1 = add(doc, "Dense", {"units": 4}, (300, 0))
    d2 = add(doc, "Dense", {"units": 2}, (600, 0))
    c.push(doc, c.ConnectCommand(doc, i, d1, 0))
    c.push(doc, c.ConnectCommand(doc, d1, d2, 0))
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel)
    view.reconnect_policy = "ask"
    scene.select_nodes([d1])
    before = doc.graph.to_dict()
    said = []
    scene.status_message.connect(said.append)
    doc.locked_reason = LOCKED
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert asked == []
    assert said == [LOCKED]
    assert doc.graph.to_dict() == before
    doc.locked_reason = None
    QTest.keyClick(view, Qt.Key.Key_Delete)  # unlocked, the question is asked again
    assert len(asked) == 1
