"""Convolution layers against Keras 3 (shapes, parameter counts, forward) and finite differences (backward)."""
import json

import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras_layer, keras_output_shape,
                          keras_param_count)

# (class_name, config, input_shapes): each is checked for shape, params, weights and forward against Keras.
CASES = [
    ("Conv1D", {"filters": 4, "kernel_size": 3}, [(None, 9, 2)]),
    ("Conv1D", {"filters": 3, "kernel_size": 2, "strides": 2, "padding": "same", "activation": "relu"},
     [(None, 9, 3)]),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, [(None, 8, 3)]),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal", "strides": 2, "use_bias": False},
     [(None, 7, 2)]),
    ("Conv1D", {"filters": 6, "kernel_size": 2, "groups": 2, "activation": "tanh"}, [(None, 6, 4)]),
    ("Conv2D", {"filters": 4, "kernel_size": 3}, [(None, 7, 6, 2)]),
    ("Conv2D", {"filters": 3, "kernel_size": (3, 2), "strides": (2, 1), "padding": "same", "activation": "relu"},
     [(None, 7, 6, 3)]),
    ("Conv2D", {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same"}, [(None, 6, 5, 2)]),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same", "dilation_rate": 2, "use_bias": False},
     [(None, 7, 8, 2)]),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "groups": 3, "activation": "sigmoid"}, [(None, 6, 5, 6)]),
    ("Conv2D", {"filters": 4, "kernel_size": 4, "strides": 3}, [(None, 10, 9, 1)]),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3}, [(None, 4, 5, 2)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, [(None, 4, 3, 3)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, [(None, 3, 4, 2)]),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": (3, 4), "strides": (3, 2), "padding": "same",
                         "output_padding": (1, 1), "activation": "relu"}, [(None, 3, 4, 2)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same", "use_bias": False},
     [(None, 3, 3, 2)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 3, "output_padding": 2}, [(None, 2, 3, 2)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same"}, [(None, 4, 5, 2)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 1, "padding": "same"}, [(None, 4, 5, 2)]),
    ("DepthwiseConv2D", {"kernel_size": 3}, [(None, 6, 5, 3)]),
    ("DepthwiseConv2D", {"kernel_size": (2, 3), "depth_multiplier": 2, "strides": 2, "padding": "same",
                         "activation": "relu"}, [(None, 7, 6, 2)]),
    ("DepthwiseConv2D", {"kernel_size": 3, "dilation_rate": 2, "use_bias": False}, [(None, 7, 6, 2)]),
    ("DepthwiseConv2D", {"kernel_size": 2, "strides": 2, "dilation_rate": 2, "depth_multiplier": 3},
     [(None, 7, 7, 2)]),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, [(None, 6, 5, 2)]),
    ("SeparableConv2D", {"filters": 3, "kernel_size": 3, "depth_multiplier": 2, "strides": 2, "padding": "same",
                         "activation": "relu"}, [(None, 7, 6, 3)]),
    ("SeparableConv2D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "use_bias": False}, [(None, 6, 6, 3)]),
    ("Conv3D", {"filters": 3, "kernel_size": 2}, [(None, 4, 5, 3, 2)]),
    ("Conv3D", {"filters": 2, "kernel_size": (3, 2, 2), "strides": (2, 1, 2), "padding": "same",
                "activation": "relu"}, [(None, 5, 4, 4, 2)]),
    ("Conv3D", {"filters": 4, "kernel_size": 2, "groups": 2, "dilation_rate": (1, 2, 1), "use_bias": False},
     [(None, 4, 5, 3, 4)]),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3}, [(None, 5, 2)]),
    ("Conv1DTranspose", {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same", "activation": "tanh"},
     [(None, 4, 3)]),
    ("Conv1DTranspose", {"filters": 2, "kernel_size": 3, "strides": 3, "output_padding": 1}, [(None, 3, 2)]),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, [(None, 2, 3, 2, 2)]),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": (3, 2, 3), "strides": (1, 2, 2), "padding": "same",
                         "use_bias": False}, [(None, 3, 2, 3, 2)]),
    ("DepthwiseConv1D", {"kernel_size": 3}, [(None, 7, 3)]),
    ("DepthwiseConv1D", {"kernel_size": 2, "depth_multiplier": 2, "strides": 2, "padding": "same",
                         "activation": "relu"}, [(None, 7, 2)]),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 3}, [(None, 8, 2)]),
    ("SeparableConv1D", {"filters": 3, "kernel_size": 2, "depth_multiplier": 2, "dilation_rate": 2,
                         "padding": "same", "use_bias": False}, [(None, 7, 3)]),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "groups": 2,
                "data_format": "channels_first", "activation": "relu"}, [(None, 2, 7, 6)]),
    ("Conv1D", {"filters": 3, "kernel_size": 2, "padding": "causal", "data_format": "channels_first"},
     [(None, 2, 6)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "data_format": "channels_first"},
     [(None, 3, 3, 4)]),
    ("DepthwiseConv2D", {"kernel_size": 2, "depth_multiplier": 2, "data_format": "channels_first"},
     [(None, 2, 5, 4)]),
    ("SeparableConv1D", {"filters": 3, "kernel_size": 3, "padding": "same", "data_format": "channels_first"},
     [(None, 2, 6)]),
]
IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_shape_params_weights_and_forward_match_keras(class_name, config, shapes):
    layer = create_layer(class_name, config)
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes)
    kl = keras_layer(layer, shapes)
    specs = layer.weight_specs(shapes)
    assert [s.shape for s in specs] == [tuple(w.shape) for w in kl.weights]
    assert [s.name for s in specs] == [w.name for w in kl.weights]
    layer2, _, xs = assert_forward_matches_keras(class_name, config, shapes)
    out, _ = layer2.forward(xs, layer2.init_weights(shapes, np.random.default_rng(3)))
    assert out.dtype == np.float32


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_gradients_match_finite_differences(class_name, config, shapes):
    assert_gradients_match_fd(class_name, config, shapes, n_checks=12)


