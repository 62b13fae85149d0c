"""``.keras`` files written without Keras (engine/export/keras_file.py), loaded by real Keras 3 (JAX).

Every written file must load with ``keras.saving.load_model`` and give the engine's predictions
(1e-5) with the same parameter count and layer names; imported Keras models keep their weights
bit for bit through import, edit and save.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.errors import GraphError
from engine.executor import Executor, compile_graph
from engine.export.keras_file import keras_archive, write_keras_file
from engine.fileformat import load_document
from tests.engine.export.keras_file_cases import catalog_cases, catalog_graph, random_weights, sample_inputs
from tests.oracle import keras

#: A .keras archive holds no code, so examples with a custom layer are written as Keras code instead (their
#: refusal is tests/engine/custom/test_keras_parity.py's).
EXAMPLES = sorted(p for p in (Path(__file__).parents[3] / "resources" / "examples").glob("*.lgraph")
                  if '"CustomLayer"' not in p.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _fresh_keras_names():
    """Keras numbers automatic layer names per process; leave later tests the numbering they expect."""
    yield
    keras().backend.clear_session()


def load_in_keras(path):
    return keras().saving.load_model(str(path))


def archive_members(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def engine_and_keras(graph, weights, path, seed=0):
    """The engine's and Keras's predictions (outputs in the graph's order) for the file at ``path``."""
    rng = np.random.default_rng(seed)
    xs = sample_inputs(graph, rng)
    got = Executor(graph).predict(weights, xs if len(xs) > 1 else next(iter(xs.values())))
    expected = [got] if isinstance(got, np.ndarray) else [got[graph.layer(n).name] for n in graph.output_nodes()]
    model = load_in_keras(path)
    names = [graph.layer(n).name for n in graph.input_nodes()]
    x = xs[names[0]] if len(names) == 1 else {n.replace("/", "_"): xs[n] for n in names}
    ys = model.predict(x, verbose=0)
    return model, expected, [np.asarray(y) for y in (ys if isinstance(ys, (list, tuple)) else [ys])]


def test_every_catalog_layer_loads_in_keras_with_the_engines_predictions(tmp_path):
    """One line per catalog layer, all side by side in one graph: one file, one load, one compiled predict."""
    from engine.layers import LAYERS

    cases = catalog_cases()
    groups = {n for n, c in LAYERS.items() if c.composite}  # refused, see test_groups_are_refused_in_one_line
    custom = {n for n, c in LAYERS.items() if c.gradient == "automatic"}  # refused: tests/engine/custom/
    assert {c[0] for c in cases} | {"Input"} | groups | custom == set(LAYERS), "a catalog layer has no case"
    graph = catalog_graph(cases)
    _ex, store = compile_graph(graph, seed=0)
    rng = np.random.default_rng(0)
    weights = {nid: random_weights(store.specs[nid], rng) for nid in store.specs}
    write_keras_file(graph, weights, tmp_path / "catalog.keras")
    model, expected, got = engine_and_keras(graph, weights, tmp_path / "catalog.keras")
    assert model.count_params() == sum(a.size for ws in weights.values() for a in ws.values())
    assert sorted(layer.name for layer in model.layers) == sorted(graph.layer(n).name for n in graph.nodes)
    failures = []
    for nid, want, have in zip(graph.output_nodes(), expected, got):
        try:
            np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-5)
        except AssertionError as exc:
            failures.append(f"{graph.layer(nid).owner} {graph.layer(nid).config}: {str(exc)[-300:]}")
    assert not failures, "\n".join(failures)


def _document_weights(doc):
    return doc.weights or compile_graph(doc.graph, seed=0)[1].values


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_load_in_keras_with_predictions_names_and_training_settings(example, tmp_path):
    doc = load_document(example)
    weights = _document_weights(doc)
    out = tmp_path / f"{example.stem}.keras"
    write_keras_file(doc.graph, weights, out, doc.training)
    assert set(archive_members(out)) == {"metadata.json", "config.json", "model.weights.h5"}
    model, expected, got = engine_and_keras(doc.graph, weights, out)
    assert model.count_params() == sum(a.size for ws in weights.values() for a in ws.values())
    assert sorted(layer.name for layer in model.layers) == sorted(doc.graph.layer(n).name for n in doc.graph.nodes)
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-5)
    training = doc.training
    assert model.loss == training["loss"]
    assert type(model.optimizer).__name__.lower() == training["optimizer"]
    assert float(model.optimizer.learning_rate) == pytest.approx(training["learning_rate"])


