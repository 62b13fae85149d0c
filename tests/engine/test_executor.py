"""Executor: plans, forward vs the Keras functional twin, whole-graph gradients, data checks, ParamStore."""
import numpy as np
import pytest

from engine.errors import GraphError, TrainingError
from engine.executor import CompiledGraph, Executor, ParamStore, WeightsMismatchWarning, compile_graph
from engine.graph import LayerGraph
from tests.engine.graph_helpers import chain, fd_check_graph, keras_model


def branching_graph():
    """Two inputs; a Dense fans out into a Concatenate and an Add (diamond) and a second output."""
    g = LayerGraph()
    a = g.add_node("Input", {"shape": [3]}, name="a")
    b = g.add_node("Input", {"shape": [5]}, name="b")
    da = g.add_node("Dense", {"units": 4, "activation": "tanh"}, name="da")
    db = g.add_node("Dense", {"units": 4}, name="db")
    cat = g.add_node("Concatenate", {}, name="cat")
    proj = g.add_node("Dense", {"units": 4, "activation": "sigmoid"}, name="proj")
    add = g.add_node("Add", {}, name="add")
    out2 = g.add_node("Dense", {"units": 2, "activation": "softmax"}, name="out2")
    g.connect(a, da)
    g.connect(b, db)
    g.connect(da, cat, 0)
    g.connect(db, cat, 1)
    g.connect(cat, proj)
    g.connect(proj, add, 0)
    g.connect(da, add, 1)   # da fans out: into cat and into add (a diamond through proj)
    g.connect(da, out2)     # and into a second output
    return g


def two_chains():
    """Inputs 'a' (3,) and 'b' (5,), each with its own Dense head: two inputs, two outputs, no merge."""
    g = LayerGraph()
    for name, n in (("a", 3), ("b", 5)):
        i = g.add_node("Input", {"shape": [n]}, name=name)
        d = g.add_node("Dense", {"units": 2}, name=f"head_{name}")
        g.connect(i, d)
    return g


def test_invalid_graph_is_refused_with_its_problems():
    g = LayerGraph()
    g.add_node("Input", {"shape": [3]})
    g.add_node("Dense", {"units": 2}, name="lonely")
    with pytest.raises(GraphError) as err:
        CompiledGraph(g)
    assert "lonely" in str(err.value) and "has no input" in str(err.value)


def test_chain_forward_matches_keras_functional_model():
    g, ids = chain(("Dense", {"units": 6, "activation": "relu"}), ("Dense", {"units": 3, "activation": "softmax"}))
    ex, store = compile_graph(g, seed=3)
    x = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    ours = ex.predict(store, x, batch_size=3)
    theirs = np.asarray(keras_model(g, store)(x))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_branching_multi_input_multi_output_forward_matches_keras():
    g = branching_graph()
    ex, store = compile_graph(g, seed=1)
    rng = np.random.default_rng(2)
    x = {"a": rng.standard_normal((5, 3)).astype(np.float32), "b": rng.standard_normal((5, 5)).astype(np.float32)}
    ours = ex.predict(store, x)
    assert set(ours) == {"add", "out2"}
    theirs = keras_model(g, store)([x["a"], x["b"]])
    np.testing.assert_allclose(ours["add"], np.asarray(theirs[0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours["out2"], np.asarray(theirs[1]), rtol=1e-5, atol=1e-6)
    # a list in input order gives the same
    same = ex.predict(store, [x["a"], x["b"]])
    np.testing.assert_array_equal(same["add"], ours["add"])


def test_whole_graph_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    fd_check_graph(branching_graph(), {"a": rng.standard_normal((3, 3)), "b": rng.standard_normal((3, 5))})


def test_add_of_a_tensor_with_itself_accumulates_both_paths():
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [3]})
    d = g.add_node("Dense", {"units": 3})
    add = g.add_node("Add", {})
    g.connect(i, d)
    g.connect(d, add, 0)
    g.connect(d, add, 1)
    ex, store = fd_check_graph(g, {"input_layer": np.random.default_rng(1).standard_normal((2, 3))})
    # dL/dkernel of 2*Dense(x) is twice that of Dense(x) alone: the += really happened
    x = np.ones((1, 3))
    fwd = ex.forward(store, {i: x})
    wg, _ = ex.backward(store, fwd, {add: np.ones((1, 3))})
    np.testing.assert_allclose(wg[d]["kernel"], 2 * x.T @ np.ones((1, 3)))


def test_fan_out_into_two_outputs_without_merge():
    g, ids = chain(("Dense", {"units": 4, "activation": "tanh"}))
    for k in range(2):
        o = g.add_node("Dense", {"units": 2}, name=f"head{k}")
        g.connect(ids[1], o)
    fd_check_graph(g, {"input_layer": np.random.default_rng(3).standard_normal((2, 4))})


