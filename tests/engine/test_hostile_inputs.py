"""Hostile and careless inputs get one line and exit 2 (or 1 for a model layergraph cannot hold), never a
traceback, and nothing is written on failure (issue 9, items 3-8)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import networkx as nx
import numpy as np
import pytest

import engine.graph
from engine.cli import main
from engine.errors import MAX_QUOTED, FileFormatError, GraphError, shown
from engine.export.cli import npz_bytes
from engine.fileformat import document_from_json, member_name, member_path, read_npz, save_document
from engine.graph import MAX_NAME_LENGTH, EdgesError, LayerGraph

ROOT = Path(__file__).resolve().parents[2]


def _doc(nodes=None, edges=None, **extra) -> dict:
    nodes = nodes if nodes is not None else [
        {"id": "n1", "name": "inp", "class_name": "Input", "config": {"shape": [4]}},
        {"id": "n2", "name": "dense", "class_name": "Dense", "config": {"units": 3}}]
    edges = edges if edges is not None else [{"source": "n1", "target": "n2"}]
    return {"format": "layergraph", "version": 1, "nodes": nodes, "edges": edges, **extra}


def _write(tmp_path, doc, text: str | None = None, name="g.lgraph") -> Path:
    p = tmp_path / name
    p.write_text(text if text is not None else json.dumps(doc), encoding="utf-8")
    return p


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    """The error is one line from a reader that recognised the problem (not the last-resort handler)."""
    lines = err.splitlines()
    assert len(lines) == 1, err[:2000]
    assert "Traceback" not in err and "unexpected" not in err, err
    return lines[0]


# ----- item 3: documents that raised instead of answering -----------------------------------------------------
def _node(i, **over):
    return {"id": f"n{i}", "name": f"l{i}", "class_name": "Dense", "config": {"units": 3}, **over}


HOSTILE_DOCS = {
    "deep nesting": lambda: "[" * 100_000 + "]" * 100_000,
    "deep nesting in training": lambda: json.dumps(_doc())[:-1] + ', "training": ' + "[" * 50_000 + "]" * 50_000 + "}",
    "list as edge endpoint": lambda: _doc(edges=[{"source": ["n1"], "target": "n2"}]),
    "dict as edge endpoint": lambda: _doc(edges=[{"source": "n1", "target": {"id": "n2"}}]),
    "400-digit position": lambda: _doc(nodes=[{"id": "n1", "name": "inp", "class_name": "Input",
                                               "config": {"shape": [4]}, "position": [10**400, 0]}], edges=[]),
    "400-digit units": lambda: _doc(nodes=[_doc()["nodes"][0], _node(2, config={"units": 10**400})]),
    "units beyond 32 bits": lambda: _doc(nodes=[_doc()["nodes"][0], _node(2, config={"units": 2**40})]),
    "300-character weights name": lambda: _doc(weights="w" * 300 + ".npz"),
    "lone surrogate in a name": lambda: _doc(nodes=[_doc()["nodes"][0], _node(2, name="bad\ud800")]),
    "lone surrogate in training": lambda: _doc(training={"loss": "\udc80"}),
    "NUL in a name": lambda: _doc(nodes=[_doc()["nodes"][0], _node(2, name="a\x00b")]),
    "slash in an id": lambda: _doc(nodes=[_doc()["nodes"][0], _node(2, id="n/2")],
                                   edges=[{"source": "n1", "target": "n/2"}]),
    "NUL in an id": lambda: _doc(nodes=[_doc()["nodes"][0], _node(2, id="n\x002")],
                                 edges=[{"source": "n1", "target": "n\x002"}]),
    "Infinity as 1e999": lambda: json.dumps(_doc(training={"learning_rate": 0.5})).replace("0.5", "1e999"),
}


@pytest.mark.parametrize("case", HOSTILE_DOCS)
@pytest.mark.parametrize("command", ["validate", "summary"])
def test_hostile_documents_get_one_line_and_exit_2(tmp_path, capsys, case, command):
    made = HOSTILE_DOCS[case]()
    p = _write(tmp_path, None, made if isinstance(made, str) else json.dumps(made))
    code, out, err = _run(capsys, command, p)
    line = _one_line(err)
    assert code == 2 and str(p) in line
    assert out == ""


def test_summary_never_formats_an_overflowing_size(tmp_path, capsys):
    """validate said 'valid' for units=10**400 and summary overflowed in its size formatter; both now refuse."""
    p = _write(tmp_path, _doc(nodes=[_doc()["nodes"][0], _node(2, config={"units": 10**400})]))
    assert _run(capsys, "validate", p)[0] == 2
    code, _, err = _run(capsys, "summary", p)
    assert code == 2 and "out of range" in _one_line(err)


# ----- item 4: long strings are quoted short, on one line --------------------------------------------------
def test_shown_quotes_at_most_80_characters_on_one_line():
    for value in ("x" * 10**6, "a\nb" * 1000, list(range(10**5)), {"k": "v" * 10**5}, b"\n" * 500, 10**400):
        s = shown(value)
        assert len(s) <= MAX_QUOTED and "\n" not in s and "\r" not in s
    assert shown("dense_1") == "'dense_1'"


@pytest.mark.parametrize("where", ["name", "class_name", "config key", "config value"])
def test_a_megabyte_string_is_not_echoed(tmp_path, capsys, where):
    big = "A" * 1_000_000 + "\nsecond line"
    node = _node(2)
    if where == "config key":
        node["config"] = {"units": 3, big: 1}
    elif where == "config value":
        node["config"] = {"units": big}
    else:
        node[where] = big
    p = _write(tmp_path, _doc(nodes=[_doc()["nodes"][0], node]))
    code, out, err = _run(capsys, "summary", p)
    line = _one_line(err)
    assert code == 2 and len(line) < 600 and out == ""


def test_names_have_a_maximum_length():
    g = LayerGraph()
    g.add_node("Input", {"shape": [2]}, name="x" * MAX_NAME_LENGTH)
    with pytest.raises(Exception, match="at most"):
        g.add_node("Input", {"shape": [2]}, name="y" * (MAX_NAME_LENGTH + 1))
    nid = g.add_node("Input", {"shape": [2]})
    with pytest.raises(Exception, match="at most"):
        g.rename(nid, "z" * (MAX_NAME_LENGTH + 1))


def test_a_newline_in_a_quoted_name_stays_escaped(tmp_path, capsys):
    p = _write(tmp_path, _doc(nodes=[_doc()["nodes"][0], _node(2, class_name="Nope", name="two\nlines")]))
    code, _, err = _run(capsys, "validate", p)
    assert code == 2 and "two\\nlines" in _one_line(err)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_an_unprintable_file_name_prints(tmp_path):
    """A file name that is not UTF-8 reaches Python as a lone surrogate; printing 'NAME: valid' raised
    UnicodeEncodeError on stdout after the work was done."""
    p, _, _ = _saved(tmp_path)
    odd = os.fsdecode(bytes(tmp_path) + b"/g\xff.lgraph")
    os.rename(p, odd)
    code = f"import sys; from engine.cli import main; sys.exit(main(['validate', {odd!r}]))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"})
    out, err = r.stdout.decode("utf-8"), r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0 and err == "" and out.endswith("valid (2 layers, 15 params)\n")


# ----- item 5: ids and names that break files are refused at load; one member naming scheme -----------------
@pytest.mark.parametrize("path", [("n1", "kernel"), ("a/b", "c"), ("a%2Fb", "c"), ("x\x00y", "k"), ("%", "/", ""),
                                  ("outer", "inner", "kernel"), ("epoch 3", "branch/1", "n1", "bias"), ("ñ€", "w")])
def test_member_names_are_injective_and_reversible(path):
    name = member_name(*path)
    assert member_path(name) == path
    assert "\x00" not in name and name.count("/") == len(path) - 1


def test_member_names_of_ordinary_ids_are_unchanged():
    """Files written before the scheme (``node_id/weight``) read the same."""
    assert member_name("n12", "recurrent_kernel") == "n12/recurrent_kernel"
    assert member_name("dense_1", "forward_lstm.kernel") == "dense_1/forward_lstm.kernel"


def test_distinct_paths_never_share_a_member():
    paths = [("a/b", "c"), ("a", "b/c"), ("a", "b", "c"), ("a%2Fb", "c"), ("a\x00", "c"), ("a", "c")]
    assert len({member_name(*p) for p in paths}) == len(paths)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_export_never_writes_duplicate_members():
    with pytest.raises(GraphError, match="under its own name"):
        npz_bytes({"a\x00x/0": np.zeros(1), "a/0": np.ones(1)})
    with pytest.raises(GraphError):
        npz_bytes({"a\x00/0": np.zeros(1), "a\x00/1": np.ones(1)})
    assert zipfile.ZipFile(io.BytesIO(npz_bytes({"a/0": np.zeros(1), "b/0": np.ones(1)}))).namelist() == \
        ["a/0.npy", "b/0.npy"]


@pytest.mark.parametrize("bad_id", ["a/b", "a\x00b", "a\nb", "x" * (MAX_NAME_LENGTH + 1)])
def test_graph_refuses_ids_that_cannot_name_a_file_member(bad_id):
    with pytest.raises(GraphError):
        LayerGraph().add_node("Input", {"shape": [2]}, node_id=bad_id)


# ----- item 6: what import writes passes validate ------------------------------------------------------------
def _keras_json(dense_config=None, layer_extra=None, compile_config=None) -> dict:
    dense = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
             "config": {"name": "hidden", "units": 3, **(dense_config or {})}, **(layer_extra or {})}
    cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
         "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input_layer"}}, dense]}}
    if compile_config is not None:
        cfg["compile_config"] = compile_config
    return cfg


def _import(tmp_path, capsys, text: str) -> tuple[int, str, Path]:
    src = tmp_path / "model.json"
    src.write_text(text)
    out = tmp_path / "out.lgraph"
    code, _, err = _run(capsys, "import", src, "-o", out)
    if code != 0:
        _one_line(err)
        assert not out.exists() and not out.with_suffix(".npz").exists()
    return code, err, out


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1" + "0" * 400])
def test_import_refuses_a_learning_rate_it_could_not_write(tmp_path, capsys, number):
    text = json.dumps(_keras_json(compile_config={"loss": "mse", "optimizer": {
        "class_name": "Adam", "config": {"learning_rate": 0.125}}})).replace("0.125", number)
    code, err, out = _import(tmp_path, capsys, text)
    assert code in (1, 2) and ("out of range" in err or "not a usable number" in err)


def test_what_import_writes_passes_validate(tmp_path, capsys):
    text = json.dumps(_keras_json(dense_config={"kernel_regularizer": "l2"},
                                  compile_config={"loss": "mse", "optimizer": "sgd"}))
    code, _, out = _import(tmp_path, capsys, text)
    assert code == 0
    assert _run(capsys, "validate", out)[0] == 0


@pytest.mark.parametrize("where", ["class_name", "name", "argument", "value"])
def test_import_never_echoes_a_megabyte_string(tmp_path, capsys, where):
    big = "B" * 1_000_000 + "\nline two"
    cfg = _keras_json()
    layer = cfg["config"]["layers"][1]
    if where == "class_name":
        layer["class_name"] = big
    elif where == "name":
        layer["config"]["name"] = big
    else:
        layer["config"].update({big: 1} if where == "argument" else {"lora_rank": big})
    code, err, _ = _import(tmp_path, capsys, json.dumps(cfg))
    assert code in (1, 2) and len(err) < 600


def _functional_json(call: object) -> dict:
    """Input -> Dense 'hidden' where the Dense's one inbound node is ``call``."""
    tensor = {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "float32",
                                                            "keras_history": ["x", 0, 0]}}
    call = {"args": [tensor], "kwargs": {}} if call is None else call
    return {"class_name": "Functional", "config": {"name": "f", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "name": "x",
         "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "x"}, "inbound_nodes": []},
        {"module": "keras.layers", "class_name": "Dense", "name": "hidden",
         "config": {"name": "hidden", "units": 3}, "inbound_nodes": [call]}],
        "input_layers": [["x", 0, 0]], "output_layers": [["hidden", 0, 0]]}}


