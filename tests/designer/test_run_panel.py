"""Live training from the run dock, driven with real clicks: curves, decision boundary, pause/resume/
step/stop within one batch, NaN highlighting, a locked graph, data that does not fit, weights in
the document, PNG/CSV export, and the image views on the digits CNN."""
from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from designer import commands
from designer.main_window import MainWindow
from designer.run.plots import save_widget_png
from designer.run.training_thread import TrainingProcess
from engine.fileformat import Document, load_document
from engine.graph import LayerGraph

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


class ScriptedDialogs:
    def __init__(self) -> None:
        self.save_answer: str | None = None
        self.open_answer: str | None = None

    def ask_save_changes(self, name):
        return "discard"

    def error(self, title, text):
        raise AssertionError(f"unexpected error dialog: {text}")

    def open_path(self, *a, **k):
        return self.open_answer

    def save_path(self, *a, **k):
        return self.save_answer

    def ask_restore(self, description):
        return False


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                   autosave_dir=tmp_path / "autosave", dialogs=ScriptedDialogs())
    qtbot.addWidget(w)
    panel = w.run_panel
    w.show()  # clicks only reach visible buttons
    qtbot.waitExposed(w)
    yield w
    panel.stop()
    panel.wait_for_end()


def _open(window, graph: LayerGraph | str, training: dict | None = None):
    if isinstance(graph, str):
        doc = load_document(EXAMPLES / graph)
        doc.training.update(training or {})
    else:
        doc = Document(graph, None, dict(training or {}))
    window.doc.replace(doc, None)
    panel = window.run_panel
    panel.update_state()
    return panel


def _click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _node(window, name):
    return next(nid for nid, n in window.doc.graph.nodes.items() if n.name == name)


def _finish(qtbot, panel, timeout=30000):
    with qtbot.waitSignal(panel.run_finished, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


# ----- a whole run ---------------------------------------------------------------------------------------
def test_train_spirals_from_clicks_draws_curves_boundary_and_keeps_weights(qtbot, window, tmp_path):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 90, "learning_rate": 0.02})
    assert panel.problem is None and panel.train_button.isEnabled()
    assert "600 samples" in panel.preview.text() and "(2,)" in panel.preview.text()
    hidden = _node(window, "dense")
    window.scene.select_nodes([hidden])
    with qtbot.waitSignal(panel.progress, timeout=10000):
        _click(qtbot, panel.train_button)
    # while it runs the graph refuses edits, with the reason
    assert not panel.train_button.isEnabled() and panel.stop_button.isEnabled()
    cmd = commands.AddNodeCommand(window.doc, "Dense", {"units": 3}, (0.0, 0.0))
    assert commands.push(window.doc, cmd) == window.doc.locked_reason
    assert "Stop" in window.doc.locked_reason
    qtbot.waitUntil(lambda: panel.data_view.boundary_frames >= 1, timeout=10000)
    first = np.array(panel.data_view.boundary.image, copy=True)
    assert _finish(qtbot, panel) == "finished"

    curves = panel.curves
    assert curves.point_count == 90 * 15
    x, y = curves.smooth_loss.item.getData()
    assert len(x) == curves.point_count and np.all(np.isfinite(y))
    assert len(curves.epochs) == 90 and curves.epochs[-1]["loss"] < 0.5 * curves.epochs[0]["loss"]
    assert "val_accuracy" in curves.epochs[-1]
    assert set(curves.grad) >= {hidden}
    last = panel.data_view.boundary.image
    assert last.shape == first.shape == (80, 80)
    assert np.abs(last - first).max() > 0.2  # the boundary moved as the network learned
    # the selected layer was pictured: units x samples heatmap, histogram, kernel, histogram over time
    lv = panel.layer_view
    assert lv.frames > 0 and lv.act_image.image.shape == (32, 16)
    assert lv.w_image.image.shape == (2, 32) and lv.history.shape[1] > 1
    assert "dead ReLU" in lv.hist_plot._title_text
    # badges on the canvas, weights in the document, unlocked, rate shown
    assert window.scene.node_item(hidden).badge.startswith("act ")
    assert window.doc.locked_reason is None
    assert set(window.doc.weights) == {_node(window, n) for n in ("dense", "dense_1", "dense_2", "classes")}
    assert window.doc.weights[hidden]["kernel"].shape == (2, 32)
    assert "samples/s" in panel.rate_label.text() and panel.progress_bar.value() == 90 * 15
    assert window.doc.training["epochs"] == 90
    # saved with the document and read back
    window.doc.save(tmp_path / "trained.lgraph")
    back = load_document(tmp_path / "trained.lgraph")
    np.testing.assert_array_equal(back.weights[hidden]["kernel"], window.doc.weights[hidden]["kernel"])
    # between runs, any selected layer is pictured with the trained weights
    window.scene.select_nodes([_node(window, "dense_2")])
    assert lv.frames == 1 and lv.act_image.image.shape == (16, 16) and lv.w_image.image.shape == (32, 16)
    # Reset weights forgets them
    _click(qtbot, panel.reset_button)
    assert window.doc.weights is None and curves.point_count == 0 and not panel.reset_button.isEnabled()
    window.scene.select_nodes([hidden])
    assert lv.frames == 0  # untrained: nothing to picture until a run


