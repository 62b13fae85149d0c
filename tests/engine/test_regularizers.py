"""Weight/activity regularizers and weight constraints apply in training exactly like Keras's: the loss of
one step and the weights after it are compared with a Keras model built from the same config."""
import numpy as np
import pytest

from engine.errors import ConfigError
from engine.graph import LayerGraph
from engine.layers import create_layer
from engine.regularizers import parse_regularizer
from engine.training import fit
from tests.oracle import keras

CONFIGS = [
    ({"kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.05}},
      "bias_regularizer": "l2", "activity_regularizer": {"class_name": "L1", "config": {"l1": 0.02}},
      "kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 0.9, "axis": 0}},
      "bias_constraint": "non_neg"},
     {"kernel_regularizer": {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.3, "mode": "rows"}},
      "kernel_constraint": {"class_name": "MinMaxNorm", "config": {"min_value": 0.2, "max_value": 0.7,
                                                                   "rate": 0.5, "axis": 0}},
      "activity_regularizer": "l2"}),
    ({"kernel_regularizer": {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.2, "mode": "columns"}},
      "kernel_constraint": {"class_name": "UnitNorm", "config": {"axis": 1}}},
     {"bias_regularizer": {"class_name": "L1", "config": {"l1": 0.3}}, "kernel_regularizer": "l1"}),
]


def _engine_graph(cfg1, cfg2):
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [4]})
    a = g.add_node("Dense", {"units": 5, "activation": "tanh", **cfg1})
    b = g.add_node("Dense", {"units": 3, **cfg2})
    g.connect(i, a)
    g.connect(a, b)
    return g, a, b


@pytest.mark.parametrize("cfg1,cfg2", CONFIGS)
def test_one_training_step_matches_keras_loss_and_weights(cfg1, cfg2):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.standard_normal((6, 3)).astype(np.float32)
    w = [rng.normal(0, 0.6, s).astype(np.float32) for s in ((4, 5), (5,), (5, 3), (3,))]
    k = keras()
    inp = k.Input((4,))
    model = k.Model(inp, k.layers.Dense(3, **cfg2)(k.layers.Dense(5, activation="tanh", **cfg1)(inp)))
    model.layers[1].set_weights(w[:2])
    model.layers[2].set_weights(w[2:])
    model.compile(optimizer=k.optimizers.SGD(0.1), loss="mse")
    keras_loss = float(model.train_on_batch(x, y))

    g, a, b = _engine_graph(cfg1, cfg2)
    hist = fit(g, x, y, params={a: {"kernel": w[0].copy(), "bias": w[1].copy()},
                                b: {"kernel": w[2].copy(), "bias": w[3].copy()}},
               loss="mse", optimizer="sgd", learning_rate=0.1, epochs=1, batch_size=6, shuffle=False)
    np.testing.assert_allclose(hist.history["loss"][0], keras_loss, rtol=1e-5)
    ours = hist.params.values
    for node, layer in ((a, model.layers[1]), (b, model.layers[2])):
        kk, kb = layer.get_weights()
        np.testing.assert_allclose(ours[node]["kernel"], kk, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours[node]["bias"], kb, rtol=1e-5, atol=1e-6)


def test_the_penalties_change_the_step():
    """Without the regularizers and constraints the same step ends elsewhere (so the test above has teeth)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 3)).astype(np.float32)
    results = []
    for cfg1, cfg2 in (CONFIGS[0], ({}, {})):
        g, a, b = _engine_graph(cfg1, cfg2)
        w = [np.random.default_rng(1).normal(0, 0.6, s).astype(np.float32) for s in ((4, 5), (5,), (5, 3), (3,))]
        h = fit(g, x, y, params={a: {"kernel": w[0], "bias": w[1]}, b: {"kernel": w[2], "bias": w[3]}},
                loss="mse", optimizer="sgd", learning_rate=0.1, epochs=1, batch_size=6, shuffle=False)
        results.append((h.history["loss"][0], h.params.values[a]["kernel"].copy()))
    assert results[0][0] > results[1][0] + 0.01
    assert not np.allclose(results[0][1], results[1][1], atol=1e-3)


def test_orthogonal_regularizer_gradient_matches_finite_differences():
    reg = parse_regularizer({"class_name": "OrthogonalRegularizer", "config": {"factor": 0.5, "mode": "rows"}})
    w = np.random.default_rng(2).standard_normal((4, 3))
    g = reg.grad(w)
    for idx in [(0, 0), (1, 2), (3, 1)]:
        old = w[idx]
        w[idx] = old + 1e-6
        up = reg.penalty(w)
        w[idx] = old - 1e-6
        down = reg.penalty(w)
        w[idx] = old
        np.testing.assert_allclose(g[idx], (up - down) / 2e-6, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("config,match", [
    ({"kernel_regularizer": {"class_name": "MyRegularizer", "config": {}}}, "kernel_regularizer.*MyRegularizer"),
    ({"kernel_constraint": "radial"}, "kernel_constraint.*radial"),
    ({"bias_regularizer": {"class_name": "L2", "config": {"l3": 0.1}}}, "bias_regularizer.*'l3'"),
])
def test_a_penalty_the_engine_cannot_apply_is_refused_in_one_line(config, match):
    with pytest.raises(ConfigError, match=match) as e:
        create_layer("Dense", {"units": 2, **config})
    assert "\n" not in str(e.value)


def test_a_regularizer_inside_a_wrapped_layer_is_refused():
    with pytest.raises(ConfigError, match="kernel_regularizer of the wrapped layer"):
        create_layer("Bidirectional", {"layer": {"class_name": "LSTM",
                                                 "config": {"units": 2, "kernel_regularizer": "l2"}}})