@pytest.mark.parametrize("call", [{"args": ["a"], "kwargs": "x"}, {"args": "x", "kwargs": {}},
                                  {"args": [{"config": "x"}], "kwargs": {}}, {"args": [{"config": {
                                      "keras_history": 5}}]}])
def test_import_of_an_unreadable_call_is_one_line(tmp_path, capsys, call):
    (tmp_path / "good").mkdir()
    assert _import(tmp_path / "good", capsys, json.dumps(_functional_json(None)))[0] == 0  # the well-formed call
    code, err, _ = _import(tmp_path, capsys, json.dumps(_functional_json(call)))
    assert code == 2 and "hidden" in err and "unexpected" not in err


# ----- item 7: only Keras's own regularizers, constraints and initializers ----------------------------------
FOREIGN = [
    {"kernel_regularizer": {"module": "os", "class_name": "L2", "config": {"l2": 0.01}, "registered_name": None}},
    {"kernel_regularizer": {"module": "keras_evil.os", "class_name": "system", "config": {"command": "touch x"},
                            "registered_name": None}},
    {"bias_constraint": {"module": "keras_evil.constraints", "class_name": "NonNeg", "config": {}}},
    {"kernel_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": "__import__"}}},
    {"kernel_initializer": {"module": "os", "class_name": "GlorotUniform", "config": {}, "registered_name": None}},
    {"kernel_regularizer": "os.system"},
]


