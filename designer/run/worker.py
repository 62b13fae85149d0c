"""The training process: ``engine.training.fit`` plus a callback that streams small snapshots.

Training runs in a child process (``main`` / ``run_worker``), never in the designer's process:
Python threads share one interpreter lock, and painting live plots in the same process as the
training took up to half of its throughput.  The child imports NumPy and the engine only (no Qt).
Its ``LiveCallback`` buffers per-batch and per-epoch records and at most ``SNAPSHOT_HZ`` times a
second computes the heavier pictures (activations of a fixed sample batch, the selected node's
weights, the decision boundary) and sends everything in one message to the designer.  Each kind of
picture (the confusion matrix too) is also paced by its own measured cost, so that it takes at most
``SNAPSHOT_BUDGET`` of the run's time: a tiny MLP gets a 30 Hz decision boundary, a large network
fewer frames rather than slower training.  The designer side (``training_thread.TrainingThread``)
receives the messages into a ``SnapshotSlot`` and sends back pause / resume / step / stop / select
/ pace commands, which a listener thread here applies between batches.  The channel
(``channel.Channel``, the child's stdin and stdout) carries plain data only.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from engine.datasets import load_dataset
from engine.errors import LayergraphError, TrainingError
from engine.executor import CompiledGraph, Executor
from engine.fileformat import document_from_json, document_to_json
from engine.losses import is_classifier
from engine.training import Callback, RunControl, fit, output_activation, validation_cut

from . import snapshots as snap
from .channel import Channel
from .messages import (BatchRecord, EpochRecord, Failed, Finished, Pace, Pause, Paused, Resume, Select, Snapshot,
                       Step, Stop)

SNAPSHOT_HZ = 30.0
SNAPSHOT_BUDGET = 0.04  # fraction of the run's time each kind of picture may take
CONFUSION_MAX = 2000
BLAS_THREADS = 1


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


@dataclass
class RunData:
    """Everything a run needs, prepared by the designer before the worker starts."""

    plan: CompiledGraph
    x: Any
    y: np.ndarray
    kind: str  # "2d", "image", "regression", "file"
    config: RunConfig
    weights: dict | None = None


class SnapshotSink:
    """The child's end of the channel: buffers records and values, sends them in one message per flush.

    Reports to the designer and commands from it are the records of ``messages``.
    """

    def __init__(self, channel: Channel, control: RunControl, selected: str | None, pace: float = 0.0) -> None:
        self.channel = channel
        self.control = control
        self.selected = selected
        #: at most this many epochs a second (0: full speed), so a person can watch a small model learn
        self.pace = pace
        self.steps = 0  # batches trained so far
        #: the batch count when the last pause / stop command arrived (proves "within one batch")
        self.requested_at: dict[str, int] = {}
        self._latest: dict[str, Any] = {}
        self._events: list[BatchRecord | EpochRecord] = []
        #: called when a node is selected while the run waits (paused), to picture it at once
        self.on_select_while_waiting: Any = None

    def put(self, **values: Any) -> None:
        self._latest.update(values)

    def append(self, event: BatchRecord | EpochRecord) -> None:
        self._events.append(event)

    def flush(self) -> None:
        latest, events = self._latest, self._events
        self._latest, self._events = {}, []
        self.send(Snapshot(latest, events, self.steps))

    def send(self, message: Snapshot | Paused | Finished | Failed) -> None:
        self.channel.send(message)

    def listen(self) -> None:
        """Apply the designer's commands until the channel closes (which means stop)."""
        while True:
            try:
                command = self.channel.recv()
            except (EOFError, OSError, ValueError):
                self.control.stop()
                return
            if isinstance(command, (Pause, Stop)):
                self.requested_at[type(command).__name__] = self.steps
            match command:
                case Pause():
                    self.control.pause()
                case Resume():
                    self.control.resume()
                case Step(batches=n):
                    self.control.step(int(n))
                case Stop():
                    self.control.stop()
                    return
                case Select(node_id=node_id):
                    self.selected = node_id
                    # paused: the training thread is parked and only this thread can wake it, so the
                    # weights hold still while the new selection is pictured here
                    if self.control.waiting and self.on_select_while_waiting is not None:
                        self.on_select_while_waiting()
                case Pace(epochs_per_second=pace):
                    self.pace = float(pace)


