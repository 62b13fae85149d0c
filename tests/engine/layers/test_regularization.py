import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras, keras_config,
                          keras_output_shape,
                          keras_param_count)

IDENTITY_CASES = [
    ("Dropout", {"rate": 0.5}, [(None, 6)]),
    ("Dropout", {"rate": 0.2, "noise_shape": [None, 1, 4]}, [(None, 3, 4)]),
    ("Dropout", {"rate": 0.0, "seed": 7}, [(None, 2, 3)]),
    ("GaussianNoise", {"stddev": 0.3}, [(None, 5)]),
    ("GaussianDropout", {"rate": 0.3}, [(None, 2, 5)]),
]


def keras_spatial(class_name, config):
    """The Keras twin built from our get_config() (Keras's SpatialDropout takes no 'trainable')."""
    return getattr(keras().layers, class_name).from_config(keras_config(create_layer(class_name, config)))


@pytest.mark.parametrize("class_name,config,shapes", IDENTITY_CASES)
def test_noise_layers_shape_params_and_inference_match_keras(class_name, config, shapes):
    layer = create_layer(class_name, config)
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes) == 0
    assert_forward_matches_keras(class_name, config, shapes)


@pytest.mark.parametrize("class_name,config,shapes", [
    ("SpatialDropout1D", {"rate": 0.4}, [(None, 5, 3)]),
    ("SpatialDropout2D", {"rate": 0.4}, [(None, 4, 4, 3)]),
    ("SpatialDropout2D", {"rate": 0.4, "data_format": "channels_first"}, [(None, 3, 4, 4)]),
    ("SpatialDropout3D", {"rate": 0.1}, [(None, 2, 2, 2, 3)]),
])
def test_spatial_dropout_shape_and_inference_match_keras(class_name, config, shapes):
    layer = create_layer(class_name, config)
    kl = keras_spatial(class_name, config)
    kshape = tuple(kl.compute_output_spec(keras().KerasTensor(shapes[0])).shape)
    assert layer.output_shape(shapes) == kshape
    x = np.random.default_rng(0).standard_normal((2, *shapes[0][1:])).astype(np.float32)
    np.testing.assert_array_equal(layer.forward([x], {})[0], np.asarray(kl(x, training=False)))


@pytest.mark.parametrize("class_name,shape", [("SpatialDropout2D", (None, 4, 3)), ("SpatialDropout1D", (None, 4)),
                                              ("SpatialDropout3D", (None, 4, 4, 3))])
def test_spatial_dropout_wrong_rank_is_rejected_like_keras(class_name, shape):
    with pytest.raises(ValueError):
        keras_spatial(class_name, {"rate": 0.5})(keras().KerasTensor(shape))
    with pytest.raises(ShapeError, match=f"{class_name} .* expects .* but gets"):
        create_layer(class_name, {"rate": 0.5}).output_shape([shape])


def test_dropout_bad_noise_shape_is_rejected():
    with pytest.raises(ShapeError, match="rank"):
        create_layer("Dropout", {"rate": 0.5, "noise_shape": [None, 4]}).output_shape([(None, 3, 4)])
    with pytest.raises(ShapeError, match="axis 2"):
        create_layer("Dropout", {"rate": 0.5, "noise_shape": [None, 1, 5]}).output_shape([(None, 3, 4)])
    with pytest.raises(ConfigError, match="noise_shape"):
        create_layer("Dropout", {"rate": 0.5, "noise_shape": [None, -1]})


@pytest.mark.parametrize("class_name,config", [("Dropout", {"rate": 1.5}), ("Dropout", {"rate": -0.1}),
                                               ("GaussianNoise", {"stddev": 2.0}), ("GaussianDropout", {"rate": 1.0})])
def test_out_of_range_arguments_are_rejected(class_name, config):
    with pytest.raises(ConfigError, match="rate|stddev"):
        create_layer(class_name, config)


