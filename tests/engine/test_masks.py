"""Masks as Keras 3 propagates them: Keras models with Embedding(mask_zero=True) or Masking import, predict,
train and export equal to Keras (KERAS_BACKEND=jax).

Inputs put padding both at the ends and in the middle of sequences, so a layer that ignored its mask (or
masked the wrong steps) would differ from Keras by far more than the tolerance.
"""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.executor import Executor, compile_graph
from engine.export.keras_import import import_model
from engine.validation import infer_shapes
from tests.oracle import keras

TOKENS = np.array([[1, 2, 0, 0, 0], [3, 0, 1, 4, 0], [2, 2, 2, 2, 1]], dtype=np.int32)
#: the padded steps of SEQUENCE are rows of zeros (Masking's default mask_value)
SEQUENCE = np.random.default_rng(7).normal(size=(3, 5, 3)).astype(np.float32)
SEQUENCE[0, 3:] = 0
SEQUENCE[1, 1] = 0


def _randomize(model, seed=0):
    """Random weights everywhere (zero biases and unit gates could hide a mask that is ignored)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def keras_predict(model, x):
    """Keras's prediction, computed eagerly: the same operations as ``predict`` without compiling them
    (0.1 s instead of ~2 s per small recurrent model)."""
    import jax
    with jax.disable_jit():
        return np.asarray(model(x, training=False))


def embedding_lstm(k):
    """The defect of issue 11: Embedding(mask_zero) -> LSTM predicted 7.5e-3 away from Keras."""
    i = k.Input((5,), dtype="int32")
    return k.Model(i, k.layers.LSTM(4)(k.layers.Embedding(5, 3, mask_zero=True)(i)))


def masking_gru_pool(k):
    i = k.Input((5, 3))
    x = k.layers.Masking(0.0)(i)
    x = k.layers.GRU(4, return_sequences=True)(x)
    return k.Model(i, k.layers.GlobalAveragePooling1D()(x))


def bidirectional(k):
    i = k.Input((5,), dtype="int32")
    x = k.layers.Embedding(5, 3, mask_zero=True)(i)
    x = k.layers.Bidirectional(k.layers.LSTM(2, return_sequences=True))(x)
    x = k.layers.Bidirectional(k.layers.SimpleRNN(2, go_backwards=False), merge_mode="sum")(x)
    return k.Model(i, k.layers.Dense(2)(x))


def merged_branches(k):
    """Two masked branches added (Keras ORs their masks), joined in time with an unmasked branch (Keras's
    Concatenate counts it as all true; its mask operations are imported), then a GRU going backwards."""
    a = k.Input((5,), dtype="int32")
    b = k.Input((5, 3))
    ea = k.layers.Dense(3, activation="tanh")(k.layers.Embedding(5, 3, mask_zero=True)(a))
    mb = k.layers.Masking()(b)
    x = k.layers.Add()([ea, mb])
    x = k.layers.Concatenate(axis=1)([x, k.layers.Embedding(5, 3)(a)])
    x = k.layers.GRU(3, return_sequences=True, go_backwards=True)(x)
    return k.Model([a, b], k.layers.GlobalAveragePooling1D()(x))


def sequential_embedding_simple_rnn(k):
    return k.Sequential([k.Input((5,), dtype="int32"), k.layers.Embedding(5, 3, mask_zero=True),
                         k.layers.SimpleRNN(3, return_sequences=True), k.layers.GlobalMaxPooling1D()])


def mha_self_attention(k):
    """Keras fills MultiHeadAttention's query_mask / value_mask from its inputs (unsaved in the file); the
    output carries the query's mask into the pooling."""
    i = k.Input((5,), dtype="int32")
    x = k.layers.Embedding(5, 4, mask_zero=True)(i)
    x = k.layers.MultiHeadAttention(2, 2)(x, x)
    return k.Model(i, k.layers.Dense(2)(k.layers.GlobalAveragePooling1D()(x)))


#: values of another length than the queries, padded at the start and in the middle
VALUE_TOKENS = np.array([[0, 1, 3, 0], [2, 0, 0, 1], [4, 4, 1, 2]], dtype=np.int32)
#: keys padded elsewhere than the values, so a key mask that is ignored shows
KEY_TOKENS = np.array([[1, 0, 2, 2], [0, 3, 3, 0], [1, 1, 0, 1]], dtype=np.int32)


