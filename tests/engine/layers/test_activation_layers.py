import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras, keras_layer,
                          keras_output_shape, keras_param_count)

CASES = [
    ("ReLU", {}, [(None, 6)]),
    ("ReLU", {"max_value": 0.8}, [(None, 3, 4)]),
    ("ReLU", {"negative_slope": 0.1}, [(None, 6)]),
    ("ReLU", {"threshold": 0.4, "negative_slope": 0.2, "max_value": 1.2}, [(None, 2, 5)]),
    ("ReLU", {"threshold": 0.3}, [(None, 6)]),
    ("ReLU", {"max_value": 6.0}, [(None, 6)]),
    ("LeakyReLU", {}, [(None, 6)]),
    ("LeakyReLU", {"negative_slope": 0.05}, [(None, 2, 3)]),
    ("ELU", {}, [(None, 6)]),
    ("ELU", {"alpha": 0.5}, [(None, 3, 2)]),
    ("Softmax", {}, [(None, 5)]),
    ("Softmax", {"axis": 1}, [(None, 4, 3)]),
    ("Softmax", {"axis": [1, 2]}, [(None, 3, 2, 2)]),
    ("PReLU", {}, [(None, 5)]),
    ("PReLU", {"shared_axes": [1, 2]}, [(None, 3, 3, 4)]),
    ("PReLU", {"shared_axes": 1}, [(None, 4, 2)]),
    ("PReLU", {"alpha_initializer": "ones"}, [(None, 2, 3)]),
]


@pytest.mark.parametrize("class_name,config,shapes", CASES)
def test_activation_layer_shape_params_and_forward_match_keras(class_name, config, shapes):
    layer = create_layer(class_name, config)
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes)
    kl = keras_layer(layer, shapes)
    assert [s.shape for s in layer.weight_specs(shapes)] == [tuple(w.shape) for w in kl.weights]
    # scale the inputs so thresholds, ceilings and negative parts are all exercised
    rng = np.random.default_rng(5)
    x = [(rng.standard_normal((4, *shapes[0][1:])) * 2).astype(np.float32)]
    assert_forward_matches_keras(class_name, config, shapes, inputs=x)


@pytest.mark.parametrize("class_name,config,shapes", CASES)
def test_activation_layer_gradients(class_name, config, shapes):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, *shapes[0][1:])) * 2
    x[np.abs(x - config.get("threshold", 0.0)) < 1e-3] += 0.01  # keep FD away from the kinks
    if "max_value" in config:
        x[np.abs(x - config["max_value"]) < 1e-3] += 0.01
    assert_gradients_match_fd(class_name, config, shapes, inputs=[x])


def test_keras3_defaults_and_summaries():
    assert create_layer("LeakyReLU", {}).config["negative_slope"] == keras().layers.LeakyReLU().negative_slope == 0.3
    assert create_layer("LeakyReLU", {}).summary_args() == "α 0.3"
    assert create_layer("ELU", {}).summary_args() == "α 1"
    assert create_layer("Softmax", {}).summary_args() == "axis -1"
    assert create_layer("ReLU", {}).summary_args() == ""
    assert create_layer("ReLU", {"max_value": 6}).summary_args() == "max 6"
    assert create_layer("PReLU", {"shared_axes": [1, 2]}).summary_args() == "shared axes 1, 2"


@pytest.mark.parametrize("class_name,config", [("ReLU", {"max_value": -1}), ("ReLU", {"negative_slope": -0.1}),
                                               ("ReLU", {"threshold": -1}), ("LeakyReLU", {"negative_slope": -1}),
                                               ("Softmax", {"axis": []})])
def test_invalid_arguments_are_rejected_like_keras(class_name, config):
    if config.get("axis") != []:
        with pytest.raises(ValueError):
            getattr(keras().layers, class_name)(**config)
    with pytest.raises(ConfigError, match=next(iter(config))):
        create_layer(class_name, config)


def test_prelu_rejects_bad_shared_axes_and_unknown_sizes():
    with pytest.raises(ShapeError, match="PReLU 'p_re_lu' shares its slopes along axis 3"):
        create_layer("PReLU", {"shared_axes": [3]}).output_shape([(None, 4, 2)])
    with pytest.raises(ShapeError, match="known size on axis 1"):
        create_layer("PReLU", {}).output_shape([(None, None, 2)])
    assert create_layer("PReLU", {"shared_axes": [1]}).output_shape([(None, None, 2)]) == (None, None, 2)


def test_prelu_alpha_gradient_sums_over_shared_axes():
    layer = create_layer("PReLU", {"shared_axes": [1]})
    x = -np.ones((2, 3, 4))
    w = {"alpha": np.zeros((1, 4))}
    y, cache = layer.forward([x], w)
    _, g = layer.backward(np.ones_like(y), cache, w)
    np.testing.assert_array_equal(g["alpha"], np.full((1, 4), -6.0))


def test_softmax_rejects_missing_or_batch_axis():
    with pytest.raises(ShapeError, match="axis 2, which does not exist"):
        create_layer("Softmax", {"axis": 2}).output_shape([(None, 4)])
    with pytest.raises(ShapeError, match="batch axis"):
        create_layer("Softmax", {"axis": 0}).output_shape([(None, 4)])


def test_float32_is_kept():
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(2, 6)
    for cls, cfg in (("ReLU", {"threshold": 0.5, "negative_slope": 0.1}), ("LeakyReLU", {}), ("ELU", {}),
                     ("Softmax", {})):
        assert create_layer(cls, cfg).forward([x], {})[0].dtype == np.float32