def test_pause_step_resume_stop_within_one_batch(qtbot, window):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 5000, "batch_size": 8})
    with qtbot.waitSignal(panel.progress, timeout=10000):
        _click(qtbot, panel.train_button)
    thread = panel.thread
    qtbot.waitUntil(lambda: thread.steps_done > 5, timeout=10000)
    with qtbot.waitSignal(thread.paused_weights, timeout=5000):
        _click(qtbot, panel.pause_button)
    # the training process reports the batch count when the request reached it and where it paused
    info = thread.pause_info
    assert info.requested_at is not None and 0 <= info.steps - info.requested_at <= 1
    paused_at = info.steps
    assert thread.steps_done == paused_at
    assert panel.pause_button.text() == "Resume" and panel.state == "paused"
    qtbot.wait(300)
    assert thread.steps_done == paused_at  # really paused
    assert window.doc.weights is not None  # pausing keeps the weights so far
    # while paused, selecting a layer pictures it at once (16 units x 16 samples), without training
    window.scene.select_nodes([_node(window, "dense_2")])
    lv = panel.layer_view
    qtbot.waitUntil(lambda: lv.act_image.image is not None and lv.act_image.image.shape == (16, 16), timeout=5000)
    assert thread.steps_done == paused_at
    with qtbot.waitSignal(thread.paused_weights, timeout=5000):
        _click(qtbot, panel.step_button)
    assert thread.steps_done == thread.pause_info.steps == paused_at + 1  # Step = exactly one batch
    _click(qtbot, panel.pause_button)  # Resume
    qtbot.waitUntil(lambda: thread.steps_done > paused_at + 20, timeout=5000)
    results = []
    thread.finished_run.connect(results.append)
    _click(qtbot, panel.stop_button)
    assert _finish(qtbot, panel, 5000) == "stopped"
    result = results[0]
    assert result.stopped and 0 <= result.steps - result.stop_requested_at <= 1
    assert panel.curves.last_step == result.steps
    assert window.doc.weights is not None and window.doc.locked_reason is None
    assert panel.train_button.isEnabled() and not panel.stop_button.isEnabled()


def test_data_view_shows_the_data_before_any_run_and_again_after_reset(qtbot, window):
    dv = window.run_panel.data_view
    assert dv.stack.currentWidget() is dv.note and "fit together" in dv.note.text()  # empty document
    panel = _open(window, "digits_cnn.lgraph")
    panel.update_state()
    assert dv.mode == "images" and dv.stack.currentWidget() is dv.images_page
    assert dv.pred_image.image is not None and dv.pred_image.image.shape[0] > 8  # the sample digits, tiled
    assert all(t.toPlainText() == "" for t in dv.pred_labels)  # no predictions before a run
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 3})
    panel.update_state()
    assert dv.mode == "boundary" and len(dv.points.data) == 600 and dv.boundary.image is None
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel) == "finished" and dv.boundary.image is not None
    panel.update_state()  # idle checks keep the result on screen
    assert dv.boundary.image is not None
    _click(qtbot, panel.reset_button)
    assert dv.mode == "boundary" and dv.boundary.image is None and len(dv.points.data) == 600
    # the Layer activity dock says what to do until a layer is selected
    lv = panel.layer_view
    assert lv.stack.currentWidget() is lv.note and "Select a layer" in lv.note.text()
    window.scene.select_nodes([_node(window, "dense")])  # untrained again: a sentence, not empty plots
    assert lv.stack.currentWidget() is lv.note and "dense" in lv.bar.caption.text() and "trains" in lv.note.text()
    window.scene.clearSelection()
    assert lv.stack.currentWidget() is lv.note


