import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras_layer,
                          keras_output_shape, keras_param_count)

BN_CASES = [
    ({}, [(None, 5)]),
    ({"axis": -1, "momentum": 0.9, "epsilon": 1e-2}, [(None, 4, 4, 3)]),
    ({"axis": 1}, [(None, 3, 4)]),
    ({"center": False}, [(None, 6)]),
    ({"scale": False, "axis": 2}, [(None, 2, 3, 4)]),
]

LN_CASES = [
    ({}, [(None, 5)]),
    ({"axis": -1, "epsilon": 1e-5}, [(None, 4, 6)]),
    ({"axis": [1, 2]}, [(None, 3, 4, 2)]),
    ({"axis": [-1, 1]}, [(None, 3, 2, 4)]),
    ({"center": False, "scale": False}, [(None, 7)]),
    ({"scale": False}, [(None, 2, 5)]),
]


@pytest.mark.parametrize("config,shapes", BN_CASES)
def test_batchnorm_shape_params_and_inference_forward_match_keras(config, shapes):
    layer = create_layer("BatchNormalization", config)
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes)
    specs = layer.weight_specs(shapes)
    kl = keras_layer(layer, shapes)
    assert [s.shape for s in specs] == [tuple(w.shape) for w in kl.weights]
    assert [s.trainable for s in specs] == [w.trainable for w in kl.weights]
    assert [s.name for s in specs] == [w.name for w in kl.weights]
    assert_forward_matches_keras("BatchNormalization", config, shapes)


@pytest.mark.parametrize("config,shapes", BN_CASES)
def test_batchnorm_training_forward_and_moving_stats_match_keras(config, shapes):
    rng = np.random.default_rng(3)
    layer = create_layer("BatchNormalization", config)
    weights = layer.init_weights(shapes, rng)
    weights = {k: v + rng.uniform(-0.5, 0.5, v.shape).astype(np.float32) for k, v in weights.items()}
    weights["moving_variance"] = np.abs(weights["moving_variance"]) + 0.5
    x = (rng.standard_normal((6, *shapes[0][1:])) * 2 + 1).astype(np.float32)
    ours, cache = layer.forward([x], weights, training=True)
    kl = keras_layer(layer, shapes, weights)
    theirs = np.asarray(kl(x, training=True))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    upd = layer.state_updates(cache)
    assert set(upd) == {"moving_mean", "moving_variance"}
    np.testing.assert_allclose(upd["moving_mean"], np.asarray(kl.moving_mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(upd["moving_variance"], np.asarray(kl.moving_variance), rtol=1e-5, atol=1e-6)
    # the layer itself holds no state: the weights it was given are unchanged
    assert not np.allclose(upd["moving_mean"], weights["moving_mean"])


def test_batchnorm_inference_has_no_state_updates_and_frozen_layer_uses_moving_stats():
    layer = create_layer("BatchNormalization", {})
    w = layer.init_weights([(None, 3)], np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32) + 5
    _, cache = layer.forward([x], w, training=False)
    assert layer.state_updates(cache) == {}
    frozen = create_layer("BatchNormalization", {"trainable": False})
    y, cache = frozen.forward([x], w, training=True)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-6)
    assert frozen.state_updates(cache) == {}


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("config,shapes", BN_CASES)
def test_batchnorm_gradients(config, shapes, training):
    assert_gradients_match_fd("BatchNormalization", config, shapes, training=training, batch=3)


@pytest.mark.parametrize("config,shapes", [({"axis": 3}, [(None, 4, 3)]), ({"axis": -4}, [(None, 4, 3)])])
def test_batchnorm_axis_out_of_range_rejected_like_keras(config, shapes):
    layer = create_layer("BatchNormalization", config)
    with pytest.raises(ValueError):
        keras_output_shape(layer, shapes)
    with pytest.raises(ShapeError, match="BatchNormalization 'batch_normalization'.*axis"):
        layer.output_shape(shapes)


def test_batchnorm_rejects_batch_axis_unknown_channels_and_unsupported_flags():
    with pytest.raises(ShapeError, match="batch axis"):
        create_layer("BatchNormalization", {"axis": 0}).output_shape([(None, 4)])
    with pytest.raises(ShapeError, match="known size"):
        create_layer("BatchNormalization", {}).output_shape([(None, 4, None)])
    with pytest.raises(ConfigError, match="renorm"):
        create_layer("BatchNormalization", {"renorm": True})
    with pytest.raises(ConfigError, match="synchronized"):
        create_layer("BatchNormalization", {"synchronized": True})
    with pytest.raises(ConfigError, match="momentum"):
        create_layer("BatchNormalization", {"momentum": 1.5})
    assert create_layer("BatchNormalization", {}).summary_args() == "axis -1, momentum 0.99"


@pytest.mark.parametrize("config,shapes", LN_CASES)
def test_layernorm_shape_params_and_forward_match_keras(config, shapes):
    layer = create_layer("LayerNormalization", config)
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes)
    kl = keras_layer(layer, shapes)
    assert [s.shape for s in layer.weight_specs(shapes)] == [tuple(w.shape) for w in kl.weights]
    assert_forward_matches_keras("LayerNormalization", config, shapes)
    # training and inference agree (no batch statistics)
    x = np.random.default_rng(2).standard_normal((2, *shapes[0][1:])).astype(np.float32)
    w = layer.init_weights(shapes, np.random.default_rng(0))
    np.testing.assert_array_equal(layer.forward([x], w, training=True)[0], layer.forward([x], w)[0])


