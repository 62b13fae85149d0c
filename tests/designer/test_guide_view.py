# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""The Guide dock: F1 on a selected node shows that layer's guide with the node's config and input shape."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from designer import commands
from tests.designer.window_helpers import make_window, settings, window  # noqa: F401


def add(window, cls, cfg, pos):
    cmd = commands.AddNodeCommand(window.doc, cls, cfg, pos)
    assert commands.push(window.doc, cmd) is None
    return cmd.node_id


def test_f1_on_a_selected_node_shows_its_guide_with_the_real_config_and_input_shape(qtbot, window):
    window.doc.new()
    src = add(window, "Input", {"shape": [9, 9, 3]}, (0.0, 0.0))
    conv = add(window, "Conv2D", {"filters": 5, "kernel_size": 3, "padding": "same"}, (300.0, 0.0))
    assert commands.push(window.doc, commands.ConnectCommand(window.doc, src, conv)) is None
    window.show()
    qtbot.waitExposed(window)
    window.guide_dock.hide()
    window.scene.select_nodes([conv])
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F1)
    assert window.guide_dock.isVisible()
    text = window.guide.browser.toPlainText()
    assert text.startswith("Conv2D")
    assert "input: (None, 9, 9, 3)" in text and "output: (None, 9, 9, 5)" in text
    assert f"{3 * 3 * 3 * 5 + 5:,}" in text  # 140 parameters for the node's wires, not the default shape
    # the guide follows the node: an undoable config edit updates it, undo restores it
    assert commands.push(window.doc, commands.SetConfigCommand(window.doc, conv, {"filters": 2})) is None
    assert "output: (None, 9, 9, 2)" in window.guide.browser.toPlainText()
    window.doc.undo_stack.undo()
    assert "output: (None, 9, 9, 5)" in window.guide.browser.toPlainText()
    # an Input node and an empty selection say what they are instead
    window.scene.select_nodes([src])
    assert "graph input" in window.guide.browser.toPlainText()
    window.scene.select_nodes([])
    assert window.guide.browser.toPlainText().startswith("Select one layer")