@pytest.mark.parametrize("dense_config", FOREIGN)
def test_import_refuses_foreign_keras_objects(tmp_path, capsys, dense_config):
    code, err, _ = _import(tmp_path, capsys, json.dumps(_keras_json(dense_config=dense_config)))
    assert code == 1 and "hidden" in err


def test_import_refuses_a_layer_module_that_only_starts_with_keras(tmp_path, capsys):
    code, err, _ = _import(tmp_path, capsys, json.dumps(_keras_json(layer_extra={"module": "keras_evil.os"})))
    assert code == 1 and "keras_evil.os" in err


@pytest.mark.parametrize("dense_config", FOREIGN[:4])
def test_documents_refuse_foreign_keras_objects_so_export_never_writes_them(tmp_path, capsys, dense_config):
    p = _write(tmp_path, _doc(nodes=[_doc()["nodes"][0], _node(2, config={"units": 3, **dense_config})]))
    code, _, err = _run(capsys, "export", p, "--to", "keras", "-o", tmp_path / "m.py")
    line = _one_line(err)
    assert code == 2 and ("kernel_regularizer" in line or "bias_constraint" in line)
    assert not (tmp_path / "m.py").exists()


def test_keras_own_objects_still_pass():
    g = LayerGraph()
    ok = [{"kernel_regularizer": "l2", "bias_constraint": "non_neg"},
          {"kernel_regularizer": {"module": "keras.regularizers", "class_name": "L1L2",
                                  "config": {"l1": 0.0, "l2": 0.01}, "registered_name": None},
           "kernel_constraint": {"module": "keras.constraints", "class_name": "MaxNorm",
                                 "config": {"max_value": 2, "axis": 0}, "registered_name": None}}]
    for cfg in ok:
        g.add_node("Dense", {"units": 2, **cfg})


