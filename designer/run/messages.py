"""The records the designer and its training process exchange (see ``channel`` for the wire format).

Commands go from the designer to the process; reports come back.  A ``Snapshot`` carries the
latest pictures (a dict keyed by picture kind) and the ``BatchRecord`` / ``EpochRecord`` events
since the previous one.  Every record is a frozen dataclass of plain data, registered with the
channel so that it is encoded by name and field and decoded into the same type.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .channel import record


# ----- commands (designer -> process) -------------------------------------------------------------
@record
@dataclass(frozen=True)
class Pause:
    """Park the training thread before its next batch (it sends ``Paused`` when parked)."""


@record
@dataclass(frozen=True)
class Resume:
    pass


@record
@dataclass(frozen=True)
class Step:
    """Train exactly ``batches`` more batches, then pause again."""

    batches: int = 1


@record
@dataclass(frozen=True)
class Stop:
    pass


@record
@dataclass(frozen=True)
class Select:
    """Picture this node's activations and weights from now on (None: no node)."""

    node_id: str | None


@record
@dataclass(frozen=True)
class Pace:
    """At most this many epochs a second (0: full speed)."""

    epochs_per_second: float


Command = Pause | Resume | Step | Stop | Select | Pace


# ----- events inside a snapshot ---------------------------------------------------------------------
@record
@dataclass(frozen=True)
class BatchRecord:
    step: int  # batches trained so far in this run
    epoch: int
    batch: int  # within the epoch
    loss: float
    accuracy: float | None
    time: float  # time.perf_counter() in the training process, for the samples/s estimate


@record
@dataclass(frozen=True)
class EpochRecord:
    step: int
    logs: dict[str, float]  # loss, metrics, val_*, lr


# ----- reports (process -> designer) -----------------------------------------------------------------
@record
@dataclass(frozen=True)
class Snapshot:
    latest: dict[str, Any]
    events: list = field(default_factory=list)
    steps: int = 0


@record
@dataclass(frozen=True)
class Paused:
    """The run is parked; ``weights`` are the ones it will continue from."""

    weights: dict
    steps: int
    requested_at: int | None  # the batch count when Pause arrived (proves "within one batch")


@record
@dataclass(frozen=True)
class Finished:
    weights: dict
    stopped: bool
    steps: int
    stop_requested_at: int | None


@record
@dataclass(frozen=True)
class Failed:
    message: str
    node_id: str | None  # the layer to mark, when the error belongs to one
