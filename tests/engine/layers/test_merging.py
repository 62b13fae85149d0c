import numpy as np
import pytest

from engine.errors import ShapeError
from engine.layers import LAYERS, create_layer
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras, keras_config,
                          keras_output_shape, keras_param_count)

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
SHAPE_CASES = [
    [(None, 8), (None, 8)],
    [(None, 4, 3), (None, 1, 3)],          # broadcast along axis 1
    [(None, 4, 3), (None, 3)],             # lower rank: Keras inserts the axis after the batch
    [(None, 2, 1, 5), (None, 2, 3, 1)],
    [(None, 3), (None, 3), (None, 3)],
    [(None, 4, 1), (None, 1), (None, 4, 5)],
]


def keras_symbolic_shape(layer, shapes):
    """Call the Keras layer on symbolic tensors, which runs its build-time checks too."""
    k = keras()
    kl = getattr(k.layers, layer.class_name).from_config(keras_config(layer))
    return tuple(kl([k.KerasTensor(s) for s in shapes]).shape)


def cases(names):
    return [(n, s) for n in names for s in SHAPE_CASES if not (n == "Subtract" and len(s) != 2)]


@pytest.mark.parametrize("class_name,shapes", cases(ELEMENTWISE))
def test_elementwise_merge_shapes_params_and_forward_match_keras(class_name, shapes):
    layer = create_layer(class_name, {})
    kshape, _ = keras_output_shape(layer, shapes)
    assert layer.output_shape(shapes) == kshape
    assert layer.param_count(shapes) == keras_param_count(layer, shapes) == 0
    assert_forward_matches_keras(class_name, {}, shapes)


@pytest.mark.parametrize("class_name,shapes", cases(ELEMENTWISE))
def test_elementwise_merge_gradients(class_name, shapes):
    assert_gradients_match_fd(class_name, {}, shapes, batch=2)


@pytest.mark.parametrize("class_name", ELEMENTWISE)
@pytest.mark.parametrize("shapes", [[(None, None, 3), (None, 5, 3)], [(None, None), (None, 1)]])
def test_unknown_dimensions_follow_keras(class_name, shapes):
    layer = create_layer(class_name, {})
    assert layer.output_shape(shapes) == keras_output_shape(layer, shapes)[0]


@pytest.mark.parametrize("class_name", ELEMENTWISE)
@pytest.mark.parametrize("shapes", [[(None, 8), (None, 16)], [(None, 4, 3), (None, 5, 3)], [(None, 3, 2), (None, 4)]])
def test_incompatible_shapes_are_rejected_like_keras(class_name, shapes):
    layer = create_layer(class_name, {})
    with pytest.raises(ValueError):
        keras_output_shape(layer, shapes)
    with pytest.raises(ShapeError, match=f"{class_name} '{layer.name}' cannot merge"):
        layer.output_shape(shapes)


def test_merge_error_messages_name_the_inputs_and_the_fix():
    with pytest.raises(ShapeError) as e:
        create_layer("Add", {}).output_shape([(None, 8), (None, 16)])
    assert str(e.value) == ("Add 'add' cannot merge (None, 8) with (None, 16): the last dimensions differ; "
                            "make both branches end with 16 units or use Concatenate.")
    with pytest.raises(ShapeError, match=r"input 0 \(None, 4, 3\) with input 2 \(None, 5, 3\): dimension -2 "
                                         r"differs \(4 vs 5\)"):
        create_layer("Multiply", {}).output_shape([(None, 4, 3), (None, 1, 3), (None, 5, 3)])


def test_merge_arity():
    for name in ELEMENTWISE + ["Concatenate"]:
        cls = LAYERS[name]
        assert cls.min_inputs == 2
        assert cls.max_inputs == (2 if name == "Subtract" else None)
        with pytest.raises(ShapeError, match="at least 2|exactly 2"):
            create_layer(name, {}).output_shape([(None, 3)])
    with pytest.raises(ShapeError, match="exactly 2"):
        create_layer("Subtract", {}).output_shape([(None, 3)] * 3)
    with pytest.raises(ValueError):
        keras_symbolic_shape(create_layer("Subtract", {}), [(None, 3)] * 3)


def test_maximum_gradient_goes_to_the_winner_only():
    layer = create_layer("Maximum", {})
    a = np.array([[1.0, 5.0, 2.0]])
    b = np.array([[3.0, 4.0, 2.0]])
    y, cache = layer.forward([a, b], {})
    (ga, gb), _ = layer.backward(np.ones_like(y), cache, {})
    np.testing.assert_array_equal(ga + gb, 1.0)  # ties: the whole gradient goes to one input
    np.testing.assert_array_equal(ga, [[0, 1, 1]])


