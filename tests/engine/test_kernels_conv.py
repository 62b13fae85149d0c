"""The im2col/GEMM convolution kernels agree with their naive loop references, forward and backward."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.kernels import conv as kc

# (input shape, kernel (kh, kw), strides, dilation, padding, groups, filters)
CONV_CASES = [
    ((2, 7, 8, 3), (3, 3), (1, 1), (1, 1), "valid", 1, 4),
    ((2, 7, 8, 3), (3, 2), (2, 1), (1, 1), "same", 1, 5),
    ((2, 8, 8, 4), (2, 2), (2, 2), (1, 1), "same", 2, 6),
    ((1, 9, 7, 4), (3, 3), (1, 1), (2, 1), "same", 4, 4),
    ((2, 9, 10, 2), (3, 3), (3, 2), (1, 1), "valid", 1, 3),
    ((2, 1, 9, 3), (1, 3), (1, 1), (1, 2), "causal", 1, 2),
    ((2, 1, 9, 3), (1, 2), (1, 2), (1, 1), "causal", 3, 3),
    ((2, 6, 6, 1), (4, 4), (1, 1), (1, 1), "same", 1, 2),
    ((2, 5, 5, 3), (1, 1), (1, 1), (1, 1), "valid", 1, 4),
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
def test_conv2d_im2col_matches_naive_forward_and_backward(shape, k, s, d, padding, groups, f):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, shape[-1] // groups, f))
    geo = kc.conv_geometry(x.shape, k, s, d, padding, groups)
    y, cols = kc.conv2d_forward(x, w, geo)
    ref = kc.conv2d_naive(x, w, s, padding, d, groups)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx, dw = kc.conv2d_backward(dy, cols, w, geo)
    assert dx.shape == x.shape and dw.shape == w.shape
    idx, num = _numeric_vjp(lambda a: kc.conv2d_naive(a, w, s, padding, d, groups), x, dy, rng)
    np.testing.assert_allclose([dx[i] for i in idx], num, rtol=1e-6, atol=1e-8)
    idx, num = _numeric_vjp(lambda a: kc.conv2d_naive(x, a, s, padding, d, groups), w, dy, rng)
    np.testing.assert_allclose([dw[i] for i in idx], num, rtol=1e-6, atol=1e-8)
    none, dw2 = kc.conv2d_backward(dy, cols, w, geo, need_input_grad=False)
    assert none is None
    np.testing.assert_allclose(dw2, dw)


def test_conv2d_backward_is_the_exact_adjoint():
    """<conv(x), dy> == <x, dx> for the whole input, not just sampled entries."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8, 7, 4))
    w = rng.standard_normal((3, 3, 2, 6))
    geo = kc.conv_geometry(x.shape, (3, 3), (2, 2), (1, 1), "same", 2)
    y, cols = kc.conv2d_forward(x, w, geo)
    dy = rng.standard_normal(y.shape)
    dx, dw = kc.conv2d_backward(dy, cols, w, geo)
    assert np.isclose((y * dy).sum(), (x * dx).sum())
    assert np.isclose((y * dy).sum(), (w * dw).sum())


DEPTHWISE_CASES = [
    ((2, 6, 7, 3), (3, 3), (1, 1), (1, 1), "valid", 1),
    ((2, 7, 6, 2), (2, 3), (2, 2), (1, 1), "same", 2),
    ((1, 8, 8, 2), (2, 2), (2, 1), (2, 2), "same", 3),
]


