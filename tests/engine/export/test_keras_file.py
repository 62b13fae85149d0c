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

EXAMPLES = sorted((Path(__file__).parents[3] / "resources" / "examples").glob("*.lgraph"))


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
    assert {c[0] for c in cases} | {"Input"} == set(LAYERS), "a catalog layer has no case"
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