def _keras_model_round_trip(name, tmp_path):
    from engine.export.keras_import import import_model
    from tests.engine.export.keras_models import MODELS, randomize

    original = MODELS[name]()
    randomize(original, seed=len(name))
    original.compile(optimizer=keras().optimizers.SGD(0.05), loss="mse")
    source = tmp_path / f"{name}.keras"
    original.save(source)
    return original, source, import_model(source)


def _comparable(value, inner=False):
    """A layer config as JSON, without Keras's in-process ids and the names Keras invents for a
    Bidirectional's inner layers (a per-process counter: ``forward_lstm_1``, then ``_2``).  A number
    and a one-element list compare equal: the engine keeps ``Softmax(axis=-1)`` as ``axis=[-1]`` and
    ``Rescaling(offset=-0.5)`` as ``[-0.5]``, which Keras reads the same (the predictions are checked)."""
    if isinstance(value, (list, tuple)):
        items = [_comparable(v, inner) for v in value]
        return items[0] if len(items) == 1 and isinstance(items[0], (int, float)) else items
    if isinstance(value, dict):
        return {k: _comparable(_symmetric(k, v), inner or k in ("layer", "backward_layer")) for k, v in value.items()
                if k != "shared_object_id" and not (inner and k == "name")}
    return value


def _symmetric(key, value):
    """Keras reads a random augmentation's ``*_factor=f`` as ``(-f, f)``, the form the engine keeps."""
    if key.endswith("_factor") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return [-value, value]
    return value


def _layer_configs(model) -> dict[str, dict]:
    return {entry["config"]["name"]: _comparable(entry["config"]) for entry in model.get_config()["layers"]}


def _layer_names(model) -> list[str]:
    """``model.layers`` without the InputLayer (a Sequential model does not list it)."""
    return [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _assert_same_weights(original, loaded, skip=()):
    for layer in original.layers:
        if layer.name in skip:
            continue
        mine = loaded.get_layer(layer.name).get_weights()
        theirs = layer.get_weights()
        assert len(mine) == len(theirs), layer.name
        for a, b in zip(mine, theirs):
            assert a.dtype == b.dtype and np.array_equal(a, b), f"{layer.name}: weights differ"


@pytest.mark.parametrize("name", ["mlp", "conv", "sequence", "merging", "embedding", "activations",
                                  "preprocessing", "volume", "signal", "adaptive", "attention"])
def test_imported_keras_models_save_back_bit_identical(name, tmp_path):
    """Every model of the import tests: Keras -> .keras -> import -> our .keras -> Keras again."""
    from tests.engine.export.keras_models import sample_inputs as keras_inputs

    original, _source, imported = _keras_model_round_trip(name, tmp_path)
    out = tmp_path / f"{name}_again.keras"
    write_keras_file(imported.graph, imported.weights, out, imported.training)
    loaded = load_in_keras(out)
    assert _layer_names(loaded) == _layer_names(original)
    assert loaded.count_params() == original.count_params()
    assert _layer_configs(loaded) == _layer_configs(original)  # every argument as Keras itself wrote it
    _assert_same_weights(original, loaded)
    xs = keras_inputs(original)
    x = xs if len(xs) > 1 else next(iter(xs.values()))
    for want, have in zip(*(m.predict(x, verbose=0) for m in (original, loaded))):
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-5)
    assert loaded.loss == "mse" and type(loaded.optimizer).__name__ == "SGD"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.05)