class LiveCallback(Callback):
    """Feeds ``sink`` with what the plots need; heavy items are time-throttled."""

    def __init__(self, sink: SnapshotSink, data: RunData) -> None:
        self.sink = sink
        sink.on_select_while_waiting = self._picture_selection
        self.data = data
        self.executor = Executor(data.plan)
        self.out_id = data.plan.output_ids[0]
        self._next_snap = 0.0
        self._next_boundary = 0.0
        self._last_batch_end = 0.0
        self._wrange: dict[tuple[str, str], tuple[float, float]] = {}
        self._wants_confusion = data.kind == "image" or is_classifier(output_activation(data.plan, self.out_id))
        self._next_confusion = 0.0
        self._epoch_done: int | None = None
        self._confusion_epoch: int | None = None
        n = len(data.y)
        cut = validation_cut(n, data.config.validation_split)
        self.val_slice = slice(cut, n) if cut < n else slice(0, min(n, CONFUSION_MAX))
        pick = snap.sample_indices(n, data.config.validation_split)
        self.sample_x = data.plan.prepare_inputs(snap.take_samples(data.x, pick))
        self.sample_y = np.asarray(data.y)[pick]
        self.grid = None
        grid = snap.grid_kind(data.plan, data.kind)
        if grid == "boundary":
            pts, rect = snap.boundary_grid(np.asarray(data.x))
            self.grid = ("boundary", data.plan.prepare_inputs(pts), rect)
        elif grid == "curve":
            xs = np.asarray(data.x)
            pts = np.linspace(xs.min(), xs.max(), 200, dtype=np.float32)[:, None]
            self.grid = ("curve", data.plan.prepare_inputs(pts), pts[:, 0].copy())

    # ----- hooks ---------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        ctx = self.context
        ctx.keep_val_outputs = True  # the confusion matrix reuses the validation pass fit makes anyway
        self.sink.put(begin={"steps": ctx.steps_per_epoch, "epochs": ctx.epochs,
                             "lr": float(ctx.optimizer.learning_rate), "t0": time.perf_counter()})
        self._snapshot(force=True)

    def on_batch_end(self, step: int, logs: dict) -> None:
        ctx = self.context
        self.sink.steps = ctx.step
        accuracy = logs.get("accuracy")
        self.sink.append(BatchRecord(ctx.step, ctx.epoch, ctx.batch, float(logs["batch_loss"]),
                                     None if accuracy is None else float(accuracy), time.perf_counter()))
        # slow motion: each batch takes at least its share of 1/pace seconds
        due = self._last_batch_end + 1.0 / (self.sink.pace * ctx.steps_per_epoch) if self.sink.pace > 0 else 0.0
        now = time.perf_counter()
        if now >= self._next_snap or due - now > 1.0 / SNAPSHOT_HZ:  # show this batch before a long nap
            self._snapshot()
        wait = due - time.perf_counter()
        if wait > 0 and ctx.control is not None:
            ctx.control.nap(wait)
        self._last_batch_end = time.perf_counter()

    def on_pause(self, step: int) -> None:
        # fit is about to wait: hand the weights over now so a pause (or a Step) keeps them
        self._snapshot(force=True)
        self.sink.send(Paused(self.context.weights(), step, self.sink.requested_at.get("Pause")))

    def _picture_selection(self) -> None:
        if self.context is not None:
            self._snapshot(force=True)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        ctx = self.context
        record = {k: float(v) for k, v in logs.items() if k != "batch_loss"}
        record["lr"] = float(ctx.optimizer.learning_rate)
        self.sink.append(EpochRecord(ctx.step, record))
        self._epoch_done = epoch
        if self._wants_confusion and time.perf_counter() >= self._next_confusion:
            self._confusion(epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        # the last pictures show the weights the run ends with
        if self._wants_confusion and self._epoch_done is not None and self._confusion_epoch != self._epoch_done:
            self._confusion(self._epoch_done)
        self._snapshot(force=True)

    # ----- snapshots -----------------------------------------------------------------------------------
    def _snapshot(self, force: bool = False) -> None:
        ctx = self.context
        start = time.perf_counter()
        fwd = self.executor.forward(ctx.params, self.sample_x, training=False)
        acts = fwd.activations
        with np.errstate(all="ignore"):
            means = {nid: float(np.mean(a)) for nid, a in acts.items() if a.dtype.kind == "f"}
        values: dict[str, Any] = {
            "progress": {"step": ctx.step, "epoch": ctx.epoch, "batch": ctx.batch, "time": start},
            "means": means, "grad_norms": dict(ctx.grad_norms),
            "outputs": (np.array(acts[self.out_id], copy=True), self.sample_y),
        }
        nid = self.sink.selected
        if nid in acts:
            values["node"] = snap.node_snapshot(self.data.plan, nid, acts[nid], ctx.params.values.get(nid, {}),
                                                self._wrange)
        mid = time.perf_counter()
        self._next_snap = mid + _pause_after(mid - start)
        if self.grid is not None and (force or mid >= self._next_boundary):
            kind, inputs, extra = self.grid
            out = self.executor.forward(ctx.params, inputs, training=False).activations[self.out_id]
            values["grid"] = (kind, snap.boundary_values(out) if kind == "boundary" else out[:, 0].copy(), extra)
            end = time.perf_counter()
            self._next_boundary = end + _pause_after(end - mid)
        self.sink.put(**values)
        self.sink.flush()

    def _confusion(self, epoch: int) -> None:
        start = time.perf_counter()
        ctx = self.context
        y = snap.class_ids(np.asarray(self.data.y)[self.val_slice])
        out = ctx.val_outputs.get(self.out_id)
        if out is None or len(out) != len(y):  # no validation split: predict a slice of the training data
            out = self.executor.predict(ctx.params, snap.take_samples(self.data.x, self.val_slice), batch_size=256)
        pred, _ = snap.predicted_classes(out)
        classes = max(int(np.asarray(out).shape[-1]), 2, int(y.max()) + 1, int(pred.max()) + 1)
        self.sink.put(confusion=(epoch, snap.confusion(y, pred, classes)))
        self._confusion_epoch = epoch
        end = time.perf_counter()
        self._next_confusion = end + _pause_after(end - start)


def _pause_after(cost: float) -> float:
    """Seconds to wait before the next picture of a kind that took ``cost`` seconds, so that it
    stays within ``SNAPSHOT_BUDGET`` of the run's time and within ``SNAPSHOT_HZ``."""
    return max(1.0 / SNAPSHOT_HZ, cost * (1.0 / SNAPSHOT_BUDGET - 1.0))


def run_payload(data: RunData, selected: str | None = None, pace: float = 0.0) -> dict[str, Any]:
    """What the child process needs, as plain data: the graph as its document JSON, and the data
    as the name or path ``config.dataset`` it is loaded from (the child loads it itself, so a large
    file is never copied through the channel)."""
    return {"graph": document_to_json(data.plan.graph), "kind": data.kind, "config": asdict(data.config),
            "weights": data.weights, "selected": selected, "pace": pace}


def run_worker(channel: Channel, payload: dict[str, Any]) -> None:
    """Train as ``payload`` says, streaming snapshots to ``channel``; always ends with a
    ``finished`` or ``failed`` message (unless the designer went away first)."""
    control = RunControl()
    sink = SnapshotSink(channel, control, payload.get("selected"), payload.get("pace", 0.0))
    threading.Thread(target=sink.listen, name="commands", daemon=True).start()
    try:
        graph = document_from_json(payload["graph"]).graph
        config = RunConfig(**payload["config"])
        x, y = load_dataset(config.dataset, config.label_column, seed=0)  # as the run panel loaded it
        data = RunData(CompiledGraph(graph), x, y, payload["kind"], config, payload["weights"])
        cb = LiveCallback(sink, data)
        # OpenBLAS's second thread makes the small matmuls of these models up to 100x slower on a
        # busy 2-core machine (the designer draws on the other core); one BLAS thread is stable.
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            hist = fit(data.plan, data.x, data.y, params=data.weights, loss=config.loss,
                       optimizer=config.optimizer, learning_rate=config.learning_rate, epochs=config.epochs,
                       batch_size=config.batch_size, validation_split=config.validation_split, seed=config.seed,
                       callbacks=[cb], control=control)
        sink.send(Finished(hist.params.snapshot(), hist.stopped, sink.steps, sink.requested_at.get("Stop")))
    except TrainingError as exc:
        _send_quietly(sink, Failed(str(exc), exc.node_id))
    except (LayergraphError, ValueError, MemoryError) as exc:
        _send_quietly(sink, Failed(f"Training stopped: {exc}", None))
    except Exception as exc:  # noqa: BLE001 - a bug must reach the designer as a message, not a dead channel
        _send_quietly(sink, Failed(f"Training stopped by an internal error: {type(exc).__name__}: {exc}", None))


def _send_quietly(sink: SnapshotSink, message: Failed) -> None:
    try:
        sink.send(message)
    except (BrokenPipeError, EOFError, OSError):
        pass  # the designer closed the channel: nobody is listening


def main() -> None:
    """``python -m designer.run.worker``: wait on stdin for a run's payload, run it, exit.

    Messages go out on a duplicate of the original stdout; stdout itself is pointed at stderr, so a
    stray ``print`` in a library cannot corrupt the channel.
    """
    channel = Channel(os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb"))
    try:
        os.dup2(2, 1)
    except OSError:  # no stderr (a windowless launch): stray output goes nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    try:
        payload = channel.recv()
    except (EOFError, ValueError):
        return  # the designer closed without using this process
    run_worker(channel, payload)
    channel.close()


if __name__ == "__main__":
    main()
