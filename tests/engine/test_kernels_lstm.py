"""The fused feature-major LSTM kernel agrees with the naive reference cell and with the generic kernel."""
import numpy as np
import pytest

from engine.kernels import recurrent as K
from engine.layers import create_layer


def _weights(rng, f, u, dtype):
    return (rng.standard_normal((f, 4 * u)).astype(dtype) * 0.5, rng.standard_normal((u, 4 * u)).astype(dtype) * 0.5,
            rng.standard_normal(4 * u).astype(dtype) * 0.5)


@pytest.mark.parametrize("use_bias", [True, False])
def test_fused_forward_matches_naive_cell(use_bias):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4))                         # (b, t, f), float64
    kern, rec, b = _weights(rng, 4, 5, np.float64)
    xa = x.transpose(1, 2, 0)
    if use_bias:
        xa = np.concatenate([xa, np.ones((6, 1, 3))], axis=1)
    hs, _ = K.lstm_fused_forward(np.ascontiguousarray(xa), kern, rec, b if use_bias else None)
    ref = K.lstm_naive(x, kern, rec, b if use_bias else None, "tanh", "sigmoid")
    np.testing.assert_allclose(hs[1:].transpose(2, 0, 1), ref, rtol=1e-12, atol=1e-12)


def test_fused_backward_matches_generic_kernel():
    rng = np.random.default_rng(1)
    steps, batch, f, u = 7, 3, 4, 5
    x = rng.standard_normal((steps, batch, f))
    kern, rec, _ = _weights(rng, f, u, np.float64)
    d_hs = rng.standard_normal((steps, batch, u))
    xp = x @ kern
    _, gcache = K.lstm_forward(xp, rec, "tanh", "sigmoid")
    d_xp_ref, d_r_ref = K.lstm_backward(d_hs, gcache)
    _, fcache = K.lstm_fused_forward(np.ascontiguousarray(x.transpose(0, 2, 1)), kern, rec, None)
    d_xp, d_r = K.lstm_fused_backward(np.ascontiguousarray(d_hs.transpose(0, 2, 1)), fcache, rec)
    np.testing.assert_allclose(d_xp.reshape(4 * u, steps, batch).transpose(1, 2, 0), d_xp_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d_r, d_r_ref, rtol=1e-12, atol=1e-12)
    # only the last step's gradient (return_sequences=False)
    d_last = np.zeros_like(d_hs)
    d_last[-1] = d_hs[-1]
    ref_last = K.lstm_backward(d_last, gcache)
    got_last = K.lstm_fused_backward(np.ascontiguousarray(d_hs[-1].T), fcache, rec, last_only=True)
    np.testing.assert_allclose(got_last[1], ref_last[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", [{"units": 5}, {"units": 5, "return_sequences": True, "go_backwards": True},
                                 {"units": 5, "use_bias": False}])
def test_layer_fused_and_generic_paths_agree(cfg):
    """The layer's fused path (tanh/sigmoid) equals the generic BaseRNN path on the same weights."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6, 4))
    layer = create_layer("LSTM", cfg)
    w = layer.init_weights([(None, 6, 4)], rng, dtype=np.float64)
    out, cache = layer.forward([x], w)
    assert cache[0] == "fused"
    g = rng.standard_normal(out.shape)
    (dx,), gw = layer.backward(g, cache, w)
    out2, cache2 = super(type(layer), layer).forward([x], w)          # BaseRNN's generic path
    (dx2,), gw2 = super(type(layer), layer).backward(g, cache2, w)
    np.testing.assert_allclose(out, out2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, dx2, rtol=1e-12, atol=1e-12)
    for k in gw2:
        np.testing.assert_allclose(gw[k], gw2[k], rtol=1e-12, atol=1e-12)
