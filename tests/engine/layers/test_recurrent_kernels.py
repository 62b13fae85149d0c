"""The shipped recurrent numerics agree with the naive step-by-step references, and their fast paths agree
with the generic ones (float64, to 1e-12)."""
import numpy as np
import pytest

from engine.numerics import activations as act
from engine.numerics import gru as G
from engine.numerics import lstm as L
from engine.numerics import recurrent as R
from tests.engine.layers import recurrent_naive as naive

TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def _weights(rng, f, u, gates, bias_shape):
    return (rng.standard_normal((f, gates * u)) * 0.5, rng.standard_normal((u, gates * u)) * 0.5,
            rng.standard_normal(bias_shape) * 0.5)


def _naive_output(ref, return_sequences):
    return ref if return_sequences else ref[:, -1]


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("training", [False, True])
def test_forwards_match_naive_references(return_sequences, go_backwards, use_bias, training):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4))
    xn = x[:, ::-1] if go_backwards else x           # Keras: go_backwards reads (and returns) the reversed sequence
    u = 5
    flags = {"return_sequences": return_sequences, "go_backwards": go_backwards, "training": training}
    cases = [
        (R.simple_rnn_forward, 1, (u,), {}, lambda k, r, b: naive.simple_rnn_naive(xn, k, r, b, "tanh")),
        (L.lstm_forward, 4, (4 * u,), {}, lambda k, r, b: naive.lstm_naive(xn, k, r, b, "tanh", "sigmoid")),
        (L.lstm_forward, 4, (4 * u,), {"activation": act.relu, "recurrent_activation": act.hard_sigmoid},
         lambda k, r, b: naive.lstm_naive(xn, k, r, b, "relu", "hard_sigmoid")),
        (G.gru_forward, 3, (2, 3 * u), {}, lambda k, r, b: naive.gru_naive(xn, k, r, b, "tanh", "sigmoid", True)),
        (G.gru_forward, 3, (3 * u,), {"reset_after": False},
         lambda k, r, b: naive.gru_naive(xn, k, r, b, "tanh", "sigmoid", False)),
    ]
    for forward, gates, bias_shape, args, reference in cases:
        kern, rec, b = _weights(rng, 4, u, gates, bias_shape)
        b = b if use_bias else None
        out, _ = forward(x, kern, rec, b, **args, **flags)
        np.testing.assert_allclose(out, _naive_output(reference(kern, rec, b), return_sequences), **TIGHT)


FUSED = [  # (forward, backward, generic forward with the default activations, gates, bias shape)
    (L.lstm_forward, L.lstm_backward,
     lambda *a: L.lstm_generic_forward(*a[:4], act.tanh, act.sigmoid, *a[4:]), 4, (20,)),
    (G.gru_forward, G.gru_backward,
     lambda *a: G.gru_generic_forward(*a[:4], act.tanh, act.sigmoid, True, *a[4:]), 3, (2, 15)),
]


@pytest.mark.parametrize("forward,backward,generic,gates,bias_shape", FUSED, ids=["LSTM", "GRU"])
@pytest.mark.parametrize("cfg", [{"return_sequences": False}, {"return_sequences": True, "go_backwards": True},
                                 {"return_sequences": True}])
@pytest.mark.parametrize("use_bias", [True, False])
def test_fused_kernels_match_generic_kernels_forward_and_backward(forward, backward, generic, gates, bias_shape,
                                                                  cfg, use_bias):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 7, 4))
    kern, rec, b = _weights(rng, 4, 5, gates, bias_shape)
    b = b if use_bias else None
    ref, gcache = generic(x, kern, rec, b, cfg["return_sequences"], cfg.get("go_backwards", False))
    assert gcache[0] == "generic"
    g = rng.standard_normal(ref.shape)
    ref_grads = backward(g, gcache, kern, rec, b, **cfg)
    for training in (True, False):                   # a backward after inference reruns the fused forward
        out, cache = forward(x, kern, rec, b, **cfg, training=training)
        assert cache[0] == "fused"
        np.testing.assert_allclose(out, ref, **TIGHT)
        (dx,), grads = backward(g, cache, kern, rec, b, **cfg)
        np.testing.assert_allclose(dx, ref_grads[0][0], **TIGHT)
        for got, want in zip(grads, ref_grads[1]):
            assert (got is None) == (want is None)
            if want is not None:
                np.testing.assert_allclose(got, want, **TIGHT)


@pytest.mark.parametrize("forward,gates,bias_shape", [(L.lstm_forward, 4, (8,)), (G.gru_forward, 3, (2, 6)),
                                                      (R.simple_rnn_forward, 1, (2,))])
def test_reused_buffers_give_the_same_results_and_never_alias_the_output(forward, gates, bias_shape):
    rng = np.random.default_rng(2)
    kern, rec, b = _weights(rng, 3, 2, gates, bias_shape)
    x1, x2 = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 5, 3))
    buffers = {}
    for seq in (True, False):
        first, _ = forward(x1, kern, rec, b, return_sequences=seq, buffers=buffers)
        kept = first.copy()
        second, _ = forward(x2, kern, rec, b, return_sequences=seq, buffers=buffers)
        np.testing.assert_array_equal(first, kept)
        np.testing.assert_array_equal(second, forward(x2, kern, rec, b, return_sequences=seq)[0])
    assert forward is R.simple_rnn_forward or buffers     # the fused inference paths did use them


def test_dropout_masks_are_shared_over_time_and_per_gate_with_recurrent_dropout():
    x = np.zeros((6, 5, 4))
    in_m, rec_m = R.rnn_dropout_masks(4, x, 3, 0.5, 0.0, np.random.default_rng(0))
    assert in_m.shape == (1, 6, 4) and rec_m is None
    assert set(np.unique(in_m)) <= {0.0, 2.0}
    in_m, rec_m = R.rnn_dropout_masks(3, x, 3, 0.5, 0.25, np.random.default_rng(0))
    assert in_m.shape == (3, 6, 4) and rec_m.shape == (3, 6, 3)
    assert set(np.unique(rec_m)) <= {0.0, 1 / 0.75}