def test_unknown_spatial_dims_are_kept_as_none():
    layer = create_layer("Conv2D", {"filters": 8, "kernel_size": 3, "padding": "same", "strides": 2})
    assert layer.output_shape([(None, None, 7, 3)]) == (None, None, 4, 8)
    t = create_layer("Conv2DTranspose", {"filters": 8, "kernel_size": 3, "strides": 2})
    assert t.output_shape([(None, None, 4, 3)]) == (None, None, 9, 8)


def test_config_round_trips_through_json_and_keras_accepts_it():
    for class_name, config, shapes in CASES:
        layer = create_layer(class_name, config)
        cfg = json.loads(json.dumps(layer.get_config()))
        again = create_layer(class_name, cfg)
        assert again.get_config() == layer.get_config()
        assert again.output_shape(shapes) == layer.output_shape(shapes)


def test_defaults_are_keras_defaults():
    conv = create_layer("Conv2D", {"filters": 2, "kernel_size": 3})
    assert conv.config["strides"] == (1, 1) and conv.config["padding"] == "valid"
    assert conv.config["dilation_rate"] == (1, 1) and conv.config["groups"] == 1
    assert conv.config["kernel_initializer"] == "glorot_uniform" and conv.config["bias_initializer"] == "zeros"
    assert conv.config["use_bias"] is True and conv.config["activation"] is None
    sep = create_layer("SeparableConv2D", {"filters": 2, "kernel_size": 3})
    assert sep.config["depth_multiplier"] == 1 and sep.config["pointwise_initializer"] == "glorot_uniform"
    assert create_layer("Conv2DTranspose", {"filters": 2, "kernel_size": 3}).config["output_padding"] is None


def test_weights_use_the_declared_initializers_and_glorot_bounds():
    layer = create_layer("Conv2D", {"filters": 16, "kernel_size": 3, "bias_initializer": "ones"})
    w = layer.init_weights([(None, 8, 8, 4)], np.random.default_rng(0))
    limit = np.sqrt(6 / (9 * 4 + 9 * 16))
    assert np.abs(w["kernel"]).max() <= limit and np.abs(w["kernel"]).max() > 0.8 * limit
    assert np.all(w["bias"] == 1)


