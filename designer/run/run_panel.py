"""The run dock: data, loss and optimizer settings, Train / Pause / Stop / Step / Reset, progress.

``RunPanel`` owns the ``TrainingThread`` and the ~30 Hz refresh timer that takes the worker's
snapshot slot and hands it to the plot views (``CurvesView``, ``LayerView``, ``DataView``) and to
the canvas badges.  While a run is alive the document is locked (``doc.locked_reason``), so every
edit is refused with a message instead of racing the engine.  Trained weights are written to the
document when the run pauses, stops or ends; Reset weights clears them.
"""
from __future__ import annotations

import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QLabel, QProgressBar,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from designer.theme import plot_colors
from engine.data_fit import data_fit_problem
from engine.datasets import DATASETS, load_dataset, read_csv_table
from engine.errors import LayergraphError
from engine.executor import CompiledGraph, Executor, ParamStore
from engine.losses import LOSSES, default_loss
from engine.optimizers import OPTIMIZERS
from engine.training import output_activation, validation_cut
from engine.weight_coverage import fresh_notice, split_usable

from .data_plots import NO_DATA_NOTE, DataView
from .messages import BatchRecord
from .node_plots import LayerView
from .plots import CurvesView, apply_plot_theme
from .snapshots import describe_data, grid_kind, node_snapshot, sample_indices, take_samples
from .training_thread import TrainingThread, warm_up_training_process
from .worker import RunConfig, RunData

REFRESH_MS = 33
END_WAIT_MS = 5000
BADGE_EVERY = 12  # refreshes per canvas badge update (~2.5 Hz)
# Line plots (curves, histograms) cost ~10x more to paint than images: redraw them at ~5 Hz; the
# images (activations, filters, decision boundary, predictions) follow every refresh.
SLOW_EVERY = 6
FILE_ITEM = "From file…"
SPEEDS = [("Full speed", 0.0), ("100 epochs/s", 100.0), ("30 epochs/s", 30.0), ("10 epochs/s", 10.0),
          ("3 epochs/s", 3.0), ("1 epoch/s", 1.0)]
LOCKED = "The graph is locked while training runs; press Stop (or wait for the run to end) to edit it."


