import json

import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras_output_shape,
                          keras_param_count, keras_rejects)

CASES = [
    ("Flatten", {}, (None, 3, 4, 2)),
    ("Flatten", {}, (None, 5)),
    ("Flatten", {}, (None, 2, 3)),
    ("Reshape", {"target_shape": (4, -1)}, (None, 3, 4, 2)),
    ("Reshape", {"target_shape": (6, 4)}, (None, 3, 4, 2)),
    ("Reshape", {"target_shape": (-1,)}, (None, 3, 4, 2)),
    ("Reshape", {"target_shape": (2, 2, 3)}, (None, 12)),
    ("Permute", {"dims": (2, 1)}, (None, 3, 5)),
    ("Permute", {"dims": (3, 1, 2)}, (None, 3, 4, 2)),
    ("Permute", {"dims": (1, 3, 2)}, (None, 3, 4, 2)),
    ("RepeatVector", {"n": 3}, (None, 5)),
    ("RepeatVector", {"n": 1}, (None, 2)),
    ("Identity", {}, (None, 3, 2)),
    ("UpSampling2D", {}, (None, 3, 4, 2)),
    ("UpSampling2D", {"size": (3, 1)}, (None, 2, 3, 2)),
    ("UpSampling2D", {"size": (3, 2), "interpolation": "bilinear"}, (None, 3, 4, 2)),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, (None, 1, 5, 2)),
    ("ZeroPadding2D", {}, (None, 3, 4, 2)),
    ("ZeroPadding2D", {"padding": 2}, (None, 3, 4, 2)),
    ("ZeroPadding2D", {"padding": (2, 0)}, (None, 3, 4, 2)),
    ("ZeroPadding2D", {"padding": ((1, 2), (0, 3))}, (None, 3, 4, 2)),
    ("Cropping2D", {}, (None, 3, 4, 2)),
    ("Cropping2D", {"cropping": 1}, (None, 3, 4, 2)),
    ("Cropping2D", {"cropping": (0, 1)}, (None, 3, 4, 2)),
    ("Cropping2D", {"cropping": ((0, 2), (1, 0))}, (None, 4, 5, 2)),
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
    assert_gradients_match_fd(cls, config, [shape], n_checks=30)


@pytest.mark.parametrize("cls,config,shape", [
    ("Flatten", {}, (None, None, 4)),
    ("Reshape", {"target_shape": (-1, 2)}, (None, None, 4)),
    ("UpSampling2D", {}, (None, None, 4, 1)),
    ("ZeroPadding2D", {"padding": 1}, (None, 5, None, 1)),
    ("Cropping2D", {"cropping": 1}, (None, None, 5, 1)),
    ("Permute", {"dims": (2, 1)}, (None, None, 3)),
])
def test_unknown_dims_propagate_like_keras(cls, config, shape):
    layer = create_layer(cls, config)
    assert layer.output_shape([shape]) == keras_output_shape(layer, [shape])[0]


@pytest.mark.parametrize("cls,config,shape,match", [
    ("Reshape", {"target_shape": (5, 5)}, (None, 3, 4, 2),
     r"Reshape 'reshape' cannot reshape \(None, 3, 4, 2\) \(24 values per sample\) into \(5, 5\) \(25 values\)"),
    ("Reshape", {"target_shape": (5, -1)}, (None, 3, 4, 2), r"24 values per sample.*not a multiple of 5"),
    ("Permute", {"dims": (2, 1)}, (None, 3, 4, 2), r"one entry per non-batch axis"),
    ("RepeatVector", {"n": 3}, (None, 5, 2), r"expects a 2-D input \(batch, features\).*add a Flatten"),
    ("UpSampling2D", {}, (None, 3, 4), r"expects a 4-D input \(batch, height, width, channels\)"),
    ("ZeroPadding2D", {}, (None, 8), r"expects a 4-D input"),
    ("Cropping2D", {"cropping": ((2, 1), (0, 0))}, (None, 3, 4, 2), r"from a height of 3.*leaves nothing"),
    ("Cropping2D", {"cropping": (0, 2)}, (None, 3, 4, 2), r"from a width of 4.*leaves nothing"),
])
def test_shape_errors_where_keras_rejects(cls, config, shape, match):
    layer = create_layer(cls, config)
    assert keras_rejects(layer, shape)
    with pytest.raises(ShapeError, match=match):
        layer.output_shape([shape])