def attention_query_value(k):
    """Attention([query, value]) with both masked: masked keys get no weight, masked queries a zero output,
    and the output carries the query's mask (a ConvertToTensor operation in the file)."""
    q_in, v_in = k.Input((5,), dtype="int32"), k.Input((4,), dtype="int32")
    q = k.layers.Embedding(5, 3, mask_zero=True)(q_in)
    v = k.layers.Embedding(5, 3, mask_zero=True)(v_in)
    x = k.layers.Attention(use_scale=True)([q, v])
    return k.Model([q_in, v_in], k.layers.GlobalAveragePooling1D()(x))


def gqa_query_value_key(k):
    """GroupQueryAttention(query, value, key=...) with three masks: Keras fills key_mask from the key too."""
    q_in, v_in, k_in = k.Input((5,), dtype="int32"), k.Input((4,), dtype="int32"), k.Input((4,), dtype="int32")
    q, v, key = (k.layers.Embedding(5, 4, mask_zero=True)(t) for t in (q_in, v_in, k_in))
    x = k.layers.GroupQueryAttention(2, 4, 2)(q, v, key=key)
    return k.Model([q_in, v_in, k_in], k.layers.GlobalAveragePooling1D()(x))


MODELS = {"embedding_lstm": (embedding_lstm, TOKENS), "masking_gru_pool": (masking_gru_pool, SEQUENCE),
          "bidirectional": (bidirectional, TOKENS), "merged_branches": (merged_branches, [TOKENS, SEQUENCE]),
          "sequential_simple_rnn": (sequential_embedding_simple_rnn, TOKENS),
          "mha_self_attention": (mha_self_attention, TOKENS),
          "attention_query_value": (attention_query_value, [TOKENS, VALUE_TOKENS]),
          "gqa_query_value_key": (gqa_query_value_key, [TOKENS, VALUE_TOKENS, KEY_TOKENS])}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each Keras model once: the model, its .keras file and its prediction."""
    k = keras()
    out = {}
    for name, (build, x) in MODELS.items():
        k.utils.set_random_seed(0)
        model = _randomize(build(k))
        path = tmp_path_factory.mktemp("masks") / f"{name}.keras"
        model.save(path)
        out[name] = (model, path, x, keras_predict(model, x))
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_masked_models_import_predict_and_export_like_keras(saved, name, tmp_path):
    """Import, the engine's predict, the NumPy export and the Keras export all reproduce Keras."""
    from engine.export.cli import write_export
    _model, path, x, want = saved[name]
    imported = import_model(path)
    assert infer_shapes(imported.graph).mask_sources, "no wire carries a mask"
    ex, params = compile_graph(imported.graph, weights=imported.weights)
    np.testing.assert_allclose(ex.predict(params, x), want, rtol=1e-5, atol=1e-5)
    xs = dict(zip(ex.plan.input_names, x)) if isinstance(x, list) else x
    for to in ("numpy", "keras"):
        out = tmp_path / f"{to}_model.py"
        write_export(imported.graph, imported.weights, out, to)
        namespace: dict = {"__file__": str(out), "__name__": f"generated_{to}"}
        exec(compile(out.read_text(), str(out), "exec"), namespace)  # noqa: S102 - our own generated code
        if to == "numpy":
            got = namespace["predict"](xs)
        else:
            got = keras_predict(namespace["build_model"](), x)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=to)


def sequence_classifier(k):
    """A loss on a masked sequence output: Keras's compile leaves the padded positions out of it."""
    i = k.Input((5,), dtype="int32")
    x = k.layers.Embedding(5, 3, mask_zero=True)(i)
    x = k.layers.Bidirectional(k.layers.GRU(3, return_sequences=True))(x)
    return k.Model(i, k.layers.Dense(3, activation="softmax")(x))


STEP_CASES = {
    "embedding_lstm": (embedding_lstm, TOKENS, "mse", np.random.default_rng(1).normal(size=(3, 4))),
    "masking_gru_pool": (masking_gru_pool, SEQUENCE, "mse", np.random.default_rng(2).normal(size=(3, 4))),
    "sequence_classifier": (sequence_classifier, TOKENS, "sparse_categorical_crossentropy",
                            np.random.default_rng(3).integers(0, 3, size=(3, 5))),
    "mha_self_attention": (mha_self_attention, TOKENS, "mse", np.random.default_rng(4).normal(size=(3, 2))),
}


