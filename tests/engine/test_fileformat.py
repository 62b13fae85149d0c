import json
import os

import numpy as np
import pytest

from engine.errors import FileFormatError
from engine.fileformat import load_document, save_document
from engine.graph import LayerGraph


def small_graph():
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [4]}, (10, 20))
    d = g.add_node("Dense", {"units": 3, "activation": "relu"}, (200, 20))
    g.connect(i, d)
    return g, i, d


def test_roundtrip_with_weights(tmp_path):
    g, i, d = small_graph()
    w = {d: {"kernel": np.arange(12, dtype=np.float32).reshape(4, 3), "bias": np.ones(3, np.float32)}}
    path = tmp_path / "m.lgraph"
    save_document(path, g, w, {"loss": "mse"})
    doc = load_document(path)
    assert doc.graph.to_dict() == g.to_dict()
    assert doc.training == {"loss": "mse"}
    np.testing.assert_array_equal(doc.weights[d]["kernel"], w[d]["kernel"])
    body = json.loads(path.read_text())
    assert body["format"] == "layergraph" and body["version"] == 1 and body["weights"] == "m.npz"
    assert body["nodes"][1]["config"] == {"units": 3, "activation": "relu"}  # only non-defaults


def _write(tmp_path, data, name="bad.lgraph"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


GOOD = {"format": "layergraph", "version": 1,
        "nodes": [{"id": "a", "name": "inp", "class_name": "Input", "config": {"shape": [3]}, "position": [0, 0]},
                  {"id": "b", "name": "d", "class_name": "Dense", "config": {"units": 2}, "position": [1, 1]}],
        "edges": [{"source": "a", "target": "b", "index": 0}]}


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d.update(version=99), "newer layergraph"),
    (lambda d: d.update(format="other"), "not a layergraph document"),
    (lambda d: d.pop("nodes"), "nodes"),
    (lambda d: d["nodes"][1].update(class_name="Lambda"), r"nodes\[1\].class_name.*Lambda"),
    (lambda d: d["nodes"][1]["config"].update(units="many"), r"nodes\[1\].*units"),
    (lambda d: d["nodes"][1]["config"].update(evil=1), r"unknown argument 'evil'"),
    (lambda d: d["nodes"][1].update(name="inp"), "already used"),
    (lambda d: d["nodes"][0].update(position=["x", 1]), "position"),
    (lambda d: d["edges"][0].update(target="zzz"), r"edges\[0\]"),
    (lambda d: d["edges"][0].update(index=-1), "index"),
    (lambda d: d["nodes"][1].update(id="a"), "duplicate id"),
])
def test_malformed_documents_raise_file_format_error_naming_the_place(tmp_path, mutate, match):
    data = json.loads(json.dumps(GOOD))
    mutate(data)
    p = _write(tmp_path, data)
    with pytest.raises(FileFormatError, match=match) as exc:
        load_document(p)
    assert str(p) in str(exc.value)


@pytest.mark.parametrize("text,match", [("{not json", "invalid JSON"), ("", "invalid JSON"), ("[1, 2]", "object"),
                                        ('{"format": NaN}', "NaN")])
def test_garbage_files(tmp_path, text, match):
    with pytest.raises(FileFormatError, match=match):
        load_document(_write(tmp_path, text))


def test_binary_and_missing_files(tmp_path):
    p = tmp_path / "bin.lgraph"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FileFormatError, match="UTF-8"):
        load_document(p)
    with pytest.raises(FileFormatError, match="no such file"):
        load_document(tmp_path / "nope.lgraph")


def test_weights_file_with_pickled_object_is_refused(tmp_path):
    g, i, d = small_graph()
    path = tmp_path / "m.lgraph"
    save_document(path, g, {d: {"kernel": np.ones((4, 3), np.float32), "bias": np.zeros(3, np.float32)}})
    np.savez(tmp_path / "m.npz", **{f"{d}/kernel": np.array([object()], dtype=object)})
    with pytest.raises(FileFormatError, match="weights"):
        load_document(path)


def test_failed_save_leaves_previous_file_intact(tmp_path, monkeypatch):
    g, i, d = small_graph()
    path = tmp_path / "m.lgraph"
    save_document(path, g)
    before = path.read_bytes()
    g.add_node("Dense", {"units": 9})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_document(path, g)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