def test_input_shape_and_dtype_errors_name_the_input():
    g, _ = chain(("Dense", {"units": 2}), input_shape=(8, 8, 1))
    ex, store = compile_graph(g)
    with pytest.raises(TrainingError, match=r"Input 'input_layer' expects samples of shape \(8, 8, 1\) but the "
                                            r"data has \(64,\); reshape the data or change the Input shape"):
        ex.predict(store, np.zeros((2, 64), np.float32))
    with pytest.raises(TrainingError, match="needs numbers"):
        ex.predict(store, np.array([["a"] * 64] * 2).reshape(2, 8, 8, 1))
    ex2, store2 = compile_graph(two_chains())
    with pytest.raises(TrainingError, match="No data for Input 'b'"):
        ex2.predict(store2, {"a": np.zeros((2, 3))})
    with pytest.raises(TrainingError, match="different numbers of samples"):
        ex2.predict(store2, {"a": np.zeros((2, 3)), "b": np.zeros((3, 5))})
    with pytest.raises(TrainingError, match="named 'c'"):
        ex2.predict(store2, {"a": np.zeros((2, 3)), "b": np.zeros((2, 5)), "c": np.zeros(2)})


def test_embedding_takes_int32_inputs_and_rejects_fractional_ids():
    g, ids = chain(("Embedding", {"input_dim": 10, "output_dim": 3}), ("Flatten", {}), ("Dense", {"units": 2}),
                   input_shape=(5,), input_dtype="int32")
    ex, store = compile_graph(g, seed=0)
    tokens = np.random.default_rng(0).integers(0, 10, (4, 5))
    out = ex.predict(store, tokens)
    np.testing.assert_allclose(out, np.asarray(keras_model(g, store)(tokens.astype(np.int32))), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ex.predict(store, tokens.astype(np.float32)), out)  # integral floats are fine
    with pytest.raises(TrainingError, match="int32"):
        ex.predict(store, tokens + 0.5)
    # no gradient flows into integer ids, but the embedding gets one
    inputs = ex.plan.prepare_inputs(tokens)
    fwd = ex.forward(store, inputs, training=True)
    wg, ig = ex.backward(store, fwd, {ids[-1]: np.ones((4, 2), np.float32)})
    assert ids[0] not in ig and wg[ids[1]]["embeddings"].shape == (10, 3)


def test_param_store_is_seeded_and_snapshots_are_copies():
    g, ids = chain(("Dense", {"units": 5}), ("Dense", {"units": 2}))
    plan = CompiledGraph(g)
    a, b, c = ParamStore(plan, seed=4), ParamStore(plan, seed=4), ParamStore(plan, seed=5)
    np.testing.assert_array_equal(a.values[ids[1]]["kernel"], b.values[ids[1]]["kernel"])
    assert not np.array_equal(a.values[ids[1]]["kernel"], c.values[ids[1]]["kernel"])
    assert a.values[ids[1]]["kernel"].dtype == np.float32
    snap = a.snapshot()
    snap[ids[1]]["kernel"][...] = 7
    assert not np.any(a.values[ids[1]]["kernel"] == 7)
    assert a.count() == 4 * 5 + 5 + 5 * 2 + 2


def test_loading_reinitialises_only_nodes_whose_shapes_changed():
    g, ids = chain(("Dense", {"units": 5}), ("Dense", {"units": 2}))
    saved = ParamStore(CompiledGraph(g), seed=1).snapshot()
    g.set_config_value(ids[2], "units", 3)  # last layer changed: its kernel is now (5, 3)
    with pytest.warns(WeightsMismatchWarning, match=r"Dense 'dense_1'.*kernel.*\(5, 3\)"):
        store = ParamStore(CompiledGraph(g), seed=2, weights=saved)
    np.testing.assert_array_equal(store.values[ids[1]]["kernel"], saved[ids[1]]["kernel"])
    assert store.values[ids[2]]["kernel"].shape == (5, 3)
    assert len(store.warnings) == 1
    # loaded arrays are copies, not views of the caller's dict
    store.values[ids[1]]["kernel"][...] = 0
    assert np.any(saved[ids[1]]["kernel"] != 0)


def test_trainable_false_and_non_trainable_weights_are_excluded():
    g, ids = chain(("Dense", {"units": 3, "trainable": False}), ("BatchNormalization", {}), ("Dense", {"units": 2}))
    store = ParamStore(CompiledGraph(g), seed=0)
    keys = store.trainable_keys()
    assert (ids[1], "kernel") not in keys
    assert (ids[2], "gamma") in keys and (ids[2], "moving_mean") not in keys
    assert (ids[3], "kernel") in keys


def test_batchnorm_moving_stats_update_after_training_forward_only():
    g, ids = chain(("BatchNormalization", {"momentum": 0.5}), ("Dense", {"units": 2}))
    ex, store = compile_graph(g, seed=0)
    x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4)).astype(np.float32)
    inputs = ex.plan.prepare_inputs(x)
    ex.forward(store, inputs, training=False)
    ex.apply_state_updates(store, ex.forward(store, inputs, training=False))
    np.testing.assert_array_equal(store.values[ids[1]]["moving_mean"], 0)
    fwd = ex.forward(store, inputs, training=True)
    ex.apply_state_updates(store, fwd)
    np.testing.assert_allclose(store.values[ids[1]]["moving_mean"], 0.5 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(store.values[ids[1]]["moving_variance"], 0.5 + 0.5 * x.var(axis=0), rtol=1e-4)


def test_predict_in_batches_equals_one_big_batch():
    g, _ = chain(("Dense", {"units": 3, "activation": "relu"}))
    ex, store = compile_graph(g, seed=0)
    x = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    np.testing.assert_allclose(ex.predict(store, x, batch_size=3), ex.predict(store, x, batch_size=100), rtol=1e-6)
    assert Executor(ex.plan).predict(store, x[:0]).shape == (0, 3)