class RunPanel(QWidget):
    """Settings and controls of a training run; drives the plot views during the run.

    Signals:
        progress(int): a new snapshot arrived (the global step), at most ~30 per second.
        run_finished(str): the run ended; the text says how ("finished", "stopped", "failed").
    """

    progress = Signal(int)
    run_finished = Signal(str)
    run_started = Signal()

    def __init__(self, doc, scene=None, dialogs=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc, self.scene, self.dialogs = doc, scene, dialogs
        self.curves = CurvesView(self.ask_save_path)
        self.layer_view = LayerView(self.ask_save_path)
        self.data_view = DataView(self.ask_save_path)
        self.thread: TrainingThread | None = None
        self.state = "idle"  # idle | running | paused
        self.selected: str | None = None
        self.refresh_count = 0
        self.data_path: str | None = None
        self._data_cache: dict[tuple, tuple[Any, np.ndarray]] = {}
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)
        self._shown_data: tuple | None = None  # what the Data view lays out (see _show_data)
        self._trained_pass: tuple | None = None  # (weights, validation, data key, forward pass): _picture_trained
        QTimer.singleShot(0, warm_up_training_process)  # after the window shows, not before
        self._total_steps = 1
        self._steps = 1
        self.problem: str | None = None
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(120)
        self._check_timer.timeout.connect(self.update_state)
        doc.validation_changed.connect(self._on_graph_changed)
        doc.reset.connect(self._on_doc_reset)
        doc.weights_changed.connect(self._update_buttons)
        if scene is not None:
            scene.selection_changed_ids.connect(self.set_selection)
        self.apply_settings(doc.training)
        self.update_state()

    # ----- construction --------------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.dataset = QComboBox()
        for name, info in DATASETS.items():
            self.dataset.addItem(name, name)
            self.dataset.setItemData(self.dataset.count() - 1, info.doc, Qt.ItemDataRole.ToolTipRole)
        self.dataset.addItem(FILE_ITEM, None)
        self.dataset.activated.connect(self._on_dataset_activated)
        self.label_column = QComboBox()
        self.label_column.setToolTip("The CSV column holding the labels; every other column is a feature")
        self.label_column.currentIndexChanged.connect(lambda _i: self._data_changed())
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setObjectName("dataPreview")
        self.loss = QComboBox()
        self.loss.addItem("auto", None)
        for name in LOSSES:
            self.loss.addItem(name, name)
        self.loss.currentIndexChanged.connect(lambda _i: self._schedule_check())
        self.optimizer = QComboBox()
        for name in OPTIMIZERS:
            self.optimizer.addItem(name, name)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1e6)
        self.lr.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.batch_size = self._spin(1, 65536)
        self.epochs = self._spin(1, 100000)
        self.val_split = QDoubleSpinBox()
        self.val_split.setRange(0.0, 0.9)
        self.val_split.setSingleStep(0.05)
        self.seed = self._spin(-1, 2**31 - 1)
        self.seed.setSpecialValueText("random")
        self.speed = QComboBox()
        for text, pace in SPEEDS:
            self.speed.addItem(text, pace)
        self.speed.setToolTip("Slow a run down to watch it learn; can be changed while it runs")
        self.speed.currentIndexChanged.connect(lambda _i: self._speed_changed())
        # what is changed most often first, so it is in view on a short screen: Speed, Learning rate
        for label, w in (("Dataset", self.dataset), ("Label column", self.label_column), ("", self.preview),
                         ("Speed", self.speed), ("Learning rate", self.lr), ("Epochs", self.epochs),
                         ("Batch size", self.batch_size), ("Optimizer", self.optimizer), ("Loss", self.loss),
                         ("Validation split", self.val_split), ("Seed", self.seed)):
            form.addRow(label, w)
        self.settings_widgets = [self.dataset, self.label_column, self.loss, self.optimizer, self.lr,
                                 self.batch_size, self.epochs, self.val_split, self.seed]
        buttons = QGridLayout()
        self.train_button = self._button("Train", "Train the graph on the data", self.train)
        self.pause_button = self._button("Pause", "Pause after the current batch", self.toggle_pause)
        self.stop_button = self._button("Stop", "Stop after the current batch and keep the weights", self.stop)
        self.step_button = self._button("Step", "Train one batch, then pause", self.step)
        self.reset_button = self._button("Reset weights", "Forget the trained weights", self.reset_weights)
        for i, b in enumerate((self.train_button, self.pause_button, self.stop_button, self.step_button)):
            buttons.addWidget(b, 0, i)
        buttons.addWidget(self.reset_button, 1, 0, 1, 2)
        self.csv_button = self._button("Export history CSV…", "Save the loss/metric history", self._export_csv)
        buttons.addWidget(self.csv_button, 1, 2, 1, 2)
        lay.addLayout(buttons)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("")
        self.progress_bar.setTextVisible(True)
        self.rate_label = HidingLabel()
        self.reason = HidingLabel()
        self.reason.setWordWrap(True)
        self.reason.setObjectName("runProblem")
        self.reason.setStyleSheet("color: #b3261e;")
        self.message = HidingLabel()
        self.message.setWordWrap(True)
        # the controls and the progress first: they stay in view when the dock is short during a run
        for w in (self.progress_bar, self.rate_label, self.reason, self.message):
            lay.addWidget(w)
        lay.addLayout(form)
        lay.addStretch(1)

    def _spin(self, lo: int, hi: int) -> QSpinBox:
        s = QSpinBox()
        s.setRange(lo, hi)
        return s

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(lambda _c=False: slot())
        return b

    # ----- settings ------------------------------------------------------------------------------------
    def apply_settings(self, training: dict[str, Any] | None) -> None:
        c = RunConfig(**{k: v for k, v in (training or {}).items() if k in RunConfig.__dataclass_fields__})
        if c.dataset in DATASETS:
            self.dataset.setCurrentIndex(self.dataset.findData(c.dataset))
            self.data_path = None
        elif c.dataset:
            self.data_path = c.dataset
            self.dataset.setCurrentIndex(self.dataset.count() - 1)
        self._fill_label_columns(c.label_column)
        self.loss.setCurrentIndex(max(0, self.loss.findData(c.loss)) if c.loss else 0)
        self.optimizer.setCurrentIndex(max(0, self.optimizer.findData(str(c.optimizer).lower())))
        self.lr.setValue(c.learning_rate)
        self.batch_size.setValue(c.batch_size)
        self.epochs.setValue(c.epochs)
        self.val_split.setValue(c.validation_split)
        self.seed.setValue(-1 if c.seed is None else c.seed)

    def config(self) -> RunConfig:
        return RunConfig(dataset=self.dataset_name(), label_column=self.label_column.currentData(),
                         loss=self.loss.currentData(), optimizer=self.optimizer.currentData(),
                         learning_rate=self.lr.value(), batch_size=self.batch_size.value(),
                         epochs=self.epochs.value(), validation_split=round(self.val_split.value(), 4),
                         seed=None if self.seed.value() < 0 else self.seed.value())

    def pace(self) -> float:
        """The chosen speed limit in epochs per second (0: full speed)."""
        return float(self.speed.currentData() or 0.0)

    def _speed_changed(self) -> None:
        if self.thread is not None:
            self.thread.pace = self.pace()
            self.thread.control.pace(self.pace())

    def dataset_name(self) -> str:
        return self.dataset.currentData() or self.data_path or ""

    def set_data_file(self, path: str | Path, label_column: str | None = None) -> None:
        """Use a user ``.npz``/``.csv`` (what the file dialog calls)."""
        self.data_path = str(path)
        self.dataset.setCurrentIndex(self.dataset.count() - 1)
        self._fill_label_columns(label_column)
        self._data_changed()

    def _on_dataset_activated(self, _index: int) -> None:
        if self.dataset.currentData() is None:
            path = self.ask_open_path("Open data", "Data (*.npz *.csv)")
            if path:
                self.set_data_file(path)
                return
            if not self.data_path:
                self.dataset.setCurrentIndex(0)
        else:
            self.data_path = None
            self._fill_label_columns(None)
        self._data_changed()

    def _fill_label_columns(self, chosen: str | None) -> None:
        self.label_column.blockSignals(True)
        self.label_column.clear()
        path = self.data_path if self.dataset.currentData() is None else None
        header: list[str] = []
        if path and path.lower().endswith(".csv"):
            try:
                header, _ = read_csv_table(Path(path))
            except LayergraphError:
                header = []
        for col in header:
            self.label_column.addItem(col, col)
        if header:
            self.label_column.setCurrentIndex(header.index(chosen) if chosen in header else len(header) - 1)
        self.label_column.setEnabled(bool(header))
        self.label_column.blockSignals(False)

    def _data_changed(self) -> None:
        self._schedule_check()
        if self.state == "idle":
            self.update_state()

    # ----- data and problems ---------------------------------------------------------------------------
    def load_data(self) -> tuple[Any, np.ndarray, str]:
        """``(x, y, kind)`` of the chosen data (cached); raises ``LayergraphError`` with a sentence."""
        name, col = self.dataset_name(), self.label_column.currentData()
        if not name:
            raise LayergraphError("Choose a dataset (a built-in one or a .npz/.csv file).")
        key = (name, col)
        if key not in self._data_cache:
            self._data_cache = {key: load_dataset(name, col, seed=0)}
        x, y = self._data_cache[key]
        kind = DATASETS[name].kind if name in DATASETS else "file"
        if kind == "file" and not isinstance(x, dict) and np.asarray(x).ndim == 2 and x.shape[1] == 2 \
                and np.asarray(y).dtype.kind in "iu":
            kind = "2d"
        return x, y, kind

    def _schedule_check(self) -> None:
        self._check_timer.start()

    def compute_problem(self) -> str | None:
        """Why Train is unavailable now (graph problems, unreadable data, data that does not fit).

        The data preview describes the chosen data whatever the graph; the "auto" loss names the loss
        only when the current graph and data decide it."""
        self.loss.setItemText(0, "auto")
        try:
            x, y, _kind = self.load_data()
        except LayergraphError as exc:
            self.preview.setText("")
            return self._graph_problem() or str(exc)
        self.preview.setText(describe_data(x, y))
        res = self.doc.result
        graph_problem = self._graph_problem()
        if graph_problem:
            return graph_problem
        try:
            plan = CompiledGraph(self.doc.graph, res)
        except LayergraphError as exc:
            return str(exc)
        loss = self.loss.currentData()
        if loss is None and len(plan.output_ids) == 1:
            out = plan.output_ids[0]
            auto = default_loss(output_activation(plan, out), np.asarray(y)[:2], plan.shapes[out])
            self.loss.setItemText(0, f"auto ({auto})")
        if len(plan.output_ids) != 1:
            return (f"The data does not fit the graph: the Run panel trains graphs with one output; this graph has "
                    f"{len(plan.output_ids)} ({', '.join(plan.output_names)}).")
        problem = data_fit_problem(plan, x, y, loss)
        if problem:
            return f"The data does not fit the graph: {problem}"
        self._show_data(plan, x, y, _kind, round(self.val_split.value(), 4))
        return None

    def _graph_problem(self) -> str | None:
        res = self.doc.result
        if len(self.doc.graph) == 0:
            return "The graph is empty; add an Input and some layers."
        if res.problems:
            n = len(res.problems)
            first = res.problems[0]
            where = self.doc.graph.node(first.node_id).name + ": " if first.node_id in self.doc.graph else ""
            return f"Fix the graph first ({n} problem{'s' if n > 1 else ''}) — {where}{first.message}"
        return None

    def update_state(self) -> None:
        if self.state == "idle":
            self.problem = self.compute_problem()
            self.reason.setText(self.problem or "")
            self.train_button.setToolTip(self.problem or "Train the graph on the data")
        self._update_buttons()

    def _update_buttons(self) -> None:
        idle = self.state == "idle"
        ok = idle and self.problem is None
        self.train_button.setEnabled(ok)
        self.step_button.setEnabled(ok or not idle)
        self.pause_button.setEnabled(not idle)
        self.pause_button.setText("Resume" if self.state == "paused" else "Pause")
        self.stop_button.setEnabled(not idle)
        # idle with no progress to report, an empty bar would look like a text field: hide it
        self.progress_bar.setVisible(not idle or bool(self.progress_bar.format()))
        self.reset_button.setEnabled(idle and bool(self.doc.weights))
        self.csv_button.setEnabled(bool(self.curves.epochs or self.curves.batches))
        for w in self.settings_widgets:
            w.setEnabled(idle and (w is not self.label_column or self.label_column.count() > 0))

    def _on_graph_changed(self, _result) -> None:
        if self.state == "idle":
            if self.scene is not None:
                self.scene.clear_decorations()
            self._schedule_check()

    def _on_doc_reset(self) -> None:
        """Another document was set: from now on everything the panel and the plot docks show is about
        it (its settings, no progress or result of the previous one), computed now rather than on the
        next check, so nothing of the previous document (or of none) is ever on screen."""
        message = ""
        if self.thread is not None:  # another document replaced this one: abandon the run, keep nothing
            self.thread.control.stop()
            self._end_run("stopped", "")
            message = "The run was stopped because another document was opened."
        self.apply_settings(self.doc.training)
        self.selected = None
        self.layer_view.set_node(None)
        self._clear_run_views()
        self.data_view.show_note(NO_DATA_NOTE)
        self.message.setStyleSheet("")
        self.message.setText(message)
        self._check_timer.stop()
        self.update_state()

    def _clear_run_views(self) -> None:
        """Forget the last run's curves, pictures, progress and speed (new document, or weights reset)."""
        self.curves.reset()
        self.layer_view.reset()
        if self.scene is not None:
            self.scene.clear_decorations()
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")
        self.rate_label.setText("")
        self._shown_data = None  # the Data view goes back to the bare data
        self._trained_pass = None

    # ----- run control ---------------------------------------------------------------------------------
    def train(self, step_only: bool = False) -> bool:
        """Start a run (or one batch with ``step_only``); False with ``self.reason`` set when it cannot."""
        if self.state != "idle":
            return False
        self.update_state()
        if self.problem:
            return False
        x, y, kind = self.load_data()
        config = self.config()
        plan = CompiledGraph(self.doc.graph.copy())
        thread = TrainingThread(RunData(plan, x, y, kind, config, self.doc.weights), self)
        thread.selected = self.selected
        thread.pace = self.pace()
        thread.progress.connect(self.progress)
        thread.paused_weights.connect(self._on_paused_weights)
        thread.finished_run.connect(self._on_finished)
        thread.failed.connect(self._on_failed)
        if step_only:
            thread.control.step(1)
        self.thread = thread
        self._begin_views(plan, x, y, kind, config)
        self.doc.locked_reason = LOCKED
        self.doc.training = config.to_training_dict()
        self.state = "paused" if step_only else "running"
        self.message.setText("Training…" + self._fresh_layers_notice(plan))
        self._update_buttons()
        thread.start()
        self.timer.start()
        self.run_started.emit()
        return True

    def _fresh_layers_notice(self, plan: CompiledGraph) -> str:
        """`` <layers> start from fresh weights.`` when trained weights exist but do not cover every layer."""
        if not self.doc.weights:
            return ""
        _usable, fresh, _messages = split_usable(plan, self.doc.weights)
        return " " + fresh_notice(plan.graph, fresh) if fresh else ""

    def _begin_views(self, plan: CompiledGraph, x, y, kind: str, config: RunConfig) -> None:
        if self.scene is not None:
            self.scene.clear_decorations()
        self._steps = -(-validation_cut(len(y), config.validation_split) // config.batch_size)
        self._total_steps = self._steps * config.epochs
        self._batch_size = config.batch_size
        self._epochs = config.epochs
        self._rate.clear()
        self._pending_events: list[tuple] = []
        self._t0 = time.perf_counter()
        self.progress_bar.setRange(0, self._total_steps)
        self.progress_bar.setValue(0)
        self.curves.begin(plan.names, config.learning_rate, self._total_steps)
        self._show_data(plan, x, y, kind, config.validation_split, force=True)
        self.layer_view.reset()

    def _show_data(self, plan: CompiledGraph, x, y, kind: str, validation_split: float, force: bool = False) -> None:
        """Lay the data out in the Data view (points, curve data or sample images), before any run
        too; a view already showing this data and graph input is left alone (it may hold a result)."""
        input_shapes = tuple(plan.shapes[i] for i in plan.input_ids)
        key = (self.dataset_name(), self.label_column.currentData(), kind, input_shapes, validation_split)
        if key == self._shown_data and not force:
            return
        self._shown_data = key
        self.data_view.begin(kind, x, y, grid_kind(plan, kind))
        if self.data_view.mode == "images":
            self.data_view.set_sample_images(np.asarray(x)[sample_indices(len(y), validation_split)])

    def toggle_pause(self) -> None:
        if self.thread is None:
            return
        if self.state == "running":
            self.thread.control.pause()
            self.state = "paused"
            self.message.setText("Paused — the weights so far are kept.")
        elif self.state == "paused":
            self.thread.control.resume()
            self.state = "running"
            self.message.setText("Training…")
        self._update_buttons()

    def pause(self) -> None:
        if self.state == "running":
            self.toggle_pause()

    def resume(self) -> None:
        if self.state == "paused":
            self.toggle_pause()

    def step(self) -> None:
        if self.state == "idle":
            self.train(step_only=True)
        elif self.thread is not None:
            self.thread.control.step(1)
            self.state = "paused"
            self._update_buttons()

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.control.stop()
            self.message.setText("Stopping after the current batch…")

    def reset_weights(self) -> None:
        if self.state != "idle":
            return
        self.doc.set_weights(None)
        self._clear_run_views()
        self.message.setText("Weights reset; the next run starts from fresh initial weights.")
        self.update_state()

    def wait_for_end(self, timeout_ms: int = END_WAIT_MS) -> bool:
        """Block until the training process and its relay thread have ended (tests, closing); a
        process still busy after ``timeout_ms`` is killed, so this never hangs the window."""
        thread = self.thread
        if thread is None:
            return True
        if thread.wait(timeout_ms):
            return True
        thread.kill()
        return thread.wait(END_WAIT_MS)

    # ----- worker signals ------------------------------------------------------------------------------
    def _on_paused_weights(self, weights: dict) -> None:
        if self.thread is not None and self.sender() is self.thread:
            self.doc.set_weights(weights)

    def _on_finished(self, result: dict) -> None:
        if self.thread is None or self.sender() is not self.thread:
            return  # a run abandoned by _on_doc_reset
        self.doc.set_weights(result.weights)
        how = "stopped" if result.stopped else "finished"
        self._end_run(how, "Stopped; the trained weights are kept in the document." if result.stopped
                      else "Training finished; the trained weights are kept in the document.")

    def _on_failed(self, message: str, node_id: str | None) -> None:
        if self.thread is None or self.sender() is not self.thread:
            return
        self._end_run("failed", message)
        self.message.setStyleSheet("color: #b3261e;")
        if node_id is not None and self.scene is not None:
            self.scene.highlight_node(node_id, message)
            self.scene.status_message.emit(message)

    def _end_run(self, how: str, text: str) -> None:
        thread = self.thread
        if thread is not None:
            if not thread.wait(END_WAIT_MS):  # a process that does not honour Stop in time is ended
                thread.kill()
                thread.wait()
            self.refresh(final=True)
        self.thread = None
        self.timer.stop()
        QTimer.singleShot(0, warm_up_training_process)  # the next run's process
        self.doc.locked_reason = None
        self.state = "idle"
        self.message.setStyleSheet("")
        self.message.setText(text)
        self.update_state()
        if thread is not None:
            thread.deleteLater()
        self.run_finished.emit(how)

    # ----- drawing (UI thread, timer) ------------------------------------------------------------------
    def refresh(self, final: bool = False) -> None:
        """Take the worker's slot and redraw; does nothing when no new snapshot arrived."""
        if self.thread is None:
            return
        latest, events = self.thread.slot.take()
        if not latest and not events and not final:
            return  # (the final refresh still draws: earlier refreshes may have deferred the slow plots)
        self._draw(latest, events, final)
        self._paint_now()

    def _draw(self, latest: dict[str, Any], events: list[tuple], final: bool) -> None:
        self.refresh_count += 1
        # the slow plots take turns, so no single refresh paints all of them (keeps the event loop's
        # worst-case latency down): loss/accuracy, histograms, gradient norms/lr, progress bar
        phase = self.refresh_count % SLOW_EVERY
        self.curves.feed(latest, events, draw_main=final or phase == 1, draw_aux=final or phase == 4)
        self.layer_view.feed(latest, draw_slow=final or phase == 3)
        slow = final or phase == 5
        self.data_view.feed(latest)
        self._pending_events.extend(e for e in events if isinstance(e, BatchRecord))
        if slow:  # QProgressBar.setValue repaints synchronously: keep it at the slow rate
            self._update_progress(self._pending_events)
            self._pending_events = []
        if (final or self.refresh_count % BADGE_EVERY == 0) and "means" in latest:
            self._update_badges(latest["means"], latest.get("grad_norms", {}))

    def set_dark(self, dark: bool) -> None:
        """Follow the window's theme in every plot."""
        c = plot_colors(dark)
        views = [gv for view in (self.curves, self.layer_view, self.data_view) for gv in view.graphics_views()]
        apply_plot_theme(views, c["background"], c["foreground"])

    def _paint_now(self) -> None:
        """Paint what this refresh changed before returning, instead of in later posted events.

        pyqtgraph items mark their scene dirty; the scene processes that in a queued call which then
        asks the top-level window for an update.  Sending exactly those two kinds of posted events
        (and nothing else, so no other slot runs re-entrantly) paints only the dirty regions now.
        """
        for view in (self.curves, self.layer_view, self.data_view):
            for gv in view.graphics_views():
                QCoreApplication.sendPostedEvents(gv.scene(), QEvent.Type.MetaCall)
        if self.scene is not None:
            QCoreApplication.sendPostedEvents(self.scene, QEvent.Type.MetaCall)
        QCoreApplication.sendPostedEvents(self.window(), QEvent.Type.UpdateRequest)

    def _update_progress(self, batches: list[BatchRecord]) -> None:
        if not batches:
            return
        last = batches[-1]
        step, epoch, batch = last.step, last.epoch, last.batch
        for e in batches:
            self._rate.append((e.time, e.step))
        self.progress_bar.setValue(min(step, self._total_steps))
        self.progress_bar.setFormat(f"epoch {epoch + 1}/{self._epochs} · batch {batch + 1}/{self._steps}")
        (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
        if t1 > t0 and s1 > s0:
            rate = (s1 - s0) * self._batch_size / (t1 - t0)
            left = (self._total_steps - step) * self._batch_size / rate
            self.samples_per_second = rate
            self.rate_label.setText(f"{rate:,.0f} samples/s · {_fmt_time(left)} left")

    def _update_badges(self, means: dict[str, float], grads: dict[str, float]) -> None:
        if self.scene is None:
            return
        for nid, m in means.items():
            text = f"act {m:.2g}"
            if nid in grads:
                text += f" · ∇ {grads[nid]:.1e}"
            self.scene.set_node_badge(nid, text)

    # ----- selection, files ----------------------------------------------------------------------------
    def set_selection(self, ids: list[str]) -> None:
        nid = ids[0] if ids else None
        self.selected = nid
        if self.thread is not None:
            self.thread.selected = nid
        if nid is not None and nid in self.doc.graph:
            node = self.doc.graph.node(nid)
            self.layer_view.set_node(nid, node.name, node.class_name)
            if self.state == "idle":
                self._picture_trained(nid)
        else:
            self.layer_view.set_node(None)

    def _picture_trained(self, nid: str) -> None:
        """Between runs, picture the selected layer with the document's trained weights on the sample
        batch, so a trained network can be explored layer by layer.  One forward pass of 16 samples
        serves every layer until the weights, the graph or the data change."""
        if not self.doc.weights or self.problem is not None or self.layer_view.frames:
            return
        split = round(self.val_split.value(), 4)
        data_key = (self.dataset_name(), self.label_column.currentData(), split)
        cached = self._trained_pass
        if cached is None or cached[0] is not self.doc.weights or cached[1] is not self.doc.result \
                or cached[2] != data_key:
            cached = self._trained_pass = (self.doc.weights, self.doc.result, data_key, self._forward_trained(split))
        found = cached[3]
        if found is not None and nid in found[2]:
            plan, weights, acts = found
            self.layer_view.feed({"node": node_snapshot(plan, nid, acts[nid], weights.get(nid, {}), {})})

    def _forward_trained(self, split: float):
        """``(plan, weights, activations)`` of the sample batch, or None when the weights do not fit."""
        try:
            x, y, _kind = self.load_data()
            plan = CompiledGraph(self.doc.graph, self.doc.result)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # weights that do not fit are re-initialized: no picture then
                store = ParamStore(plan, weights=self.doc.weights)
            if store.warnings:
                return None
            xs = plan.prepare_inputs(take_samples(x, sample_indices(len(y), split)))
            return plan, store.values, Executor(plan).forward(store, xs, training=False).activations
        except (LayergraphError, ValueError):
            return None

    def ask_save_path(self, title: str, name_filter: str) -> str | None:
        if self.dialogs is not None:
            return self.dialogs.save_path(title, name_filter)
        return QFileDialog.getSaveFileName(self, title, "", name_filter)[0] or None

    def ask_open_path(self, title: str, name_filter: str) -> str | None:
        if self.dialogs is not None:
            return self.dialogs.open_path(title, name_filter)
        return QFileDialog.getOpenFileName(self, title, "", name_filter)[0] or None

    def _export_csv(self) -> None:
        path = self.ask_save_path("Export history", "CSV (*.csv)")
        if path:
            self.curves.export_csv(path if path.lower().endswith(".csv") else path + ".csv")


class HidingLabel(QLabel):
    """A label that takes no room while it says nothing (no blank gap above the settings)."""

    def __init__(self) -> None:
        super().__init__("")
        self.hide()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt override)
        super().setText(text)
        self.setVisible(bool(text))


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def attach_run_panel(window) -> RunPanel:
    """Add the Run dock and the Training curves / Layer activity / Data view docks to ``window``
    (``designer.dock_layout`` arranges them).

    The panel follows ``window.doc`` (validation, weights, locking) and ``window.scene`` (selection,
    badges, highlights); file questions go through ``window.dialogs`` when it has one.
    """
    panel = RunPanel(window.doc, getattr(window, "scene", None), getattr(window, "dialogs", None), window)
    right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
    window.run_dock = window.add_dock("Run", "runDock", panel, right, scrollable=True)
    window.curves_dock = window.add_dock("Training curves", "curvesDock", panel.curves, bottom)
    window.layer_dock = window.add_dock("Layer activity", "layerDock", panel.layer_view, bottom)
    window.data_dock = window.add_dock("Data view", "dataDock", panel.data_view, bottom)
    code = getattr(window, "code_dock", None)
    if code is not None:  # the code view matters less during a run; the inspector keeps its room
        window.tabifyDockWidget(code, window.run_dock)
        window.run_dock.raise_()
    inspector = getattr(window, "inspector_dock", None)
    if inspector is not None:  # the Run settings fit without scrolling on a 1000-pixel-high window
        window.resizeDocks([inspector, window.run_dock], [230, panel.sizeHint().height()], Qt.Orientation.Vertical)
    view_menu = next((a.menu() for a in window.menuBar().actions()
                      if a.menu() is not None and a.text().replace("&", "") == "View"), None)
    if view_menu is not None:
        view_menu.addSeparator()
        for dock in (window.run_dock, window.curves_dock, window.layer_dock, window.data_dock):
            view_menu.addAction(dock.toggleViewAction())
    window.run_panel = panel
    return panel