@pytest.mark.parametrize("shape,k,s,d,padding,m", DEPTHWISE_CASES)
def test_depthwise_matches_naive_forward_and_backward(shape, k, s, d, padding, m):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, shape[-1], m))
    geo = kc.conv_geometry(x.shape, k, s, d, padding)
    y, cols = kc.depthwise_conv2d_forward(x, w, geo)
    np.testing.assert_allclose(y, kc.depthwise_conv2d_naive(x, w, s, padding, d), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx, dw = kc.depthwise_conv2d_backward(dy, cols, w, geo)
    idx, num = _numeric_vjp(lambda a: kc.depthwise_conv2d_naive(a, w, s, padding, d), x, dy, rng)
    np.testing.assert_allclose([dx[i] for i in idx], num, rtol=1e-6, atol=1e-8)
    idx, num = _numeric_vjp(lambda a: kc.depthwise_conv2d_naive(x, a, s, padding, d), w, dy, rng)
    np.testing.assert_allclose([dw[i] for i in idx], num, rtol=1e-6, atol=1e-8)


TRANSPOSE_CASES = [
    ((2, 3, 4, 2), (3, 3), (1, 1), (1, 1), "valid", None, 3),
    ((2, 3, 4, 2), (3, 3), (2, 2), (1, 1), "same", None, 2),
    ((2, 3, 3, 2), (2, 2), (2, 2), (1, 1), "valid", None, 2),
    ((1, 3, 4, 3), (3, 4), (3, 2), (1, 1), "same", (1, 1), 2),
    ((2, 2, 3, 2), (3, 3), (3, 3), (1, 1), "valid", (2, 0), 2),
    ((2, 4, 5, 2), (3, 3), (1, 1), (2, 2), "same", None, 2),
    ((2, 3, 3, 2), (1, 1), (3, 3), (1, 1), "same", None, 2),
]


@pytest.mark.parametrize("shape,k,s,d,padding,op,f", TRANSPOSE_CASES)
def test_transpose_matches_naive_and_is_the_adjoint_of_conv(shape, k, s, d, padding, op, f):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, f, shape[-1]))
    geo = kc.transpose_geometry(x.shape, k, s, d, padding, op)
    y = kc.conv2d_transpose_forward(x, w, geo)
    np.testing.assert_allclose(y, kc.conv2d_transpose_naive(x, w, s, padding, d, op), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx, dw = kc.conv2d_transpose_backward(dy, x, w, geo)
    idx, num = _numeric_vjp(lambda a: kc.conv2d_transpose_naive(a, w, s, padding, d, op), x, dy, rng)
    np.testing.assert_allclose([dx[i] for i in idx], num, rtol=1e-6, atol=1e-8)
    idx, num = _numeric_vjp(lambda a: kc.conv2d_transpose_naive(x, a, s, padding, d, op), w, dy, rng)
    np.testing.assert_allclose([dw[i] for i in idx], num, rtol=1e-6, atol=1e-8)


def test_transpose_of_valid_conv_is_its_input_gradient():
    """A 'valid' transposed convolution with the same (kh, kw, cin, f) kernel is the convolution's input gradient."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 9, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    geo = kc.conv_geometry(x.shape, (3, 3), (2, 2))
    y, cols = kc.conv2d_forward(x, w, geo)
    dy = rng.standard_normal(y.shape)
    dx, _ = kc.conv2d_backward(dy, cols, w, geo)
    tgeo = kc.transpose_geometry(dy.shape, (3, 3), (2, 2), (1, 1), "valid", (0, 0))
    np.testing.assert_allclose(kc.conv2d_transpose_forward(dy, w, tgeo), dx, rtol=1e-12)


def test_same_padding_puts_the_extra_pixel_after_and_causal_pads_left_only():
    geo = kc.conv_geometry((1, 6, 6, 1), (2, 2), (1, 1), (1, 1), "same")
    assert geo.pads == ((0, 1), (0, 1)) and geo.out_hw == (6, 6)
    geo = kc.conv_geometry((1, 1, 6, 1), (1, 3), (1, 1), (1, 2), "causal")
    assert geo.pads == ((0, 0), (4, 0)) and geo.out_hw == (1, 6)


def test_kernels_keep_float32_and_do_not_modify_inputs():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 10, 10, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    x0, w0 = x.copy(), w.copy()
    geo = kc.conv_geometry(x.shape, (3, 3), padding="same")
    y, cols = kc.conv2d_forward(x, w, geo)
    dx, dw = kc.conv2d_backward(np.ones_like(y), cols, w, geo)
    assert y.dtype == cols.dtype == dx.dtype == dw.dtype == np.float32
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_allclose(y, kc.conv2d_naive(x, w, padding="same"), rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 8), w=st.integers(1, 8), kh=st.integers(1, 4), kw=st.integers(1, 4),
       s=st.integers(1, 3), d=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]),
       groups=st.sampled_from([1, 2]), seed=st.integers(0, 1000))
def test_random_geometries_agree_with_naive(h, w, kh, kw, s, d, padding, groups, seed):
    geo = kc.conv_geometry((2, h, w, 2), (kh, kw), (s, s), (d, d), padding, groups)
    assume(min(geo.out_hw) > 0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, h, w, 2))
    wk = rng.standard_normal((kh, kw, 2 // groups, 4))
    y, cols = kc.conv2d_forward(x, wk, geo)
    np.testing.assert_allclose(y, kc.conv2d_naive(x, wk, (s, s), padding, (d, d), groups), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx, dw = kc.conv2d_backward(dy, cols, wk, geo)
    assert np.isclose((y * dy).sum(), (x * dx).sum()) and np.isclose((y * dy).sum(), (wk * dw).sum())
    wd = rng.standard_normal((kh, kw, 2, 2))
    yd, xp = kc.depthwise_conv2d_forward(x, wd, geo._replace(groups=1))
    np.testing.assert_allclose(yd, kc.depthwise_conv2d_naive(x, wd, (s, s), padding, (d, d)), rtol=1e-12, atol=1e-12)
