"""The im2col/GEMM convolution numerics agree with their naive loop references in 1, 2 and 3 dimensions."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.numerics import conv as nc
from tests.engine.naive_spatial import conv_naive, conv_transpose_naive, depthwise_conv_naive

# (input shape, kernel size, strides, dilation, padding, groups, filters)
CONV_CASES = [
    ((2, 7, 8, 3), (3, 3), (1, 1), (1, 1), "valid", 1, 4),
    ((2, 7, 8, 3), (3, 2), (2, 1), (1, 1), "same", 1, 5),
    ((2, 8, 8, 4), (2, 2), (2, 2), (1, 1), "same", 2, 6),
    ((1, 9, 7, 4), (3, 3), (1, 1), (2, 1), "same", 4, 4),
    ((2, 9, 10, 2), (3, 3), (3, 2), (1, 1), "valid", 1, 3),
    ((2, 6, 6, 1), (4, 4), (1, 1), (1, 1), "same", 1, 2),
    ((2, 5, 5, 3), (1, 1), (1, 1), (1, 1), "valid", 1, 4),
    ((2, 9, 3), (3,), (1,), (2,), "causal", 1, 2),
    ((2, 9, 3), (2,), (2,), (1,), "causal", 3, 3),
    ((2, 9, 2), (3,), (2,), (1,), "same", 1, 3),
    ((2, 8, 1), (3,), (1,), (1,), "valid", 1, 2),
    ((2, 4, 5, 4, 2), (2, 3, 2), (1, 2, 1), (1, 1, 1), "same", 1, 3),
    ((1, 5, 4, 4, 4), (3, 2, 2), (1, 1, 1), (1, 1, 2), "valid", 2, 4),
    ((2, 4, 4, 3, 1), (2, 2, 2), (2, 2, 1), (1, 1, 1), "valid", 1, 2),
]


def _numeric_vjp(f, x, dy, rng, n=8, eps=1e-6):
    """(indices, finite-difference d<f(x), dy>/dx at those indices)."""
    idx = [np.unravel_index(i, x.shape) for i in rng.choice(x.size, min(n, x.size), replace=False)]
    out = []
    for i in idx:
        old = x[i]
        x[i] = old + eps
        fp = (f(x) * dy).sum()
        x[i] = old - eps
        fm = (f(x) * dy).sum()
        x[i] = old
        out.append((fp - fm) / (2 * eps))
    return idx, np.array(out)


@pytest.mark.parametrize("shape,k,s,d,padding,groups,f", CONV_CASES)
def test_conv_im2col_matches_naive_forward_and_backward(shape, k, s, d, padding, groups, f):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, shape[-1] // groups, f))
    args = {"strides": s, "padding": padding, "dilation_rate": d}
    y, cache = nc.conv_forward(x, w, **args)
    np.testing.assert_allclose(y, conv_naive(x, w, s, padding, d), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    (dx,), (dw, db) = nc.conv_backward(dy, cache, w, **args)
    assert dx.shape == x.shape and dw.shape == w.shape and db is None
    idx, num = _numeric_vjp(lambda a: conv_naive(a, w, s, padding, d), x, dy, rng)
    np.testing.assert_allclose([dx[i] for i in idx], num, rtol=1e-6, atol=1e-8)
    idx, num = _numeric_vjp(lambda a: conv_naive(x, a, s, padding, d), w, dy, rng)
    np.testing.assert_allclose([dw[i] for i in idx], num, rtol=1e-6, atol=1e-8)


def test_conv_backward_is_the_exact_adjoint():
    """<conv(x), dy> == <x, dx> for the whole input, not just sampled entries."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8, 7, 4))
    w = rng.standard_normal((3, 3, 2, 6))
    y, cache = nc.conv_forward(x, w, strides=2, padding="same")
    dy = rng.standard_normal(y.shape)
    (dx,), (dw, _) = nc.conv_backward(dy, cache, w, strides=2, padding="same")
    assert np.isclose((y * dy).sum(), (x * dx).sum())
    assert np.isclose((y * dy).sum(), (w * dw).sum())


