"""Crash insurance: a copy of a modified document every minute in the user's data folder.

Each running designer owns ``session-<pid>.lock`` (its heartbeat, touched at every tick) and writes
``autosave-<pid>.lgraph`` plus ``autosave-<pid>.json`` (which file it belongs to, when).  A normal close
deletes all three.  At the next start, an autosave whose session is gone (process not running, or
its heartbeat stale) and which is newer than the file it belongs to is offered back.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QStandardPaths, QTimer

from engine.fileformat import atomic_write_bytes, save_document

INTERVAL_MS = 60_000
STALE_AFTER_S = 3 * INTERVAL_MS / 1000


def default_directory() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".layergraph") / "autosave"


@dataclass(frozen=True)
class Orphan:
    """An autosave left behind by a session that did not close normally."""

    graph_path: Path
    meta_path: Path
    lock_path: Path
    original: Path | None
    saved_at: float
    #: the name an untitled document showed (the example or model it came from), None for "untitled"
    name: str | None = None

    def discard(self) -> None:
        for p in (self.graph_path, self.meta_path, self.lock_path):
            try:
                p.unlink()
            except OSError:
                pass


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # rely on the heartbeat there (os.kill would terminate the process on Windows)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class Autosaver(QObject):
    """Writes ``doc`` every ``interval_ms`` while it has unsaved changes."""

    def __init__(self, doc, directory: Path | None = None, interval_ms: int = INTERVAL_MS,
                 parent: QObject | None = None, name_of: Callable[[], str | None] | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        #: the name an untitled document shows (the window's example name), kept with the copy
        self.name_of = name_of or (lambda: None)
        self.directory = Path(directory) if directory else default_directory()
        self.pid = os.getpid()
        self.graph_path = self.directory / f"autosave-{self.pid}.lgraph"
        self.meta_path = self.directory / f"autosave-{self.pid}.json"
        self.lock_path = self.directory / f"session-{self.pid}.lock"
        self.last_error: str | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.lock_path.write_text(str(self.pid), encoding="utf-8")
        except OSError as exc:
            self.last_error = f"autosave is off: cannot write to {self.directory} ({exc.strerror})"
            return
        self.timer.start()

    def tick(self) -> None:
        try:
            self.lock_path.touch()
        except OSError:
            pass
        if self.doc.is_modified:
            self.save_now()

    def save_now(self) -> bool:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            save_document(self.graph_path, self.doc.graph, self.doc.weights, self.doc.training)
            meta = {"original": str(self.doc.path) if self.doc.path else None, "saved_at": time.time(),
                    "pid": self.pid, "name": None if self.doc.path else self.name_of()}
            atomic_write_bytes(self.meta_path, json.dumps(meta).encode("utf-8"))
        except OSError as exc:
            self.last_error = f"autosave failed: {exc}"
            return False
        self.last_error = None
        return True

    def discard_copy(self) -> None:
        """The document was saved or replaced: its autosave no longer holds anything newer."""
        for p in (self.graph_path, self.meta_path):
            try:
                p.unlink()
            except OSError:
                pass

    def stop(self) -> None:
        """Normal close: remove the copy and the session marker."""
        self.timer.stop()
        self.discard_copy()
        try:
            self.lock_path.unlink()
        except OSError:
            pass

    # ----- finding what a crashed session left -------------------------------------------------------
    def orphans(self) -> list[Orphan]:
        return find_orphans(self.directory, exclude_pid=self.pid)


def find_orphans(directory: Path, exclude_pid: int | None = None) -> list[Orphan]:
    """Autosaves of dead sessions that are newer than the file they belong to, newest first."""
    out: list[Orphan] = []
    directory = Path(directory)
    if not directory.is_dir():
        return out
    now = time.time()
    for graph_path in directory.glob("autosave-*.lgraph"):
        try:
            pid = int(graph_path.stem.split("-", 1)[1])
        except (IndexError, ValueError):
            continue
        if pid == exclude_pid:
            continue
        lock = directory / f"session-{pid}.lock"
        meta_path = graph_path.with_suffix(".json")
        if lock.exists():
            fresh = now - lock.stat().st_mtime < STALE_AFTER_S
            if fresh and _pid_alive(pid):
                continue  # another designer is running and owns this copy
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        original = Path(meta["original"]) if meta.get("original") else None
        saved_at = float(meta.get("saved_at") or graph_path.stat().st_mtime)
        name = meta.get("name") if isinstance(meta.get("name"), str) and meta.get("name") else None
        orphan = Orphan(graph_path, meta_path, lock, original, saved_at, name)
        if original is not None and original.exists() and original.stat().st_mtime >= saved_at:
            orphan.discard()  # the file itself was saved later: nothing to restore
            continue
        out.append(orphan)
    out.sort(key=lambda o: o.saved_at, reverse=True)
    return out
