# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""The Guide dock: F1 on a selected node shows that layer's guide with the node's config and input shape."""
from __future__ import annotations

import pytest
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


def orange_pixels(image):
    """How many pixels of the picture are the receptive-field orange (#f4a261)."""
    from PySide6.QtGui import QColor

    target = QColor("#f4a261").rgb()
    return sum(1 for y in range(image.height()) for x in range(image.width()) if image.pixel(x, y) == target)


def test_f1_draws_the_picture_of_the_node_in_its_picture_section(qtbot, window):
    """F1 on a wired Conv2D draws its kernel in the Picture section; a config change redraws it."""
    window.doc.new()
    src = add(window, "Input", {"shape": [9, 9, 3]}, (0.0, 0.0))
    conv = add(window, "Conv2D", {"filters": 5, "kernel_size": 3}, (300.0, 0.0))
    assert commands.push(window.doc, commands.ConnectCommand(window.doc, src, conv)) is None
    window.show()
    qtbot.waitExposed(window)
    window.scene.select_nodes([conv])
    window.view.setFocus()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    qtbot.keyClick(window.view, Qt.Key.Key_F1)
    browser = window.guide.browser
    assert browser.image is not None and browser.image.width() >= 320
    markdown = browser.document().toMarkdown()
    assert markdown.index("Picture") < markdown.index("guide-picture:") < markdown.index("Arguments")
    small = orange_pixels(browser.image)
    assert small > 0
    assert commands.push(window.doc, commands.SetConfigCommand(window.doc, conv, {"kernel_size": (5, 5)})) is None
    assert orange_pixels(browser.image) > 1.5 * small  # 25 + 1 cells instead of 9 + 1


@pytest.mark.parametrize("config,shape,taps", [
    ({"kernel_size": 3}, (9, 9, 1), {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}),
    ({"kernel_size": 3, "strides": 2, "padding": "same"}, (9, 9, 1), {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}),
    ({"kernel_size": 3, "strides": 2, "padding": "same"}, (8, 8, 1), {(r, c) for r in (2, 3, 4) for c in (2, 3, 4)}),
    ({"kernel_size": 2, "dilation_rate": 2}, (6, 6, 1), {(r, c) for r in (1, 3) for c in (1, 3)}),
    ({"kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (8, 1), {(0, c) for c in (-3, -1, 1)}),
])
def test_the_receptive_field_drawn_is_the_one_the_kernel_reads(config, shape, taps):
    """Output (1, 1) reads rows and columns o * stride + k * dilation - padding before (Conv1D: one row)."""
    from designer.panels.guide_picture import receptive_field
    from engine.layers import create_layer

    name = "Conv1D" if len(shape) == 2 else "Conv2D"
    layer = create_layer(name, {"filters": 1, **config})
    assert receptive_field(layer, [(None, *shape)])[0] == taps


def test_the_guide_opens_wide_and_gives_the_width_back(qtbot, window):
    """At 1366×768 the Guide used to open as narrow as the Inspector (about a quarter of the window)."""
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    window.guide_dock.hide()
    before = window.inspector_dock.width()
    window.act["guide"].trigger()
    qtbot.waitUntil(lambda: window.guide_dock.width() >= 0.36 * window.width(), timeout=2000)
    window.inspector_dock.raise_()
    qtbot.waitUntil(lambda: abs(window.inspector_dock.width() - before) <= 8, timeout=2000)


def test_every_explainable_layer_has_a_picture_that_draws(qtbot):
    """Each layer's picture is drawn on its guide's default shapes without falling back to an error message."""
    from PySide6.QtGui import QPalette

    from designer.panels.guide_picture import picture_image, picture_kind
    from engine.guide import explainable_layers, guide_inputs

    kinds = {}
    for name in explainable_layers():
        layer, shapes = guide_inputs(name)
        image = picture_image(layer, shapes, 480, QPalette(), strict=True)
        assert not image.isNull()
        kinds[name] = picture_kind(name)
    assert kinds["Dense"] == "matrix" and kinds["Conv1D"] == kinds["SeparableConv2D"] == "kernel"
    assert kinds["LSTM"] == kinds["GRU"] == kinds["Bidirectional"] == "recurrent"
    assert kinds["MaxPooling2D"] == kinds["GlobalAveragePooling1D"] == kinds["AdaptiveMaxPooling3D"] == "pooling"
    assert kinds["Add"] == kinds["Concatenate"] == kinds["Dot"] == "merge"
    assert picture_kind("MultiHeadAttention") == "attention"