def test_add_of_a_tensor_with_itself_and_dtype_is_kept():
    layer = create_layer("Add", {})
    x = np.ones((2, 3), np.float32)
    y, cache = layer.forward([x, x], {})
    assert y.dtype == np.float32
    gs, _ = layer.backward(np.ones_like(y), cache, {})
    assert [g.shape for g in gs] == [(2, 3), (2, 3)]


CONCAT_CASES = [
    ({}, [(None, 3), (None, 5)]),
    ({"axis": -1}, [(None, 4, 2), (None, 4, 3), (None, 4, 1)]),
    ({"axis": 1}, [(None, 2, 3), (None, 4, 3)]),
    ({"axis": 2}, [(None, 2, 3, 4), (None, 2, 5, 4)]),
    ({"axis": -2}, [(None, 2, 3, 4), (None, 2, 1, 4)]),
]


@pytest.mark.parametrize("config,shapes", CONCAT_CASES)
def test_concatenate_matches_keras(config, shapes):
    layer = create_layer("Concatenate", config)
    assert layer.output_shape(shapes) == keras_symbolic_shape(layer, shapes)
    assert layer.param_count(shapes) == keras_param_count(layer, shapes) == 0
    assert_forward_matches_keras("Concatenate", config, shapes)
    assert_gradients_match_fd("Concatenate", config, shapes)


@pytest.mark.parametrize("config,shapes", [
    ({}, [(None, 4, 3), (None, 5, 3)]),
    ({"axis": 1}, [(None, 2, 3), (None, 4, 5)]),
    ({}, [(None, 4, 3), (None, 3)]),
])
def test_concatenate_mismatch_is_rejected_like_keras(config, shapes):
    layer = create_layer("Concatenate", config)
    with pytest.raises(ValueError):
        keras_symbolic_shape(layer, shapes)
    with pytest.raises(ShapeError, match="Concatenate 'concatenate'"):
        layer.output_shape(shapes)


def test_concatenate_messages_unknown_sizes_and_bad_axes():
    layer = create_layer("Concatenate", {})
    with pytest.raises(ShapeError, match=r"dimension 1 differs \(4 vs 5\).*join along axis 1"):
        layer.output_shape([(None, 4, 3), (None, 5, 3)])
    assert layer.output_shape([(None, 4, None), (None, 4, 3)]) == (None, 4, None)
    with pytest.raises(ShapeError, match="axis 3, which does not exist"):
        create_layer("Concatenate", {"axis": 3}).output_shape([(None, 4, 3)] * 2)
    with pytest.raises(ShapeError, match="batch axis"):
        create_layer("Concatenate", {"axis": 0}).output_shape([(None, 4)] * 2)
    assert layer.summary_args() == "axis -1"


DOT_CASES = [
    ({"axes": -1}, [(None, 5), (None, 5)]),
    ({"axes": 1, "normalize": True}, [(None, 4), (None, 4)]),
    ({"axes": 2}, [(None, 3, 5), (None, 4, 5)]),
    ({"axes": [1, 2]}, [(None, 3, 4), (None, 2, 3)]),
    ({"axes": [2, 1], "normalize": True}, [(None, 3, 4), (None, 4, 2)]),
    ({"axes": [1, 1]}, [(None, 3, 2, 2), (None, 3)]),
    ({"axes": -1, "normalize": True}, [(None, 2, 3), (None, 4, 3)]),
]


@pytest.mark.parametrize("config,shapes", DOT_CASES)
def test_dot_matches_keras_and_finite_differences(config, shapes):
    layer = create_layer("Dot", config)
    assert layer.output_shape(shapes) == keras_symbolic_shape(layer, shapes)
    assert layer.param_count(shapes) == keras_param_count(layer, shapes) == 0
    assert_forward_matches_keras("Dot", config, shapes)
    assert_gradients_match_fd("Dot", config, shapes)


@pytest.mark.parametrize("config,shapes,match", [
    ({"axes": 1}, [(None, 3), (None, 4)], "same size"),
    ({"axes": [2, 1]}, [(None, 3, 4), (None, 5, 2)], "same size"),
    ({"axes": 0}, [(None, 3), (None, 3)], "batch axis"),
    ({"axes": 3}, [(None, 3), (None, 3)], "not an axis"),
])
def test_dot_shape_errors(config, shapes, match):
    layer = create_layer("Dot", config)
    with pytest.raises(ShapeError, match=f"Dot 'dot' .*{match}"):
        layer.output_shape(shapes)
    with pytest.raises(ShapeError, match="exactly 2"):
        layer.output_shape(shapes + shapes[:1])
    assert create_layer("Dot", {"axes": [1, 2], "normalize": True}).summary_args() == "axes (1, 2), normalized"
