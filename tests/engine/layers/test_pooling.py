import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.kernels import pool as kp
from engine.layers import create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras_output_shape,
                          keras_param_count, keras_rejects)

WINDOWED_2D = [
    ({}, (None, 8, 8, 3)),
    ({}, (None, 7, 9, 2)),                                       # odd sizes: the last row/column is dropped
    ({"pool_size": 3, "strides": 2, "padding": "same"}, (None, 7, 8, 3)),
    ({"pool_size": (2, 3), "strides": (1, 2)}, (None, 5, 8, 2)),
    ({"pool_size": 2, "strides": 1, "padding": "same"}, (None, 5, 4, 2)),
    ({"pool_size": 2, "padding": "same"}, (None, 5, 7, 2)),       # strides == pool but padding needed
    ({"pool_size": (1, 3), "strides": (3, 1)}, (None, 6, 5, 2)),
]
WINDOWED_1D = [
    ({}, (None, 8, 3)),
    ({"pool_size": 3, "strides": 2, "padding": "same"}, (None, 9, 2)),
    ({"pool_size": 4, "strides": 1}, (None, 7, 2)),
    ({"pool_size": 3, "padding": "same"}, (None, 10, 2)),
]
CASES = ([(cls, cfg, shape) for cls in ("MaxPooling2D", "AveragePooling2D") for cfg, shape in WINDOWED_2D]
         + [(cls, cfg, shape) for cls in ("MaxPooling1D", "AveragePooling1D") for cfg, shape in WINDOWED_1D]
         + [(f"Global{m}Pooling{r}D", cfg, shape) for m in ("Max", "Average")
            for r, shape in ((1, (None, 6, 3)), (2, (None, 4, 5, 3))) for cfg in ({}, {"keepdims": True})])


def distinct_inputs(shape, seed=0, batch=2):
    """Float64 inputs with no ties (values at least 0.01 apart), so max pooling is differentiable."""
    full = (batch, *shape[1:])
    vals = np.random.default_rng(seed).permutation(int(np.prod(full))).reshape(full)
    return [(vals - vals.size / 2) * 0.01]


@pytest.mark.parametrize("cls,config,shape", CASES)
def test_shape_params_and_forward_match_keras(cls, config, shape):
    layer = create_layer(cls, config)
    kshape, _ = keras_output_shape(layer, [shape])
    assert layer.output_shape([shape]) == kshape
    assert layer.param_count([shape]) == 0 == keras_param_count(layer, [shape])
    assert_forward_matches_keras(cls, config, [shape])


@pytest.mark.parametrize("cls,config,shape", CASES)
def test_gradients_match_finite_differences(cls, config, shape):
    inputs = distinct_inputs(shape) if "Max" in cls else None
    assert_gradients_match_fd(cls, config, [shape], inputs=inputs, n_checks=30)


@pytest.mark.parametrize("cls,shape", [("MaxPooling2D", (None, None, 9, 3)), ("AveragePooling1D", (None, None, 4)),
                                       ("GlobalMaxPooling2D", (None, None, None, 5))])
def test_unknown_spatial_dims_stay_unknown_like_keras(cls, shape):
    layer = create_layer(cls, {})
    assert layer.output_shape([shape]) == keras_output_shape(layer, [shape])[0]


@pytest.mark.parametrize("cls,config,shape,match", [
    ("MaxPooling2D", {}, (None, 64),
     r"MaxPooling2D 'max_pooling2d' expects a 4-D input \(batch, height, width, channels\) but gets \(None, 64\); "
     r"remove it or add a Reshape before it\."),
    ("AveragePooling1D", {}, (None, 4, 4, 3), r"expects a 3-D input \(batch, steps, features\)"),
    ("MaxPooling2D", {"pool_size": 3}, (None, 2, 8, 3), r"height is only 2.*padding='same'"),
    ("AveragePooling2D", {"pool_size": (1, 4)}, (None, 5, 3, 1), r"width is only 3.*padding='same'"),
    ("MaxPooling1D", {"pool_size": 5}, (None, 4, 2), r"steps is only 4.*padding='same'"),
    ("GlobalAveragePooling2D", {}, (None, 6, 3), r"expects a 4-D input.*GlobalAveragePooling1D"),
    ("GlobalMaxPooling1D", {}, (None, 4, 4, 3), r"expects a 3-D input.*GlobalMaxPooling2D"),
])
def test_shape_errors_where_keras_rejects(cls, config, shape, match):
    layer = create_layer(cls, config)
    assert keras_rejects(layer, shape)
    with pytest.raises(ShapeError, match=match):
        layer.output_shape([shape])


