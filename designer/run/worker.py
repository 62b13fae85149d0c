"""Training in a ``QThread``: ``engine.training.fit`` plus a callback that copies small snapshots.

The worker never touches a widget.  Its callback writes into a ``SnapshotSlot`` (latest values
overwrite, per-batch and per-epoch records queue up) at most ``SNAPSHOT_HZ`` times a second for the
heavier items (activations of a fixed sample batch, the selected node's weights, the decision
boundary at ``BOUNDARY_HZ``) and emits ``progress``; the run panel's timer takes the slot and draws.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal
from threadpoolctl import threadpool_limits

from engine.errors import LayergraphError, TrainingError
from engine.executor import CompiledGraph, Executor
from engine.training import Callback, RunControl, fit

from . import snapshots as snap

SNAPSHOT_HZ = 30.0
BOUNDARY_HZ = 10.0
SAMPLE_BATCH = 16
CONFUSION_MAX = 2000
BLAS_THREADS = 1
UI_WAIT_MAX = 0.05  # seconds the worker yields to a drawing UI at most, per batch


@dataclass
class RunConfig:
    """The run panel's settings (also what is stored in the document's ``training`` dict)."""

    dataset: str = "spirals"
    label_column: str | None = None
    loss: str | None = None  # None: chosen from the output layer and the labels
    optimizer: str = "adam"
    learning_rate: float = 0.01
    batch_size: int = 32
    epochs: int = 50
    validation_split: float = 0.2
    seed: int | None = 0

    def to_training_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["label_column"] is None:
            d.pop("label_column")
        return d


class SnapshotSlot:
    """A latest-value slot shared by the worker (writer) and the UI timer (reader).

    ``put`` overwrites values (only the newest activation picture matters), ``append`` queues
    records that must all reach the plots (one per batch / epoch).  ``take`` hands both over and
    empties the slot.  Arrays put here must be copies the worker no longer mutates.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, Any] = {}
        self._events: list[tuple] = []

    def put(self, **values: Any) -> None:
        with self._lock:
            self._latest.update(values)

    def append(self, event: tuple) -> None:
        with self._lock:
            self._events.append(event)

    def take(self) -> tuple[dict[str, Any], list[tuple]]:
        with self._lock:
            latest, events = self._latest, self._events
            self._latest, self._events = {}, []
        return latest, events


@dataclass
class RunData:
    """Everything a run needs, prepared on the UI thread before the worker starts."""

    plan: CompiledGraph
    x: Any
    y: np.ndarray
    kind: str  # "2d", "image", "regression", "file"
    config: RunConfig
    weights: dict | None = None


class LiveCallback(Callback):
    """Copies what the plots need into ``slot``; heavy items are time-throttled."""

    def __init__(self, thread: "TrainingThread", data: RunData) -> None:
        self.thread = thread
        self.slot = thread.slot
        self.data = data
        self.executor = Executor(data.plan)
        self.out_id = data.plan.output_ids[0]
        self._next_snap = 0.0
        self._next_boundary = 0.0
        self._wrange: dict[tuple[str, str], tuple[float, float]] = {}
        n = len(data.y)
        cut = int(np.floor(n * (1.0 - data.config.validation_split))) if data.config.validation_split else n
        self.val_slice = slice(cut, n) if cut < n else slice(0, min(n, CONFUSION_MAX))
        pick = np.arange(self.val_slice.start, min(self.val_slice.start + SAMPLE_BATCH, n))
        self.sample_x = data.plan.prepare_inputs(_take(data.x, pick))
        self.sample_y = np.asarray(data.y)[pick]
        self.grid = None
        if data.kind == "2d" and _single_input_width(data.plan) == 2:
            pts, rect = snap.boundary_grid(np.asarray(data.x))
            self.grid = ("boundary", data.plan.prepare_inputs(pts), rect)
        elif _single_input_width(data.plan) == 1 and data.kind in ("regression", "file"):
            xs = np.asarray(data.x)
            pts = np.linspace(xs.min(), xs.max(), 200, dtype=np.float32)[:, None]
            self.grid = ("curve", data.plan.prepare_inputs(pts), pts[:, 0].copy())

    # ----- hooks ---------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        ctx = self.context
        self.slot.put(begin={"steps": ctx.steps_per_epoch, "epochs": ctx.epochs,
                             "lr": float(ctx.optimizer.learning_rate), "t0": time.perf_counter()})
        self._snapshot(force=True)

    def on_batch_end(self, step: int, logs: dict) -> None:
        ctx = self.context
        if not self.thread.ui_idle.is_set():
            # the UI is drawing a snapshot: let it have the GIL instead of trading it back and forth
            self.thread.ui_idle.wait(UI_WAIT_MAX)
        self.thread.steps_done = ctx.step
        self.slot.append(("batch", ctx.step, ctx.epoch, ctx.batch, float(logs["batch_loss"]),
                          logs.get("accuracy"), time.perf_counter()))
        now = time.perf_counter()
        if now >= self._next_snap:
            self._snapshot()

    def on_pause(self, step: int) -> None:
        # fit is about to wait: hand the weights over now so a pause (or a Step) keeps them
        self._snapshot(force=True)
        self.thread.paused_weights.emit(self.context.weights())

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        ctx = self.context
        record = {k: float(v) for k, v in logs.items() if k != "batch_loss"}
        record["lr"] = float(ctx.optimizer.learning_rate)
        self.slot.append(("epoch", epoch, ctx.step, record, time.perf_counter()))
        if self.data.kind == "image" or _is_classifier(self.data.plan, self.out_id):
            self._confusion(epoch)

    # ----- snapshots -----------------------------------------------------------------------------------
    def _snapshot(self, force: bool = False) -> None:
        ctx = self.context
        now = time.perf_counter()
        self._next_snap = now + 1.0 / SNAPSHOT_HZ
        fwd = self.executor.forward(ctx.params, self.sample_x, training=False)
        acts = fwd.activations
        with np.errstate(all="ignore"):
            means = {nid: float(np.mean(a)) for nid, a in acts.items() if a.dtype.kind == "f"}
        values: dict[str, Any] = {
            "progress": {"step": ctx.step, "epoch": ctx.epoch, "batch": ctx.batch, "time": now},
            "means": means, "grad_norms": dict(ctx.grad_norms),
            "outputs": (np.array(acts[self.out_id], copy=True), self.sample_y),
        }
        nid = self.thread.selected
        if nid in acts:
            values["node"] = self._node_snapshot(nid, acts[nid], ctx.params.values.get(nid, {}))
        if self.grid is not None and (force or now >= self._next_boundary):
            self._next_boundary = now + 1.0 / BOUNDARY_HZ
            kind, inputs, extra = self.grid
            out = self.executor.forward(ctx.params, inputs, training=False).activations[self.out_id]
            values["grid"] = (kind, snap.boundary_values(out) if kind == "boundary" else out[:, 0].copy(), extra)
        self.slot.put(**values)
        self.thread.progress.emit(ctx.step)

    def _node_snapshot(self, nid: str, act: np.ndarray, weights: dict[str, np.ndarray]) -> dict[str, Any]:
        plan = self.data.plan
        mode, img = snap.activation_image(act)
        res: dict[str, Any] = {"id": nid, "act_mode": mode, "act_image": img,
                               "act_hist": snap.histogram(act),
                               "dead": snap.dead_fraction(act) if snap.is_relu(plan, nid) else None}
        main = snap.main_weight(weights)
        if main is not None:
            wname, w = main
            key = (nid, wname)
            if key not in self._wrange:
                r = float(np.max(np.abs(w))) * 2.0 or 1e-3
                self._wrange[key] = (-r, r)
            lo, hi = self._wrange[key]
            kmode, kimg = snap.kernel_image(w)
            res.update(weight_name=wname, weight_mode=kmode, weight_image=kimg,
                       weight_hist=snap.histogram(w, lo, hi), weight_range=(lo, hi))
        return res

    def _confusion(self, epoch: int) -> None:
        ctx = self.context
        xs = _take(self.data.x, self.val_slice)
        y = snap.class_ids(np.asarray(self.data.y)[self.val_slice])
        out = self.executor.predict(ctx.params, xs, batch_size=256)
        pred, _ = snap.predicted_classes(out)
        classes = max(int(np.asarray(out).shape[-1]), 2, int(y.max()) + 1, int(pred.max()) + 1)
        self.slot.put(confusion=(epoch, snap.confusion(y, pred, classes)))