DEPTHWISE_CASES = [
    ((2, 6, 7, 3), (3, 3), (1, 1), (1, 1), "valid", 1),
    ((2, 7, 6, 2), (2, 3), (2, 2), (1, 1), "same", 2),
    ((1, 8, 8, 2), (2, 2), (2, 1), (2, 2), "same", 3),
    ((2, 9, 3), (3,), (2,), (1,), "same", 2),
    ((2, 4, 5, 4, 2), (2, 2, 3), (1, 1, 2), (1, 1, 1), "valid", 1),
]


@pytest.mark.parametrize("shape,k,s,d,padding,m", DEPTHWISE_CASES)
def test_depthwise_matches_naive_forward_and_backward(shape, k, s, d, padding, m):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, shape[-1], m))
    args = {"strides": s, "padding": padding, "dilation_rate": d}
    y, cache = nc.depthwise_conv_forward(x, w, **args)
    np.testing.assert_allclose(y, depthwise_conv_naive(x, w, s, padding, d), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    (dx,), (dw, _) = nc.depthwise_conv_backward(dy, cache, w, **args)
    idx, num = _numeric_vjp(lambda a: depthwise_conv_naive(a, w, s, padding, d), x, dy, rng)
    np.testing.assert_allclose([dx[i] for i in idx], num, rtol=1e-6, atol=1e-8)
    idx, num = _numeric_vjp(lambda a: depthwise_conv_naive(x, a, s, padding, d), w, dy, rng)
    np.testing.assert_allclose([dw[i] for i in idx], num, rtol=1e-6, atol=1e-8)


TRANSPOSE_CASES = [
    ((2, 3, 4, 2), (3, 3), (1, 1), (1, 1), "valid", None, 3),
    ((2, 3, 4, 2), (3, 3), (2, 2), (1, 1), "same", None, 2),
    ((2, 3, 3, 2), (2, 2), (2, 2), (1, 1), "valid", None, 2),
    ((1, 3, 4, 3), (3, 4), (3, 2), (1, 1), "same", (1, 1), 2),
    ((2, 2, 3, 2), (3, 3), (3, 3), (1, 1), "valid", (2, 0), 2),
    ((2, 4, 5, 2), (3, 3), (1, 1), (2, 2), "same", None, 2),
    ((2, 3, 3, 2), (1, 1), (3, 3), (1, 1), "same", None, 2),
    ((2, 4, 3), (3,), (2,), (1,), "same", None, 2),
    ((2, 4, 2), (4,), (3,), (1,), "valid", (1,), 1),
    ((1, 2, 3, 2, 2), (2, 3, 2), (2, 1, 2), (1, 1, 1), "same", None, 2),
]


@pytest.mark.parametrize("shape,k,s,d,padding,op,f", TRANSPOSE_CASES)
def test_transpose_matches_naive_and_finite_differences(shape, k, s, d, padding, op, f):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, f, shape[-1]))
    args = {"strides": s, "padding": padding, "dilation_rate": d, "output_padding": op}
    y, cache = nc.conv_transpose_forward(x, w, **args)
    np.testing.assert_allclose(y, conv_transpose_naive(x, w, s, padding, d, op), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    (dx,), (dw, _) = nc.conv_transpose_backward(dy, cache, w, **args)
    idx, num = _numeric_vjp(lambda a: conv_transpose_naive(a, w, s, padding, d, op), x, dy, rng)
    np.testing.assert_allclose([dx[i] for i in idx], num, rtol=1e-6, atol=1e-8)
    idx, num = _numeric_vjp(lambda a: conv_transpose_naive(x, a, s, padding, d, op), w, dy, rng)
    np.testing.assert_allclose([dw[i] for i in idx], num, rtol=1e-6, atol=1e-8)


def test_transpose_of_valid_conv_is_its_input_gradient():
    """A 'valid' transposed convolution with the same kernel is the convolution's input gradient."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 9, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    y, cache = nc.conv_forward(x, w, strides=2)
    dy = rng.standard_normal(y.shape)
    (dx,), _ = nc.conv_backward(dy, cache, w, strides=2)
    t, _ = nc.conv_transpose_forward(dy, w, strides=2, output_padding=0)
    np.testing.assert_allclose(t, dx, rtol=1e-12)


def test_same_padding_puts_the_extra_pixel_after_and_causal_pads_left_only():
    pads, out = nc.conv_layout((6, 6), (2, 2), (1, 1), (1, 1), "same")
    assert pads == ((0, 1), (0, 1)) and out == (6, 6)
    pads, out = nc.conv_layout((6,), (3,), (1,), (2,), "causal")
    assert pads == ((4, 0),) and out == (6,)


@pytest.mark.parametrize("fn", ["conv", "depthwise_conv", "conv_transpose"])
def test_channels_first_is_the_transposed_channels_last(fn):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 6, 3))
    w = rng.standard_normal((3, 2, 4, 3) if fn == "conv_transpose" else (3, 2, 3, 4))
    forward, backward = getattr(nc, f"{fn}_forward"), getattr(nc, f"{fn}_backward")
    y, cache = forward(x, w, strides=2, padding="same")
    yf, cache_f = forward(np.moveaxis(x, -1, 1), w, strides=2, padding="same", data_format="channels_first")
    np.testing.assert_allclose(yf, np.moveaxis(y, -1, 1), rtol=1e-12)
    dy = rng.standard_normal(y.shape)
    (dx,), (dw, _) = backward(dy, cache, w, strides=2, padding="same")
    (dxf,), (dwf, _) = backward(np.moveaxis(dy, -1, 1), cache_f, w, strides=2, padding="same",
                                data_format="channels_first")
    np.testing.assert_allclose(dxf, np.moveaxis(dx, -1, 1), rtol=1e-12)
    np.testing.assert_allclose(dwf, dw, rtol=1e-12)


def test_float32_stays_float32_and_inputs_are_not_modified():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 10, 10, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    x0, w0 = x.copy(), w.copy()
    y, cache = nc.conv_forward(x, w, b, padding="same")
    (dx,), (dw, db) = nc.conv_backward(np.ones_like(y), cache, w, b, padding="same")
    assert y.dtype == dx.dtype == dw.dtype == db.dtype == np.float32
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_allclose(y, conv_naive(x, w, padding="same") + b, rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(rank=st.sampled_from([1, 2, 3]), n=st.integers(1, 6), k=st.integers(1, 3), s=st.integers(1, 3),
       d=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]), groups=st.sampled_from([1, 2]),
       seed=st.integers(0, 1000))
def test_random_geometries_agree_with_naive(rank, n, k, s, d, padding, groups, seed):
    spatial = tuple(n + i for i in range(rank))
    _, out = nc.conv_layout(spatial, (k,) * rank, (s,) * rank, (d,) * rank, padding)
    assume(min(out) > 0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, *spatial, 2))
    wk = rng.standard_normal((*(k,) * rank, 2 // groups, 4))
    y, cache = nc.conv_forward(x, wk, strides=s, padding=padding, dilation_rate=d)
    np.testing.assert_allclose(y, conv_naive(x, wk, s, padding, d), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    (dx,), (dw, _) = nc.conv_backward(dy, cache, wk, strides=s, padding=padding, dilation_rate=d)
    assert np.isclose((y * dy).sum(), (x * dx).sum()) and np.isclose((y * dy).sum(), (wk * dw).sum())
    wd = rng.standard_normal((*(k,) * rank, 2, 2))
    yd, _ = nc.depthwise_conv_forward(x, wd, strides=s, padding=padding, dilation_rate=d)
    np.testing.assert_allclose(yd, depthwise_conv_naive(x, wd, s, padding, d), rtol=1e-12, atol=1e-12)
