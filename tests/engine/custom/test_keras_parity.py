"""The issue's custom layers against Keras running the exported class (KERAS_BACKEND=jax): forward to 1e-5,
gradients equal to JAX's through Keras, and 20 SGD steps from the same weights with losses within 1e-4."""
from __future__ import annotations

import numpy as np
import pytest

from engine.executor import Executor
from engine.export.cli import write_export
from engine.export.numpy_code import numpy_code
from engine.export.plan import make_plan, weight_arrays
from engine.graph import LayerGraph
from engine.training import fit
from tests.engine.custom.definitions import PARITY_CASES, signed
from tests.oracle import keras

STEPS, LR, BATCH = 20, 0.05, 6


def _graph(definition, arguments, shapes):
    g = LayerGraph()
    ins = [g.add_node("Input", {"shape": list(s[1:])}, name=f"in_{i}") for i, s in enumerate(shapes)]
    node = g.add_node("CustomLayer", {"definition": signed(definition), "arguments": arguments}, name="custom")
    for i in ins:
        g.connect(i, node)
    return g, node


def _data(shapes, out_shape, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(BATCH, *s[1:])).astype("float32") for s in shapes]
    y = rng.normal(size=(BATCH, *out_shape[1:])).astype("float32")
    return xs, y


def _exported_keras_model(g, weights, tmp_path):
    keras()
    out = tmp_path / "model.py"
    write_export(g, weights, out, "keras")
    namespace = {"__file__": str(out), "__name__": "exported_custom"}
    exec(compile(out.read_text(), str(out), "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["build_model"]()


@pytest.fixture(scope="module", params=PARITY_CASES, ids=[c[0]["name"] for c in PARITY_CASES])
def case(request, tmp_path_factory):
    definition, arguments, shapes = request.param
    g, node = _graph(definition, arguments, shapes)
    plan = make_plan(g)
    rng = np.random.default_rng(1)
    weights = {node: {s.name: rng.normal(0, 0.5, s.shape).astype("float32") for s in plan.specs[node]}}
    xs, y = _data(shapes, plan.result.node_shapes[node])
    return g, node, weights, xs, y, _exported_keras_model(g, weights, tmp_path_factory.mktemp("export"))


def _x(xs):
    return xs[0] if len(xs) == 1 else xs


def test_forward_equals_keras_and_the_numpy_export(case):
    g, node, weights, xs, y, model = case
    ours = Executor(g).predict(weights, _x(xs) if len(xs) == 1 else {f"in_{i}": x for i, x in enumerate(xs)})
    np.testing.assert_allclose(ours, np.asarray(model(_x(xs))), rtol=1e-5, atol=1e-5)
    namespace: dict = {"__file__": "generated.py", "__name__": "generated"}
    exec(compile(numpy_code(g), "generated.py", "exec"), namespace)  # noqa: S102 - our own generated code
    namespace["_W"].update(weight_arrays(make_plan(g), weights))
    got = namespace["predict"](_x(xs) if len(xs) == 1 else {f"in_{i}": x for i, x in enumerate(xs)})
    np.testing.assert_allclose(got, ours, rtol=1e-5, atol=1e-6)


def test_gradients_equal_keras_through_jax(case):
    import jax
    import jax.numpy as jnp

    g, node, weights, xs, y, model = case
    ex = Executor(g)
    inputs = {nid: x for nid, x in zip(ex.plan.input_ids, xs)}
    fwd = ex.forward(weights, inputs, training=True)
    pred = fwd.activations[node]
    wgrads, in_grads = ex.backward(weights, fwd, {node: 2 * (pred - y) / pred.size})

    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]

    def loss(tv, xs):
        out, _ = model.stateless_call(tv, fixed, _x(xs))
        return jnp.mean((out - y) ** 2)

    k_wgrads, k_xgrads = jax.grad(loss, argnums=(0, 1))(trainable, list(xs))
    names = [v.name for v in model.trainable_variables]
    for name, kg in zip(names, k_wgrads):
        np.testing.assert_allclose(wgrads[node][name], np.asarray(kg), rtol=1e-4, atol=1e-6)
    for nid, kg in zip(ex.plan.input_ids, k_xgrads):
        np.testing.assert_allclose(in_grads[nid], np.asarray(kg), rtol=1e-4, atol=1e-6)


def test_twenty_sgd_steps_give_the_losses_keras_gives(case):
    g, node, weights, xs, y, model = case
    k = keras()
    model.compile(optimizer=k.optimizers.SGD(LR), loss="mse", run_eagerly=True)  # tiny: tracing costs more
    k_losses = model.fit(_x(xs), y, batch_size=BATCH, epochs=STEPS, shuffle=False, verbose=0).history["loss"]
    x = _x(xs) if len(xs) == 1 else {f"in_{i}": x for i, x in enumerate(xs)}
    hist = fit(g, x, y, params=weights, loss="mse", optimizer="sgd", learning_rate=LR, epochs=STEPS,
               batch_size=BATCH, shuffle=False, seed=0)
    assert len(k_losses) == STEPS and k_losses[-1] < k_losses[0]  # it learns
    np.testing.assert_allclose(hist.history["loss"], k_losses, rtol=1e-4)


def test_the_exported_layer_saves_and_loads_in_keras(tmp_path):
    definition, arguments, shapes = PARITY_CASES[0]
    g, node = _graph(definition, arguments, shapes)
    model = _exported_keras_model(g, None, tmp_path)
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    model.save(tmp_path / "glu.keras")
    loaded = keras().saving.load_model(tmp_path / "glu.keras")
    assert type(loaded.get_layer("custom")).__name__ == "GatedLinearUnit"
    assert loaded.get_layer("custom").get_config()["units"] == 3
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_a_keras_file_export_refuses_custom_code_in_one_line(tmp_path):
    from engine.errors import GraphError
    from engine.export.keras_file import keras_archive

    g, _ = _graph(*PARITY_CASES[0])
    with pytest.raises(GraphError, match="custom layer; a .keras file holds no code"):
        keras_archive(g, None)