# ----- item 8: loading is linear (one cycle check, not one path search per edge) ----------------------------
def test_loading_a_reversed_chain_runs_no_per_edge_path_search(monkeypatch):
    n = 2000
    nodes = [{"id": "n0", "name": "inp", "class_name": "Input", "config": {"shape": [2]}}]
    nodes += [{"id": f"n{i}", "name": f"a{i}", "class_name": "Activation", "config": {"activation": "relu"}}
              for i in range(1, n)]
    edges = [{"source": f"n{i - 1}", "target": f"n{i}"} for i in range(n - 1, 0, -1)]
    calls = []
    real = nx.has_path
    monkeypatch.setattr(engine.graph.nx, "has_path", lambda *a: calls.append(a) or real(*a))
    doc = document_from_json(_doc(nodes, edges))
    assert len(doc.graph.edges) == n - 1 and calls == []


def test_a_cycle_in_a_file_is_still_refused_and_names_its_layers():
    nodes = [{"id": "i", "name": "inp", "class_name": "Input", "config": {"shape": [2]}},
             {"id": "a", "name": "add", "class_name": "Add"},
             {"id": "b", "name": "act", "class_name": "Activation", "config": {"activation": "relu"}}]
    edges = [{"source": "i", "target": "a", "index": 0}, {"source": "b", "target": "a", "index": 1},
             {"source": "a", "target": "b"}]
    with pytest.raises(FileFormatError, match="cycle through .*'a(dd|ct)'"):
        document_from_json(_doc(nodes, edges))


def test_connect_many_is_all_or_nothing():
    g = LayerGraph()
    a, b, c = (g.add_node("Activation", {"activation": "relu"}) for _ in range(3))
    g.connect(a, b)
    with pytest.raises(EdgesError) as info:
        g.connect_many([(b, c, 0), (c, a, 0)])
    assert info.value.index is None and [(e.source, e.target) for e in g.edges] == [(a, b)]
    with pytest.raises(EdgesError) as info:
        g.connect_many([(b, c, 0), (a, b, 0)])
    assert info.value.index == 1 and [(e.source, e.target) for e in g.edges] == [(a, b)]


