"""ConvLSTM1D/2D/3D (one rank-generic implementation) against Keras 3 and finite differences."""
import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import assert_case_matches_keras, assert_gradients_match_fd

CONV_LSTM_CASES = [   # few lines: each costs Keras a JAX compile of its scan (~5-15 s)
    ("ConvLSTM2D", {"filters": 2, "kernel_size": (2, 3), "dilation_rate": (1, 2), "activation": "relu",
                    "use_bias": False, "unit_forget_bias": False}, [(None, 3, 4, 5, 2)]),
    ("ConvLSTM1D", {"filters": 3, "kernel_size": 2, "padding": "same", "strides": 2, "return_sequences": True,
                    "go_backwards": True, "recurrent_activation": "hard_sigmoid"}, [(None, 3, 5, 2)]),
    ("ConvLSTM3D", {"filters": 2, "kernel_size": 2, "return_sequences": True}, [(None, 2, 3, 3, 3, 1)]),
]
IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(CONV_LSTM_CASES)]


@pytest.mark.parametrize("class_name,config,shapes", CONV_LSTM_CASES, ids=IDS)
def test_matches_keras(class_name, config, shapes):
    assert_case_matches_keras(class_name, config, shapes)


@pytest.mark.parametrize("class_name,config,shapes", CONV_LSTM_CASES, ids=IDS)
def test_gradients(class_name, config, shapes):
    assert_gradients_match_fd(class_name, config, shapes, n_checks=8)


def test_dropout_masks_are_fixed_over_time_and_gradients_hold():
    cfg = {"filters": 2, "kernel_size": 2, "padding": "same", "dropout": 0.5, "recurrent_dropout": 0.3,
           "return_sequences": True}
    assert_gradients_match_fd("ConvLSTM1D", cfg, [(None, 3, 4, 2)], training=True, n_checks=10)
    layer = create_layer("ConvLSTM1D", {**cfg, "recurrent_dropout": 0.0, "kernel_size": 1})
    rng = np.random.default_rng(0)
    w = layer.init_weights([(None, 3, 4, 2)], rng, np.float64)
    x = rng.standard_normal((4, 3, 4, 2))
    out, cache = layer.forward([x], w, training=True, rng=np.random.default_rng(2))
    (dx,), _ = layer.backward(np.ones_like(out), cache, w)
    dropped = np.all(dx == 0, axis=1)            # a 1x1 kernel: an input position dropped for all four gates
    assert np.all((dx == 0).any(axis=1) == dropped)    # ...is dropped at every step or at none
    inference = layer.forward([x], w)[0]
    assert not np.allclose(out, inference) and np.allclose(inference, layer.forward([x], w, training=False)[0])


def test_forget_bias_and_refusals():
    w = create_layer("ConvLSTM2D", {"filters": 3, "kernel_size": 2}).init_weights(
        [(None, 2, 4, 4, 1)], np.random.default_rng(0))
    np.testing.assert_array_equal(w["bias"], np.r_[np.zeros(3), np.ones(3), np.zeros(6)])
    assert w["recurrent_kernel"].shape == (2, 2, 3, 12)
    with pytest.raises(ConfigError, match=r"ConvLSTM2D 'conv_lstm2d': 'return_state' = true is not supported"):
        create_layer("ConvLSTM2D", {"filters": 2, "kernel_size": 2, "return_state": True})
    with pytest.raises(ConfigError, match=r"data_format' must be one of 'channels_last'"):
        create_layer("ConvLSTM2D", {"filters": 2, "kernel_size": 2, "data_format": "channels_first"})
    with pytest.raises(ConfigError, match="cannot be combined with dilation_rate"):
        create_layer("ConvLSTM1D", {"filters": 2, "kernel_size": 2, "strides": 2, "dilation_rate": 2})
    with pytest.raises(ShapeError, match=r"expects a 5-D input \(batch, time, height, width, channels\)"):
        create_layer("ConvLSTM2D", {"filters": 2, "kernel_size": 2}).output_shape([(None, 4, 4, 1)])
    with pytest.raises(ShapeError, match=r"needs at least 3 input steps"):
        create_layer("ConvLSTM1D", {"filters": 2, "kernel_size": 3}).output_shape([(None, 4, 2, 1)])


# (class_name, config, input_shapes) lines for the registry contract (tests/engine/layers/test_layer_contract.py).
CASES = CONV_LSTM_CASES