@pytest.mark.parametrize("name", list(STEP_CASES))
def test_one_sgd_step_on_masked_models_moves_the_weights_like_keras(tmp_path, name):
    """One SGD step (learning rate 0.5, so a wrong gradient shows) leaves every weight where Keras's does."""
    from engine.training import Trainer
    k = keras()
    build, x, loss, y = STEP_CASES[name]
    k.utils.set_random_seed(0)
    model = _randomize(build(k), seed=1)
    model.save(tmp_path / "m.keras")
    model.compile(optimizer=k.optimizers.SGD(0.5), loss=loss)
    imported = import_model(tmp_path / "m.keras")
    trainer = Trainer(imported.graph, params=imported.weights, loss=loss, optimizer="sgd", learning_rate=0.5,
                      dtype=np.float64)
    xs, ys = trainer.prepare(x, y)
    step = trainer.train_step(xs, ys)
    keras_loss = float(model.train_on_batch(x, y))   # the loss of the batch before the update
    assert step.loss == pytest.approx(keras_loss, rel=1e-5)
    ids = {node.name: nid for nid, node in imported.graph.nodes.items()}
    for layer in model.layers:
        if not layer.weights:
            continue
        nid = ids[layer.name]
        ours = [trainer.params.values[nid][s.name] for s in trainer.plan.weight_specs(nid)]
        for got, want in zip(ours, layer.get_weights(), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=layer.name)


