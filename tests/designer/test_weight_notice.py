# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""The designer never silently re-initialises a layer: weights that do not cover the graph are refused on
open with the engine's one line, and layers added or edited since the weights were saved are named
(status bar on open, the Run panel's message when a run starts).  Issue 9, item 2."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from designer import commands
from engine.executor import CompiledGraph, ParamStore
from engine.fileformat import load_document, save_document
from tests.designer.window_helpers import FakeDialogs, make_window, settings, window  # noqa: F401
from tests.engine.graph_helpers import chain

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def trained_document(tmp_path):
    g, ids = chain(("Dense", {"units": 5, "activation": "relu"}), ("Dense", {"units": 3}))
    path = tmp_path / "net.lgraph"
    save_document(path, g, ParamStore(CompiledGraph(g), seed=0).snapshot())
    return path, ids


def test_open_names_the_layers_added_since_the_weights_were_saved(tmp_path, window):
    path, ids = trained_document(tmp_path)
    data = json.loads(path.read_text())
    data["nodes"].append({"id": "new", "class_name": "Dense", "name": "added_dense", "config": {"units": 2}})
    data["edges"].append({"source": ids[2], "target": "new", "index": 0})
    path.write_text(json.dumps(data))
    window.dialogs.open_path_answer = str(path)
    window.act["open"].trigger()
    assert window.dialogs.errors == [] and window.doc.path == path
    message = window.statusBar().currentMessage()
    assert "Dense 'added_dense'" in message and "fresh" in message
    assert set(window.doc.weights) == {ids[1], ids[2]}


def test_open_refuses_weights_missing_a_layer_and_keeps_the_current_graph(tmp_path, window):
    path, ids = trained_document(tmp_path)
    npz = path.with_suffix(".npz")
    with np.load(npz) as f:
        arrays = {k: f[k] for k in f.files if not k.startswith(ids[2] + "/")}
    np.savez(npz, **arrays)
    before = window.doc.graph.to_dict()
    window.dialogs.open_path_answer = str(path)
    window.act["open"].trigger()
    assert len(window.dialogs.errors) == 1
    text = window.dialogs.errors[0][1]
    assert "Dense 'dense_1'" in text and "kernel" in text and "\n" not in text
    assert window.doc.graph.to_dict() == before and window.doc.path is None


def test_a_run_after_editing_a_trained_layer_says_that_layer_starts_fresh(qtbot, window):
    doc = load_document(EXAMPLES / "spirals_mlp.lgraph")
    doc.training.update({"epochs": 1})
    window.doc.replace(doc, None)
    window.doc.set_weights(ParamStore(CompiledGraph(doc.graph), seed=0).snapshot())
    nid = next(n for n, node in window.doc.graph.nodes.items() if node.name == "dense_1")
    cfg = {**window.doc.graph.node(nid).config, "units": window.doc.graph.node(nid).config["units"] + 1}
    assert commands.push(window.doc, commands.SetConfigCommand(window.doc, nid, cfg)) is None
    panel = window.run_panel
    panel.update_state()
    window.show()
    qtbot.waitExposed(window)
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    text = panel.message.text()
    assert "'dense_1'" in text and "fresh" in text, text
    assert "'dense_2'" in text  # its kernel's input size changed with dense_1's units
    assert "'dense'" not in text
    with qtbot.waitSignal(panel.run_finished, timeout=30000):
        pass
