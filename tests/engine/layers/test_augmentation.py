"""Random augmentation layers: Keras parity at inference and for a fixed draw, seeded properties of the draws
while training, and finite differences of the backward for the draw the forward made."""
import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from engine.numerics import augmentation as num
from tests.oracle import assert_case_matches_keras, assert_gradients_match_fd, keras

# (class_name, config, input_shapes): one line per configuration.
CASES = [
    ("RandomFlip", {}, [(None, 4, 5, 2)]),
    ("RandomFlip", {"mode": "horizontal"}, [(None, 3, 4, 1)]),
    ("RandomFlip", {"mode": "vertical", "data_format": "channels_first"}, [(None, 2, 4, 3)]),
    ("RandomRotation", {"factor": 0.2}, [(None, 5, 6, 2)]),
    ("RandomRotation", {"factor": [-0.1, 0.3], "fill_mode": "constant", "fill_value": 0.5,
                        "interpolation": "nearest"}, [(None, 6, 5, 1)]),
    ("RandomRotation", {"factor": 0.25, "fill_mode": "wrap", "data_format": "channels_first"}, [(None, 2, 5, 4)]),
    ("RandomZoom", {"height_factor": 0.3}, [(None, 5, 6, 2)]),
    ("RandomZoom", {"height_factor": [-0.4, -0.1], "width_factor": [0.1, 0.5], "fill_mode": "nearest"},
     [(None, 6, 4, 1)]),
    ("RandomTranslation", {"height_factor": 0.2, "width_factor": [-0.3, 0.1]}, [(None, 5, 6, 2)]),
    ("RandomTranslation", {"height_factor": 0.3, "width_factor": 0.3, "fill_mode": "constant", "fill_value": -1.0,
                           "interpolation": "nearest"}, [(None, 4, 4, 2)]),
    ("RandomContrast", {"factor": 0.5, "value_range": [-1.0, 1.5]}, [(None, 4, 5, 2)]),
    ("RandomContrast", {"factor": [0.3, 0.6]}, [(None, 3, 3, 1)]),
    ("RandomBrightness", {"factor": 0.3, "value_range": [-1.0, 1.0]}, [(None, 4, 3, 2)]),
    ("RandomBrightness", {"factor": [-0.2, 0.5], "value_range": [2.0, -2.0]}, [(None, 3, 3, 1)]),
    ("RandomCrop", {"height": 4, "width": 3}, [(None, 4, 3, 2)]),
    ("RandomCrop", {"height": 3, "width": 2, "data_format": "channels_first"}, [(None, 2, 3, 2)]),
]
IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]
# Checked against Keras's smart_resize (Keras 3.15's own RandomCrop returns the uncropped image at inference).
CROP_INFERENCE = [((4, 3), (7, 9)), ((4, 4), (6, 5)), ((5, 3), (2, 2)), ((3, 6), (4, 4)), ((2, 2), (5, 2))]


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_inference_matches_keras(class_name, config, shapes):
    assert_case_matches_keras(class_name, config, shapes)


@pytest.mark.parametrize("class_name,config,shapes", CASES, ids=IDS)
def test_training_gradients_match_finite_differences(class_name, config, shapes):
    inputs = None
    if class_name == "RandomCrop":  # a larger image, so the random window is the one differentiated
        h, w = config["height"], config["width"]
        first = config.get("data_format") == "channels_first"
        inputs = [np.random.default_rng(5).normal(size=(2, shapes[0][1], h + 3, w + 2) if first
                                                  else (2, h + 3, w + 2, shapes[0][3]))]
    assert_gradients_match_fd(class_name, config, shapes, training=True, inputs=inputs)


