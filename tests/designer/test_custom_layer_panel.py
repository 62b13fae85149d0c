"""The inspector's custom-layer editor, driven with real keys and clicks: untrusted code is shown and not run
until Trust; applied code is one undo step each; a bad line is underlined and pushes nothing; the bundled custom
example trains from the Run panel once trusted."""
import copy
import uuid

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from designer import commands
from designer.document import GraphDocument
from designer.panels.inspector import Inspector
from engine.layers import starter_config
from tests.designer.test_run_panel import _click, _finish, _node, _open, window  # noqa: F401,F811 (fixture)
from tests.engine.custom.definitions import GLU


def _graph(qtbot):
    doc = GraphDocument()
    glu = copy.deepcopy(GLU)
    glu["name"] = f"GLU{uuid.uuid4().hex[:8]}"  # code this session has never trusted
    ids = []
    for class_name, config in (("Input", {"shape": [5]}), ("CustomLayer", {"definition": glu})):
        before = set(doc.graph.nodes)
        assert commands.push(doc, commands.AddNodeCommand(doc, class_name, {**starter_config(class_name),
                                                                           **config}, (0.0, 0.0))) is None
        ids += list(set(doc.graph.nodes) - before)
    assert commands.push(doc, commands.ConnectCommand(doc, *ids)) is None
    insp = Inspector(doc)
    qtbot.addWidget(insp)
    insp.resize(420, 700)
    insp.show()
    insp.set_node(ids[1])
    return doc, insp, ids[1]


def _type_at_end(qtbot, editor, text):
    editor.setFocus()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, text)


def test_untrusted_code_is_shown_not_run_until_trusted(qtbot):
    doc, insp, node = _graph(qtbot)
    panel = insp.custom_panel
    assert panel.banner.isVisible() and insp.shape_label.text() == "?"
    assert "ops.split(h, 2, axis=-1)" in panel.editor.toPlainText()
    count = doc.undo_stack.count()
    qtbot.mouseClick(panel.trust_button, Qt.MouseButton.LeftButton)
    assert not panel.banner.isVisible()
    assert insp.shape_label.text() == "(None, 4)" and doc.result.ok
    assert doc.undo_stack.count() == count  # trusting is about this machine, not an edit of the document


def test_each_applied_edit_is_one_undo_step(qtbot):
    doc, insp, node = _graph(qtbot)
    panel = insp.custom_panel
    qtbot.mouseClick(panel.trust_button, Qt.MouseButton.LeftButton)
    count = doc.undo_stack.count()
    body = panel.editor.toPlainText()
    panel.editor.setFocus()
    panel.editor.selectAll()
    qtbot.keyClicks(panel.editor, "h = ops.matmul(inputs, self.kernel)")
    qtbot.keyClick(panel.editor, Qt.Key.Key_Return)
    qtbot.keyClicks(panel.editor, "return ops.tanh(h)")
    qtbot.keyClick(panel.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert doc.undo_stack.count() == count + 1
    assert doc.undo_stack.undoText().startswith("Edit the code of")
    assert insp.shape_label.text() == "(None, 8)"  # the code the user wrote runs: it is signed
    _type_at_end(qtbot, panel.editor, " * 2.0")
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert doc.undo_stack.count() == count + 2  # a second committed edit is a second step
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert panel.editor.toPlainText() == body and insp.shape_label.text() == "(None, 4)"


def test_a_bad_line_is_underlined_with_its_message_and_nothing_is_pushed(qtbot):
    doc, insp, node = _graph(qtbot)
    panel = insp.custom_panel
    count = doc.undo_stack.count()
    _type_at_end(qtbot, panel.editor, "x = ops.fft(h)")
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert doc.undo_stack.count() == count
    assert panel.editor.error_line == 4 and len(panel.editor.extraSelections()) == 2
    assert "ops.fft is not in the supported" in panel.error.text() and panel.error.isVisible()


def test_an_error_raised_by_the_code_marks_its_line(qtbot):
    doc, insp, node = _graph(qtbot)
    panel = insp.custom_panel
    qtbot.mouseClick(panel.trust_button, Qt.MouseButton.LeftButton)
    panel.editor.setFocus()
    panel.editor.selectAll()
    qtbot.keyClicks(panel.editor, "h = ops.matmul(inputs, self.kernel)")
    qtbot.keyClick(panel.editor, Qt.Key.Key_Return)
    qtbot.keyClicks(panel.editor, "return ops.reshape(h, (-1, 7, 3))")
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert not doc.result.ok and insp.shape_label.text() == "?"
    assert panel.editor.error_line == 2 and "call line 2: ValueError" in panel.error.text()


def test_declared_arguments_are_typed_editors_with_one_undo_step(qtbot):
    doc, insp, node = _graph(qtbot)
    panel = insp.custom_panel
    qtbot.mouseClick(panel.trust_button, Qt.MouseButton.LeftButton)
    units = panel.arg_editors["units"]
    count = doc.undo_stack.count()
    units.spin.setFocus()
    units.spin.selectAll()
    qtbot.keyClicks(units.spin, "6")
    qtbot.keyClick(units.spin, Qt.Key.Key_Return)
    assert doc.undo_stack.count() == count + 1
    assert doc.graph.node(node).config["arguments"] == {"units": 6}
    assert insp.shape_label.text() == "(None, 6)" and insp.params_label.text() == f"{5 * 12 + 12:,}"
    doc.undo_stack.undo()
    assert units.value() == 4 and insp.shape_label.text() == "(None, 4)"


@pytest.fixture
def fresh_user(monkeypatch, tmp_path):
    """A machine that never accepted the example's code (set before the window starts its training process)."""
    monkeypatch.setenv("LAYERGRAPH_CONFIG_DIR", str(tmp_path / "fresh-user"))


def test_the_custom_example_trains_in_the_designer_after_trusting_it(fresh_user, qtbot, window):  # noqa: F811
    panel = _open(window, "spirals_custom_rbf.lgraph", {"epochs": 12})
    assert not panel.train_button.isEnabled()
    rbf = _node(window, "rbf")
    window.inspector.set_node(rbf)
    _click(qtbot, window.inspector.custom_panel.trust_button)
    qtbot.waitUntil(panel.train_button.isEnabled, timeout=5000)
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel, timeout=60000) == "finished"
    epochs = panel.curves.epochs
    assert len(epochs) == 12 and epochs[-1]["loss"] < epochs[0]["loss"]
    assert window.doc.weights[rbf]["centers"].shape == (64, 2)