def test_a_training_process_that_dies_fails_the_run_and_keeps_the_document(qtbot, window):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 5000, "batch_size": 8})
    with qtbot.waitSignal(panel.progress, timeout=10000):
        _click(qtbot, panel.train_button)
    panel.thread.process.popen.kill()  # as if the OS killed it (out of memory, a crash in a library)
    assert _finish(qtbot, panel, 10000) == "failed"
    assert "ended unexpectedly" in panel.message.text() and "weights from before the run" in panel.message.text()
    assert window.doc.weights is None and window.doc.locked_reason is None
    assert panel.train_button.isEnabled() and panel.state == "idle"
    # and the next run works
    panel.apply_settings({"epochs": 2})
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel) == "finished" and window.doc.weights is not None


def test_a_waiting_training_process_that_died_is_replaced(qtbot, window):
    from designer.run import training_thread

    training_thread.warm_up_training_process()
    spare = training_thread._spare
    assert spare is not None and spare.alive()
    spare.popen.kill()
    spare.popen.wait()
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 2})
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel) == "finished" and window.doc.weights is not None


def test_closing_the_window_during_a_run_ends_the_training_process(qtbot, window):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 5000, "batch_size": 8})
    _click(qtbot, panel.train_button)
    qtbot.waitUntil(lambda: panel.thread.steps_done > 3, timeout=10000)
    popen = panel.thread.process.popen
    window.doc.weights_modified = False  # (nothing to ask: this test is about the process)
    window.close()
    assert popen.wait(timeout=10) is not None and popen.poll() is not None
    assert not panel.thread.isRunning()


def test_the_training_process_imports_no_qt_and_exits_with_its_pipe():
    code = ("import sys, designer.run.worker; "
            "sys.exit(any(m.split('.')[0] in ('PySide6', 'pyqtgraph') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
    proc = TrainingProcess()
    assert proc.alive()
    assert proc.end(timeout=30) == 0  # closing our end of the pipe is enough: no kill needed


def test_speed_slows_a_run_down_and_can_change_while_it_runs(qtbot, window):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 400})
    panel.speed.setCurrentIndex(panel.speed.findData(5.0) if panel.speed.findData(5.0) >= 0
                                else panel.speed.findData(3.0))
    pace = panel.pace()
    assert 0 < pace <= 10
    steps = 15  # 600 samples, validation 0.2, batch 32
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    _click(qtbot, panel.train_button)
    thread = panel.thread
    t0 = time.perf_counter()
    qtbot.waitUntil(lambda: window.curves_dock.height() >= 0.38 * window.height(), timeout=2000)  # plots get room
    qtbot.wait(1200)
    elapsed = time.perf_counter() - t0
    # never faster than the chosen pace (one batch of slack), whatever the machine
    assert thread.steps_done <= pace * steps * elapsed + steps
    assert panel.state == "running"
    panel.speed.setCurrentIndex(panel.speed.findData(0.0))  # full speed, mid-run
    assert _finish(qtbot, panel, 30000) == "finished"
    assert len(panel.curves.epochs) == 400


def test_a_paced_run_stops_at_once(qtbot, window):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 100, "batch_size": 600, "validation_split": 0.0})
    panel.speed.setCurrentIndex(panel.speed.findData(1.0))
    _click(qtbot, panel.train_button)
    panel.thread.control.pace(0.05)  # one batch (= one epoch) per 20 s
    qtbot.waitUntil(lambda: panel.thread.steps_done >= 1, timeout=10000)
    qtbot.wait(200)
    _click(qtbot, panel.stop_button)
    assert _finish(qtbot, panel, 8000) == "stopped"  # the nap ends on Stop, not after 20 s
    assert panel.curves.last_step <= 2


def test_gradient_norms_are_recorded_at_every_snapshot_and_drawn_in_turn(qtbot):
    from designer.run.plots import CurvesView

    view = CurvesView(lambda *_: None)
    qtbot.addWidget(view)
    view.begin({"a": "dense"}, 0.01, 100)
    for step in range(1, 11):  # ten snapshots arrive while the gradient plot waits for its turn
        view.feed({"grad_norms": {"a": 0.1 * step}, "progress": {"step": step}}, [], draw_main=False, draw_aux=False)
    series = view.grad["a"]
    x, _ = series.item.getOriginalDataset()
    assert series.n == 10 and (x is None or len(x) == 0)  # recorded, not drawn yet
    view.feed({"grad_norms": {"a": 2.0}, "progress": {"step": 11}}, [], draw_main=False, draw_aux=True)
    x, y = series.item.getOriginalDataset()
    assert list(x) == list(range(1, 12)) and y[-1] == pytest.approx(2.0)


