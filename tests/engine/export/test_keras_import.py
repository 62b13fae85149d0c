"""Importer behaviours beyond the family round trips: model forms, compile settings, unsupported structure."""
from __future__ import annotations

import re

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.executor import compile_graph
from engine.export.keras_import import import_keras_model, import_model
from tests.oracle import keras

Z = {"kernel_initializer": "zeros"}


def test_sequential_built_without_input_layer(tmp_path):
    k = keras()
    m = k.Sequential([k.layers.Dense(3, **Z), k.layers.Dense(2, **Z)])
    m.build((None, 4))
    m.layers[1].set_weights([np.full((3, 2), 0.5, "float32"), np.arange(2, dtype="float32")])
    m.save(tmp_path / "m.keras")
    imported = import_model(tmp_path / "m.keras")
    g = imported.graph
    assert [g.node(n).class_name for n in g.topological_order()] == ["Input", "Dense", "Dense"]
    assert g.node(g.input_nodes()[0]).config["shape"] == [4]
    second = g.node_by_name(m.layers[1].name).id
    np.testing.assert_array_equal(imported.weights[second]["kernel"], np.full((3, 2), 0.5))
    np.testing.assert_array_equal(imported.weights[second]["bias"], [0, 1])


def test_compile_settings_become_training_settings(tmp_path):
    k = keras()
    m = k.Sequential([k.Input((4,)), k.layers.Dense(2, **Z)])
    m.compile(optimizer=k.optimizers.SGD(0.05), loss="mse")
    m.save(tmp_path / "m.keras")
    doc = import_keras_model(tmp_path / "m.keras")
    assert doc.training == {"loss": "mse", "optimizer": "sgd", "learning_rate": 0.05}
    assert doc.weights and doc.training and "training" not in doc.graph.metadata  # one owner: the document


@pytest.mark.parametrize("kind", ["shared", "shared model"])
def test_refuses_structure_a_graph_cannot_hold(tmp_path, kind):
    k = keras()
    i = k.Input((4,))
    if kind == "shared":
        d = k.layers.Dense(4, name="twice", **Z)
        model, expect = k.Model(i, d(d(i))), "Dense 'twice' is called 2 times"
    else:  # one model used twice shares its weights; a group node is one call
        inner = k.Sequential([k.layers.Dense(4, **Z)], name="inner")
        model, expect = k.Model(i, inner(inner(i))), "Sequential 'inner' is called 2 times"
    model.save(tmp_path / "m.keras")
    with pytest.raises(ConfigError, match=expect):
        import_model(tmp_path / "m.keras")


def test_nested_sequential_without_input_imports_as_a_group(tmp_path):
    k = keras()
    i = k.Input((4,))
    inner = k.Sequential([k.layers.Dense(3, name="d")], name="inner")
    model = k.Model(i, inner(i))
    model.save(tmp_path / "m.keras")
    imported = import_model(tmp_path / "m.keras")
    node = imported.graph.node_by_name("inner")
    assert node.class_name == "Group"
    np.testing.assert_array_equal(next(iter(imported.weights[node.id].values())), inner.get_weights()[0])


def test_unknown_initializer_falls_back_with_a_note(tmp_path):
    k = keras()
    m = k.Sequential([k.Input((4,)), k.layers.Dense(2, kernel_initializer=k.initializers.Constant(0.3))])
    m.save(tmp_path / "m.keras")
    imported = import_model(tmp_path / "m.keras")
    node = imported.graph.node_by_name(m.layers[0].name)
    assert node.config["kernel_initializer"] == "glorot_uniform"
    assert any("Constant" in n for n in imported.notes)
    np.testing.assert_allclose(imported.weights[node.id]["kernel"], 0.3)


@pytest.mark.parametrize("layer, expect", [
    ("upsampling", "UpSampling2D 'up_sampling2d': argument 'interpolation'"),
    ("stateful", "LSTM 'lstm': 'stateful'"),
    ("renorm", "BatchNormalization 'batch_normalization': renorm"),
    ("mask_zero", "Embedding 'embedding': mask_zero=True is not supported"),
    ("masking", "Masking 'masking': masks are not supported yet"),
])
def test_refuses_options_that_change_the_numbers(tmp_path, layer, expect):
    k = keras()
    L = k.layers
    model = {
        "upsampling": lambda: k.Sequential([k.Input((3, 4, 2)), L.UpSampling2D(2, interpolation="bicubic")]),
        "stateful": lambda: k.Sequential([k.Input((5, 3), batch_size=2), L.LSTM(2, stateful=True, **Z,
                                                                                 recurrent_initializer="zeros")]),
        "renorm": lambda: k.Sequential([k.Input((4,)), L.BatchNormalization(renorm=True)]),
        # Keras masks the padded steps inside the LSTM; ignoring the mask changed predictions by up to 7.5e-3.
        "mask_zero": lambda: k.Sequential([k.Input((6,), dtype="int32"), L.Embedding(10, 4, mask_zero=True),
                                           L.LSTM(3)]),
        "masking": lambda: k.Sequential([k.Input((6, 2)), L.Masking(), L.LSTM(3)]),
    }[layer]()
    path = tmp_path / "m.json"
    path.write_text(model.to_json())
    with pytest.raises(ConfigError) as info:
        import_model(path)
    # Keras numbers default names per process ('batch_normalization_1' after another test built one).
    owner, rest = expect.split("'", 2)[0], expect.split("'", 2)[2]
    name = expect.split("'", 2)[1]
    assert re.match(re.escape(owner) + "'" + re.escape(name) + r"(_\d+)?'" + re.escape(rest), str(info.value))


def test_keras_ops_add_imports_as_an_add_layer_and_other_operations_are_refused(tmp_path):
    """ConvNeXt's residuals are ``keras.ops.add(a, b)``: saved as an operation with two tensor arguments."""
    k = keras()
    i = k.Input((4,))
    d = k.layers.Dense(4, name="d")(i)
    model = k.Model(i, k.layers.Dense(2, name="out")(k.ops.add(i, d)))
    model.save(tmp_path / "ops.keras")
    imported = import_model(tmp_path / "ops.keras")
    adds = [n for n in imported.graph.nodes.values() if n.class_name == "Add"]
    assert len(adds) == 1 and len(imported.graph.in_edges(adds[0].id)) == 2
    ex, params = compile_graph(imported.graph, weights=imported.weights)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(ex.predict(params, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    refused = k.Model(i, k.ops.maximum(i, d))
    refused.save(tmp_path / "max.keras")
    with pytest.raises(ConfigError, match=r"operation keras.ops.maximum; layergraph reads only keras.ops.add"):
        import_model(tmp_path / "max.keras")
