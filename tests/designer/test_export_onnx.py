# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""File -> Export ONNX model: the CLI's writer from the menu; refusals and a missing onnx package are one message."""
from __future__ import annotations

import builtins

import numpy as np
import pytest

from designer import commands
from engine.layers import starter_config
from tests.designer.test_files import build, reference_mlp, trained_weights
from tests.designer.window_helpers import make_window, settings, window  # noqa: F401

ort = pytest.importorskip("onnxruntime")


def test_export_onnx_from_the_file_menu_runs_in_onnxruntime(tmp_path, window):
    assert window.act["export_onnx"] in window.menuBar().actions()[0].menu().actions()
    ids = build(window)
    weights = trained_weights(window)
    window.dialogs.save_path_answer = str(tmp_path / "net")
    window.act["export_onnx"].trigger()
    session = ort.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, reference_mlp(weights, ids, x), rtol=1e-4, atol=1e-5)
    assert "net.onnx" in window.statusBar().currentMessage() and not window.dialogs.errors


def _lstm_graph(window, recurrent_activation):
    doc = window.doc
    ids = []
    for i, (cls, cfg) in enumerate((("Input", {"shape": [5, 3]}),
                                    ("LSTM", {"units": 2, "recurrent_activation": recurrent_activation}))):
        cmd = commands.AddNodeCommand(doc, cls, {**starter_config(cls), **cfg}, (i * 250.0, 10.0))
        commands.push(doc, cmd)
        ids.append(cmd.node_id)
    commands.push(doc, commands.ConnectCommand(doc, ids[0], ids[1]))
    return doc.graph.node(ids[1]).name


def test_a_layer_without_an_onnx_equivalent_is_named_and_nothing_is_written(tmp_path, window):
    doc = window.doc
    ids = []
    for i, (cls, cfg) in enumerate((("Input", {"shape": [5, 3]}),
                                    ("RNN", {"cell": {"class_name": "GRUCell", "config": {"units": 2}}}))):
        cmd = commands.AddNodeCommand(doc, cls, {**starter_config(cls), **cfg}, (i * 250.0, 10.0))
        commands.push(doc, cmd)
        ids.append(cmd.node_id)
    commands.push(doc, commands.ConnectCommand(doc, ids[0], ids[1]))
    name = doc.graph.node(ids[1]).name
    window.dialogs.save_path_answer = str(tmp_path / "net.onnx")
    assert window.files.export_onnx() is False
    title, text = window.dialogs.errors[-1]
    assert title == "Cannot export" and f"'{name}' (RNN: not mapped" in text
    assert not (tmp_path / "net.onnx").exists()


def test_without_the_onnx_package_the_message_says_how_to_install_it(tmp_path, window, monkeypatch):
    _lstm_graph(window, "sigmoid")
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    window.dialogs.save_path_answer = str(tmp_path / "net.onnx")
    assert window.files.export_onnx() is False
    assert "pip install layergraph[onnx]" in window.dialogs.errors[-1][1]
    assert not (tmp_path / "net.onnx").exists()
