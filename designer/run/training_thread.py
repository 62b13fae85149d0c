"""The designer's side of a training run: a training process and the thread that relays it.

``TrainingThread.run`` (a ``QThread``) hands the run to a training process (``worker.run_worker``)
and turns each message from it into a ``SnapshotSlot`` update and a Qt signal; ``ProcessControl``
sends the run panel's pause / resume / step / stop and node selection the other way.  The UI
thread only draws.

Importing NumPy and the engine takes a child ~0.3 s, so one process is started ahead of time
(``warm_up_training_process``, when the run panel is created and again after each run) and waits
for its run; the first snapshot then follows a click within milliseconds.  The process is a fresh
interpreter (``python -m designer.run.worker``), never a fork of this Qt process; it talks over its
stdin/stdout (``channel.Channel``, the same on Linux, macOS and Windows) and exits when its stdin
closes, so it cannot outlive the designer.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal

from .channel import Channel
from .messages import Command, Failed, Finished, Pace, Pause, Paused, Resume, Select, Snapshot, Step, Stop
from .worker import RunData, run_payload

KILL_AFTER_S = 5.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class TrainingProcess:
    """A ``python -m designer.run.worker`` child and the channel over its stdin/stdout."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        self.popen = subprocess.Popen([sys.executable, "-m", "designer.run.worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env)
        self.conn = Channel(self.popen.stdout, self.popen.stdin)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def end(self, timeout: float = KILL_AFTER_S) -> int | None:
        """Close the channel (the process exits when it sees that), wait, kill if it will not go."""
        self.conn.close()
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait()
        self.popen.stdout.close()
        return code


_spare: TrainingProcess | None = None
_spare_lock = threading.Lock()


def warm_up_training_process() -> None:
    """Start the next run's process now, unless one is already waiting.  A failure to start shows
    when a run starts; here it is silent."""
    global _spare
    with _spare_lock:
        if _spare is not None and _spare.alive():
            return
        try:
            _spare = TrainingProcess()
        except (OSError, ValueError):
            _spare = None


def take_training_process() -> TrainingProcess:
    """The waiting process if there is a live one, else a new one."""
    global _spare
    with _spare_lock:
        proc, _spare = _spare, None
    if proc is not None and proc.alive():
        return proc
    if proc is not None:
        proc.end(0.1)
    return TrainingProcess()


class SnapshotSlot:
    """A latest-value slot shared by the relay thread (writer) and the UI timer (reader).

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



class ProcessControl:
    """Pause / resume / step / stop / select for the training process, callable from the UI thread.

    Commands given before the process exists (a Step that starts a run) are kept and sent first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn = None
        self._pending: list[Command] = []
        self.stop_requested = False

    def attach(self, conn) -> None:
        with self._lock:
            self._conn = conn
            pending, self._pending = self._pending, []
        for command in pending:
            self._send(command)

    def detach(self) -> None:
        with self._lock:
            self._conn = None

    def _send(self, command: Command) -> None:
        with self._lock:
            if self._conn is None:
                self._pending.append(command)
                return
            try:
                self._conn.send(command)
            except (OSError, ValueError):
                pass  # the process has ended; its last message is on its way

    def pause(self) -> None:
        self._send(Pause())

    def resume(self) -> None:
        self._send(Resume())

    def step(self, n: int = 1) -> None:
        self._send(Step(n))

    def stop(self) -> None:
        self.stop_requested = True
        self._send(Stop())

    def select(self, node_id: str | None) -> None:
        self._send(Select(node_id))

    def pace(self, epochs_per_second: float) -> None:
        self._send(Pace(epochs_per_second))


class TrainingThread(QThread):
    """Runs one training process and relays it.  Signals are emitted from this thread and arrive
    queued on the UI side.

    Signals:
        progress(int): a new snapshot is in ``slot`` (at most ~30 per second).
        paused_weights(object): a copy of the weights, sent when the run pauses (or finishes a Step).
        finished_run(object): the ``messages.Finished`` record, after a normal end or Stop.
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
        self.control = ProcessControl()
        self._selected: str | None = None
        #: epochs per second at most (0: full speed); change it during a run with ``control.pace``
        self.pace = 0.0
        #: batches trained so far, as last reported by the process (read by tests and the benchmark)
        self.steps_done = 0
        #: the last pause the process reported
        self.pause_info: Paused | None = None
        self.process = None

    @property
    def selected(self) -> str | None:
        """The node whose activations and weights are pictured."""
        return self._selected

    @selected.setter
    def selected(self, node_id: str | None) -> None:
        self._selected = node_id
        self.control.select(node_id)

    def kill(self) -> None:
        """End the process now (a run that does not honour Stop in time); the thread then fails it."""
        proc = self.process
        if proc is not None and proc.alive():
            proc.popen.kill()

    def run(self) -> None:  # noqa: D102 - QThread entry point
        payload = run_payload(self.data, self._selected, self.pace)
        try:
            proc = take_training_process()
            try:
                proc.conn.send(payload)
            except OSError:  # the waiting process died meanwhile: one fresh try
                proc.end(0.1)
                proc = TrainingProcess()
                proc.conn.send(payload)
        except (OSError, ValueError) as exc:
            self.failed.emit(f"The training process could not start ({exc}); the weights are unchanged.", None)
            return
        self.process = proc
        self.control.attach(proc.conn)
        try:
            self._relay(proc.conn)
        finally:
            self.control.detach()
            proc.end()

    def _relay(self, conn) -> None:
        while True:
            try:
                message = conn.recv()
            except ValueError as exc:  # not a message: the process is not ours to trust any more
                self.kill()
                self.failed.emit(f"The training process sent an unreadable message ({exc}); the run was stopped.",
                                 None)
                return
            except (EOFError, OSError):
                try:
                    code = self.process.popen.wait(1.0)
                except subprocess.TimeoutExpired:
                    code = None
                how = "was stopped" if self.control.stop_requested else "ended unexpectedly"
                self.failed.emit(f"The training process {how} (exit code {code}); the weights from before "
                                 "the run are kept.", None)
                return
            match message:
                case Snapshot(latest=latest, events=events, steps=steps):
                    self.slot.put(**latest)
                    for event in events:
                        self.slot.append(event)
                    self.steps_done = steps
                    self.progress.emit(steps)
                case Paused():
                    self.steps_done = message.steps
                    self.pause_info = message
                    self.paused_weights.emit(message.weights)
                case Finished():
                    self.steps_done = message.steps
                    self.finished_run.emit(message)
                    return
                case Failed(message=text, node_id=node_id):
                    self.failed.emit(text, node_id)
                    return
                case _:
                    self.kill()
                    self.failed.emit(f"The training process sent an unexpected {type(message).__name__}; the run "
                                     "was stopped.", None)
                    return
