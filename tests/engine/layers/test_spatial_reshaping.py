"""ZeroPadding, Cropping and UpSampling in 1-D and 3-D, and channels_first, against Keras 3 and finite
differences (the 2-D layers' cases are in test_reshaping.py)."""
import json

import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras_output_shape,
                          keras_param_count, keras_rejects)

CASES = [
    ("ZeroPadding1D", {}, (None, 4, 2)),
    ("ZeroPadding1D", {"padding": (0, 3)}, (None, 4, 2)),
    ("ZeroPadding1D", {"padding": 2, "data_format": "channels_first"}, (None, 2, 5)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 1)), "data_format": "channels_first"}, (None, 2, 3, 4)),
    ("ZeroPadding3D", {}, (None, 2, 3, 2, 2)),
    ("ZeroPadding3D", {"padding": (1, 0, 2)}, (None, 2, 3, 2, 2)),
    ("ZeroPadding3D", {"padding": ((0, 1), (2, 0), (1, 1)), "data_format": "channels_first"}, (None, 2, 2, 3, 2)),
    ("Cropping1D", {}, (None, 5, 2)),
    ("Cropping1D", {"cropping": (0, 2)}, (None, 5, 2)),
    ("Cropping2D", {"cropping": ((1, 0), (0, 2)), "data_format": "channels_first"}, (None, 2, 3, 4)),
    ("Cropping3D", {}, (None, 4, 3, 5, 2)),
    ("Cropping3D", {"cropping": (0, 1, 2)}, (None, 3, 4, 5, 2)),
    ("Cropping3D", {"cropping": ((1, 0), (0, 1), (1, 2)), "data_format": "channels_first"}, (None, 2, 3, 4, 5)),
    ("UpSampling1D", {}, (None, 3, 2)),
    ("UpSampling1D", {"size": 3}, (None, 4, 2)),
    ("UpSampling2D", {"size": (2, 3), "data_format": "channels_first"}, (None, 2, 3, 2)),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear", "data_format": "channels_first"}, (None, 2, 3, 4)),
    ("UpSampling3D", {}, (None, 2, 3, 2, 2)),
    ("UpSampling3D", {"size": (1, 3, 2)}, (None, 2, 2, 3, 2)),
    ("UpSampling3D", {"size": 2, "data_format": "channels_first"}, (None, 2, 2, 3, 2)),
]


@pytest.mark.parametrize("cls,config,shape", CASES)
def test_shape_params_and_forward_match_keras(cls, config, shape):
    layer = create_layer(cls, config)
    kshape, _ = keras_output_shape(layer, [shape])
    assert layer.output_shape([shape]) == kshape
    assert layer.param_count([shape]) == 0 == keras_param_count(layer, [shape])
    assert_forward_matches_keras(cls, config, [shape])


@pytest.mark.parametrize("cls,config,shape", CASES)
def test_gradients_match_finite_differences(cls, config, shape):
    assert_gradients_match_fd(cls, config, [shape], n_checks=20)


@pytest.mark.parametrize("cls,config,shape", CASES)
def test_config_survives_json_and_keras_takes_it(cls, config, shape):
    layer = create_layer(cls, config)
    again = create_layer(cls, json.loads(json.dumps(layer.get_config())))
    assert again.config == layer.config


@pytest.mark.parametrize("cls,config,shape", [
    ("ZeroPadding1D", {"padding": 1}, (None, None, 3)),
    ("Cropping3D", {"cropping": 1}, (None, 4, None, 5, 1)),
    ("UpSampling3D", {}, (None, None, 2, 2, 1)),
])
def test_unknown_dims_propagate_like_keras(cls, config, shape):
    layer = create_layer(cls, config)
    assert layer.output_shape([shape]) == keras_output_shape(layer, [shape])[0]


@pytest.mark.parametrize("cls,config,shape,match", [
    ("ZeroPadding1D", {}, (None, 3, 4, 2), r"expects a 3-D input \(batch, steps, features\)"),
    ("UpSampling3D", {}, (None, 3, 4, 2), r"expects a 5-D input \(batch, depth, height, width, channels\)"),
    ("Cropping1D", {"cropping": (2, 3)}, (None, 5, 2), r"from a steps of 5.*leaves nothing"),
    ("Cropping3D", {"cropping": ((0, 0), (0, 0), (2, 2))}, (None, 3, 3, 4, 2), r"from a width of 4"),
])
def test_shape_errors_where_keras_rejects(cls, config, shape, match):
    layer = create_layer(cls, config)
    assert keras_rejects(layer, shape)
    with pytest.raises(ShapeError, match=match):
        layer.output_shape([shape])


@pytest.mark.parametrize("cls,config,field", [
    ("ZeroPadding1D", {"padding": (1, 2, 3)}, "padding"),
    ("ZeroPadding3D", {"padding": (1, 2)}, "padding"),
    ("Cropping3D", {"cropping": -1}, "cropping"),
    ("Cropping1D", {"data_format": "channels_last"}, "data_format"),
    ("UpSampling1D", {"size": (2,)}, "size"),
    ("UpSampling3D", {"interpolation": "bilinear"}, "interpolation"),
])
def test_bad_config_names_the_argument(cls, config, field):
    with pytest.raises(ConfigError, match=field):
        create_layer(cls, config)


def test_defaults_are_keras_defaults():
    keras = pytest.importorskip("keras")
    for cls in ("ZeroPadding1D", "ZeroPadding3D", "Cropping1D", "Cropping3D", "UpSampling1D", "UpSampling3D"):
        ours = create_layer(cls, {}).get_config()
        theirs = getattr(keras.layers, cls)().get_config()
        for key, value in ours.items():
            if key in theirs and key not in ("name", "trainable"):
                assert json.loads(json.dumps(theirs[key])) == value, (cls, key)


def test_summary_text():
    assert create_layer("ZeroPadding1D", {"padding": (0, 2)}).summary_args() == "pad (0, 2)"
    assert create_layer("Cropping3D", {}).summary_args() == "crop 1"
    assert create_layer("UpSampling3D", {"size": (1, 2, 2)}).summary_args() == "1×2×2"
    assert create_layer("UpSampling1D", {"size": 3}).summary_args() == "3"