# ----- item 3: weights and data files ---------------------------------------------------------------------------
def _saved(tmp_path) -> tuple[Path, Path, LayerGraph]:
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [4]}, node_id="n1")
    d = g.add_node("Dense", {"units": 3}, node_id="n2")
    g.connect(i, d)
    p = tmp_path / "g.lgraph"
    save_document(p, g, {d: {"kernel": np.ones((4, 3), np.float32), "bias": np.zeros(3, np.float32)}})
    return p, tmp_path / "g.npz", g


def _npy(shape_text: str, payload: bytes = b"", descr="<f4") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + payload


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


BAD_NPZ = {
    "npy saved as npz": lambda: (np.save(b := io.BytesIO(), np.zeros(3)), b.getvalue())[1],
    "member without .npy": lambda: _zip({"n2/kernel": b"not an array", "n2/bias.npy": _npy("(3,)", bytes(12))}),
    "absurd header": lambda: _zip({"n2/kernel.npy": _npy("(10**12, 10**12)")}),
    "header larger than data": lambda: _zip({"n2/kernel.npy": _npy("(4, 3)", bytes(8))}),
    "malformed header": lambda: _zip({"n2/kernel.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': 'f4',\n"}),
    "negative shape": lambda: _zip({"n2/kernel.npy": _npy("(-1, 3)", bytes(12))}),
    "object dtype": lambda: _zip({"n2/kernel.npy": _npy("(1,)", bytes(8), descr="|O")}),
    "string dtype": lambda: _zip({"n2/kernel.npy": _npy("(2,)", b"ab", descr="|S1")}),
    "not a zip": lambda: b"hello",
    "truncated zip": lambda: _zip({"n2/kernel.npy": _npy("(4, 3)", bytes(48))})[:-30],
}


def test_read_npz_reads_what_numpy_reads(tmp_path):
    """The checked reader agrees with ``np.load`` on every layout and numeric dtype numpy writes."""
    rng = np.random.default_rng(0)
    arrays = {"c": rng.normal(size=(3, 4)).astype(np.float32), "f": np.asfortranarray(rng.normal(size=(2, 5))),
              "big_endian": np.arange(6, dtype=">i4").reshape(2, 3), "u8": np.arange(5, dtype=np.uint8),
              "flags": np.array([True, False]), "scalar": np.array(3.5), "empty": np.zeros((0, 4)),
              "n1/kernel": np.ones((2, 2), np.float16)}
    p = tmp_path / "a.npz"
    np.savez_compressed(p, **arrays)
    got = read_npz(p)
    with np.load(p, allow_pickle=False) as ref:
        assert sorted(got) == sorted(ref.files)
        for k in ref.files:
            assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape
            np.testing.assert_array_equal(got[k], ref[k])
    got["c"][0, 0] = 1.0  # writable, like np.load's arrays


@pytest.mark.parametrize("case", BAD_NPZ)
def test_damaged_weights_get_one_line_and_exit_2(tmp_path, capsys, case):
    p, wpath, _ = _saved(tmp_path)
    wpath.write_bytes(BAD_NPZ[case]())
    code, out, err = _run(capsys, "validate", p)
    assert code == 2 and str(wpath) in _one_line(err)


@pytest.mark.parametrize("case", BAD_NPZ)
def test_damaged_data_files_get_one_line_and_exit_2(tmp_path, capsys, case):
    p, _, _ = _saved(tmp_path)
    data = tmp_path / "data.npz"
    data.write_bytes(BAD_NPZ[case]())
    before = p.read_bytes()
    code, out, err = _run(capsys, "train", p, "--data", data, "--epochs", 1)
    assert code == 2 and str(data) in _one_line(err) and p.read_bytes() == before


@pytest.mark.parametrize("arrays", [{"x": np.zeros((4, 4)), "y": np.array(1)},
                                    {"x": np.array(2.0), "y": np.zeros(4)},
                                    {"x": np.zeros((4, 4)), "y": np.array(["a", "b", "a", "b"])}])
def test_0d_and_string_data_arrays_get_one_line(tmp_path, capsys, arrays):
    p, _, _ = _saved(tmp_path)
    data = tmp_path / "data.npz"
    np.savez(data, **arrays)
    code, _, err = _run(capsys, "train", p, "--data", data, "--epochs", 1)
    assert code == 2 and str(data) in _one_line(err)


