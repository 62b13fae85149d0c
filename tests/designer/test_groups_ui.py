"""Group nodes in the designer, driven by real clicks and keys: make a group and ungroup (keys and the
context menu), expand in place and collapse (the card's and the frame's buttons), open a group as its own
canvas and edit inside it (one undo step each), independent copies, and the inspector's table."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from designer import commands as c
from designer.canvas.node_item import EXPAND_BOX
from engine.executor import CompiledGraph, ParamStore
from engine.training import predict
from engine.validation import infer_shapes
from tests.designer.scene_check import scene_problems
from tests.designer.window_helpers import FakeDialogs

L, NOMOD = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
X = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)


def add(doc, cls, cfg, pos):
    cmd = c.AddNodeCommand(doc, cls, cfg, pos)
    assert c.push(doc, cmd) is None
    return cmd.node_id


@pytest.fixture(scope="module")
def shared_window(qapp, tmp_path_factory):
    """One main window for the module (making one takes seconds on a loaded machine); each test starts
    it on a new document."""
    from PySide6.QtCore import QSettings

    from designer.main_window import MainWindow

    tmp = tmp_path_factory.mktemp("groups_ui")
    w = MainWindow(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat),
                   autosave_dir=tmp / "autosave", dialogs=FakeDialogs())
    w.resize(1200, 800)
    yield w
    w.doc.undo_stack.setClean()
    w.autosaver.stop()
    w.close()
    w.deleteLater()


@pytest.fixture
def model(qtbot, shared_window):
    """input (6,) -> dense (5) -> dense_1 (4, relu) -> dense_2 (3), with trained weights, on screen."""
    window = shared_window
    window.doc.new()
    doc = window.doc
    ids = [add(doc, "Input", {"shape": (6,)}, (0, 0))]
    for k, (units, act) in enumerate(((5, None), (4, "relu"), (3, None))):
        ids.append(add(doc, "Dense", {"units": units, "activation": act}, (300 * (k + 1), 0)))
        assert c.push(doc, c.ConnectCommand(doc, ids[-2], ids[-1], 0)) is None
    store = ParamStore(CompiledGraph(doc.graph, infer_shapes(doc.graph)), seed=5)
    doc.set_weights({n: dict(w) for n, w in store.values.items()})
    doc.undo_stack.clear()
    window.show()
    qtbot.waitExposed(window)
    window.view.resetTransform()
    window.view.centerOn(600, 50)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    return window, ids


def vp(view, scene_pos) -> QPoint:
    return view.mapFromScene(QPointF(scene_pos))


def click_card(view, node_id, modifier=NOMOD) -> None:
    item = view.scene().node_item(node_id)
    QTest.mouseClick(view.viewport(), L, modifier, vp(view, item.mapToScene(QPointF(60, 50))))


def outputs(doc):
    return predict(doc.graph, X, params=doc.weights)


def test_ctrl_g_makes_a_group_and_ctrl_shift_g_ungroups_with_equal_predictions(model, qtbot):
    window, (i, d, d1, d2) = model
    doc, view = window.doc, window.view
    before, y0, p0 = doc.graph.to_dict(), outputs(doc), doc.result.total_params
    click_card(view, d)
    click_card(view, d1, CTRL)
    assert window.scene.selected_node_ids() == [d, d1]
    qtbot.keyClick(view, Qt.Key.Key_G, CTRL)
    assert doc.undo_stack.count() == 1
    (gid,) = [n for n in doc.graph.nodes if doc.graph.node(n).class_name == "Group"]
    assert window.scene.selected_node_ids() == [gid]
    assert len(window.scene.node_item(gid).in_ports) == 1  # one Input inside: one port, no spare one to wire
    assert c.push(doc, c.ConnectCommand(doc, i, gid, 1)) is None  # a second input the group cannot take...
    assert len(window.scene.node_item(gid).in_ports) == 2 and not scene_problems(window.scene)  # ...is drawn
    assert not doc.result.ok  # and marked by validation
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert doc.result.total_params == p0
    np.testing.assert_array_equal(outputs(doc), y0)
    assert window.inspector.group_table is not None  # the inspector shows the group as a table
    rows = [[window.inspector.group_table.item(r, k).text() for k in range(4)]
            for r in range(window.inspector.group_table.rowCount())]
    assert rows == [["input_layer_in", "Input", "(None, 6)", "0"], ["dense", "Dense", "(None, 5)", "35"],
                    ["dense_1", "Dense", "(None, 4)", "24"]]
    assert "graph" not in window.inspector.editors  # not the raw JSON
    qtbot.keyClick(view, Qt.Key.Key_G, CTRL | SHIFT)
    assert doc.undo_stack.count() == 2
    assert doc.graph.to_dict() == before
    np.testing.assert_array_equal(outputs(doc), y0)
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert doc.graph.to_dict() == before
    assert not scene_problems(window.scene)


def test_a_selection_with_two_outputs_is_refused_in_one_line(model, qtbot):
    window, (i, d, d1, d2) = model
    doc = window.doc
    extra = add(doc, "Dense", {"units": 2}, (600, 250))
    assert c.push(doc, c.ConnectCommand(doc, d, extra, 0)) is None
    n = doc.undo_stack.count()
    click_card(window.view, d)
    click_card(window.view, d1, CTRL)
    qtbot.keyClick(window.view, Qt.Key.Key_G, CTRL)
    assert doc.undo_stack.count() == n
    message = window.statusBar().currentMessage()
    assert "2 outputs (dense, dense_1)" in message and "\n" not in message


def test_context_menu_makes_a_group(model, qtbot):
    window, (i, d, d1, d2) = model
    click_card(window.view, d1)
    click_card(window.view, d2, CTRL)
    menu = window.view.context_menu(window.scene.node_item(d2).mapToScene(QPointF(60, 50)))
    action = next(a for a in menu.actions() if a.text().startswith("Make group"))
    menu.popup(window.view.mapToGlobal(QPoint(100, 100)))
    qtbot.waitExposed(menu)
    QTest.mouseClick(menu, L, NOMOD, menu.actionGeometry(action).center())
    assert [window.doc.graph.node(n).class_name for n in window.doc.graph.nodes] == ["Input", "Dense", "Group"]


def test_expand_button_and_collapse_button(model, qtbot):
    window, (i, d, d1, d2) = model
    doc, view, scene = window.doc, window.view, window.scene
    y0 = outputs(doc)
    click_card(view, d1)
    click_card(view, d2, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_G, CTRL)
    gid = scene.selected_node_ids()[0]
    grouped = doc.graph.to_dict()
    card = scene.node_item(gid)
    view.centerOn(card)
    QTest.mouseClick(view.viewport(), L, NOMOD, vp(view, card.mapToScene(EXPAND_BOX.center())))
    assert gid not in doc.graph and [f.name for f in doc.group_frames.values()] == ["group"]
    assert {doc.graph.node(n).name for n in doc.graph.nodes} == {"input_layer", "dense", "dense_1", "dense_2"}
    np.testing.assert_array_equal(outputs(doc), y0)
    (frame,) = scene.frame_items()
    for nid in doc.graph.nodes:  # the frame surrounds exactly the group's layers
        inside = frame.boundingRect().contains(scene.node_item(nid).sceneBoundingRect().center())
        assert inside == (doc.graph.node(nid).name in ("dense_1", "dense_2"))
    assert not scene_problems(scene)
    view.centerOn(frame.collapse_button().center())
    QTest.mouseClick(view.viewport(), L, NOMOD, vp(view, frame.collapse_button().center()))
    assert doc.graph.to_dict() == grouped  # the same group back, same id, name, config and place
    assert not doc.group_frames and not scene.frame_items()
    np.testing.assert_array_equal(outputs(doc), y0)
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)  # undo the collapse: expanded again, framed
    assert len(scene.frame_items()) == 1 and not scene_problems(scene)


def test_open_group_edit_inside_undo_and_back(model, qtbot):
    window, (i, d, d1, d2) = model
    doc, view, scene = window.doc, window.view, window.scene
    click_card(view, d1)
    click_card(view, d2, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_G, CTRL)
    gid = scene.selected_node_ids()[0]
    grouped = doc.graph.to_dict()
    card = scene.node_item(gid)
    view.centerOn(card)
    QTest.mouseDClick(view.viewport(), L, NOMOD, vp(view, card.mapToScene(QPointF(60, 60))))
    canvas = window.canvas
    assert canvas.is_open and canvas.bar.isVisible() and canvas.crumb.text() == "group"
    assert window.current_scene is canvas.scene
    assert window.inspector_dock.widget() is canvas.inspector and canvas.inspector.isVisible()
    inner = canvas.inner
    assert sorted(n.name for n in inner.graph.nodes.values()) == ["dense_1", "dense_2", "dense_in"]
    # edit inside: delete dense_1 and reconnect around it (one step of the model's undo stack)
    canvas.view.reconnect_policy = "always"
    inner_d1 = inner.graph.node_by_name("dense_1").id
    canvas.view.resetTransform()
    canvas.view.centerOn(canvas.scene.node_item(inner_d1))
    click_card(canvas.view, inner_d1)
    qtbot.keyClick(canvas.view, Qt.Key.Key_Delete)
    n = doc.undo_stack.count()
    assert doc.undo_stack.undoText() == "Delete 'dense_1' and reconnect around it in 'group'"
    group_names = [nd["name"] for nd in doc.graph.node(gid).config["graph"]["nodes"]]
    assert group_names == ["dense_in", "dense_2"]  # the group followed the edit
    assert doc.result.node_shapes[gid] == (None, 3) and doc.result.ok
    qtbot.keyClick(canvas.view, Qt.Key.Key_Z, CTRL)
    assert doc.undo_stack.index() == n - 1
    assert doc.graph.to_dict() == grouped
    assert sorted(nd.name for nd in inner.graph.nodes.values()) == ["dense_1", "dense_2", "dense_in"]
    assert not scene_problems(canvas.scene)
    QTest.mouseClick(canvas.back_button, L)
    assert not canvas.is_open and window.current_scene is scene and not canvas.bar.isVisible()
    assert window.inspector_dock.widget() is window.inspector and window.inspector.isVisible()
    QTest.mouseDClick(view.viewport(), L, NOMOD, vp(view, card.mapToScene(QPointF(60, 60))))
    assert canvas.is_open
    qtbot.keyClick(canvas.view, Qt.Key.Key_Escape)  # Esc goes back too
    assert not canvas.is_open


def test_duplicate_of_a_group_is_independent(model, qtbot):
    window, (i, d, d1, d2) = model
    doc, view, scene = window.doc, window.view, window.scene
    click_card(view, d1)
    click_card(view, d2, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_G, CTRL)
    gid = scene.selected_node_ids()[0]
    original = doc.graph.node(gid).config
    qtbot.keyClick(view, Qt.Key.Key_D, CTRL)
    (copy,) = scene.selected_node_ids()
    assert copy != gid and doc.graph.node(copy).class_name == "Group"
    assert c.push(doc, c.ConnectCommand(doc, d, copy, 0)) is None
    window.canvas.open_group(copy)
    inner = window.canvas.inner
    dense = inner.graph.node_by_name("dense_2").id
    assert c.push(inner, c.SetConfigCommand(inner, dense, {"units": 7})) is None
    assert doc.result.node_shapes[copy] == (None, 7)
    assert doc.graph.node(gid).config == original and doc.result.node_shapes[gid] == (None, 3)
    window.canvas.open_group(copy)  # undo of a change made outside while the group is open: it follows
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_Z, CTRL)
    assert doc.graph.node(copy).config == original
    assert window.canvas.inner.graph.to_dict() == doc.graph.node(copy).config["graph"]


def test_an_edit_that_leaves_two_outputs_inside_waits_until_the_group_is_whole_again(model, qtbot):
    window, (i, d, d1, d2) = model
    doc, view, scene = window.doc, window.view, window.scene
    click_card(view, d1)
    click_card(view, d2, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_G, CTRL)
    gid = scene.selected_node_ids()[0]
    grouped = doc.graph.node(gid).config
    card = scene.node_item(gid)
    view.centerOn(card)
    QTest.mouseDClick(view.viewport(), L, NOMOD, vp(view, card.mapToScene(QPointF(60, 60))))
    canvas = window.canvas
    inner = canvas.inner
    extra = canvas.scene.add_node_at("Dense", QPointF(300, 300))  # a second output inside: not a group yet
    assert extra is not None and len(inner.graph) == 4
    assert doc.graph.node(gid).config == grouped and "not applied" in canvas.note.text()
    last = inner.graph.node_by_name("dense_2").id
    assert canvas.scene.push(c.ConnectCommand(inner, last, extra, 0)) is None  # whole again: applied
    assert [n["name"] for n in doc.graph.node(gid).config["graph"]["nodes"]][-1] == "dense"
    assert doc.result.node_shapes[gid] == (None, 32) and canvas.note.text() == ""
    qtbot.keyClick(canvas.view, Qt.Key.Key_Z, CTRL)
    assert doc.graph.node(gid).config == grouped and len(inner.graph) == 4
    qtbot.keyClick(canvas.view, Qt.Key.Key_Z, CTRL)
    assert doc.graph.node(gid).config == grouped and len(inner.graph) == 3
    assert not scene_problems(canvas.scene)


def test_copy_and_paste_of_a_group_gives_an_independent_group(model, qtbot):
    window, (i, d, d1, d2) = model
    doc, view, scene = window.doc, window.view, window.scene
    click_card(view, d1)
    click_card(view, d2, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_G, CTRL)
    gid = scene.selected_node_ids()[0]
    qtbot.keyClick(view, Qt.Key.Key_C, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)
    (copy,) = scene.selected_node_ids()
    assert copy != gid and doc.graph.node(copy).config == doc.graph.node(gid).config
    original = doc.graph.node(gid).config
    changed = json.loads(json.dumps(doc.graph.node(copy).config["graph"]))
    next(n for n in changed["nodes"] if n["name"] == "dense_2")["config"]["units"] = 7
    assert c.push(doc, c.SetConfigCommand(doc, copy, {"graph": changed})) is None
    assert doc.graph.node(gid).config == original and doc.result.node_shapes[gid] == (None, 3)
    window.canvas.open_group(copy)  # undo of a change made outside while the group is open: it follows
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_Z, CTRL)
    assert doc.graph.node(copy).config == original
    assert window.canvas.inner.graph.to_dict() == doc.graph.node(copy).config["graph"]
