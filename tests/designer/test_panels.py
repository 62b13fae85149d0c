"""The docks on their own, driven through real widgets: palette, field editors, inspector, code,
summary and problems views."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from designer import commands
from designer.document import GraphDocument
from designer.panels.code_view import CodeView
from designer.panels.field_widgets import make_field_widget
from designer.panels.inspector import Inspector
from designer.panels.palette import LAYER_MIME, Palette
from designer.panels.problems_view import ProblemsView
from designer.panels.summary_view import SummaryView
from engine.layers import LAYERS, starter_config


def _norm(v):
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return v


@pytest.fixture
def doc(qtbot):
    return GraphDocument()


def _add(doc, class_name, config=None, pos=(0.0, 0.0)):
    before = set(doc.graph.nodes)
    assert commands.push(doc, commands.AddNodeCommand(doc, class_name, {**starter_config(class_name),
                                                                       **(config or {})}, pos)) is None
    (nid,) = set(doc.graph.nodes) - before
    return nid


def _connect(doc, a, b):
    assert commands.push(doc, commands.ConnectCommand(doc, a, b)) is None


@pytest.fixture
def reshape_graph(doc):
    """Input(12) -> Reshape(5, 5): a shape error the inspector can fix."""
    i = _add(doc, "Input", {"shape": [12]})
    r = _add(doc, "Reshape", {"target_shape": [5, 5]})
    _connect(doc, i, r)
    return doc, i, r


# ----- palette -----------------------------------------------------------------------------------------
def test_palette_lists_every_layer_by_family_with_doc_tooltips(qtbot):
    pal = Palette()
    qtbot.addWidget(pal)
    assert set(pal.items) == set(LAYERS)
    for name, item in pal.items.items():
        assert item.parent().text(0) == LAYERS[name].family
        assert LAYERS[name].doc().split("\n")[0][:20].replace("<", "&lt;") in item.toolTip(0)


def test_palette_filter_and_enter_adds_first_match(qtbot):
    pal = Palette()
    qtbot.addWidget(pal)
    qtbot.keyClicks(pal.filter, "pool")
    visible = pal.visible_layers()
    assert "MaxPooling2D" in visible and "Dense" not in visible
    with qtbot.waitSignal(pal.add_requested) as blocker:
        qtbot.keyClick(pal.filter, Qt.Key.Key_Return)
    assert blocker.args[0] in visible
    pal.filter.clear()
    assert set(pal.visible_layers()) == set(LAYERS)


def test_palette_drag_data_and_double_click(qtbot):
    pal = Palette()
    qtbot.addWidget(pal)
    pal.show()
    item = pal.items["Dense"]
    mime = pal.tree.mimeData([item])
    assert bytes(mime.data(LAYER_MIME)).decode() == "Dense"
    pal.tree.scrollToItem(item)
    rect = pal.tree.visualItemRect(item)
    with qtbot.waitSignal(pal.add_requested, timeout=1000) as blocker:
        qtbot.mouseClick(pal.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(pal.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["Dense"]


# ----- field editors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("class_name", sorted(LAYERS))
def test_every_field_editor_round_trips_the_layer_config(qtbot, class_name):
    cfg = LAYERS[class_name](starter_config(class_name)).get_config()
    for f in LAYERS[class_name].all_fields():
        w = make_field_widget(f)
        qtbot.addWidget(w)
        w.set_value(cfg[f.name])
        assert _norm(w.value()) == _norm(cfg[f.name]), (class_name, f.name)
        assert w.toolTip() == f.doc


# ----- inspector ---------------------------------------------------------------------------------------
def test_inspector_edit_fixes_a_shape_error_with_one_command(qtbot, reshape_graph):
    doc, _i, r = reshape_graph
    insp = Inspector(doc)
    qtbot.addWidget(insp)
    insp.show()
    insp.set_node(r)
    assert not doc.result.ok and insp.shape_label.text() == "?"
    edit = insp.editors["target_shape"].edit
    count = doc.undo_stack.count()
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "3, 4")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert doc.graph.node(r).config["target_shape"] == [3, 4]
    assert doc.undo_stack.count() == count + 1
    assert doc.result.ok
    assert insp.shape_label.text() == "(None, 3, 4)"
    doc.undo_stack.undo()
    assert edit.text() == "5, 5" and not doc.result.ok


def test_inspector_bad_value_shows_reason_and_pushes_nothing(qtbot, reshape_graph):
    doc, _i, r = reshape_graph
    insp = Inspector(doc)
    qtbot.addWidget(insp)
    insp.show()
    insp.set_node(r)
    count = doc.undo_stack.count()
    edit = insp.editors["target_shape"].edit
    edit.selectAll()
    qtbot.keyClicks(edit, "0, 4")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    err = insp.errors["target_shape"]
    assert err.isVisible() and "positive" in err.text()
    assert edit.property("invalid") is True
    assert doc.undo_stack.count() == count
    edit.selectAll()
    qtbot.keyClicks(edit, "two")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert "whole number" in err.text() and doc.undo_stack.count() == count


def test_inspector_spin_box_and_combo_edits(qtbot, doc):
    d = _add(doc, "Dense", {"units": 8})
    insp = Inspector(doc)
    qtbot.addWidget(insp)
    insp.show()
    insp.set_node(d)
    spin = insp.editors["units"].spin
    assert spin.minimum() >= 1
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "64")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert doc.graph.node(d).config["units"] == 64
    combo = insp.editors["activation"].combo
    assert combo.itemText(0) == "None"
    combo.setCurrentIndex(combo.findText("relu"))
    combo.activated.emit(combo.currentIndex())
    assert doc.graph.node(d).config["activation"] == "relu"
    assert doc.undo_stack.undoText().startswith("Change activation")
    doc.undo_stack.undo()
    assert combo.currentText() == "None"


def test_inspector_rename_keeps_names_unique(qtbot, doc):
    a = _add(doc, "Dense", {"units": 4})
    b = _add(doc, "Dense", {"units": 4})
    insp = Inspector(doc)
    qtbot.addWidget(insp)
    insp.show()
    insp.set_node(b)
    taken = doc.graph.node(a).name
    insp.name_edit.selectAll()
    qtbot.keyClicks(insp.name_edit, taken)
    qtbot.keyClick(insp.name_edit, Qt.Key.Key_Return)
    assert insp.name_error.isVisible() and "already used" in insp.name_error.text()
    assert doc.graph.node(b).name != taken
    insp.name_edit.selectAll()
    qtbot.keyClicks(insp.name_edit, "classifier")
    qtbot.keyClick(insp.name_edit, Qt.Key.Key_Return)
    assert doc.graph.node(b).name == "classifier" and not insp.name_error.isVisible()
    doc.undo_stack.undo()
    assert insp.name_edit.text() == doc.graph.node(b).name != "classifier"


def test_inspector_refuses_edits_while_locked(qtbot, doc):
    d = _add(doc, "Dense", {"units": 8})
    insp = Inspector(doc)
    qtbot.addWidget(insp)
    insp.show()
    insp.set_node(d)
    doc.locked_reason = "Training is running; stop it to edit the graph."
    insp.editors["use_bias"].check.click()
    assert doc.graph.node(d).config["use_bias"] is True
    assert "Training is running" in insp.general_error.text()
    assert insp.editors["use_bias"].check.isChecked()


def test_inspector_follows_removal_and_selection(qtbot, doc):
    d = _add(doc, "Dense", {"units": 8})
    insp = Inspector(doc)
    qtbot.addWidget(insp)
    insp.set_selection([d])
    assert insp.node_id == d
    insp.set_selection([])
    assert insp.node_id is None
    insp.set_selection([d])
    commands.push(doc, commands.RemoveNodesCommand(doc, [d]))
    assert insp.node_id is None


# ----- code, summary, problems -------------------------------------------------------------------------
def test_code_view_regenerates_debounced_and_copies(qtbot, reshape_graph):
    doc, _i, r = reshape_graph
    view = CodeView(doc)
    qtbot.addWidget(view)
    view.regenerate()
    assert "reshape" in view.text.toPlainText()
    commands.push(doc, commands.RenameCommand(doc, r, "grid"))
    assert view.timer.isActive()
    qtbot.waitUntil(lambda: '"grid"' in view.text.toPlainText() or "'grid'" in view.text.toPlainText(),
                    timeout=2000)
    qtbot.mouseClick(view.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == view.text.toPlainText()


def test_code_view_shows_exporter_refusal_as_comment(qtbot, doc):
    def broken(graph):
        raise ValueError("cannot do that")
    _add(doc, "Dense", {"units": 3})
    view = CodeView(doc, generator=broken)
    qtbot.addWidget(view)
    view.regenerate()
    assert view.text.toPlainText().startswith("# The code cannot be generated yet")


def test_summary_rows_totals_and_click(qtbot, doc):
    i = _add(doc, "Input", {"shape": [3]})
    d = _add(doc, "Dense", {"units": 2})
    _connect(doc, i, d)
    view = SummaryView(doc)
    qtbot.addWidget(view)
    view.show()
    assert view.table.rowCount() == 2
    assert view.table.item(1, 2).text() == "(None, 2)" and view.table.item(1, 3).text() == "8"
    assert "Total params: 8" in view.totals.text()
    with qtbot.waitSignal(view.node_activated, timeout=1000) as blocker:
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.table.visualItemRect(view.table.item(1, 0)).center())
    assert blocker.args == [d]


def test_problems_list_follows_validation_and_click_selects(qtbot, reshape_graph):
    doc, _i, r = reshape_graph
    view = ProblemsView(doc)
    qtbot.addWidget(view)
    view.show()
    msgs = view.messages()
    assert len(msgs) == 1 and "Reshape" in msgs[0]
    with qtbot.waitSignal(view.node_activated, timeout=1000) as blocker:
        item = view.list.item(0)
        qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.list.visualItemRect(item).center())
    assert blocker.args == [r]
    commands.push(doc, commands.SetConfigCommand(doc, r, {"target_shape": [4, 3]}))
    assert view.messages() == [] and "No problems" in view.header.text()


def test_inspector_fits_a_narrow_dock_for_every_layer(qtbot, doc):
    """No editor asks for more width than a 300 px dock has (wide spin boxes used to clip the form)."""
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    inspector.resize(300, 600)
    inspector.show()
    for name in LAYERS:
        nid = _add(doc, name, starter_config(name))
        inspector.set_node(nid)
        assert inspector.body.minimumSizeHint().width() <= 300, name


def test_inspector_edits_the_wrapped_layer_of_time_distributed_and_the_cell_of_rnn(qtbot, doc):
    i = _add(doc, "Input", {"shape": [3, 6, 6, 2]})
    t = _add(doc, "TimeDistributed")
    _connect(doc, i, t)
    insp = Inspector(doc)
    qtbot.addWidget(insp)
    insp.show()
    insp.set_node(t)
    editor = insp.editors["layer"]
    assert "RandomFlip" not in [editor.combo.itemText(k) for k in range(editor.combo.count())]
    count = doc.undo_stack.count()
    editor.combo.setCurrentIndex(editor.combo.findText("Conv2D"))
    editor.combo.activated.emit(editor.combo.currentIndex())       # the user picks Conv2D: its starter arguments
    assert doc.graph.node(t).config["layer"]["class_name"] == "Conv2D"
    assert doc.undo_stack.count() == count + 1 and doc.result.ok
    spin = editor.units
    assert spin.isEnabled() and "filters" in spin.toolTip()
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "5")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert doc.graph.node(t).config["layer"]["config"]["filters"] == 5
    editor.combo.setCurrentIndex(editor.combo.findText("Flatten"))
    editor.combo.activated.emit(editor.combo.currentIndex())
    assert doc.graph.node(t).config["layer"] == {"class_name": "Flatten", "config": {}}
    assert not spin.isEnabled()
    assert doc.undo_stack.count() == count + 1          # edits of one argument merge into one command
    doc.undo_stack.undo()
    assert doc.graph.node(t).config["layer"] == {"class_name": "Dense", "config": {"units": 32}}
    assert editor.combo.currentText() == "Dense" and spin.value() == 32 and spin.isEnabled()

    r = _add(doc, "RNN")
    insp.set_node(r)
    cell = insp.editors["cell"]
    assert [cell.combo.itemText(k) for k in range(cell.combo.count())] == ["LSTMCell", "GRUCell", "SimpleRNNCell"]
    cell.combo.setCurrentIndex(cell.combo.findText("GRUCell"))
    cell.combo.activated.emit(cell.combo.currentIndex())
    assert doc.graph.node(r).config["cell"] == {"class_name": "GRUCell", "config": {"units": 32}}