def _images(shape, seed=0, low=0.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


@pytest.mark.parametrize("class_name,config,shapes", [c for c in CASES if c[0] != "RandomCrop"], ids=IDS[:-2])
def test_inference_returns_the_input_unchanged(class_name, config, shapes):
    x = _images((3, *shapes[0][1:]))
    y, cache = create_layer(class_name, config).forward([x], {}, training=False)
    np.testing.assert_array_equal(y, x)
    assert cache is None


@pytest.mark.parametrize("size,image", CROP_INFERENCE)
@pytest.mark.parametrize("training", [False, True])
def test_random_crop_keeps_the_central_window_resized_like_keras_smart_resize(size, image, training):
    x = _images((2, *image, 3), seed=1)
    layer = create_layer("RandomCrop", {"height": size[0], "width": size[1]})
    y, _ = layer.forward([x], {}, training=training, rng=np.random.default_rng(0))
    if training and image[0] > size[0] and image[1] > size[1]:
        return  # a random window: test_random_crop_draws_every_window_position
    expected = np.asarray(keras().preprocessing.image.smart_resize(x, size))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("image", [(7, 9), (2, 2), (3, 6)])
@pytest.mark.parametrize("training", [False, True])
def test_random_crop_central_window_gradients_match_finite_differences(image, training):
    x = [np.random.default_rng(2).normal(size=(2, *image, 2))]
    assert_gradients_match_fd("RandomCrop", {"height": 4, "width": 3}, [(None, *image, 2)], training=training,
                              inputs=x)


def test_random_crop_draws_every_window_position_once_per_batch():
    x = np.arange(7 * 6, dtype=np.float32).reshape(1, 7, 6, 1).repeat(2, axis=0)
    layer = create_layer("RandomCrop", {"height": 4, "width": 3})
    corners = set()
    for seed in range(300):
        y, _ = layer.forward([x], {}, training=True, rng=np.random.default_rng(seed))
        assert y.shape == (2, 4, 3, 1)
        np.testing.assert_array_equal(y[0], y[1])  # one place for the whole batch, as in Keras
        top, left = divmod(int(y[0, 0, 0, 0]), 6)
        np.testing.assert_array_equal(y[0], x[0, top:top + 4, left:left + 3])
        corners.add((top, left))
    assert corners == {(t, left) for t in range(4) for left in range(4)}


def test_random_flip_flips_half_the_images_and_both_axes_together():
    x = _images((400, 3, 4, 2))
    for mode, axes in (("horizontal", (2,)), ("vertical", (1,)), ("horizontal_and_vertical", (1, 2))):
        y, flips = create_layer("RandomFlip", {"mode": mode}).forward([x], {}, training=True,
                                                                      rng=np.random.default_rng(3))
        np.testing.assert_array_equal(y[~flips], x[~flips])
        np.testing.assert_array_equal(y[flips], np.flip(x[flips], axis=axes))
        assert 0.42 < flips.mean() < 0.58  # Binomial(400, 1/2): 4 standard deviations


def _draw(class_name, config, x, seed=0):
    return create_layer(class_name, config).forward([x], {}, training=True, rng=np.random.default_rng(seed))


def test_random_rotation_angles_cover_the_declared_range():
    x = _images((500, 5, 5, 1))
    _, cache = _draw("RandomRotation", {"factor": [-0.1, 0.2]}, x)
    t = cache[3]
    angles = np.rad2deg(np.arctan2(t[:, 3], t[:, 0]))
    assert angles.min() >= -36.0 and angles.max() < 72.0
    assert angles.min() < -33.0 and angles.max() > 69.0 and abs(angles.mean() - 18.0) < 6.0  # 4 standard errors


def test_random_zoom_factors_cover_the_range_and_keep_the_aspect_ratio_without_width_factor():
    x = _images((500, 5, 5, 1))
    _, cache = _draw("RandomZoom", {"height_factor": 0.3}, x)
    t = cache[3]
    np.testing.assert_array_equal(t[:, 0], t[:, 4])
    assert 0.7 <= t[:, 4].min() < 0.72 and 1.28 < t[:, 4].max() < 1.3
    _, cache = _draw("RandomZoom", {"height_factor": [-0.4, -0.1], "width_factor": [0.1, 0.5]}, x)
    t = cache[3]
    assert 0.6 <= t[:, 4].min() and t[:, 4].max() < 0.9 and 1.1 <= t[:, 0].min() and t[:, 0].max() < 1.5


def test_random_translation_shifts_cover_the_fractions_of_the_size():
    x = _images((500, 4, 10, 1))
    _, cache = _draw("RandomTranslation", {"height_factor": 0.25, "width_factor": [-0.3, 0.1]}, x)
    dx, dy = -cache[3][:, 2], -cache[3][:, 5]
    assert -1.0 <= dy.min() < -0.9 and 0.9 < dy.max() < 1.0
    assert -3.0 <= dx.min() < -2.8 and 0.8 < dx.max() < 1.0


def test_random_contrast_factors_follow_keras_3_ranges_and_clip():
    x = _images((400, 3, 3, 1), low=0.0, high=10.0)
    y, (f, _) = _draw("RandomContrast", {"factor": 0.5}, x)
    assert 1.0 <= f.min() < 1.02 and 1.48 < f.max() < 1.5  # one number f: [1, 1 + f]
    _, (f, _) = _draw("RandomContrast", {"factor": [0.3, 0.6]}, x)
    assert 0.7 <= f.min() < 0.72 and 1.58 < f.max() < 1.6
    y, _ = _draw("RandomContrast", {"factor": 1.0, "value_range": [2.0, 8.0]}, x)
    assert y.min() == 2.0 and y.max() == 8.0


def test_random_brightness_offsets_scale_with_value_range_and_outputs_stay_inside():
    x = _images((400, 2, 2, 3), low=0.0, high=255.0)
    y, (delta, _) = _draw("RandomBrightness", {"factor": 0.2}, x)
    assert -51.0 <= delta.min() < -49.0 and 49.0 < delta.max() < 51.0
    assert y.min() == 0.0 and y.max() == 255.0
    x = _images((400, 2, 2, 3), low=0.4, high=0.6)
    y, (delta, _) = _draw("RandomBrightness", {"factor": [-0.5, 0.1], "value_range": [1.0, 0.0]}, x)
    assert -0.5 <= delta.min() < -0.49 and 0.09 < delta.max() < 0.1
    assert 0.0 <= y.min() and y.max() <= 0.7
    np.testing.assert_allclose(y, np.clip(x + delta, 0.0, 1.0), rtol=1e-6, atol=1e-7)


# ----- the same draw through Keras's own transforms ---------------------------------------------------------
def _keras_layer(class_name, **config):
    return getattr(keras().layers, class_name)(**config)


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_layers_resample_like_keras_for_the_drawn_transform(fill_mode, interpolation):
    k = keras()
    x = _images((4, 6, 7, 2), seed=2)
    common = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 0.7}
    for class_name, config in (("RandomRotation", {"factor": 0.3}),
                               ("RandomZoom", {"height_factor": 0.5, "width_factor": [-0.5, 0.3]}),
                               ("RandomTranslation", {"height_factor": 0.6, "width_factor": 0.6})):
        y, cache = _draw(class_name, {**config, **common}, x, seed=4)
        expected = k.ops.image.affine_transform(x, cache[3].astype(np.float32), **common)
        np.testing.assert_allclose(y, np.asarray(expected), rtol=1e-4, atol=1e-4, err_msg=class_name)


