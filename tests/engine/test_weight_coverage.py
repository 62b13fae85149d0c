"""Saved weights that do not cover the graph are an error naming the layer; layers added or changed since
the save start fresh with a notice (issue 9, item 2).  Through ``engine.cli.main`` like a user would."""
import json

import numpy as np
import pytest

from engine.cli import main
from engine.errors import FileFormatError
from engine.executor import CompiledGraph, ParamStore
from engine.fileformat import load_document, save_document
from tests.engine.graph_helpers import chain


@pytest.fixture
def trained(tmp_path):
    """A two-Dense document with complete weights saved beside it, and input data for predict/train."""
    g, ids = chain(("Dense", {"units": 5, "activation": "relu"}), ("Dense", {"units": 3, "activation": "softmax"}))
    path = tmp_path / "net.lgraph"
    save_document(path, g, ParamStore(CompiledGraph(g), seed=0).snapshot())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "data.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    return path, ids


def rewrite_npz(path, change):
    """Apply ``change(arrays)`` to the ``.npz`` beside ``path`` (as a damaged or mismatched file would be)."""
    npz = path.with_suffix(".npz")
    with np.load(npz) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(npz, **arrays)


def run(cmd, path, tmp_path):
    args = {"predict": ["predict", str(path), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")],
            "train": ["train", str(path), "--data", str(tmp_path / "data.npz"), "--epochs", "1", "-o",
                      str(tmp_path / "out.lgraph")],
            "export": ["export", str(path), "--to", "numpy", "-o", str(tmp_path / "code.py")]}[cmd]
    return main(args)


def assert_one_line_refusal(capsys, *words):
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layergraph: "), err
    for w in words:
        assert w in lines[0], err
    return lines[0]


@pytest.mark.parametrize("cmd", ["predict", "train", "export"])
def test_a_layer_missing_from_the_weights_file_is_an_error_naming_it(trained, tmp_path, capsys, cmd):
    path, ids = trained
    rewrite_npz(path, lambda a: [a.pop(k) for k in list(a) if k.startswith(ids[2] + "/")])
    assert run(cmd, path, tmp_path) == 2
    assert_one_line_refusal(capsys, "Dense 'dense_1'", "kernel")
    assert not any((tmp_path / f).exists() for f in ("y.npy", "out.lgraph", "code.py"))


@pytest.mark.parametrize("cmd", ["predict", "train"])
def test_a_missing_or_mis_shaped_array_is_an_error_naming_the_layer(trained, tmp_path, capsys, cmd):
    path, ids = trained
    rewrite_npz(path, lambda a: a.pop(f"{ids[1]}/bias"))
    assert run(cmd, path, tmp_path) == 2
    assert_one_line_refusal(capsys, "Dense 'dense'", "'bias'")
    path2 = tmp_path / "net2.lgraph"
    g = load_document(path, with_weights=False).graph
    save_document(path2, g, ParamStore(CompiledGraph(g), seed=1).snapshot())
    rewrite_npz(path2, lambda a: a.update({f"{ids[2]}/kernel": np.zeros((5, 4), np.float32)}))
    assert run(cmd, path2, tmp_path) == 2
    assert_one_line_refusal(capsys, "Dense 'dense_1'", "(5, 4)", "(5, 3)")


def test_an_extra_array_is_an_error(trained, tmp_path, capsys):
    path, ids = trained
    rewrite_npz(path, lambda a: a.update({f"{ids[1]}/gamma": np.ones(5, np.float32)}))
    assert run("predict", path, tmp_path) == 2
    assert_one_line_refusal(capsys, "Dense 'dense'", "'gamma'")


def test_nan_in_loaded_weights_is_reported_naming_the_layer(trained, tmp_path, capsys):
    path, ids = trained

    def poison(a):
        a[f"{ids[2]}/bias"] = a[f"{ids[2]}/bias"].copy()
        a[f"{ids[2]}/bias"][1] = np.nan

    rewrite_npz(path, poison)
    assert run("predict", path, tmp_path) == 2
    assert_one_line_refusal(capsys, "Dense 'dense_1'", "NaN")
    assert not (tmp_path / "y.npy").exists()


def add_layer_after_training(path):
    """Edit the document as a user would between saves: a new Dense at the end, with no saved weights."""
    data = json.loads(path.read_text())
    last = data["nodes"][-1]["id"]
    data["nodes"].append({"id": "added", "class_name": "Dense", "name": "added_dense",
                          "config": {"units": 2, "activation": "softmax"}, "position": [900, 0]})
    data["edges"].append({"source": last, "target": "added", "index": 0})
    path.write_text(json.dumps(data))


def test_a_layer_added_since_the_save_trains_from_fresh_weights_with_a_notice(trained, tmp_path, capsys):
    path, ids = trained
    add_layer_after_training(path)
    assert run("train", path, tmp_path) == 0
    _out, err = capsys.readouterr()
    notice = [line for line in err.splitlines() if "added_dense" in line]
    assert len(notice) == 1 and "fresh" in notice[0]
    saved = load_document(tmp_path / "out.lgraph")
    assert "added" in saved.weights and not saved.fresh  # the next load covers every layer


def test_predict_refuses_layers_without_trained_weights_and_export_fills_them(trained, tmp_path, capsys):
    path, ids = trained
    add_layer_after_training(path)
    assert run("predict", path, tmp_path) == 1
    assert_one_line_refusal(capsys, "Dense 'added_dense'", "train")
    assert not (tmp_path / "y.npy").exists()
    assert run("export", path, tmp_path) == 0
    _out, err = capsys.readouterr()
    assert "added_dense" in err and "fresh" in err
    with np.load(tmp_path / "code.weights.npz") as npz:
        assert len(npz.files) == 6  # three Dense layers, kernel and bias each


def test_saving_drops_the_stale_weights_of_an_edited_layer_so_it_reopens_as_changed(tmp_path):
    g, ids = chain(("Dense", {"units": 5}), ("Dense", {"units": 3}))
    weights = ParamStore(CompiledGraph(g), seed=0).snapshot()
    g.set_config_value(ids[2], "units", 4)  # edited after training, before saving
    path = tmp_path / "edited.lgraph"
    save_document(path, g, weights)
    manifest = json.loads(path.read_text())["weight_shapes"]
    assert set(manifest) == {ids[1]} and manifest[ids[1]] == {"kernel": [4, 5], "bias": [5]}
    doc = load_document(path)
    assert doc.fresh == [ids[2]] and "dense_1" in doc.notices()[0]
    np.testing.assert_array_equal(doc.weights[ids[1]]["kernel"], weights[ids[1]]["kernel"])


def test_documents_without_a_manifest_still_refuse_a_partial_layer(tmp_path):
    g, ids = chain(("Dense", {"units": 5}), ("Dense", {"units": 3}))
    path = tmp_path / "old.lgraph"
    save_document(path, g, ParamStore(CompiledGraph(g), seed=0).snapshot())
    data = json.loads(path.read_text())
    del data["weight_shapes"]  # as written before the manifest existed
    path.write_text(json.dumps(data))
    assert load_document(path).fresh == []
    rewrite_npz(path, lambda a: a.pop(f"{ids[2]}/kernel"))
    with pytest.raises(FileFormatError, match=r"Dense 'dense_1' has no saved weight 'kernel'"):
        load_document(path)
    rewrite_npz(path, lambda a: a.pop(f"{ids[2]}/bias"))  # no array of that node at all: counted as added
    doc = load_document(path)
    assert doc.fresh == [ids[2]]


def test_a_malformed_manifest_is_refused(trained):
    path, _ = trained
    data = json.loads(path.read_text())
    data["weight_shapes"] = {"x": {"kernel": [4, -1]}}
    path.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match="weight_shapes"):
        load_document(path)


def test_in_memory_weights_list_what_starts_fresh():
    g, ids = chain(("Dense", {"units": 5}), ("Dense", {"units": 3}))
    saved = ParamStore(CompiledGraph(g), seed=0).snapshot()
    del saved[ids[2]]
    store = ParamStore(CompiledGraph(g), seed=0, weights=saved)
    assert store.fresh == [ids[2]] and store.warnings == []
    np.testing.assert_array_equal(store.values[ids[1]]["kernel"], saved[ids[1]]["kernel"])
    assert ParamStore(CompiledGraph(g), seed=0).fresh == []