def test_step_from_idle_trains_one_batch_then_waits(qtbot, window):
    panel = _open(window, "spirals_mlp.lgraph")
    _click(qtbot, panel.step_button)
    thread = panel.thread
    qtbot.waitUntil(lambda: window.doc.weights is not None, timeout=5000)
    qtbot.wait(200)
    assert thread.steps_done == 1 and panel.state == "paused"
    _click(qtbot, panel.stop_button)
    assert _finish(qtbot, panel, 2000) == "stopped"
    assert panel.curves.point_count == 1


def test_huge_learning_rate_stops_and_highlights_the_layer(qtbot, window):
    g = LayerGraph()
    a = g.add_node("Input", {"shape": [1]}, (0, 0), name="x")
    b = g.add_node("Dense", {"units": 16, "activation": "relu"}, (260, 0))
    c = g.add_node("Dense", {"units": 1}, (520, 0), name="y")
    g.connect(a, b)
    g.connect(b, c)
    panel = _open(window, g, {"dataset": "sine", "optimizer": "sgd", "learning_rate": 100.0, "epochs": 20})
    assert panel.data_view is not None and panel.problem is None
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel, 10000) == "failed"
    item = window.scene.node_item(c)
    assert item.highlight and "infinity" in item.highlight and "'y'" in item.highlight
    assert "lower the learning rate" in panel.message.text()
    assert window.doc.weights is None and window.doc.locked_reason is None  # bad weights are not kept
    assert panel.train_button.isEnabled()


# ----- Train disabled, with the reason ---------------------------------------------------------------
def test_train_disabled_while_the_graph_has_problems(qtbot, window):
    panel = _open(window, "spirals_mlp.lgraph")
    assert panel.train_button.isEnabled()
    edge = window.doc.graph.in_edges(_node(window, "classes"))[0]
    assert commands.push(window.doc, commands.DisconnectCommand(window.doc, edge)) is None
    qtbot.waitUntil(lambda: not panel.train_button.isEnabled(), timeout=2000)
    assert panel.reason.text().startswith("Fix the graph first")
    assert not panel.step_button.isEnabled()
    assert panel.train() is False and panel.thread is None
    window.doc.undo_stack.undo()
    qtbot.waitUntil(panel.train_button.isEnabled, timeout=2000)
    assert panel.reason.text() == ""


def test_data_that_does_not_fit_is_explained(qtbot, window, tmp_path):
    panel = _open(window, "spirals_mlp.lgraph")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "three.npz", x=rng.normal(size=(50, 3)).astype(np.float32), y=rng.integers(0, 2, 50))
    panel.set_data_file(tmp_path / "three.npz")
    panel.update_state()
    assert not panel.train_button.isEnabled()
    assert "does not fit" in panel.reason.text() and "(2,)" in panel.reason.text() and "(3,)" in panel.reason.text()
    np.savez(tmp_path / "five.npz", x=rng.normal(size=(50, 2)).astype(np.float32), y=rng.integers(0, 5, 50))
    panel.set_data_file(tmp_path / "five.npz")
    panel.update_state()
    assert "class 4" in panel.reason.text() and "2 unit" in panel.reason.text()


def test_csv_data_with_a_label_column_chooser(qtbot, window, tmp_path):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 2})
    rng = np.random.default_rng(1)
    rows = [(f"{a:.3f}", f"{b:.3f}", str(int(a * b > 0))) for a, b in rng.normal(size=(80, 2))]
    path = tmp_path / "points.csv"
    path.write_text("u,v,cls\n" + "\n".join(",".join(r) for r in rows) + "\n")
    window.dialogs.open_answer = str(path)
    panel.dataset.setCurrentIndex(panel.dataset.count() - 1)
    panel.dataset.activated.emit(panel.dataset.count() - 1)  # what choosing "From file…" does
    assert [panel.label_column.itemText(i) for i in range(panel.label_column.count())] == ["u", "v", "cls"]
    assert panel.label_column.currentText() == "cls" and panel.label_column.isEnabled()
    panel.update_state()
    assert panel.problem is None and "80 samples" in panel.preview.text() and "2 classes" in panel.preview.text()
    panel.label_column.setCurrentIndex(0)  # 'u' as the label: continuous values, not class ids
    panel.update_state()
    assert "integer class ids" in panel.reason.text() and not panel.train_button.isEnabled()
    panel.label_column.setCurrentIndex(2)
    panel.update_state()
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel) == "finished"
    assert panel.data_view.mode == "boundary"  # 2 numeric features + class labels: the Playground view
    assert window.doc.training["dataset"] == str(path) and window.doc.training["label_column"] == "cls"