def test_transform_rows_are_keras_own_for_the_same_draw():
    k = keras()
    angles = np.array([-30.0, 12.5, 170.0])
    kr = _keras_layer("RandomRotation", factor=0.5)
    zero, one = np.zeros(3), np.ones(3)
    expected = kr._compute_affine_matrix(0.5, 0.5, k.ops.convert_to_tensor(angles), zero, zero, one, zero, zero, 6, 9)
    np.testing.assert_allclose(num.rotation_transforms(angles, 6, 9), np.asarray(expected), atol=1e-5)
    zy, zx = np.array([0.7, 1.2, 1.0]), np.array([1.3, 0.9, 1.0])
    expected = _keras_layer("RandomZoom", height_factor=0.5)._get_zoom_matrix(np.stack([zx, zy], 1), 6, 9)
    np.testing.assert_allclose(num.zoom_transforms(zy, zx, 6, 9), np.asarray(expected), atol=1e-6)
    dy, dx = np.array([1.5, -2.0, 0.0]), np.array([-0.5, 3.0, 1.0])
    expected = _keras_layer("RandomTranslation", height_factor=0.5, width_factor=0.5)._get_translation_matrix(
        np.stack([dx, dy], 1))
    np.testing.assert_allclose(num.translation_transforms(dy, dx), np.asarray(expected), atol=1e-6)