def test_same_padding_never_fails_on_small_inputs():
    layer = create_layer("MaxPooling2D", {"pool_size": 3, "padding": "same"})
    shape = (None, 2, 1, 4)
    assert layer.output_shape([shape]) == keras_output_shape(layer, [shape])[0] == (None, 1, 1, 4)
    assert_forward_matches_keras("MaxPooling2D", layer.get_config(), [shape])


@pytest.mark.parametrize("config,field", [({"pool_size": 0}, "pool_size"), ({"padding": "full"}, "padding"),
                                          ({"strides": (1, 2, 3)}, "strides"),
                                          ({"data_format": "channels_first"}, "data_format")])
def test_bad_config_names_the_argument(config, field):
    with pytest.raises(ConfigError, match=field):
        create_layer("MaxPooling2D", config)


def test_strides_default_to_pool_size_and_summary_text():
    assert create_layer("MaxPooling2D", {}).summary_args() == "2×2"
    assert create_layer("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}).summary_args() \
        == "3×3, stride 1×1, same"
    assert create_layer("MaxPooling1D", {"pool_size": 3}).summary_args() == "3"
    assert create_layer("GlobalMaxPooling2D", {"keepdims": True}).summary_args() == "keepdims"
    assert create_layer("MaxPooling2D", {"pool_size": 3}).output_shape([(None, 9, 9, 1)]) == (None, 3, 3, 1)


@pytest.mark.parametrize("cls", ["MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_input_dtype(cls, dtype):
    layer = create_layer(cls, {})
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 3)).astype(dtype)
    out, cache = layer.forward([x], {})
    (dx,), _ = layer.backward(np.ones_like(out), cache, {})
    assert out.dtype == dx.dtype == dtype and dx.shape == x.shape


# ----- kernels against their naive references ------------------------------------------------------------------
KERNEL_CASES = [
    ((2, 2), (2, 2), "valid", (2, 8, 8, 3)),      # reshape fast path
    ((2, 2), (2, 2), "valid", (2, 7, 9, 2)),      # fast path with a cropped edge
    ((3, 3), (3, 3), "valid", (1, 9, 10, 2)),     # fast path, 3×3
    ((3, 3), (2, 2), "same", (2, 7, 8, 2)),
    ((3, 3), (1, 1), "same", (1, 5, 6, 2)),
    ((2, 3), (1, 2), "valid", (2, 5, 8, 2)),
    ((2, 2), (3, 3), "same", (1, 7, 7, 1)),       # strides larger than the pool
    ((2, 2), (2, 2), "same", (1, 5, 5, 2)),       # strides == pool but with padding
    ((1, 3), (1, 2), "same", (2, 1, 9, 2)),       # the 1-D layout
]


@pytest.mark.parametrize("pool,strides,padding,shape", KERNEL_CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_kernel_matches_naive(pool, strides, padding, shape, ties):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    out, cache = kp.max_pool2d(x, pool, strides, padding)
    np.testing.assert_array_equal(out, kp.pool2d_naive(x, pool, strides, padding, "max"))
    g = rng.standard_normal(out.shape)
    dx = kp.max_pool2d_backward(g, cache)
    np.testing.assert_allclose(dx, kp.pool2d_backward_naive(g, x, pool, strides, padding, "max"), atol=1e-12)
    # each output's gradient lands on exactly one input element, even with ties
    dx_ones = kp.max_pool2d_backward(np.ones_like(out), cache)
    assert dx_ones.sum() == out.size


@pytest.mark.parametrize("pool,strides,padding,shape", KERNEL_CASES)
def test_avg_pool_kernel_matches_naive(pool, strides, padding, shape):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    out, geo = kp.avg_pool2d(x, pool, strides, padding)
    np.testing.assert_allclose(out, kp.pool2d_naive(x, pool, strides, padding, "avg"), atol=1e-12)
    g = rng.standard_normal(out.shape)
    np.testing.assert_allclose(kp.avg_pool2d_backward(g, geo),
                               kp.pool2d_backward_naive(g, x, pool, strides, padding, "avg"), atol=1e-12)


def test_avg_pool_kernel_does_not_modify_its_input():
    x = np.random.default_rng(5).standard_normal((1, 4, 4, 2))
    before = x.copy()
    kp.avg_pool2d(x, (1, 1), (1, 1), "valid")
    kp.max_pool2d(x, (1, 1), (1, 1), "valid")
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 3, 4, 2)])
def test_global_max_backward_matches_naive_with_ties(shape):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 2, shape).astype(np.float64)
    g = rng.standard_normal((shape[0], shape[-1]))
    dx = kp.global_max_backward(g, x)
    np.testing.assert_array_equal(dx, kp.global_max_backward_naive(g, x))
    assert np.count_nonzero(dx) == np.count_nonzero(g)