@pytest.mark.parametrize("case", ["npy saved as npz", "absurd header", "string dtype"])
def test_damaged_predict_inputs_get_one_line(tmp_path, capsys, case):
    p, _, _ = _saved(tmp_path)
    x = tmp_path / "x.npz"
    x.write_bytes(BAD_NPZ[case]())
    code, _, err = _run(capsys, "predict", p, "--input", x, "-o", tmp_path / "y.npy")
    assert code == 2 and str(x) in _one_line(err) and not (tmp_path / "y.npy").exists()
    x = tmp_path / "x.npy"
    x.write_bytes(_npy("(10**12, 4)"))
    code, _, err = _run(capsys, "predict", p, "--input", x, "-o", tmp_path / "y.npy")
    assert code == 2 and str(x) in _one_line(err)


# ----- item 3: training settings and outputs are checked before the work --------------------------------------
@pytest.mark.parametrize("training", [{"epochs": "ten"}, {"epochs": 2.5}, {"batch_size": 0}, {"batch_size": [8]},
                                      {"seed": "x"}, {"seed": -1}, {"validation_split": 2},
                                      {"learning_rate": -1}])
def test_bad_training_settings_in_the_document(tmp_path, capsys, training):
    p, _, _ = _saved(tmp_path)
    data = json.loads(p.read_text())
    data["training"] = training
    p.write_text(json.dumps(data))
    before = p.read_bytes(), (tmp_path / "g.npz").read_bytes()
    code, _, err = _run(capsys, "train", p, "--data", "xor", *([] if "epochs" in training else ["--epochs", 1]))
    key = next(iter(training))
    assert code == 2 and f"training.{key}" in _one_line(err) and "epoch 1/" not in err
    assert (p.read_bytes(), (tmp_path / "g.npz").read_bytes()) == before


@pytest.mark.parametrize("flags", [["--seed", "-1"], ["--epochs", "-3"], ["--batch-size", "0"], ["--lr", "nan"],
                                   ["--lr", "inf"], ["--validation-split", "1.5"]])
def test_bad_training_flags(tmp_path, capsys, flags):
    p, _, _ = _saved(tmp_path)
    code, _, err = _run(capsys, "train", p, "--data", "xor", *flags)
    assert code == 2 and flags[0] in _one_line(err) and "epoch 1/" not in err


def test_train_checks_its_output_before_training(tmp_path, capsys):
    p, _, _ = _saved(tmp_path)
    out = tmp_path / "missing" / "trained.lgraph"
    code, _, err = _run(capsys, "train", p, "--data", "xor", "--epochs", 1, "-o", out)
    assert code == 2 and "does not exist" in _one_line(err) and "epoch 1/" not in err


def test_predict_checks_its_output_before_predicting(tmp_path, capsys, monkeypatch):
    p, _, _ = _saved(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((2, 4), np.float32))
    import engine.training_cli as tcli

    monkeypatch.setattr(tcli, "Executor", lambda *a: pytest.fail("predicted before checking the output"))
    code, _, err = _run(capsys, "predict", p, "--input", tmp_path / "x.npy", "-o", tmp_path / "no" / "y.npy")
    assert code == 2 and "does not exist" in _one_line(err)


# ----- item 3: damaged HDF5 inside a .keras archive ----------------------------------------------------------
def _keras_archive(tmp_path, damage) -> Path:
    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        g = f.create_group("layers/dense/vars")
        g.create_dataset("0", data=np.arange(12, dtype=np.float32).reshape(4, 3), chunks=(4, 3), compression="gzip")
        g.create_dataset("1", data=np.zeros(3, np.float32))
        damage(f)
    raw = bytearray(bio.getvalue())
    if damage is _corrupt_chunk:
        with h5py.File(io.BytesIO(bytes(raw)), "r") as f:
            info = f["layers/dense/vars/0"].id.get_chunk_info(0)
        raw[info.byte_offset:info.byte_offset + info.size] = b"\xff" * info.size
    cfg = _keras_json()
    cfg["config"]["layers"][1]["config"]["name"] = "dense"
    p = tmp_path / "m.keras"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("config.json", json.dumps(cfg))
        zf.writestr("model.weights.h5", bytes(raw))
    return p


def _corrupt_chunk(f):
    pass


def _bytes_group_name(f):
    f["layers/dense"].create_group(b"\xff\xfe")


@pytest.mark.parametrize("damage", [_corrupt_chunk, _bytes_group_name])
def test_damaged_h5_gets_one_line(tmp_path, capsys, damage):
    p = _keras_archive(tmp_path, damage)
    out = tmp_path / "out.lgraph"
    code, _, err = _run(capsys, "import", p, "-o", out)
    line = _one_line(err)
    assert code in (1, 2) and str(p) in line and not out.exists()