def test_edit_one_imported_layer_and_save_keeps_the_others_bit_identical(tmp_path):
    original, _source, imported = _keras_model_round_trip("conv", tmp_path)
    graph = imported.graph
    edited = next(n for n in graph.topological_order() if graph.node(n).class_name == "Dense")
    graph.set_config_value(edited, "activation", "tanh")
    out = tmp_path / "edited.keras"
    write_keras_file(graph, imported.weights, out, imported.training)
    loaded = load_in_keras(out)
    name = graph.node(edited).name
    assert loaded.get_layer(name).get_config()["activation"] == "tanh"
    _assert_same_weights(original, loaded, skip=())  # the edit changes no weight shapes: all stay as they were


def _mlp_document(tmp_path):
    from engine.fileformat import save_document
    from engine.graph import LayerGraph

    g = LayerGraph()
    i = g.add_node("Input", {"shape": [3]}, name="x")
    d = g.add_node("Dense", {"units": 2}, name="out")
    g.connect(i, d)
    weights = compile_graph(g, seed=1)[1].values
    path = tmp_path / "net.lgraph"
    save_document(path, g, weights, {"loss": "mse", "optimizer": "rmsprop", "learning_rate": 0.01})
    return path, g, d, weights


def test_cli_writes_a_keras_file_and_refuses_other_names(tmp_path, capsys):
    from engine.cli import main as cli_main

    doc_path, g, _d, weights = _mlp_document(tmp_path)
    out = tmp_path / "model.keras"
    assert cli_main(["export", str(doc_path), "--to", "keras-file", "-o", str(out)]) == 0
    model = load_in_keras(out)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x)), Executor(g).predict(weights, x), rtol=1e-5, atol=1e-5)
    assert type(model.optimizer).__name__ == "RMSprop" and model.loss == "mse"
    assert cli_main(["export", str(doc_path), "--to", "keras-file", "-o", str(tmp_path / "model.h5")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".keras" in err[0]
    assert not (tmp_path / "model.h5").exists()


def test_a_weight_that_does_not_fit_is_refused_and_the_old_file_is_kept(tmp_path):
    _doc, g, d, weights = _mlp_document(tmp_path)
    out = tmp_path / "model.keras"
    write_keras_file(g, weights, out)
    before = out.read_bytes()
    bad = {d: {**weights[d], "kernel": np.zeros((5, 2), np.float32)}}
    with pytest.raises(GraphError, match="kernel"):
        write_keras_file(g, bad, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "net.lgraph", "net.npz"]


def test_the_archive_has_the_layout_keras_writes(tmp_path):
    """The members and the h5 layout Keras 3 reads (diffed against a file ``model.save`` wrote)."""
    import h5py

    _doc, g, d, weights = _mlp_document(tmp_path)
    data = keras_archive(g, weights, {"loss": "mse"})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        config = json.loads(zf.read("config.json"))
        h5 = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    assert config["class_name"] == "Functional" and config["compile_config"]["loss"] == "mse"
    dense = config["config"]["layers"][1]
    assert dense["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == ["x", 0, 0]
    assert dense["build_config"] == {"input_shape": [None, 3]}
    np.testing.assert_array_equal(h5["layers/dense/vars/0"][()], weights[d]["kernel"])
    k = keras()
    original = k.Sequential([k.Input((3,), name="x"), k.layers.Dense(2, name="out")])
    original.save(tmp_path / "theirs.keras")
    with zipfile.ZipFile(tmp_path / "theirs.keras") as zf:
        theirs = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
        names = []
        theirs.visit(names.append)
    assert {n for n in names if n.startswith("layers/dense")} <= {n for n in _h5_names(h5)}


def _h5_names(h5) -> list[str]:
    names: list[str] = []
    h5.visit(names.append)
    return names


def test_groups_are_refused_in_one_line(tmp_path):
    """Nested models cannot be written yet: a clear refusal, and nothing written, instead of a wrong file."""
    from tests.engine.test_group import grouped_and_flat

    graph = grouped_and_flat()[0]
    out = tmp_path / "m.keras"
    with pytest.raises(GraphError, match="is a group; saving groups as .keras"):
        write_keras_file(graph, None, out)
    assert not out.exists()