def test_dropout_rate_is_required_and_summarized():
    with pytest.raises(ConfigError, match="rate"):
        create_layer("Dropout", {})
    assert create_layer("Dropout", {"rate": 0.5}).summary_args() == "rate 0.5"
    assert create_layer("GaussianNoise", {"stddev": 0.1}).summary_args() == "σ 0.1"


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_training_statistics(rate):
    layer = create_layer("Dropout", {"rate": rate})
    x = np.random.default_rng(0).uniform(1, 2, size=(200, 500)).astype(np.float32)
    y, _ = layer.forward([x], {}, training=True, rng=np.random.default_rng(1))
    dropped = y == 0
    assert abs(dropped.mean() - rate) < 0.01
    np.testing.assert_allclose(y[~dropped], x[~dropped] / (1 - rate), rtol=1e-6)
    assert abs(y.mean() / x.mean() - 1) < 0.02
    assert y.dtype == np.float32
    # and Keras's own training mode drops the same fraction with the same scaling
    ky = np.asarray(keras().layers.Dropout(rate, seed=3)(x, training=True))
    assert abs((ky == 0).mean() - dropped.mean()) < 0.015
    np.testing.assert_allclose(ky[ky != 0], x[ky != 0] / (1 - rate), rtol=1e-6)


def test_dropout_rate_one_zeroes_everything_and_inference_is_identity():
    x = np.ones((3, 4), np.float32)
    layer = create_layer("Dropout", {"rate": 1.0})
    np.testing.assert_array_equal(layer.forward([x], {}, training=True, rng=np.random.default_rng(0))[0], 0)
    np.testing.assert_array_equal(np.asarray(keras().layers.Dropout(1.0)(x, training=True)), 0)
    y, cache = create_layer("Dropout", {"rate": 0.9}).forward([x], {}, training=False)
    assert y is x and cache is None


def test_dropout_noise_shape_shares_the_mask_across_broadcast_axes():
    layer = create_layer("Dropout", {"rate": 0.5, "noise_shape": [None, 1, 8]})
    x = np.ones((50, 6, 8))
    y, _ = layer.forward([x], {}, training=True, rng=np.random.default_rng(0))
    assert (y == y[:, :1, :]).all()
    assert 0.35 < (y == 0).mean() < 0.65


@pytest.mark.parametrize("config,x_shape,channel_axis", [({"rate": 0.5}, (40, 3, 3, 16), 3),
                                                         ({"rate": 0.3, "data_format": "channels_first"},
                                                          (40, 16, 3, 3), 1)])
def test_spatial_dropout_drops_whole_channels(config, x_shape, channel_axis):
    layer = create_layer("SpatialDropout2D", config)
    x = np.random.default_rng(0).uniform(1, 2, size=x_shape)
    y, _ = layer.forward([x], {}, training=True, rng=np.random.default_rng(1))
    spatial = tuple(a for a in (1, 2, 3) if a != channel_axis)
    zero_maps = (y == 0).all(axis=spatial)
    kept_maps = (y != 0).all(axis=spatial)
    assert (zero_maps | kept_maps).all()
    assert abs(zero_maps.mean() - config["rate"]) < 0.08
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - config["rate"]))


def test_gaussian_noise_and_dropout_statistics():
    x = np.full((400, 250), 2.0, np.float32)
    y, _ = create_layer("GaussianNoise", {"stddev": 0.5}).forward([x], {}, training=True,
                                                                  rng=np.random.default_rng(0))
    assert abs((y - x).mean()) < 0.01 and abs((y - x).std() - 0.5) < 0.01
    assert y.dtype == np.float32
    y, _ = create_layer("GaussianDropout", {"rate": 0.2}).forward([x], {}, training=True,
                                                                   rng=np.random.default_rng(0))
    assert abs((y / x).mean() - 1) < 0.01 and abs((y / x).std() - 0.5) < 0.01
    for cls, cfg in (("GaussianNoise", {"stddev": 0.5}), ("GaussianDropout", {"rate": 0.2})):
        np.testing.assert_array_equal(create_layer(cls, cfg).forward([x], {}, training=False)[0], x)


@pytest.mark.parametrize("class_name,config,shapes", [
    ("Dropout", {"rate": 0.5}, [(None, 6)]),
    ("Dropout", {"rate": 0.3, "noise_shape": [None, 1, 4]}, [(None, 3, 4)]),
    ("SpatialDropout2D", {"rate": 0.5}, [(None, 3, 3, 4)]),
    ("SpatialDropout1D", {"rate": 0.5}, [(None, 3, 4)]),
    ("GaussianNoise", {"stddev": 0.2}, [(None, 5)]),
    ("GaussianDropout", {"rate": 0.4}, [(None, 5)]),
])
@pytest.mark.parametrize("training", [True, False])
def test_noise_layer_gradients(class_name, config, shapes, training):
    assert_gradients_match_fd(class_name, config, shapes, training=training, batch=3)


