"""The Run panel and the plot docks describe the document that is open, from the moment it is set:
no progress, speed, message, curves or legend of the previous document, and no "graph is empty" note
left over from before the document arrived.  Driven through the real window and its File actions."""
from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from designer.main_window import EXAMPLES_DIR
from engine.cli import main as cli_main
from engine.fileformat import save_document
from engine.graph import LayerGraph
from tests.designer.window_helpers import make_window, settings  # noqa: F401

EMPTY = "The graph is empty"


@pytest.fixture
def shown(make_window, qtbot):  # noqa: F811
    w = make_window()
    w.dialogs.save_answer = "discard"
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.run_panel.stop()
    w.run_panel.wait_for_end()


def _legend_names(plot) -> list[str]:
    """The names in the plot's legend line (under the axes)."""
    legend = getattr(plot, "_legend_line", None)
    return [] if legend is None else [name for name, _color in legend.entries]


def test_opening_another_document_after_a_run_shows_nothing_of_the_previous_one(qtbot, shown):
    panel = shown.run_panel
    assert shown.files.open_example(EXAMPLES_DIR / "spirals_mlp.lgraph")
    qtbot.waitUntil(lambda: not panel._check_timer.isActive())  # (before the fix the verdict came late)
    panel.epochs.setValue(2)
    with qtbot.waitSignal(panel.run_finished, timeout=30000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    grad_names = _legend_names(panel.curves.grad_plot)
    # what the issue saw after training spirals
    assert "epoch 2/2" in panel.progress_bar.format() and "samples/s" in panel.rate_label.text()
    assert "Training finished" in panel.message.text() and panel.reset_button.isEnabled()
    assert "dense" in grad_names and panel.data_view.mode == "boundary"

    assert shown.files.open_example(EXAMPLES_DIR / "digits_mlp.lgraph")  # no event loop turn in between
    assert shown.doc.weights is None and not panel.reset_button.isEnabled()
    assert panel.progress_bar.value() == 0 and "epoch" not in panel.progress_bar.text()
    assert panel.rate_label.text() == "" and panel.message.text() == ""
    assert panel.dataset.currentData() == "digits" and panel.epochs.value() == 20
    assert panel.problem is None and panel.reason.text() == "" and panel.train_button.isEnabled()
    assert panel.preview.text().startswith("1,797 samples")
    assert panel.curves.point_count == 0 and panel.curves.grad == {}
    assert _legend_names(panel.curves.grad_plot) == []  # spirals' layer names are gone
    assert panel.data_view.mode == "images"  # the digits, not the spirals' decision boundary
    # and it still trains (the views are rebuilt for the new graph)
    panel.epochs.setValue(1)
    with qtbot.waitSignal(panel.run_finished, timeout=30000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    digits_layers = {n.name for n in shown.doc.graph.nodes.values()}
    assert set(_legend_names(panel.curves.grad_plot)) <= digits_layers
    assert "epoch 1/1" in panel.progress_bar.format()


def test_the_panel_describes_a_document_as_soon_as_it_is_opened(qtbot, shown, tmp_path):
    """The check used to run on a timer 120 ms later: until then the panel showed the previous
    document's verdict (at start-up: "The graph is empty" under a full graph)."""
    panel = shown.run_panel
    assert panel.reason.text().startswith(EMPTY)  # the window starts on an empty document
    assert shown.files.open_example(EXAMPLES_DIR / "digits_cnn.lgraph")
    assert panel.reason.text() == "" and panel.train_button.isEnabled()
    assert panel.data_view.mode == "images"
    # a graph with a problem says so at once, and the Data view does not keep the digits
    g = LayerGraph()
    g.add_node("Input", {"shape": [2]}, name="points")
    g.add_node("Dense", {"units": 3}, name="unwired")
    broken = tmp_path / "broken.lgraph"
    save_document(broken, g)
    assert shown.files.open_path(broken)
    assert panel.reason.text().startswith("Fix the graph first") and not panel.train_button.isEnabled()
    assert panel.data_view.mode == "none" and "fit together" in panel.data_view.note.text()
    assert panel.loss.itemText(0) == "auto"  # not the digits graph's "auto (sparse_categorical_crossentropy)"
    # nothing changes when the pending checks run
    qtbot.wait(200)
    assert panel.reason.text().startswith("Fix the graph first")


def test_a_graph_trained_on_the_command_line_opens_on_its_dataset(qtbot, shown, tmp_path):
    """``layergraph train`` wrote ``training.data``; the designer read ``training.dataset`` and opened the
    digits MLP on spirals ("The data does not fit the graph")."""
    path = tmp_path / "digits_mlp.lgraph"
    shutil.copy(EXAMPLES_DIR / "digits_mlp.lgraph", path)
    assert cli_main(["train", str(path), "--data", "digits", "--epochs", "1"]) == 0
    assert shown.files.open_path(path)
    panel = shown.run_panel
    qtbot.waitUntil(lambda: not panel._check_timer.isActive())
    assert panel.dataset.currentData() == "digits" and panel.epochs.value() == 1
    assert panel.problem is None and panel.train_button.isEnabled()
    assert shown.doc.weights and panel.reset_button.isEnabled()


def test_opening_a_document_during_a_run_ends_it_and_keeps_nothing_of_it(qtbot, shown):
    panel = shown.run_panel
    assert shown.files.open_example(EXAMPLES_DIR / "spirals_mlp.lgraph")
    qtbot.waitUntil(lambda: not panel._check_timer.isActive())
    panel.speed.setCurrentIndex(panel.speed.findData(3.0))  # slow enough to still run when the file opens
    with qtbot.waitSignal(panel.progress, timeout=10000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.curves.point_count > 0, timeout=10000)
    with qtbot.waitSignal(panel.run_finished, timeout=10000) as ended:
        assert shown.files.open_example(EXAMPLES_DIR / "digits_mlp.lgraph")
    assert ended.args == ["stopped"] and panel.thread is None and shown.doc.locked_reason is None
    assert panel.message.text() == "The run was stopped because another document was opened."
    assert shown.doc.weights is None and panel.curves.point_count == 0 and panel.curves.grad == {}
    assert panel.progress_bar.value() == 0 and panel.rate_label.text() == ""
    assert panel.problem is None and panel.train_button.isEnabled() and panel.data_view.mode == "images"
