import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
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
WINDOWED_3D = [
    ({}, (None, 4, 5, 4, 2)),
    ({"pool_size": (2, 3, 2), "strides": (1, 2, 2), "padding": "same"}, (None, 3, 5, 4, 2)),
    ({"pool_size": 2, "strides": 1}, (None, 3, 3, 4, 2)),
]
CHANNELS_FIRST = [
    ({"pool_size": 3, "strides": 2, "padding": "same", "data_format": "channels_first"}, (None, 2, 7, 5)),
    ({"data_format": "channels_first"}, (None, 2, 4, 6)),
]
CASES = ([(cls, cfg, shape) for cls in ("MaxPooling2D", "AveragePooling2D") for cfg, shape in WINDOWED_2D]
         + [(cls, cfg, shape) for cls in ("MaxPooling1D", "AveragePooling1D") for cfg, shape in WINDOWED_1D]
         + [(cls, cfg, shape) for cls in ("MaxPooling3D", "AveragePooling3D") for cfg, shape in WINDOWED_3D]
         + [(cls, cfg, shape) for cls in ("MaxPooling2D", "AveragePooling2D") for cfg, shape in CHANNELS_FIRST]
         + [(f"Global{m}Pooling{r}D", cfg, shape) for m in ("Max", "Average")
            for r, shape in ((1, (None, 6, 3)), (2, (None, 4, 5, 3)), (3, (None, 3, 4, 2, 3)))
            for cfg in ({}, {"keepdims": True})]
         + [(f"Global{m}Pooling{r}D", {"data_format": "channels_first", "keepdims": k}, shape)
            for m in ("Max", "Average") for r, shape in ((1, (None, 3, 6)), (3, (None, 2, 3, 4, 2)))
            for k in (False, True)]
         + [("AdaptiveAveragePooling1D", {"output_size": 3}, (None, 8, 2)),
            ("AdaptiveMaxPooling1D", {"output_size": 4}, (None, 6, 2)),
            ("AdaptiveAveragePooling2D", {"output_size": (2, 3)}, (None, 5, 7, 2)),
            ("AdaptiveMaxPooling2D", {"output_size": (3, 2), "data_format": "channels_first"}, (None, 2, 7, 4)),
            ("AdaptiveMaxPooling2D", {"output_size": 5}, (None, 3, 4, 2)),      # more outputs than inputs
            ("AdaptiveAveragePooling3D", {"output_size": (2, 1, 3)}, (None, 3, 4, 5, 2)),
            ("AdaptiveMaxPooling3D", {"output_size": 2}, (None, 3, 5, 4, 2)),
            ("AdaptiveAveragePooling2D", {"output_size": 2, "data_format": "channels_first"}, (None, 3, 5, 4))])


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
                                          ({"data_format": "channels_middle"}, "data_format")])
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
