# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""The main window as a user meets it: the example on start, palette drops, inspector edits changing
validation, undo/redo from the Edit menu and keys, the modified marker, closing, themes, settings."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDropEvent, QPalette
from PySide6.QtWidgets import QApplication

from designer import commands
from designer.app import create_window
from designer.main_window import EXAMPLES_DIR, format_params
from designer.panels.palette import LAYER_MIME
from designer.theme import DARK, LIGHT
from engine.layers import starter_config
from tests.designer.window_helpers import FakeDialogs, make_window, settings, window  # noqa: F401


def add(window, cls, cfg=None, pos=(0.0, 0.0)):
    doc = window.doc
    cmd = commands.AddNodeCommand(doc, cls, {**starter_config(cls), **(cfg or {})}, pos)
    assert commands.push(doc, cmd) is None
    return cmd.node_id


def connect(window, a, b):
    assert commands.push(window.doc, commands.ConnectCommand(window.doc, a, b)) is None


def reshape_error(window):
    i = add(window, "Input", {"shape": [12]})
    r = add(window, "Reshape", {"target_shape": [5, 5]}, (260.0, 0.0))
    connect(window, i, r)
    return i, r


def test_start_opens_the_bundled_example_untitled(qtbot, tmp_path, settings):
    _app, w = create_window([], settings=settings, autosave_dir=tmp_path / "auto", dialogs=FakeDialogs())
    qtbot.addWidget(w)
    assert (EXAMPLES_DIR / "spirals_mlp.lgraph").exists()
    assert w.example_name == "spirals_mlp" and w.doc.path is None
    assert len(w.doc.graph) >= 3 and w.doc.result.ok
    assert w.windowTitle() == "spirals_mlp.lgraph — layergraph"
    assert w.status_label.text().endswith("params, valid")
    assert len(w.scene.items()) > 0 and all(w.scene.node_item(n) for n in w.doc.graph.nodes)


def test_start_with_a_file_argument_opens_it(qtbot, tmp_path, settings):
    path = EXAMPLES_DIR / "digits_mlp.lgraph"
    _app, w = create_window([str(path)], settings=settings, autosave_dir=tmp_path / "auto", dialogs=FakeDialogs())
    qtbot.addWidget(w)
    assert w.doc.path == path and w.windowTitle() == "digits_mlp.lgraph — layergraph"


def test_docks_menus_and_standard_keys(window):
    docks = {d.objectName() for d in (window.palette_dock, window.inspector_dock, window.problems_dock,
                                      window.summary_dock, window.code_dock)}
    assert len(docks) == 5
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&View", "&Help"]
    shown = [a.text() for a in window.view_menu.actions() if not a.isSeparator()]
    assert len(shown) == len(set(shown)) and window.curves_dock.toggleViewAction().text() in shown  # each dock once
    a = window.act
    assert a["undo"].shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [k.toString() for k in a["redo"].shortcuts()]
    for name, key in (("copy", "Ctrl+C"), ("paste", "Ctrl+V"), ("cut", "Ctrl+X"), ("duplicate", "Ctrl+D"),
                      ("save", "Ctrl+S"), ("open", "Ctrl+O"), ("new", "Ctrl+N"), ("select_all", "Ctrl+A"),
                      ("fit", "F"), ("delete", "Del")):
        assert key in [k.toString() for k in a[name].shortcuts()], name
    examples = [act.data() for act in window.examples_menu.actions()]
    assert sorted(examples) == sorted(str(p) for p in EXAMPLES_DIR.glob("*.lgraph"))