def test_contrast_brightness_and_flip_equal_keras_for_the_same_draw():
    x = _images((5, 3, 4, 2), seed=3, low=0.0, high=255.0)
    y, (f, _) = _draw("RandomContrast", {"factor": [0.4, 0.8]}, x)
    expected = _keras_layer("RandomContrast", factor=[0.4, 0.8]).transform_images(x, {"contrast_factor": f})
    np.testing.assert_allclose(y, np.asarray(expected), rtol=1e-5, atol=1e-3)
    y, (delta, _) = _draw("RandomBrightness", {"factor": 0.4}, x)
    expected = _keras_layer("RandomBrightness", factor=0.4).transform_images(x, {"rgb_delta": delta})
    np.testing.assert_allclose(y, np.asarray(expected), rtol=1e-5, atol=1e-3)
    for mode in ("horizontal", "vertical", "horizontal_and_vertical"):
        y, flips = _draw("RandomFlip", {"mode": mode}, x)
        expected = _keras_layer("RandomFlip", mode=mode)._flip_inputs(x, {"flips": flips[:, None, None, None]})
        np.testing.assert_array_equal(y, np.asarray(expected))


# ----- what the engine refuses -------------------------------------------------------------------------------
@pytest.mark.parametrize("class_name,config,field", [
    ("RandomRotation", {"factor": 1.5}, "factor"),
    ("RandomRotation", {"factor": [0.1, 0.2, 0.3]}, "factor"),
    ("RandomZoom", {"height_factor": -1.0}, "height_factor"),
    ("RandomZoom", {"height_factor": 1.0}, "height_factor"),  # the range (-1, 1) reaches a zoom to one point
    ("RandomZoom", {"height_factor": 0.2, "width_factor": [0.1, 1.2]}, "width_factor"),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": [-1.5, 0.0]}, "width_factor"),
    ("RandomContrast", {"factor": -0.2}, "factor"),
    ("RandomContrast", {"factor": 0.2, "value_range": [0.0]}, "value_range"),
    ("RandomBrightness", {"factor": [1.5, 2.0]}, "factor"),
    ("RandomFlip", {"mode": "diagonal"}, "mode"),
    ("RandomRotation", {"factor": 0.1, "fill_mode": "mirror"}, "fill_mode"),
    ("RandomZoom", {"height_factor": 0.1, "interpolation": "bicubic"}, "interpolation"),
    ("RandomFlip", {"bounding_box_format": "xyxy"}, "bounding_box_format"),
])
def test_arguments_keras_refuses_or_the_engine_cannot_honour_are_refused(class_name, config, field):
    with pytest.raises(ConfigError) as err:
        create_layer(class_name, config)
    assert err.value.field == field


@pytest.mark.parametrize("class_name,factor", [("RandomRotation", 0.3), ("RandomContrast", 0.4),
                                               ("RandomBrightness", -0.2)])
def test_one_number_becomes_the_range_keras_keeps(class_name, factor):
    ours = create_layer(class_name, {"factor": factor}).get_config()["factor"]
    assert ours == list(_keras_layer(class_name, factor=factor).get_config()["factor"])


def test_images_only_and_crop_needs_known_sizes():
    with pytest.raises(ShapeError, match="4-D image"):
        create_layer("RandomFlip").output_shape([(None, 5, 3)])
    with pytest.raises(ShapeError, match="known input height"):
        create_layer("RandomCrop", {"height": 2, "width": 2}).output_shape([(None, None, 4, 3)])


def test_a_cnn_trains_through_every_augmentation_and_predicts_as_without_them():
    from engine.training import fit, predict
    from tests.engine.graph_helpers import chain

    augment = [("RandomFlip", {}), ("RandomRotation", {"factor": 0.2}), ("RandomZoom", {"height_factor": 0.2}),
               ("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.2}),
               ("RandomContrast", {"factor": 0.3, "value_range": [0, 1]}),
               ("RandomBrightness", {"factor": 0.2, "value_range": [0, 1]}),
               ("RandomCrop", {"height": 6, "width": 6})]  # the image's own size: the identity at inference
    model = [("Conv2D", {"filters": 2, "kernel_size": 3}), ("Flatten", {}),
             ("Dense", {"units": 3, "activation": "softmax"})]
    g, ids = chain(*augment, *model, input_shape=(6, 6, 1))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (40, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, 40)
    runs = [fit(g, x, y, epochs=2, batch_size=8, seed=s) for s in (7, 7, 8)]
    assert runs[0].history == runs[1].history != runs[2].history  # the draws come from the run's seed
    plain, plain_ids = chain(*model, input_shape=(6, 6, 1))
    weights = {p: runs[0].params.values[i] for p, i in zip(plain_ids[1:], ids[-3:]) if i in runs[0].params.values}
    np.testing.assert_array_equal(predict(g, x, params=runs[0].params),
                                  predict(plain, x, params=weights))
