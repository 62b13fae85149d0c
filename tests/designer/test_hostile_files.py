# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""File -> Open and File -> Import with the fuzz campaign's kinds of damage: one message box with the
reader's one line, the open document untouched, the window alive."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from designer.main_window import Dialogs
from tests.designer.test_files import build
from tests.designer.window_helpers import make_window, settings, window  # noqa: F401

EXAMPLE = {"format": "layergraph", "version": 1,
           "nodes": [{"id": "n1", "name": "x", "class_name": "Input", "config": {"shape": [3]}, "position": [0, 0]},
                     {"id": "n2", "name": "d", "class_name": "Dense", "config": {"units": 2}, "position": [1, 0]}],
           "edges": [{"source": "n1", "target": "n2", "index": 0}], "weights": None, "training": {}}


def doc_with(**changes) -> bytes:
    body = json.loads(json.dumps(EXAMPLE))
    for path, value in changes.items():
        *parents, key = path.split(".")
        obj = body
        for p in parents:
            obj = obj[int(p)] if p.isdigit() else obj[p]
        obj[int(key) if key.isdigit() else key] = value
    return json.dumps(body).encode()


DOCUMENTS = {
    "deep nesting": b'{"format": "layergraph", "version": 1, "nodes": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    "list as an edge endpoint": doc_with(**{"edges.0.source": ["n1"]}),
    "a 400-digit units": doc_with(**{"nodes.1.config.units": 10**400}),
    "a cycle": doc_with(edges=[{"source": "n1", "target": "n2", "index": 0},
                               {"source": "n2", "target": "n1", "index": 0}]),
    "a dangling edge": doc_with(**{"edges.0.target": "n9"}),
    "a NUL in a name": doc_with(**{"nodes.1.name": "a\x00b"}),
    "truncated": json.dumps(EXAMPLE).encode()[:77],
    "a weights file that is a .npy": doc_with(weights="w.npz"),
    "NaN in a config": json.dumps(EXAMPLE).replace('"units": 2', '"units": NaN').encode(),
}


def npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def archive(config) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", json.dumps(config) if not isinstance(config, bytes) else config)
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    return buf.getvalue()


SEQUENTIAL = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "name": "in"}},
    {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
ARCHIVES = {
    "not a zip": b"PK\x03\x04 not really a zip",
    "a foreign regularizer": archive(json.loads(json.dumps(SEQUENTIAL).replace(
        '"units": 2', '"units": 2, "kernel_regularizer": {"module": "keras_evil.os", "class_name": "system", '
        '"config": {}}'))),
    "a Lambda layer": archive(json.loads(json.dumps(SEQUENTIAL).replace('"Dense"', '"Lambda"'))),
    "a corrupted weights file": archive(SEQUENTIAL),
    "a deeply nested config": archive(b"[" * 100000 + b"]" * 100000),
}


@pytest.fixture
def boxes(window, monkeypatch):
    """The window with its real dialogs; message boxes and file dialogs are captured, not shown."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda parent, title, text, *a: shown.append(
        (title, text))))
    window.dialogs = Dialogs(window)
    build(window)
    window.doc.undo_stack.setClean()
    return shown


def pick(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), "")))


def state(window):
    return window.doc.graph.to_dict(), {k: {n: a.tobytes() for n, a in v.items()}
                                        for k, v in (window.doc.weights or {}).items()}, window.windowTitle()


@pytest.mark.parametrize("what", list(DOCUMENTS))
def test_open_of_a_damaged_document_shows_one_line_and_keeps_the_graph(what, window, boxes, tmp_path, monkeypatch):
    path = tmp_path / "damaged.lgraph"
    path.write_bytes(DOCUMENTS[what])
    (tmp_path / "w.npz").write_bytes(npy(np.ones(3, np.float32)))
    before = state(window)
    pick(monkeypatch, path)
    window.act["open"].trigger()
    assert len(boxes) == 1, boxes
    text = boxes[0][1]
    assert "\n" not in text and len(text) < 600 and ("damaged.lgraph" in text or "w.npz" in text)
    assert "Traceback" not in text and "unexpected" not in text
    assert state(window) == before


@pytest.mark.parametrize("what", list(ARCHIVES))
def test_import_of_a_damaged_archive_shows_one_line_and_keeps_the_graph(what, window, boxes, tmp_path,
                                                                        monkeypatch):
    path = tmp_path / "damaged.keras"
    path.write_bytes(ARCHIVES[what])
    before = state(window)
    pick(monkeypatch, path)
    window.act["import_keras"].trigger()
    assert len(boxes) == 1, boxes
    text = boxes[0][1]
    assert "\n" not in text and len(text) < 600 and "damaged.keras" in text
    assert "Traceback" not in text and "unexpected" not in text
    assert state(window) == before
