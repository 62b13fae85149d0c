# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""The canvas never keeps an item that belongs to no node or wire: no crash on undo, no ghost wires
after opening, undoing or laying out (issue 15, items 1 and 2).  Driven with real events."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from designer import commands as c
from designer.main_window import EXAMPLES_DIR
from engine.graph import Edge
import pytest

from tests.designer.scene_check import PaintWatch, scene_problems
from tests.designer.window_helpers import make_window, settings  # noqa: F401

L, NOMOD, CTRL = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier


def add(doc, cls, cfg, pos):
    cmd = c.AddNodeCommand(doc, cls, cfg, pos)
    assert c.push(doc, cmd) is None
    return cmd.node_id


@pytest.fixture
def watch():
    with PaintWatch() as w:
        yield w


def problems(scene, view, watch) -> list[str]:
    """Repaint the whole view, then check the scene and everything that repaint drew."""
    QTest.qWait(1)
    watch.clear()
    view.viewport().repaint()
    found = scene_problems(scene, watch.painted)
    watch.clear()
    return found


def drag(view, a: QPointF, b: QPointF) -> None:
    vp, pa, pb = view.viewport(), view.mapFromScene(a), view.mapFromScene(b)
    QTest.mousePress(vp, L, NOMOD, pa)
    for k in range(1, 5):
        QTest.mouseMove(vp, pa + (pb - pa) * (k / 4))
    QTest.mouseRelease(vp, L, NOMOD, pb)


def start_like_the_app(make_window):
    """A window that opens the start example before any event is processed, as ``designer.app``
    does.  (The scene sizes its index when events are first processed: an empty scene gets a
    one-cell index, where no stale entry can hide; the ``window`` fixture would give one.)"""
    w = make_window()
    assert w.files.open_example(EXAMPLES_DIR / "digits_cnn.lgraph", ask=False)
    w.show()
    QTest.qWaitForWindowExposed(w)
    return w


def test_undo_after_deleting_a_wire_leaves_no_stale_item(qtbot, make_window, watch):
    """The issue's reproduction: Input and Conv2D in a row, Flatten and Dense below, wired
    Input→Conv2D→Flatten→Dense; click the Flatten→Dense wire, Delete, Ctrl+Z, Ctrl+Z.  Before the fix the deleted
    wire stayed in the scene's index (a ghost), and the paint after it was freed crashed."""
    w = start_like_the_app(make_window)
    w.resize(1680, 1050)
    doc, scene, view = w.doc, w.scene, w.view
    doc.new()
    ids = [add(doc, "Input", {"shape": (8, 8, 1)}, (-420, -160)), add(doc, "Conv2D", {"filters": 4, "kernel_size": 3},
           (120, -160)), add(doc, "Flatten", {}, (-420, 160)), add(doc, "Dense", {"units": 10}, (120, 160))]
    view.fit_to_view()
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=2000)
    view.setFocus()
    for a, b in zip(ids, ids[1:]):
        assert c.push(doc, c.ConnectCommand(doc, a, b, 0)) is None
        assert problems(scene, view, watch) == []
    assert doc.graph.edges == sorted(Edge(a, b, 0) for a, b in zip(ids, ids[1:]))
    wire = scene.edge_item(Edge(ids[2], ids[3], 0))  # held, so a stale pointer is a finding, not a crash
    QTest.mouseClick(view.viewport(), L, NOMOD, view.mapFromScene(wire.path().pointAtPercent(0.5)))
    assert wire.isSelected()
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert Edge(ids[2], ids[3], 0) not in doc.graph.edges
    assert problems(scene, view, watch) == []
    for undone in range(1, 5):
        QTest.keyClick(view, Qt.Key.Key_Z, CTRL)
        assert doc.undo_stack.index() == 8 - undone
        assert problems(scene, view, watch) == [], f"after Ctrl+Z #{undone}"


def test_opening_one_example_after_another_leaves_no_ghost_wire(make_window, watch):
    w = start_like_the_app(make_window)
    scene, view = w.scene, w.view
    held = []  # keep the old items alive: a stale one must be found, not crash the next paint
    for name in ("two_input_concat", "spirals_mlp", "digits_cnn", "lstm_sequence", "residual_block"):
        held += scene.edge_items() + scene.node_items()
        assert w.files.open_example(EXAMPLES_DIR / f"{name}.lgraph", ask=False)
        assert problems(scene, view, watch) == [], f"after opening {name}"


def test_auto_layout_undo_and_deleting_the_wires_leave_no_ghost(make_window, watch):
    """Lay out, undo, redo; then delete every wire (and undo that): no wire is drawn twice, off its
    ports, or after it is gone."""
    w = start_like_the_app(make_window)
    doc, scene, view = w.doc, w.scene, w.view
    assert w.files.open_example(EXAMPLES_DIR / "two_input_concat.lgraph", ask=False)
    held = []  # keep removed wires alive: a stale one must be found, not crash the next paint
    for nid in list(doc.graph.nodes)[:3]:  # scatter a few cards across the scene's origin first
        x, y = doc.graph.node(nid).position
        c.push(doc, c.MoveNodesCommand(doc, {nid: ((x, y), (-x - 500, -y - 300))}))
        assert problems(scene, view, watch) == []
    for step in ("layout", "undo", "redo", "undo", "redo", "delete wires", "undo", "delete wires"):
        held += scene.edge_items()
        if step == "layout":
            scene.auto_layout()
        elif step == "delete wires":
            scene.clearSelection()
            for item in scene.edge_items():
                item.setSelected(True)
            view.setFocus()
            QTest.keyClick(view, Qt.Key.Key_Delete)
            assert not doc.graph.edges
        else:
            getattr(doc.undo_stack, step)()
        assert problems(scene, view, watch) == [], f"after {step}"
