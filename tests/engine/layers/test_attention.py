"""Attention layers and EinsumDense against Keras 3 (JAX) and finite differences.

Inputs are numbered ports: 0 = query, 1 = value, 2 = key (optional).  Masks are passed to the numerics
directly (``query_mask``/``value_mask``) and to the Keras layer's call, until mask propagation wires them.
"""
import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import assert_case_matches_keras, assert_gradients_match_fd, keras_layer

#: Zero kernels keep Keras's layer construction fast (JAX compiles each random initializer per shape); the
#: tests replace every weight with random values anyway.
Z = {"kernel_initializer": "zeros"}

# (class_name, config, input_shapes): one line per configuration, checked against Keras and finite differences.
CASES = [
    ("EinsumDense", {**Z, "equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "c"}, [(None, 3)]),
    ("EinsumDense", {**Z, "equation": "abc,cde->abde", "output_shape": (None, 2, 4), "bias_axes": "de",
                     "activation": "tanh"}, [(None, 5, 3)]),
    ("EinsumDense", {**Z, "equation": "...b,bc->...c", "output_shape": 4}, [(None, 2, 3, 3)]),
    ("EinsumDense", {**Z, "equation": "abc...,cd->abd...", "output_shape": (3, 4), "bias_axes": "b"},
     [(None, 3, 3, 2)]),
    ("EinsumDense", {**Z, "equation": "abc,bd->adc", "output_shape": (2, 3), "bias_axes": "d"}, [(None, 4, 3)]),
    ("Attention", {}, [(None, 4, 3), (None, 5, 3)]),
    ("Attention", {"use_scale": True, "score_mode": "concat"}, [(None, 4, 3), (None, 5, 2), (None, 5, 3)]),
    ("Attention", {"use_scale": True, "use_causal_mask": True}, [(None, 4, 3), (None, 4, 2), (None, 4, 3)]),
    ("Attention", {"score_mode": "concat", "dropout": 0.3}, [(None, 3, 2), (None, 4, 2)]),
    ("AdditiveAttention", {}, [(None, 4, 3), (None, 5, 2), (None, 5, 3)]),
    ("AdditiveAttention", {"use_scale": False, "use_causal_mask": True}, [(None, 4, 3), (None, 4, 3)]),
    ("MultiHeadAttention", {**Z, "num_heads": 2, "key_dim": 3}, [(None, 4, 6), (None, 5, 6)]),
    ("MultiHeadAttention", {**Z, "num_heads": 2, "key_dim": 3, "use_causal_mask": True, "output_shape": (2, 3)},
     [(None, 4, 6), (None, 4, 5), (None, 4, 3)]),
    ("MultiHeadAttention", {**Z, "num_heads": 2, "key_dim": 2, "attention_axes": (-3, -2), "use_bias": False,
                            "dropout": 0.2}, [(None, 3, 2, 4), (None, 2, 2, 4)]),
    ("GroupQueryAttention", {**Z, "head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2},
     [(None, 4, 6), (None, 5, 6)]),
    ("GroupQueryAttention", {**Z, "head_dim": 2, "num_query_heads": 2, "num_key_value_heads": 1,
                             "use_causal_mask": True, "use_bias": False}, [(None, 4, 6), (None, 4, 6), (None, 4, 3)]),
]
IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_shape_params_weights_and_forward_match_keras(class_name, config, shapes):
    assert_case_matches_keras(class_name, config, shapes)


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_gradients_match_finite_differences(class_name, config, shapes):
    assert_gradients_match_fd(class_name, config, shapes, n_checks=12)


def test_multi_head_attention_with_value_dim_differing_from_key_dim_has_exact_gradients():
    """Keras on JAX fails on this config itself (KERAS_NOTES.md), so only finite differences check it."""
    config = {"num_heads": 2, "key_dim": 3, "value_dim": 2}
    layer = create_layer("MultiHeadAttention", config)
    assert [s.shape for s in layer.weight_specs([(None, 4, 5), (None, 3, 5)])][4:7] == [(5, 2, 2), (2, 2), (2, 2, 5)]
    assert_gradients_match_fd("MultiHeadAttention", config, [(None, 4, 5), (None, 3, 5)], n_checks=12)


@pytest.mark.parametrize("class_name,config,shapes", [
    ("Attention", {"dropout": 0.4}, [(None, 4, 3), (None, 5, 3)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "dropout": 0.4}, [(None, 4, 3), (None, 5, 3)]),
    ("GroupQueryAttention", {"head_dim": 2, "num_query_heads": 2, "num_key_value_heads": 1, "dropout": 0.4},
     [(None, 4, 3), (None, 5, 3)]),
])
def test_dropout_drops_attention_weights_in_training_only(class_name, config, shapes):
    """Inference leaves the weights alone (and matches Keras: the dropout CASES lines above); training keeps
    each weight with probability 1 - rate, scaled by 1 / (1 - rate), drawn from the trainer's generator."""
    rng = np.random.default_rng(4)
    layer = create_layer(class_name, config)
    weights = layer.init_weights(shapes, rng)
    xs = [rng.standard_normal((3, *s[1:])).astype("float32") for s in shapes]
    inference, cache = layer.forward(xs, weights, training=False)
    again, _ = layer.forward(xs, weights, training=False, rng=np.random.default_rng(3))
    trained, tcache = layer.forward(xs, weights, training=True, rng=np.random.default_rng(3))
    probs, dropped = cache[0], (tcache[5] if class_name == "Attention" else tcache[1][4])
    np.testing.assert_array_equal(again, inference)
    assert not np.allclose(trained, inference)
    kept = dropped != 0
    assert 0.2 < 1 - kept.mean() < 0.6  # about `rate` of the weights dropped ...
    np.testing.assert_allclose(dropped[kept], probs[kept] / 0.6, rtol=1e-6)  # ... and the rest scaled by 1/(1-rate)
    assert_gradients_match_fd(class_name, config, shapes, training=True, n_checks=8)


def _masks(rng, batch, tq, tv):
    qm = rng.random((batch, tq)) > 0.3
    vm = rng.random((batch, tv)) > 0.4
    vm[:, 0] = True  # every query keeps at least one key, as Keras requires for the Attention layer
    return qm, vm


def _forward_with_masks(layer, xs, weights, **masks):
    """The layer's numerics called as the engine calls them, plus mask keywords."""
    n = layer.numerics()
    return n.forward(*xs, *[None] * (3 - len(xs)), *(weights.get(w) for w in n.weights), **n.args, **masks)[0]


@pytest.mark.parametrize("class_name,config", [
    ("Attention", {"use_scale": True}), ("Attention", {"score_mode": "concat", "use_causal_mask": True}),
    ("AdditiveAttention", {}),
])
def test_attention_masks_match_keras(class_name, config):
    """Masked keys get -1e9 scores, and masked query steps output zeros, as in Keras's Attention layers."""
    rng = np.random.default_rng(5)
    shapes = [(None, 5, 3), (None, 5, 3)] if config.get("use_causal_mask") else [(None, 4, 3), (None, 5, 3)]
    layer = create_layer(class_name, config)
    weights = {k: v + 0.3 for k, v in layer.init_weights(shapes, rng).items()}
    xs = [rng.standard_normal((3, *s[1:])).astype("float32") for s in shapes]
    qm, vm = _masks(rng, 3, shapes[0][1], shapes[1][1])
    ours = _forward_with_masks(layer, xs, weights, query_mask=qm, value_mask=vm)
    theirs = keras_layer(layer, shapes, weights)(xs, mask=[qm, vm], use_causal_mask=layer.config["use_causal_mask"])
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-5)
    assert not np.allclose(ours, layer.forward(xs, weights)[0])  # the masks changed the result


#: Multi-head lines of CASES on (batch, steps, features), so Keras reuses what JAX compiled for them.
MULTI_HEAD = [c for c in CASES if c[0] in ("MultiHeadAttention", "GroupQueryAttention") and len(c[2][0]) == 3]


@pytest.mark.parametrize("class_name,config,shapes", MULTI_HEAD)
def test_multi_head_masks_and_attention_weights_match_keras(class_name, config, shapes):
    """Keras folds the query mask into the attention mask, (B, Tq, 1) & (B, 1, Tv): compared through its
    ``attention_mask`` argument (Keras reads a query mask only from a tensor's propagated mask).  The last
    forward's cache keeps the attention weights per head, as Keras returns them."""
    rng = np.random.default_rng(6)
    layer = create_layer(class_name, config)
    weights = {k: v + rng.uniform(-0.3, 0.3, v.shape).astype("float32")
               for k, v in layer.init_weights(shapes, rng).items()}
    xs = [rng.standard_normal((3, *s[1:])).astype("float32") for s in shapes]
    qm, vm = _masks(rng, 3, shapes[0][1], shapes[1][1])
    ours = _forward_with_masks(layer, xs, weights, query_mask=qm, value_mask=vm)
    kl = keras_layer(layer, shapes, weights)
    causal = layer.config["use_causal_mask"]
    theirs = kl(*xs, attention_mask=qm[:, :, None] & vm[:, None, :], use_causal_mask=causal)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-5)
    assert not np.allclose(ours, layer.forward(xs, weights)[0])
    _, cache = layer.forward(xs, weights)
    _, scores = kl(*xs, return_attention_scores=True, use_causal_mask=causal)
    np.testing.assert_allclose(cache[0], np.asarray(scores), rtol=1e-5, atol=1e-6)


def test_attention_layer_keeps_the_attention_weights_keras_returns():
    """``cache[0]`` holds the query x key weights of the last forward, for a live heat map."""
    shapes = [(None, 4, 3), (None, 4, 3)]
    rng = np.random.default_rng(2)
    layer = create_layer("Attention", {"use_scale": True, "use_causal_mask": True})
    weights = {k: v + 0.2 for k, v in layer.init_weights(shapes, rng).items()}
    xs = [rng.standard_normal((3, *s[1:])).astype("float32") for s in shapes]
    _, cache = layer.forward(xs, weights)
    _, scores = keras_layer(layer, shapes, weights)(xs, return_attention_scores=True, use_causal_mask=True)
    np.testing.assert_allclose(cache[0], np.asarray(scores), rtol=1e-5, atol=1e-6)


def test_shape_rules_name_the_fix():
    with pytest.raises(ShapeError, match="feature sizes"):
        create_layer("Attention", {}).output_shape([(None, 4, 3), (None, 5, 2)])
    with pytest.raises(ShapeError, match="value steps"):
        create_layer("Attention", {}).output_shape([(None, 4, 3), (None, 5, 3), (None, 6, 3)])
    with pytest.raises(ShapeError, match="batch axis"):
        create_layer("MultiHeadAttention", {"num_heads": 1, "key_dim": 2, "attention_axes": 2}).output_shape(
            [(None, 3, 2, 4), (None, 2, 2, 4)])
    with pytest.raises(ShapeError, match="shared axis 'b'"):
        create_layer("EinsumDense", {"equation": "abc,cd->abd", "output_shape": (4, 2)}).output_shape([(None, 3, 5)])
    with pytest.raises(ConfigError, match="equation"):
        create_layer("EinsumDense", {"equation": "ab->b", "output_shape": 2})
    with pytest.raises(ConfigError, match="bias_axes"):
        create_layer("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 2, "bias_axes": "b"})
    with pytest.raises(ConfigError, match="num_key_value_heads"):
        create_layer("GroupQueryAttention", {"head_dim": 2, "num_query_heads": 3, "num_key_value_heads": 2})


def test_einsum_dense_kernel_uses_keras_fans():
    """glorot_uniform with the fans of the einsum's input and output axes, 3 in and 8 x 10 out (a conv-style
    reading of the (3, 8, 10) shape would give fans 24 and 30 and a limit of 0.33)."""
    layer = create_layer("EinsumDense", {"equation": "abc,cde->abde", "output_shape": (None, 8, 10)})
    kernel = layer.init_weights([(None, 2, 3)], np.random.default_rng(0))["kernel"]
    limit = np.sqrt(6 / (3 + 80))
    assert kernel.shape == (3, 8, 10) and limit * 0.95 < np.abs(kernel).max() <= limit