def test_a_data_file_that_vanishes_before_the_run_fails_it_with_the_reason(qtbot, window, tmp_path):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 2})
    rng = np.random.default_rng(0)
    path = tmp_path / "points.npz"
    np.savez(path, x=rng.normal(size=(40, 2)).astype(np.float32), y=rng.integers(0, 2, 40))
    panel.set_data_file(path)
    panel.update_state()
    assert panel.problem is None
    path.unlink()  # the run panel's cached copy passed the checks; the training process loads the file
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel) == "failed"
    assert "points.npz" in panel.message.text() and "no such file" in panel.message.text()
    assert window.doc.weights is None and window.doc.locked_reason is None and panel.train_button.isEnabled()


def test_png_and_csv_exports(qtbot, window, tmp_path):
    panel = _open(window, "spirals_mlp.lgraph", {"epochs": 3})
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel) == "finished"
    window.dialogs.save_answer = str(tmp_path / "history.csv")
    _click(qtbot, panel.csv_button)
    with open(tmp_path / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and float(rows[-1]["val_loss"]) > 0
    with open(tmp_path / "history_batches.csv", newline="") as fh:
        assert len(list(csv.reader(fh))) == 1 + 3 * 15
    window.dialogs.save_answer = str(tmp_path / "curves")
    panel.curves.bar.button.click()
    for view in (panel.layer_view.plots, panel.data_view.stack):
        save_widget_png(view, tmp_path / "v.png")
    for name in ("curves.png", "v.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_digits_cnn_feature_maps_filters_predictions_and_confusion(qtbot, window):
    panel = _open(window, "digits_cnn.lgraph", {"epochs": 2})
    conv = next(nid for nid, n in window.doc.graph.nodes.items() if n.class_name == "Conv2D")
    window.scene.select_nodes([conv])
    _click(qtbot, panel.train_button)
    assert _finish(qtbot, panel, 60000) == "finished"
    dv = panel.data_view
    assert dv.mode == "images" and dv.confusion_epoch == 1
    m = dv.conf_image.image
    assert m.shape == (10, 10) and m.sum() == 360  # the 20 % validation split of 1,797 digits
    assert np.trace(m) / m.sum() > 0.5
    assert all("%" in t.toPlainText() for t in dv.pred_labels)
    lv = panel.layer_view
    assert lv.act_plot._title_text.startswith("feature maps")
    assert lv.act_image.image.shape == (35, 35)  # 16 maps of 8x8 in a 4x4 grid with 1-pixel gaps
    assert lv.w_image.image.shape == (15, 15)  # 16 filters of 3x3 (1 input channel) in a 4x4 grid


def test_plots_follow_the_dark_theme(qtbot, window):
    from designer.theme import plot_colors

    views = [gv for v in (window.run_panel.curves, window.run_panel.layer_view, window.run_panel.data_view)
             for gv in v.graphics_views()]
    window.set_dark(True)
    dark = plot_colors(True)["background"].lower()
    assert views and all(gv.backgroundBrush().color().name() == dark for gv in views)
    window.set_dark(False)
    assert all(gv.backgroundBrush().color().name() == plot_colors(False)["background"].lower() for gv in views)


@pytest.mark.parametrize("lo, hi", [(-0.9, 0.7), (-3.2, 0.3), (-12.0, 2.0), (0.1, 0.2), (-0.2, 0.25)])
def test_log_axis_ticks_are_few_inside_the_range_and_label_their_values(lo, hi):
    from designer.run.plots import log_ticks

    ticks = log_ticks(lo, hi)
    assert 2 <= len(ticks) <= 5
    values = [v for v, _ in ticks]
    assert values == sorted(values) and lo <= values[0] and values[-1] <= hi
    for v, label in ticks:
        assert float(label) == pytest.approx(10 ** v, rel=5e-3)