CASES = [
    ("AlphaDropout", {"rate": 0.2}, [(None, 6)]),
    ("AlphaDropout", {"rate": 0.5, "noise_shape": [None, 1, 4]}, [(None, 3, 4)]),
    ("ActivityRegularization", {"l1": 0.01, "l2": 0.1}, [(None, 2, 3)]),
    ("ActivityRegularization", {}, [(None, 4)]),
]


@pytest.mark.parametrize("class_name,config,shapes", CASES)
def test_new_regularization_layers_match_keras_at_inference(class_name, config, shapes):
    layer = create_layer(class_name, config)
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes) == 0
    assert_forward_matches_keras(class_name, config, shapes)


@pytest.mark.parametrize("class_name,config,shapes", CASES)
@pytest.mark.parametrize("training", [True, False])
def test_new_regularization_layer_gradients(class_name, config, shapes, training):
    assert_gradients_match_fd(class_name, config, shapes, training=training, batch=3)


def test_alpha_dropout_training_statistics_follow_keras():
    """Seeded properties: the drop fraction, the value dropped inputs take, and (for standard-normal
    inputs, what SELU keeps) a mean of 0 and a variance of 1, in our training mode and in Keras's."""
    rate = 0.3
    x = np.random.default_rng(0).standard_normal((400, 250)).astype(np.float32)
    layer = create_layer("AlphaDropout", {"rate": rate})
    y, _ = layer.forward([x], {}, training=True, rng=np.random.default_rng(1))
    ky = np.asarray(keras().layers.AlphaDropout(rate, seed=3)(x, training=True))
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    dropped_value = a * alpha_p - a * alpha_p * rate
    for out in (y, ky):
        dropped = np.isclose(out, dropped_value, atol=1e-6)
        assert abs(dropped.mean() - rate) < 0.01
        np.testing.assert_allclose(out[~dropped], a * x[~dropped] + dropped_value - a * alpha_p, rtol=1e-5,
                                   atol=1e-6)
        assert abs(out.mean()) < 0.01 and abs(out.var() - 1) < 0.02
    assert y.dtype == np.float32
    np.testing.assert_array_equal(layer.forward([x], {}, training=False)[0], x)


@pytest.mark.parametrize("config", [{"l1": 0.01, "l2": 0.1}, {"l1": 0.3}, {"l2": 0.05}])
def test_activity_regularization_loss_matches_keras(config):
    """Its gradient is checked by the finite differences above (which include ``added_loss``)."""
    x = np.random.default_rng(0).standard_normal((4, 3, 2)).astype(np.float32)
    layer = create_layer("ActivityRegularization", config)
    y, cache = layer.forward([x], {})
    kl = keras().layers.ActivityRegularization(**config)
    kl(x)
    np.testing.assert_allclose(layer.added_loss(cache), float(sum(np.asarray(v) for v in kl.losses)), rtol=1e-5)
    assert layer.added_loss(cache) > 0


def test_activity_regularization_joins_the_evaluated_loss_like_keras():
    from engine.graph import LayerGraph
    from engine.training import evaluate

    g = LayerGraph()
    i = g.add_node("Input", {"shape": [3]})
    r = g.add_node("ActivityRegularization", {"l1": 0.02, "l2": 0.3})
    d = g.add_node("Dense", {"units": 1})
    g.connect(i, r)
    g.connect(r, d)
    rng = np.random.default_rng(0)
    kernel, bias = rng.standard_normal((3, 1)).astype(np.float32), np.array([0.2], np.float32)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    ours = evaluate(g, x, y, params={d: {"kernel": kernel, "bias": bias}}, loss="mse", batch_size=8)["loss"]
    k = keras()
    inp = k.Input((3,))
    model = k.Model(inp, k.layers.Dense(1)(k.layers.ActivityRegularization(l1=0.02, l2=0.3)(inp)))
    model.layers[-1].set_weights([kernel, bias])
    model.compile(loss="mse")
    theirs = model.evaluate(x, y, batch_size=8, verbose=0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert ours > float(np.mean((x @ kernel + bias - y) ** 2)) + 0.1  # the penalty is really in it
