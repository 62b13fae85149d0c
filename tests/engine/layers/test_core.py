import numpy as np
import pytest

from engine.errors import ConfigError
from engine.layers import create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras_output_shape,
                          keras_param_count)

DENSE_CASES = [
    ({"units": 4}, [(None, 5)]),
    ({"units": 3, "activation": "relu", "use_bias": False}, [(None, 6)]),
    ({"units": 2, "activation": "softmax"}, [(None, 7, 5)]),
    ({"units": 5, "activation": "gelu"}, [(None, 4)]),
]


@pytest.mark.parametrize("config,shapes", DENSE_CASES)
def test_dense_shape_params_and_forward_match_keras(config, shapes):
    layer = create_layer("Dense", config)
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes)
    assert_forward_matches_keras("Dense", config, shapes)


@pytest.mark.parametrize("config,shapes", DENSE_CASES)
def test_dense_gradients(config, shapes):
    assert_gradients_match_fd("Dense", config, shapes)


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "softmax", "linear", "gelu", "elu", "selu",
                                 "leaky_relu", "swish", "silu", "softplus", "softsign", "hard_sigmoid",
                                 "exponential"])
def test_activation_layer_matches_keras_and_fd(act):
    assert_forward_matches_keras("Activation", {"activation": act}, [(None, 4, 3)])
    assert_gradients_match_fd("Activation", {"activation": act}, [(None, 4, 3)])


def test_embedding_matches_keras_and_grads():
    rng = np.random.default_rng(0)
    ids = [rng.integers(0, 10, size=(3, 5)).astype(np.int32)]
    assert_forward_matches_keras("Embedding", {"input_dim": 10, "output_dim": 4}, [(None, 5)], inputs=ids)
    assert_gradients_match_fd("Embedding", {"input_dim": 10, "output_dim": 4}, [(None, 5)],
                              inputs=[rng.integers(0, 10, size=(2, 5))])
    layer = create_layer("Embedding", {"input_dim": 10, "output_dim": 4})
    assert layer.param_count([(None, 5)]) == keras_param_count(layer, [(None, 5)])


def test_bad_config_values_are_rejected_with_the_argument_named():
    with pytest.raises(ConfigError, match="units"):
        create_layer("Dense", {"units": 0})
    with pytest.raises(ConfigError, match="activation"):
        create_layer("Dense", {"units": 3, "activation": "nope"})
    with pytest.raises(ConfigError, match="unknown argument 'unitz'"):
        create_layer("Dense", {"unitz": 3})
    with pytest.raises(ConfigError, match="required"):
        create_layer("Dense", {})