@pytest.mark.parametrize("config,shapes", LN_CASES)
def test_layernorm_gradients(config, shapes):
    assert_gradients_match_fd("LayerNormalization", config, shapes)


def test_layernorm_rms_scaling_matches_keras_and_fd():
    config, shapes = {"rms_scaling": True}, [(None, 3, 5)]
    layer = create_layer("LayerNormalization", config)
    with pytest.warns(UserWarning, match="deprecated"):
        assert layer.param_count(shapes) == keras_param_count(layer, shapes)
    with pytest.warns(UserWarning, match="deprecated"):
        assert_forward_matches_keras("LayerNormalization", config, shapes)
    assert_gradients_match_fd("LayerNormalization", config, shapes)


def test_layernorm_rejects_bad_axes_and_summarizes():
    layer = create_layer("LayerNormalization", {"axis": 2})
    with pytest.raises(ValueError):
        keras_output_shape(layer, [(None, 4)])
    with pytest.raises(ShapeError, match="LayerNormalization 'layer_normalization' normalizes axis 2"):
        layer.output_shape([(None, 4)])
    with pytest.raises(ConfigError, match="axis"):
        create_layer("LayerNormalization", {"axis": []})
    assert create_layer("LayerNormalization", {}).summary_args() == "axis -1"
    assert create_layer("LayerNormalization", {"axis": [1, 2]}).summary_args() == "axis 1, 2"


CASES = [
    ("GroupNormalization", {"groups": 2}, [(None, 4)]),
    ("GroupNormalization", {"groups": 3, "epsilon": 1e-2}, [(None, 5, 6)]),
    ("GroupNormalization", {"groups": 2, "axis": 1}, [(None, 4, 3, 2)]),
    ("GroupNormalization", {"groups": -1}, [(None, 3, 3, 4)]),
    ("GroupNormalization", {"groups": 1, "center": False}, [(None, 2, 6)]),
    ("GroupNormalization", {"groups": 2, "scale": False}, [(None, 3, 4)]),
    ("UnitNormalization", {}, [(None, 5)]),
    ("UnitNormalization", {"axis": 1}, [(None, 3, 4)]),
    ("UnitNormalization", {"axis": [1, 2]}, [(None, 3, 2, 2)]),
    ("RMSNormalization", {}, [(None, 5)]),
    ("RMSNormalization", {"epsilon": 1e-3}, [(None, 3, 4)]),
    ("RMSNormalization", {"axis": [-2, -1]}, [(None, 2, 3, 4)]),
    ("RMSNormalization", {"axis": [1, 2]}, [(None, 3, 4)]),
]


@pytest.mark.parametrize("class_name,config,shapes", CASES)
def test_new_normalization_shape_params_weights_and_forward_match_keras(class_name, config, shapes):
    layer = create_layer(class_name, config)
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes)
    kl = keras_layer(layer, shapes)
    specs = layer.weight_specs(shapes)
    assert [(s.name, s.shape) for s in specs] == [(w.name, tuple(w.shape)) for w in kl.weights]
    _, weights, xs = assert_forward_matches_keras(class_name, config, shapes)
    # no batch statistics: training gives the same output
    np.testing.assert_array_equal(layer.forward(xs, weights, training=True)[0], layer.forward(xs, weights)[0])


@pytest.mark.parametrize("class_name,config,shapes", CASES)
def test_new_normalization_gradients(class_name, config, shapes):
    assert_gradients_match_fd(class_name, config, shapes, batch=3)


def test_unit_normalization_of_a_zero_vector_is_zero_like_keras():
    x = np.zeros((2, 3), np.float32)
    x[1] = [3, 0, 4]
    y, _ = create_layer("UnitNormalization", {}).forward([x], {})
    np.testing.assert_allclose(y, [[0, 0, 0], [0.6, 0, 0.8]], rtol=1e-6)


@pytest.mark.parametrize("config,shape,match", [
    ({"groups": 4}, (None, 6), "multiple of groups"),
    ({"groups": 8}, (None, 4), "multiple of groups"),
    ({"groups": 2}, (None, 3, None), "known size"),
])
def test_group_normalization_bad_groups_are_rejected_like_keras(config, shape, match):
    layer = create_layer("GroupNormalization", config)
    if None not in shape:
        with pytest.raises(ValueError):
            keras_layer(layer, [shape])
    with pytest.raises(ShapeError, match=match):
        layer.output_shape([shape])


def test_new_normalization_config_errors_and_summaries():
    with pytest.raises(ConfigError, match="groups"):
        create_layer("GroupNormalization", {"groups": 0})
    with pytest.raises(ConfigError, match="groups"):
        create_layer("GroupNormalization", {"groups": -2})
    with pytest.raises(ShapeError, match="last axes"):
        create_layer("RMSNormalization", {"axis": 1}).output_shape([(None, 3, 4)])
    with pytest.raises(ShapeError, match="axis 3"):
        create_layer("UnitNormalization", {"axis": 3}).output_shape([(None, 3, 4)])
    assert create_layer("GroupNormalization", {}).summary_args() == "32 groups"
    assert create_layer("GroupNormalization", {"groups": -1}).summary_args() == "one group per channel"
    assert create_layer("RMSNormalization", {}).summary_args() == "axis -1"
