# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""The Guide dock's actions, driven by real clicks and keys: Run proof, Add example to canvas, links to layers."""
from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from designer.main_window import EXAMPLES_DIR
from tests.designer.window_helpers import make_window, settings, window  # noqa: F401


def open_guide_on_conv(qtbot, window) -> str:
    """Open the digits CNN, click its Conv2D card, press F1; the Conv2D node's id."""
    assert window.files.open_example(EXAMPLES_DIR / "digits_cnn.lgraph", ask=False)
    window.show()
    qtbot.waitExposed(window)
    conv = next(nid for nid, n in window.doc.graph.nodes.items() if n.class_name == "Conv2D")
    card = window.scene._nodes[conv]
    window.view.centerOn(card)
    at = window.view.mapFromScene(card.sceneBoundingRect().center())
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert window.scene.selected_node_ids() == [conv]
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F1)
    assert window.guide_dock.isVisible()
    return conv


def shown_difference(window) -> float:
    found = re.search(r"max \|engine − NumPy reference\| = (\S+) .*: (PASS|FAIL)", window.guide.status.text())
    assert found, window.guide.status.text()
    return float(found[1])


def test_run_proof_on_the_digits_conv2d_shows_a_difference_below_the_tolerance(qtbot, window):
    open_guide_on_conv(qtbot, window)
    text = window.guide.browser.toPlainText()
    assert text.startswith("Conv2D") and "input: (None, 8, 8, 1)" in text
    qtbot.mouseClick(window.guide.proof_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "PASS" in window.guide.status.text() or "FAIL" in window.guide.status.text(),
                    timeout=5000)
    assert shown_difference(window) < 1e-5 and window.guide.status.text().endswith("PASS")
    proof = window.guide.browser.toPlainText().split("Proof", 1)[1]
    assert "Seeded weights" in proof and "(2, 8, 8, 1)" in proof  # the node's input shape, not a sample one


def test_run_proof_uses_the_nodes_trained_weights_when_the_document_has_them(qtbot, window):
    conv = open_guide_on_conv(qtbot, window)
    rng = np.random.default_rng(7)
    window.doc.set_weights({conv: {"kernel": rng.normal(size=(3, 3, 1, 16)), "bias": rng.normal(size=16)}})
    qtbot.mouseClick(window.guide.proof_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "PASS" in window.guide.status.text() or "FAIL" in window.guide.status.text(),
                    timeout=5000)
    assert shown_difference(window) < 1e-5
    assert "The node's trained weights" in window.guide.browser.toPlainText()
    # weights that are not this layer's are refused in one line, nothing else changes
    window.doc.set_weights({conv: {"kernel": np.zeros((2, 2, 1, 16)), "bias": np.zeros(16)}})
    qtbot.mouseClick(window.guide.proof_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "could not run" in window.guide.status.text(), timeout=5000)
    assert "do not match" in window.guide.status.text()


def test_add_example_inserts_the_example_model_as_one_undo_step(qtbot, window):
    open_guide_on_conv(qtbot, window)
    before = dict(window.doc.graph.nodes)
    right = max(n.position[0] for n in before.values())
    qtbot.mouseClick(window.guide.example_button, Qt.MouseButton.LeftButton)
    added = {nid: n for nid, n in window.doc.graph.nodes.items() if nid not in before}
    assert sorted(n.class_name for n in added.values()) == ["Conv2D", "Input"]
    new_input = next(n for n in added.values() if n.class_name == "Input")
    new_conv = next(nid for nid, n in added.items() if n.class_name == "Conv2D")
    assert tuple(new_input.config["shape"]) == (8, 8, 1)  # the Example section's input: the node's shape
    assert added[new_conv].config["filters"] == 16 and added[new_conv].config["padding"] == "same"
    assert all(n.position[0] > right for n in added.values())  # beside the existing graph
    assert window.doc.result.ok and window.doc.result.node_shapes[new_conv] == (None, 8, 8, 16)
    assert window.doc.graph.inputs_of(new_conv) == [next(iter(k for k in added if k != new_conv))]
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dict(window.doc.graph.nodes) == before


def test_a_link_to_another_layer_opens_its_guide_without_changing_the_selection(qtbot, window):
    conv = open_guide_on_conv(qtbot, window)
    browser = window.guide.browser
    cursor = browser.document().find("Dense")
    while not cursor.isNull() and not cursor.charFormat().isAnchor():
        cursor = browser.document().find("Dense", cursor)
    assert not cursor.isNull(), "the Conv2D guide links `Dense`"
    cursor.setPosition(cursor.selectionStart() + 2)
    browser.setTextCursor(cursor)
    browser.ensureCursorVisible()
    at = browser.cursorRect(cursor).center() + QPoint(1, 0)
    qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert browser.toPlainText().split("\n", 2)[-1].lstrip().startswith("Dense")
    assert window.scene.selected_node_ids() == [conv]
    # its buttons act on the shown layer: the proof is Dense's
    qtbot.mouseClick(window.guide.proof_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "PASS" in window.guide.status.text(), timeout=5000)
    assert "kernel (4, 3)" in browser.toPlainText().split("Proof", 1)[1]
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F1)  # F1 goes back to the selected node
    assert browser.toPlainText().startswith("Conv2D")


def test_links_are_made_only_outside_code_and_never_to_the_shown_layer():
    from designer.panels.guide_view import linked

    text = "Use `Dense` or `Conv2D` or `filters`.\n```python\nlayers.`Dense`\n```\n`MaxPooling2D`"
    out = linked(text, "Conv2D")
    assert "[`Dense`](layer:Dense)" in out and "[`MaxPooling2D`](layer:MaxPooling2D)" in out
    assert "`Conv2D` or [" not in out and "`Conv2D`" in out and "[`filters`]" not in out
    assert "layers.`Dense`\n" in out  # inside the code block: untouched