def test_drop_from_palette_adds_the_layer_where_dropped(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    view = window.view
    mime: QMimeData = window.palette.tree.mimeData([window.palette.items["Dense"]])
    assert bytes(mime.data(LAYER_MIME)) == b"Dense"
    target = view.viewport().rect().center()
    scene_pos = view.mapToScene(target)
    event = QDropEvent(QPointF(target), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)
    (nid,) = window.doc.graph.nodes
    node = window.doc.graph.node(nid)
    assert node.class_name == "Dense"
    item = window.scene.node_item(nid)
    assert item.sceneBoundingRect().adjusted(-30, -30, 30, 30).contains(scene_pos)
    assert window.inspector.node_id == nid  # the new node is selected and inspected
    assert window.act["undo"].text() != "&Undo" and window.doc.undo_stack.count() == 1


def test_double_click_in_palette_adds_at_view_centre(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    tree = window.palette.tree
    item = window.palette.items["Flatten"]
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert [n.class_name for n in window.doc.graph.nodes.values()] == ["Flatten"]
    (nid,) = window.doc.graph.nodes
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.node_item(nid).sceneBoundingRect().adjusted(-30, -30, 30, 30).contains(centre)


def test_inspector_edit_changes_validation_status_and_canvas(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    _i, r = reshape_error(window)
    assert window.status_label.text() == "1 problem"
    assert window.problems.messages() and "Reshape" in window.problems.messages()[0]
    window.scene.select_nodes([r])
    assert window.inspector.node_id == r
    edit = window.inspector.editors["target_shape"].edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "4, 3")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert window.doc.result.ok
    assert window.status_label.text() == "2 layers, 0 params, valid"
    assert window.problems.messages() == []
    assert window.summary.table.item(1, 2).text() == "(None, 4, 3)"


def test_undo_redo_restore_exact_documents(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    states = [window.doc.graph.to_dict()]
    i, r = reshape_error(window)
    states.append(window.doc.graph.to_dict())
    window.scene.select_nodes([r])
    window.inspector.editors["target_shape"].edit.setText("3, 4")
    window.inspector.editors["target_shape"].edit.editingFinished.emit()
    states.append(window.doc.graph.to_dict())
    assert states[-1] != states[-2]
    window.act["undo"].trigger()
    assert window.doc.graph.to_dict() == states[1]
    assert window.inspector.editors["target_shape"].edit.text() == "5, 5"
    window.act["redo"].trigger()
    assert window.doc.graph.to_dict() == states[2]
    while window.doc.undo_stack.canUndo():
        window.act["undo"].trigger()
    assert window.doc.graph.to_dict() == states[0]
    # keyboard: Ctrl+Shift+Z redoes, Ctrl+Z undoes, on the canvas
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.doc.undo_stack.index() == 1
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.doc.undo_stack.index() == 0


def test_edit_menu_actions_reach_the_canvas(qtbot, window):
    a = add(window, "Dense", {"units": 4})
    window.scene.select_nodes([a])
    window.act["duplicate"].trigger()
    assert len(window.doc.graph) == 2
    window.act["select_all"].trigger()
    assert len(window.scene.selected_node_ids()) == 2
    window.act["copy"].trigger()
    window.act["paste"].trigger()
    assert len(window.doc.graph) == 4
    window.view.reconnect_policy = "never"
    window.act["delete"].trigger()
    assert len(window.doc.graph) == 2
    window.act["auto_layout"].trigger()
    assert window.doc.undo_stack.undoText().lower().startswith("auto")


def test_modified_marker_follows_the_undo_stack(window):
    assert window.windowTitle() == "untitled.lgraph — layergraph"
    add(window, "Dense", {"units": 4})
    assert window.windowTitle() == "untitled.lgraph* — layergraph"
    window.act["undo"].trigger()
    assert window.windowTitle() == "untitled.lgraph — layergraph"
    window.act["redo"].trigger()
    assert "*" in window.windowTitle()


def test_close_with_unsaved_changes_cancel_then_discard(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    add(window, "Dense", {"units": 4})
    window.dialogs.save_answer = "cancel"
    assert window.close() is False
    assert window.isVisible() and window.dialogs.asked == ["untitled.lgraph"]
    window.dialogs.save_answer = "discard"
    assert window.close() is True
    assert not window.isVisible()


def test_close_with_save_writes_the_file(qtbot, tmp_path, window):
    window.show()
    add(window, "Dense", {"units": 4})
    window.dialogs.save_answer = "save"
    window.dialogs.save_path_answer = str(tmp_path / "mine")
    assert window.close() is True
    assert (tmp_path / "mine.lgraph").exists()


def test_close_with_save_but_no_file_name_stays_open(qtbot, window):
    window.show()
    add(window, "Dense", {"units": 4})
    window.dialogs.save_answer = "save"
    window.dialogs.save_path_answer = None
    assert window.close() is False and window.isVisible()


def test_problem_click_selects_and_centres_the_node(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    _i, r = reshape_error(window)
    far = add(window, "Dense", {"units": 2}, (3000.0, 2000.0))
    window.scene.select_nodes([far])
    lst = window.problems.list
    row = next(k for k in range(lst.count()) if lst.item(k).data(Qt.ItemDataRole.UserRole) == r)
    window.problems_dock.raise_()
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=lst.visualItemRect(lst.item(row)).center())
    assert window.scene.selected_node_ids() == [r]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.node_item(r).sceneBoundingRect().adjusted(-5, -5, 5, 5).contains(centre)


def test_dark_theme_toggle_is_applied_and_remembered(qtbot, window, settings, make_window):
    app = QApplication.instance()
    window.act["dark"].trigger()
    assert app.palette().color(QPalette.ColorRole.Window).name() == DARK.window
    assert window.scene.colors["background"] != "#F4F5F7" and settings.value("dark") in (True, "true")
    other = make_window()
    assert other.act["dark"].isChecked()
    other.act["dark"].trigger()
    assert app.palette().color(QPalette.ColorRole.Window).name() == LIGHT.window
    window.set_dark(False)


def test_geometry_dock_state_and_recent_files_are_remembered(qtbot, tmp_path, settings, make_window):
    w = make_window()
    w.show()
    qtbot.waitExposed(w)
    w.code_dock.hide()
    w.resize(780, 560)  # inside the offscreen screen, which restoreGeometry clamps to
    size = (w.width(), w.height())
    w.dialogs.save_path_answer = str(tmp_path / "g.lgraph")
    add(w, "Dense", {"units": 3})
    assert w.files.save()
    w.close()
    w2 = make_window()
    w2.show()
    qtbot.waitExposed(w2)
    assert w2.recent_files()[0] == str((tmp_path / "g.lgraph").resolve())
    assert w2.code_dock.isHidden()
    assert (w2.width(), w2.height()) == size
    w2.recent_menu.aboutToShow.emit()
    assert [a.text() for a in w2.recent_menu.actions()][0].endswith("g.lgraph")


def test_format_params():
    assert format_params(1714) == "1,714"
    assert format_params(1_234_567) == "1.2 M"
    assert format_params(52_000) == "52.0 K"



def test_each_dock_tab_group_shows_one_tab_bar_under_its_dock(qtbot, tmp_path, settings):
    """PySide6 6.12 leaves a second tab bar on screen for a tab group made before the window was
    shown; the window hides it, and every bar left visible sits under the dock of its current tab."""
    from PySide6.QtWidgets import QDockWidget, QTabBar

    from designer.main_window import MainWindow

    window = MainWindow(settings=settings, autosave_dir=tmp_path / "autosave", dialogs=FakeDialogs())
    qtbot.addWidget(window)
    window.doc.open(EXAMPLES_DIR / "spirals_mlp.lgraph")  # (tools/run_screenshots.py's order, which left one)
    window.run_panel.apply_settings({"epochs": 400})
    QApplication.processEvents()
    window.resize(1680, 1050)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    docks = {d.windowTitle(): d for d in window.findChildren(QDockWidget)}
    visible = [b for b in window.findChildren(QTabBar) if b.isVisible()]
    groups = [tuple(b.tabText(i) for i in range(b.count())) for b in visible]
    assert len(groups) == len(set(groups)) >= 2  # Problems/Summary and Keras code/Run, once each
    assert ("Keras code", "Run") in groups
    for bar in visible:
        dock = docks[bar.tabText(bar.currentIndex())]
        assert abs(bar.geometry().top() - dock.geometry().bottom() - 1) <= 4