@pytest.mark.parametrize("cls,config,field", [
    ("Reshape", {"target_shape": (-1, -1)}, "target_shape"),
    ("Reshape", {"target_shape": (0, 3)}, "target_shape"),
    ("Reshape", {"target_shape": (None, 3)}, "target_shape"),
    ("Permute", {"dims": (1, 3)}, "dims"),
    ("Permute", {"dims": (0, 1)}, "dims"),
    ("RepeatVector", {"n": 0}, "n"),
    ("UpSampling2D", {"interpolation": "cubic_spline"}, "interpolation"),
    ("UpSampling2D", {"size": 0}, "size"),
    ("ZeroPadding2D", {"padding": (1, 2, 3)}, "padding"),
    ("ZeroPadding2D", {"padding": -1}, "padding"),
    ("Cropping2D", {"cropping": ((1, 2, 3), (0, 0))}, "cropping"),
    ("Cropping2D", {"cropping": "1"}, "cropping"),
])
def test_bad_config_names_the_argument(cls, config, field):
    with pytest.raises(ConfigError, match=field):
        create_layer(cls, config)


@pytest.mark.parametrize("cls,config", [("ZeroPadding2D", {"padding": ((1, 2), (0, 3))}),
                                        ("Cropping2D", {"cropping": (1, 0)}), ("Reshape", {"target_shape": (4, -1)}),
                                        ("Permute", {"dims": (2, 1)})])
def test_config_survives_a_json_round_trip(cls, config):
    layer = create_layer(cls, config)
    again = create_layer(cls, json.loads(json.dumps(layer.get_config())))
    assert again.config == layer.config


def test_padding_and_cropping_spellings_normalise_to_pairs():
    assert create_layer("ZeroPadding2D", {"padding": 2}).config["padding"] == ((2, 2), (2, 2))
    assert create_layer("ZeroPadding2D", {"padding": (1, 3)}).config["padding"] == ((1, 1), (3, 3))
    assert create_layer("Cropping2D", {"cropping": [[0, 1], 2]}).config["cropping"] == ((0, 1), (2, 2))


def test_summary_text():
    assert create_layer("Reshape", {"target_shape": (4, 4, 8)}).summary_args() == "→ (4, 4, 8)"
    assert create_layer("Reshape", {"target_shape": (-1,)}).summary_args() == "→ (-1,)"
    assert create_layer("Permute", {"dims": (2, 1)}).summary_args() == "(2, 1)"
    assert create_layer("RepeatVector", {"n": 4}).summary_args() == "×4"
    assert create_layer("UpSampling2D", {"interpolation": "bilinear"}).summary_args() == "2×2, bilinear"
    assert create_layer("ZeroPadding2D", {}).summary_args() == "pad 1"
    assert create_layer("Cropping2D", {"cropping": ((1, 0), (0, 0))}).summary_args() == "crop ((1, 0), (0, 0))"


@pytest.mark.parametrize("cls,config", [("Flatten", {}), ("Permute", {"dims": (3, 1, 2)}),
                                        ("UpSampling2D", {"interpolation": "bilinear"}),
                                        ("Cropping2D", {"cropping": 1}), ("ZeroPadding2D", {})])
def test_layers_keep_the_input_dtype(cls, config):
    layer = create_layer(cls, config)
    for dtype in (np.float32, np.float64):
        x = np.random.default_rng(0).standard_normal((2, 4, 4, 3)).astype(dtype)
        out, cache = layer.forward([x], {})
        (dx,), _ = layer.backward(np.ones_like(out), cache, {})
        assert out.dtype == dx.dtype == dtype and dx.shape == x.shape
