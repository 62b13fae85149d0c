import pytest

from engine.errors import ConfigError
from engine.layers import create_layer
from tests.oracle import assert_case_matches_keras, assert_forward_matches_keras, assert_gradients_match_fd

# (class_name, config, input_shapes): one line per configuration, checked against Keras and finite differences.
CASES = [
    ("Dense", {"units": 4}, [(None, 5)]),
    ("Dense", {"units": 3, "activation": "relu", "use_bias": False}, [(None, 6)]),
    ("Dense", {"units": 2, "activation": "softmax"}, [(None, 7, 5)]),
    ("Dense", {"units": 5, "activation": "gelu"}, [(None, 4)]),
    ("Activation", {"activation": "tanh"}, [(None, 4, 3)]),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, [(None, 5)]),
    ("Embedding", {"input_dim": 7, "output_dim": 3}, [(None, 2, 3)]),
    ("Embedding", {"input_dim": 6, "output_dim": 3, "mask_zero": True}, [(None, 4)]),
    ("Masking", {}, [(None, 4, 3)]),
    ("Masking", {"mask_value": 0.5}, [(None, 2, 3, 2)]),
    ("LayerScale", {"init_values": 0.5, "projection_dim": 4}, [(None, 3, 2, 4)]),
    ("CustomScaleLayer", {"scale": 0.17}, [(None, 3, 2, 4), (None, 3, 2, 4)]),
]
IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_shape_params_weights_and_forward_match_keras(class_name, config, shapes):
    assert_case_matches_keras(class_name, config, shapes)


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_gradients_match_finite_differences(class_name, config, shapes):
    assert_gradients_match_fd(class_name, config, shapes)


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "softmax", "linear", "gelu", "elu", "selu",
                                 "leaky_relu", "swish", "silu", "softplus", "softsign", "hard_sigmoid",
                                 "exponential"])
def test_activation_layer_matches_keras_and_fd(act):
    assert_forward_matches_keras("Activation", {"activation": act}, [(None, 4, 3)])
    assert_gradients_match_fd("Activation", {"activation": act}, [(None, 4, 3)])


def test_bad_config_values_are_rejected_with_the_argument_named():
    with pytest.raises(ConfigError, match="units"):
        create_layer("Dense", {"units": 0})
    with pytest.raises(ConfigError, match="activation"):
        create_layer("Dense", {"units": 3, "activation": "nope"})
    with pytest.raises(ConfigError, match="unknown argument 'unitz'"):
        create_layer("Dense", {"unitz": 3})
    with pytest.raises(ConfigError, match="required"):
        create_layer("Dense", {})
