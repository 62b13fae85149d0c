"""The pooling numerics agree with their naive loop references in 1, 2 and 3 dimensions, ties included."""
import numpy as np
import pytest

from engine.numerics import pooling as npool
from tests.engine.naive_spatial import global_max_backward_naive, pool_backward_naive, pool_naive

KERNEL_CASES = [
    ((2, 2), (2, 2), "valid", (2, 8, 8, 3)),      # tiled fast path
    ((2, 2), (2, 2), "valid", (2, 7, 9, 2)),      # tiled with a cropped edge
    ((3, 3), (3, 3), "valid", (1, 9, 10, 2)),     # tiled, 3×3
    ((3, 3), (2, 2), "same", (2, 7, 8, 2)),
    ((3, 3), (1, 1), "same", (1, 5, 6, 2)),
    ((2, 3), (1, 2), "valid", (2, 5, 8, 2)),
    ((2, 2), (3, 3), "same", (1, 7, 7, 1)),       # strides larger than the pool
    ((2, 2), (2, 2), "same", (1, 5, 5, 2)),       # strides == pool but with padding
    ((3,), (2,), "same", (2, 9, 2)),              # 1-D
    ((2,), (2,), "valid", (2, 9, 2)),             # 1-D tiled
    ((2, 2, 2), (2, 2, 2), "valid", (2, 4, 5, 4, 2)),   # 3-D tiled
    ((2, 3, 2), (1, 2, 2), "same", (1, 3, 5, 4, 2)),    # 3-D windows
    ((1, 2, 1), (1, 2, 1), "valid", (1, 3, 4, 2, 2)),   # 3-D tiled with unit pools
]


@pytest.mark.parametrize("pool,strides,padding,shape", KERNEL_CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_matches_naive(pool, strides, padding, shape, ties):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    args = {"pool_size": pool, "strides": strides, "padding": padding}
    y, cache = npool.max_pool_forward(x, **args)
    np.testing.assert_array_equal(y, pool_naive(x, pool, strides, padding, "max"))
    g = rng.standard_normal(y.shape)
    (dx,), _ = npool.max_pool_backward(g, cache, **args)
    np.testing.assert_allclose(dx, pool_backward_naive(g, x, pool, strides, padding, "max"), atol=1e-12)
    (ones,), _ = npool.max_pool_backward(np.ones_like(y), cache, **args)
    assert ones.sum() == y.size   # each output's gradient lands on exactly one input, even with ties


@pytest.mark.parametrize("pool,strides,padding,shape", KERNEL_CASES)
def test_average_pool_matches_naive(pool, strides, padding, shape):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    args = {"pool_size": pool, "strides": strides, "padding": padding}
    y, cache = npool.average_pool_forward(x, **args)
    np.testing.assert_allclose(y, pool_naive(x, pool, strides, padding, "avg"), atol=1e-12)
    g = rng.standard_normal(y.shape)
    (dx,), _ = npool.average_pool_backward(g, cache, **args)
    np.testing.assert_allclose(dx, pool_backward_naive(g, x, pool, strides, padding, "avg"), atol=1e-12)


def test_pooling_does_not_modify_its_input():
    x = np.random.default_rng(5).standard_normal((1, 4, 4, 2))
    before = x.copy()
    npool.average_pool_forward(x, 1)
    npool.max_pool_forward(x, 1)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 3, 4, 2), (2, 2, 3, 2, 3)])
def test_global_max_backward_matches_naive_with_ties(shape):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 2, shape).astype(np.float64)
    g = rng.standard_normal((shape[0], shape[-1]))
    y, cache = npool.global_max_pool_forward(x)
    (dx,), _ = npool.global_max_pool_backward(g, cache)
    np.testing.assert_array_equal(dx, global_max_backward_naive(g, x))
    assert np.count_nonzero(dx) == np.count_nonzero(g)


@pytest.mark.parametrize("mode", ["max", "average"])
def test_channels_first_is_the_transposed_channels_last(mode):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5, 6, 3))
    fwd, bwd = getattr(npool, f"{mode}_pool_forward"), getattr(npool, f"{mode}_pool_backward")
    y, cache = fwd(x, 3, 2, "same")
    yf, cache_f = fwd(np.moveaxis(x, -1, 1), 3, 2, "same", data_format="channels_first")
    np.testing.assert_array_equal(yf, np.moveaxis(y, -1, 1))
    g = rng.standard_normal(y.shape)
    (dx,), _ = bwd(g, cache, 3, 2, "same")
    (dxf,), _ = bwd(np.moveaxis(g, -1, 1), cache_f, 3, 2, "same", data_format="channels_first")
    np.testing.assert_allclose(dxf, np.moveaxis(dx, -1, 1), atol=1e-12)
