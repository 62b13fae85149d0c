"""Preprocessing layers against Keras 3 (shape, parameters, weights, forward) and finite differences (backward)."""
import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import assert_case_matches_keras, assert_forward_matches_keras, assert_gradients_match_fd

# (class_name, config, input_shapes): one line per configuration.
CASES = [
    ("Rescaling", {"scale": 1 / 255}, [(None, 4, 3)]),
    ("Rescaling", {"scale": [0.5, 2.0, 1.5], "offset": -1.0}, [(None, 2, 2, 3)]),
    ("Normalization", {}, [(None, 5)]),
    ("Normalization", {"axis": [1, 2]}, [(None, 3, 4)]),
    ("Normalization", {"axis": None, "mean": 2.0, "variance": 4.0}, [(None, 3, 2)]),
    ("Normalization", {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 0.25, 4.0], "invert": True}, [(None, 3)]),
    ("CenterCrop", {"height": 3, "width": 2}, [(None, 6, 5, 2)]),
    ("Resizing", {"height": 5, "width": 3}, [(None, 4, 6, 2)]),
    ("Resizing", {"height": 2, "width": 7, "interpolation": "nearest"}, [(None, 5, 3, 1)]),
    ("Resizing", {"height": 3, "width": 3}, [(None, 7, 8, 2)]),
]
IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]
# No gradient (indices and counts): compared forward only.
FORWARD_CASES = [
    ("Discretization", {"bin_boundaries": [-0.5, 0.0, 0.7]}, [(None, 6)]),
    ("Discretization", {"bin_boundaries": [0.0, 1.0], "output_mode": "count"}, [(None, 5)]),
    ("CategoryEncoding", {"num_tokens": 6}, [(None, 4)]),
    ("CategoryEncoding", {"num_tokens": 5, "output_mode": "one_hot"}, [(None, 1)]),
    ("CategoryEncoding", {"num_tokens": 4, "output_mode": "count"}, [(None, 7)]),
    ("CategoryEncoding", {"num_tokens": 3, "output_mode": "one_hot"}, [(None, 2)]),
]


@pytest.mark.parametrize("class_name,config,shapes", CASES + FORWARD_CASES,
                         ids=IDS + [f"{c}-f{i}" for i, (c, _, _) in enumerate(FORWARD_CASES)])
def test_shape_params_weights_and_forward_match_keras(class_name, config, shapes):
    assert_case_matches_keras(class_name, config, shapes)


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_gradients_match_finite_differences(class_name, config, shapes):
    assert_gradients_match_fd(class_name, config, shapes)


def test_normalization_uses_its_adapted_statistics_like_keras():
    rng = np.random.default_rng(0)
    x = [rng.normal(3.0, 2.0, size=(4, 3)).astype(np.float32)]
    layer, weights, _ = assert_forward_matches_keras("Normalization", {}, [(None, 3)], inputs=x)
    assert set(weights) == {"mean", "variance", "count"}
    assert all(not s.trainable for s in layer.weight_specs([(None, 3)]))


def test_gradient_free_layers_pass_nothing_back_and_say_why():
    for name in ("Discretization", "CategoryEncoding"):
        layer = create_layer(name, dict(FORWARD_CASES[0][1]) if name == "Discretization" else {"num_tokens": 3})
        assert layer.gradient == "none" and "indices or counts" in layer.no_gradient_reason
        assert layer.backward(np.ones((2, 3)), None, {}) == ([None], {})


def test_what_the_engine_cannot_honour_is_refused():
    with pytest.raises(ConfigError, match="crop_to_aspect_ratio"):
        create_layer("Resizing", {"height": 2, "width": 2, "crop_to_aspect_ratio": True})
    with pytest.raises(ConfigError, match="increase"):
        create_layer("Discretization", {"bin_boundaries": [1.0, 0.0]})
    with pytest.raises(ConfigError, match="both mean and variance"):
        create_layer("Normalization", {"mean": [1.0]})
    with pytest.raises(ShapeError, match="Resizing"):
        create_layer("CenterCrop", {"height": 9, "width": 2}).output_shape([(None, 4, 4, 1)])
    with pytest.raises(ValueError, match="outside"):
        create_layer("CategoryEncoding", {"num_tokens": 3}).forward([np.array([[5]])], {})