def _take(x: Any, idx: Any) -> Any:
    if isinstance(x, dict):
        return {k: np.asarray(v)[idx] for k, v in x.items()}
    return np.asarray(x)[idx]


def _single_input_width(plan: CompiledGraph) -> int | None:
    if len(plan.input_ids) != 1:
        return None
    shape = plan.shapes[plan.input_ids[0]]
    return shape[1] if len(shape) == 2 else None


def _is_classifier(plan: CompiledGraph, nid: str) -> bool:
    layer = plan.layers[nid]
    return layer.class_name == "Softmax" or layer.config.get("activation") in ("softmax", "sigmoid")


class TrainingThread(QThread):
    """Runs ``fit`` once.  Signals are emitted from the worker thread and arrive queued on the UI side.

    Signals:
        progress(int): a new snapshot is in ``slot`` (at most ~30 per second).
        paused_weights(object): a copy of the weights, sent when the run pauses (or finishes a Step).
        finished_run(object): ``{"weights", "stopped", "history"}`` after a normal end or Stop.
        failed(str, object): the error sentence and the node id to highlight (or None).
    """

    progress = Signal(int)
    paused_weights = Signal(object)
    finished_run = Signal(object)
    failed = Signal(str, object)

    def __init__(self, data: RunData, parent=None) -> None:
        super().__init__(parent)
        self.data = data
        self.slot = SnapshotSlot()
        self.control = RunControl()
        #: node id whose activations/weights are pictured; written by the UI thread (a plain str swap)
        self.selected: str | None = None
        self.history = None
        #: cleared by the UI while it draws a snapshot (the worker waits between batches meanwhile)
        self.ui_idle = threading.Event()
        self.ui_idle.set()
        #: batches trained so far (written by the worker; read by tests and the benchmark)
        self.steps_done = 0

    def run(self) -> None:  # noqa: D102 - QThread entry point
        c = self.data.config
        try:
            cb = LiveCallback(self, self.data)
            # OpenBLAS's second thread makes the small matmuls of these models up to 100x slower on a
            # busy 2-core machine (and competes with the UI thread); one BLAS thread is stable.
            with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
                hist = fit(self.data.plan, self.data.x, self.data.y, params=self.data.weights, loss=c.loss,
                       optimizer=c.optimizer, learning_rate=c.learning_rate, epochs=c.epochs,
                           batch_size=c.batch_size, validation_split=c.validation_split, seed=c.seed,
                           callbacks=[cb], control=self.control)
        except TrainingError as exc:
            self.failed.emit(str(exc), exc.node_id)
            return
        except (LayergraphError, ValueError, MemoryError) as exc:
            self.failed.emit(f"Training stopped: {exc}", None)
            return
        self.history = hist
        self.finished_run.emit({"weights": hist.params.snapshot(), "stopped": hist.stopped,
                                "history": hist.history, "settings": hist.settings})