def test_masked_output_loss_and_accuracy_cover_the_unmasked_positions_only():
    """Keras's compile weights the loss by the output mask: positions/unmasked where unmasked, else 0."""
    from engine.losses import get_loss
    y_pred = np.array([[[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]])
    mask = np.array([[True, True, False]])
    value, grad = get_loss("mse")(np.zeros_like(y_pred), y_pred, mask)
    assert value == pytest.approx((0.68 / 2 + 0.52 / 2) / 2)
    np.testing.assert_allclose(grad[0, 2], 0)
    np.testing.assert_allclose(grad[0, 0], 2 * y_pred[0, 0] / 6 * 1.5)


def test_the_regression_inputs_exercise_the_mask(saved):
    """Issue 11's defect: the same Embedding -> LSTM without its mask is far from Keras's masked prediction,
    so the import test above fails for an engine that ignores (or misplaces) the mask."""
    model, path, x, want = saved["embedding_lstm"]
    imported = import_model(path)
    emb = next(n for n in imported.graph.nodes.values() if n.class_name == "Embedding")
    imported.graph.set_config(emb.id, {**imported.graph.node(emb.id).config, "mask_zero": False})
    ex, params = compile_graph(imported.graph, weights=imported.weights)
    assert np.abs(ex.predict(params, x) - want).max() > 1e-2


def test_mask_rules_follow_keras_supports_masking():
    """Each layer passes, makes or drops a mask as its Keras class does (``supports_masking``); "refuse" is
    kept for layers where Keras raises or computes something the engine does not (named in the message)."""
    from engine.layers import LAYERS
    from tests.engine.layers.test_layer_contract import CASES
    from tests.oracle import keras_class, keras_config
    from engine.layers import create_layer
    refused = {"Softmax", "BatchNormalization", "Maximum", "Minimum", "Group", "RNN", "TimeDistributed",
               "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}
    for name, cls in sorted(LAYERS.items()):
        if name in ("Input", "Group", "CustomLayer") or not CASES.get(name):  # CustomLayer: the user's class
            continue
        config, _shapes = CASES[name][0]
        layer = create_layer(name, config)
        ours = cls.mask_rule
        if name in refused:
            assert ours == "refuse" and cls.mask_refusal.endswith("."), name
            continue
        k = keras()
        theirs = (k.layers.Bidirectional(k.layers.LSTM(2)) if name == "Bidirectional"   # wraps a layer object
                  else keras_class(layer).from_config(keras_config(layer)))
        if name in ("Embedding", "Masking"):
            assert ours == "make", name
        elif name == "Dot":
            assert ours == "drop" and theirs.supports_masking, name   # Dot.compute_mask returns None
        else:
            honours = ours != "drop" or bool(cls.mask_args)   # passes it on, or its numerics receive it
            assert honours == bool(theirs.supports_masking), (name, ours)


def _graph(*layers):
    from engine.graph import LayerGraph
    g = LayerGraph()
    ids = [g.add_node(cls, cfg) for cls, cfg in layers]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b, 0)
    return g, ids


@pytest.mark.parametrize("consumer, words", [
    (("Softmax", {}), "Keras's Softmax refuses a sequence mask"),
    (("BatchNormalization", {}), "masked batch statistics"),
])
def test_layers_that_cannot_honour_a_mask_refuse_it_by_name(consumer, words):
    g, ids = _graph(("Input", {"shape": (5,), "dtype": "int32"}), ("Embedding", {"input_dim": 4, "output_dim": 3,
                                                                                "mask_zero": True}), consumer)
    result = infer_shapes(g)
    assert [p.node_id for p in result.problems] == [ids[2]]
    assert words in result.problems[0].message and "(from embedding)" in result.problems[0].message


def test_validator_infers_which_wires_carry_a_mask_and_keras_merge_rules():
    """Structural: Embedding makes it, Dense passes it, a merge with an unmasked input drops it (Keras's
    base merge), Concatenate keeps it, an RNN keeps it only with return_sequences."""
    from engine.graph import LayerGraph
    g = LayerGraph()
    i = g.add_node("Input", {"shape": (5,), "dtype": "int32"})
    e = g.add_node("Embedding", {"input_dim": 4, "output_dim": 3, "mask_zero": True})
    p = g.add_node("Embedding", {"input_dim": 4, "output_dim": 3})
    d = g.add_node("Dense", {"units": 3})
    add = g.add_node("Add", {})
    cat = g.add_node("Concatenate", {})
    seq = g.add_node("GRU", {"units": 2, "return_sequences": True})
    last = g.add_node("LSTM", {"units": 2})
    for a, b, k in ((i, e, 0), (i, p, 0), (e, d, 0), (d, add, 0), (p, add, 1), (d, cat, 0), (p, cat, 1),
                    (cat, seq, 0), (seq, last, 0), (add, g.add_node("Flatten", {}), 0)):
        g.connect(a, b, k)
    masks = infer_shapes(g).mask_sources
    assert masks == {e: (e,), d: (e,), cat: (e,), seq: (e,)}


def test_a_mask_keras_passes_that_the_engine_would_not_infer_is_refused(tmp_path):
    """``LSTM(x, mask=keras.ops.not_equal(ids, 0))`` after an Embedding without mask_zero: Keras masks, and
    layergraph (whose masks are structural) would not, so the import is refused instead of predicting wrong."""
    k = keras()
    i = k.Input((5,), dtype="int32")
    x = k.layers.Embedding(5, 3)(i)
    model = k.Model(i, k.layers.LSTM(2)(x, mask=k.ops.not_equal(i, 0)))
    model.save(tmp_path / "custom.keras")
    with pytest.raises(ConfigError, match=r"passes a mask to LSTM 'lstm(_\d+)?', which layergraph infers differently"):
        import_model(tmp_path / "custom.keras")


def test_a_mask_argument_saved_with_an_attention_call_is_refused(tmp_path):
    """Keras fills an attention layer's masks from its inputs without saving them; a saved ``query_mask=`` is
    the user's own mask, which layergraph (whose masks are structural) cannot reproduce: refused by name."""
    k = keras()
    i = k.Input((5,), dtype="int32")
    x = k.layers.Embedding(5, 4)(i)
    y = k.layers.MultiHeadAttention(2, 2)(x, x, query_mask=k.ops.not_equal(i, 0))
    k.Model(i, y).save(tmp_path / "custom.keras")
    with pytest.raises(ConfigError, match=r"called with extra arguments \(query_mask\)"):
        import_model(tmp_path / "custom.keras")


@pytest.mark.parametrize("cell, options", [
    ("simple_rnn", {"return_sequences": True}),
    ("simple_rnn", {"go_backwards": True}),
    ("lstm", {"return_sequences": True, "go_backwards": True, "zero_output_for_mask": True}),
    ("gru", {"reset_after": False, "return_sequences": True}),
    ("gru", {"zero_output_for_mask": True}),
])
def test_masked_recurrent_gradients_match_finite_differences(cell, options):
    """The paths the Keras step tests above do not take (SimpleRNN, go_backwards, reset_after=False, a zero
    output at masked steps without sequences): every input and weight gradient by central differences."""
    from engine.numerics import gru, lstm, recurrent
    forward, backward, gates = {"simple_rnn": (recurrent.simple_rnn_forward, recurrent.simple_rnn_backward, 1),
                                "lstm": (lstm.lstm_forward, lstm.lstm_backward, 4),
                                "gru": (gru.gru_forward, gru.gru_backward, 3)}[cell]
    rng = np.random.default_rng(4)
    units = 2
    x = rng.normal(size=(2, 4, 3))
    mask = np.array([[True, False, True, False], [False, True, True, True]])
    bias_shape = (2, 3 * units) if cell == "gru" and options.get("reset_after", True) else (gates * units,)
    params = [x, rng.normal(size=(3, gates * units)), rng.normal(size=(units, gates * units)),
              rng.normal(size=bias_shape)]
    y, cache = forward(*params, **options, mask=mask)
    upstream = rng.normal(size=y.shape)
    (dx,), dws = backward(upstream, cache, *params[1:], **options)
    eps = 1e-6
    for grad, arr in zip([dx, *dws], params):
        for idx in list(np.ndindex(arr.shape))[::3]:
            old = arr[idx]
            arr[idx] = old + eps
            up = (forward(*params, **options, mask=mask)[0] * upstream).sum()
            arr[idx] = old - eps
            down = (forward(*params, **options, mask=mask)[0] * upstream).sum()
            arr[idx] = old
            assert grad[idx] == pytest.approx((up - down) / (2 * eps), abs=1e-6), (idx, arr.shape)


def test_onnx_export_refuses_a_layer_whose_input_carries_a_mask():
    """The ONNX operators would run the padded steps: refused by name, not exported wrong."""
    from engine.export.onnx_export import refused_layers
    g, ids = _graph(("Input", {"shape": (5,), "dtype": "int32"}),
                    ("Embedding", {"input_dim": 4, "output_dim": 3, "mask_zero": True}), ("LSTM", {"units": 2}))
    assert refused_layers(g) == ["'lstm' (LSTM: its input carries a mask, which the ONNX export does not apply)"]
    g.set_config(ids[1], {"input_dim": 4, "output_dim": 3})
    assert refused_layers(g) == []


def test_onnx_masking_zeroes_the_masked_steps_like_the_engine():
    """Masking's values go to ONNX (its mask is refused where a layer would read it, above)."""
    pytest.importorskip("onnxruntime")
    from tests.engine.export.test_onnx_export import assert_matches_engine
    g, ids = _graph(("Input", {"shape": (5, 3)}), ("Masking", {"mask_value": 1.0}), ("Dense", {"units": 2}))
    weights = {ids[2]: {"kernel": np.ones((3, 2), np.float32), "bias": np.full(2, 0.5, np.float32)}}
    x = SEQUENCE.copy()
    x[1, 2] = 1.0                      # a masked step: zeros after Masking, so the Dense gives its bias there
    assert_matches_engine(g, weights, {g.node(ids[0]).name: x})
    np.testing.assert_allclose(Executor(g).predict(weights, x)[1, 2], 0.5)


def _attention_params(name, rng):
    """Inputs and weights of a small call of each attention numerics: query (2, 3, 4), value and key (2, 4, 4)."""
    from engine.numerics import attention
    query, value, key = (rng.normal(size=s) for s in ((2, 3, 4), (2, 4, 4), (2, 4, 4)))
    if name == "attention":
        return attention.attention_forward, attention.attention_backward, [query, value, key, np.array(0.7)], {}
    if name == "mha":
        ws = [rng.normal(size=s) for s in ((4, 2, 3), (2, 3), (4, 2, 3), (2, 3), (4, 2, 3), (2, 3), (2, 3, 4), (4,))]
        return attention.mha_forward, attention.mha_backward, [query, value, key, *ws], {"key_dim": 3}
    ws = [rng.normal(size=s) for s in ((4, 4, 2), (4, 2), (4, 2, 2), (2, 2), (4, 2, 2), (2, 2), (4, 2, 4), (4,))]
    return attention.gqa_forward, attention.gqa_backward, [query, value, key, *ws], {"head_dim": 2}


@pytest.mark.parametrize("name", ["attention", "mha", "gqa"])
def test_masked_attention_gradients_match_finite_differences(name):
    """Query, value and key masks (a masked query is a fully masked score row in Multi-Head / Group-Query
    attention, whose scores are constants): every input and weight gradient by central differences."""
    forward, backward, params, args = _attention_params(name, np.random.default_rng(5))
    masks = {"query_mask": np.array([[True, False, True], [False, True, True]]),
             "value_mask": np.array([[True, True, False, True], [False, True, True, True]])}
    if name != "attention":     # Keras's Attention never reads the key's mask
        masks["key_mask"] = np.array([[True, False, True, True], [True, True, True, False]])
    weights = params[3:]
    y, cache = forward(*params, **args, **masks)
    upstream = np.random.default_rng(6).normal(size=y.shape)
    grads, wgrads = backward(upstream, cache, *weights, **args)
    eps = 1e-6
    for grad, arr in zip([*grads, *[g for g in wgrads if g is not None]], params):
        for idx in list(np.ndindex(arr.shape))[::2]:
            old = arr[idx]
            arr[idx] = old + eps
            up = (forward(*params, **args, **masks)[0] * upstream).sum()
            arr[idx] = old - eps
            down = (forward(*params, **args, **masks)[0] * upstream).sum()
            arr[idx] = old
            assert grad[idx] == pytest.approx((up - down) / (2 * eps), abs=1e-6), (idx, arr.shape)
