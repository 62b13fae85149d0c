# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""End to end: build the digits CNN in the real main window only through user input events —
palette drags dropped on the canvas, wires dragged from port to port, arguments typed into the
inspector, renames typed into the name field — then check it against the bundled example,
save it with Ctrl+S, reopen it with File → Open and compare again."""
from __future__ import annotations

import warnings

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from designer.main_window import EXAMPLES_DIR
from engine.fileformat import load_document
from engine.layers import create_layer
from tests.designer.window_helpers import FakeDialogs, make_window, settings, window  # noqa: F401

L, NOMOD = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
EXAMPLE = EXAMPLES_DIR / "digits_cnn.lgraph"

#: (class, {field: text typed or choice picked}, new name or None): the user's plan, step by step.
PLAN = [
    ("Input", {"shape": "8, 8, 1"}, "image"),
    ("Conv2D", {"filters": "16", "padding": "same", "activation": "relu"}, None),
    ("MaxPooling2D", {}, None),
    ("Conv2D", {"filters": "32", "padding": "same", "activation": "relu"}, None),
    ("MaxPooling2D", {}, None),
    ("Flatten", {}, None),
    ("Dense", {"units": "64", "activation": "relu"}, None),
    ("Dense", {"units": "10", "activation": "softmax"}, "digit"),
]


def structure(graph) -> tuple[list, list]:
    """Nodes in document order as (class, name, resolved config) and edges as node positions.

    Configs are compared after the layer resolves them (``kernel_size=3`` is ``[3, 3]``), the way
    the engine, the exporters and the file reader see them."""
    order = list(graph.nodes)
    pos = {nid: i for i, nid in enumerate(order)}
    nodes = []
    for nid in order:
        node = graph.node(nid)
        cfg = create_layer(node.class_name, node.config).get_config()
        cfg.pop("name")
        nodes.append((node.class_name, node.name, cfg))
    edges = sorted((pos[e.target], e.index, pos[e.source]) for e in graph.edges)
    return nodes, edges


# ----- user gestures --------------------------------------------------------------------------------------
def wheel(view, notches: int) -> None:
    p = view.viewport().rect().center()
    QApplication.sendEvent(view.viewport(), QWheelEvent(
        QPointF(p), QPointF(view.viewport().mapToGlobal(p)), QPoint(0, 0), QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton, NOMOD, Qt.ScrollPhase.NoScrollPhase, False))


def drag_from_palette(window, class_name: str, point: QPoint) -> None:
    """What a QDrag from the palette delivers to the canvas: enter, a few moves, drop."""
    palette = window.palette
    palette.filter.clear()
    QTest.keyClicks(palette.filter, class_name)  # the user narrows the list, then drags the item
    item = palette.items[class_name]
    assert not item.isHidden()
    mime = palette.tree.mimeData([item])
    vp = window.view.viewport()
    copy = Qt.DropAction.CopyAction
    with warnings.catch_warnings():  # PySide flags the QPoint constructors; they are the only ones Qt 6 has
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(point - QPoint(40, 30), copy, mime, L, NOMOD)
        QApplication.sendEvent(vp, enter)
        assert enter.isAccepted()
        for k in (2, 1, 0):
            QApplication.sendEvent(vp, QDragMoveEvent(point - QPoint(20 * k, 15 * k), copy, mime, L, NOMOD))
    QApplication.sendEvent(vp, QDropEvent(QPointF(point), copy, mime, L, NOMOD))


def drag_wire(view, source_item, target_item) -> None:
    a = view.mapFromScene(source_item.out_port.scenePos())
    b = view.mapFromScene(target_item.input_port(0).scenePos())
    vp = view.viewport()
    QTest.mousePress(vp, L, NOMOD, a)
    for k in range(1, 6):
        QTest.mouseMove(vp, a + (b - a) * (k / 5))
    QTest.mouseRelease(vp, L, NOMOD, b)


def click_into(window, widget: QWidget) -> None:
    window.inspector.scroll.ensureWidgetVisible(widget)
    QTest.mouseClick(widget, L, NOMOD, QPoint(widget.width() // 2, widget.height() // 2))


def type_text(window, widget: QWidget, text: str) -> None:
    click_into(window, widget)
    QTest.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select what is there
    QTest.keyClicks(widget, text)
    QTest.keyClick(widget, Qt.Key.Key_Return)


def edit_field(window, name: str, text: str) -> None:
    editor = window.inspector.editors[name]
    for attr in ("edit", "spin", "combo"):
        widget = getattr(editor, attr, None)
        if widget is not None:
            break
    if attr == "combo":  # tab to it and type: keyboard search on a closed combo picks (and commits) the item
        window.inspector.scroll.ensureWidgetVisible(widget)
        widget.setFocus(Qt.FocusReason.TabFocusReason)
        QTest.keyClicks(widget, text)
        assert widget.currentText() == text
    else:
        type_text(window, widget, text)
    assert not window.inspector.errors[name].isVisible(), window.inspector.errors[name].text()


def drop_points(view, n: int) -> list[QPoint]:
    """Two rows of four, spread over the visible canvas."""
    r = view.viewport().rect()
    cols = (n + 1) // 2
    return [QPoint(int(r.width() * (0.12 + 0.76 * (i % cols) / (cols - 1))),
                   int(r.height() * (0.3 + 0.4 * (i // cols)))) for i in range(n)]


def build_digits_cnn(window) -> list[str]:
    view = window.view
    wheel(view, -3)  # zoom out so eight cards fit side by side
    assert 0.45 < view.zoom() < 0.7
    points = drop_points(view, len(PLAN))
    ids = []
    for (cls, edits, new_name), point in zip(PLAN, points):
        before = set(window.doc.graph.nodes)
        drag_from_palette(window, cls, point)
        (nid,) = set(window.doc.graph.nodes) - before
        ids.append(nid)
        assert window.inspector.node_id == nid  # a dropped layer is selected and inspected
        item = window.scene.node_item(nid)
        assert item.sceneBoundingRect().adjusted(-30, -30, 30, 30).contains(view.mapToScene(point))
        for field, text in edits.items():
            edit_field(window, field, text)
        if new_name:
            type_text(window, window.inspector.name_edit, new_name)
            assert window.doc.graph.node(nid).name == new_name
    for a, b in zip(ids, ids[1:]):
        n_edges = len(window.doc.graph.edges)
        drag_wire(view, window.scene.node_item(a), window.scene.node_item(b))
        assert len(window.doc.graph.edges) == n_edges + 1, window.statusBar().currentMessage()
    return ids


def test_build_the_digits_cnn_by_hand_save_and_reopen(qtbot, tmp_path, make_window):
    w = make_window()
    w.resize(1600, 1000)
    w.show()
    qtbot.waitExposed(w)
    assert len(w.doc.graph) == 0

    build_digits_cnn(w)
    example = load_document(EXAMPLE).graph
    assert structure(w.doc.graph) == structure(example)
    assert w.doc.result.ok and w.status_label.text().endswith("params, valid")
    assert w.doc.result.total_params == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 2 * 2 * 32 * 64 + 64 + 64 * 10 + 10
    assert w.doc.result.node_shapes[w.doc.graph.node_by_name("digit").id] == (None, 10)
    assert not any(it.problem for it in (w.scene.edge_item(e) for e in w.doc.graph.edges))

    # every step is one undoable action: undo all of it, then redo all of it
    built = w.doc.graph.to_dict()
    stack = w.doc.undo_stack
    steps = stack.count()
    kinds = [stack.text(i).split()[0] for i in range(steps)]
    # 8 adds, 7 connections, 2 renames, 10 argument changes (typing 32 filters over the starter 32 is no change)
    assert [kinds.count(k) for k in ("Add", "Connect", "Rename", "Change")] == [8, 7, 2, 10]
    assert stack.text(steps - 1) == "Connect dense → digit" and steps == 27
    for _ in range(steps):
        stack.undo()
    assert len(w.doc.graph) == 0
    for _ in range(steps):
        stack.redo()
    assert w.doc.graph.to_dict() == built

    # Ctrl+S on the canvas saves (asking for a name first), then File → Open in a fresh window
    w.dialogs.save_path_answer = str(tmp_path / "my_cnn")
    w.activateWindow()
    w.view.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=2000)
    QTest.keySequence(w.view, QKeySequence(QKeySequence.StandardKey.Save))
    saved = tmp_path / "my_cnn.lgraph"
    assert saved.exists() and w.doc.path == saved and not w.is_modified()
    assert w.windowTitle() == "my_cnn.lgraph — layergraph"

    other = make_window(dialogs=FakeDialogs())
    other.dialogs.open_path_answer = str(saved)
    other.act["open"].trigger()
    assert other.doc.graph.to_dict() == built
    assert structure(other.doc.graph) == structure(example)
    assert other.doc.result.ok and not other.is_modified()
    assert [other.scene.node_item(n).pos().toTuple() for n in other.doc.graph.nodes] == \
        [w.scene.node_item(n).pos().toTuple() for n in w.doc.graph.nodes]