def test_summary_args_read_like_the_canvas_label():
    assert create_layer("Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}).summary_args() == \
        "32 filters 3×3, relu"
    assert create_layer("Conv1D", {"filters": 8, "kernel_size": 5, "padding": "causal"}).summary_args() == \
        "8 filters 5, causal"
    s = create_layer("Conv2DTranspose", {"filters": 4, "kernel_size": 2, "strides": 2}).summary_args()
    assert s == "4 filters 2×2, stride 2×2"
    assert create_layer("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2}).summary_args() == \
        "3×3 depthwise ×2"
    assert "separable" in create_layer("SeparableConv2D", {"filters": 4, "kernel_size": 3}).summary_args()


# ----- what Keras rejects ---------------------------------------------------------------------------------------

def test_strides_with_dilation_are_rejected_like_keras():
    for cls in ("Conv1D", "Conv2D", "Conv2DTranspose"):
        with pytest.raises(ConfigError, match="cannot be combined with dilation_rate"):
            create_layer(cls, {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2})
    keras = pytest.importorskip("keras")
    with pytest.raises(ValueError):
        keras.layers.Conv2D(2, 3, strides=2, dilation_rate=2)


def test_filters_must_divide_by_groups():
    with pytest.raises(ConfigError, match="filters=5 is not divisible by groups=2"):
        create_layer("Conv2D", {"filters": 5, "kernel_size": 3, "groups": 2})


def test_input_channels_must_divide_by_groups():
    layer = create_layer("Conv2D", {"filters": 4, "kernel_size": 3, "groups": 2})
    with pytest.raises(ShapeError, match="has 3 channels.*divisible by groups"):
        layer.output_shape([(None, 8, 8, 3)])


@pytest.mark.parametrize("bad", [{"filters": 0}, {"kernel_size": 0}, {"strides": 0}, {"dilation_rate": (1, 0)},
                                 {"padding": "causal"}, {"padding": "full"}, {"kernel_size": (3, 3, 3)},
                                 {"data_format": "channels_middle"}])
def test_bad_arguments_name_the_argument(bad):
    cfg = {"filters": 2, "kernel_size": 3, **bad}
    with pytest.raises(ConfigError, match=next(iter(bad))):
        create_layer("Conv2D", cfg)


def test_output_padding_must_be_smaller_than_strides():
    with pytest.raises(ConfigError, match="output_padding 2 along height must be smaller than the stride 2"):
        create_layer("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": (2, 1)})


def test_depth_multiplier_must_be_positive():
    with pytest.raises(ConfigError, match="depth_multiplier"):
        create_layer("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 0})


def test_too_small_input_names_the_axis_and_suggests_same_padding():
    layer = create_layer("Conv2D", {"filters": 2, "kernel_size": (3, 2), "name": "conv2d_7"})
    with pytest.raises(ShapeError) as err:
        layer.output_shape([(None, 2, 9, 1)])
    msg = str(err.value)
    assert "Conv2D 'conv2d_7'" in msg and "height" in msg and "padding='same'" in msg and "(None, 2, 9, 1)" in msg
    dil = create_layer("Conv1D", {"filters": 2, "kernel_size": 3, "dilation_rate": 3})
    with pytest.raises(ShapeError, match="spans 7"):
        dil.output_shape([(None, 6, 1)])
    assert create_layer("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}).output_shape(
        [(None, 2, 2, 1)]) == (None, 2, 2, 2)
    with pytest.raises(ValueError):   # Keras rejects the same input
        keras_output_shape(layer, [(None, 2, 9, 1)])


def test_wrong_rank_says_what_to_add():
    with pytest.raises(ShapeError, match="expects a 4-D input.*gets \\(None, 784\\); add a Reshape"):
        create_layer("Conv2D", {"filters": 2, "kernel_size": 3}).output_shape([(None, 784)])
    with pytest.raises(ShapeError, match="expects a 3-D input"):
        create_layer("Conv1D", {"filters": 2, "kernel_size": 3}).output_shape([(None, 8, 8, 1)])
    with pytest.raises(ShapeError, match="known channel"):
        create_layer("SeparableConv2D", {"filters": 2, "kernel_size": 3}).output_shape([(None, 8, 8, None)])


def test_transpose_with_empty_output_is_a_shape_error():
    layer = create_layer("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same",
                                             "output_padding": 0})
    with pytest.raises(ShapeError, match="empty output along height"):
        layer.output_shape([(None, 1, 3, 2)])
