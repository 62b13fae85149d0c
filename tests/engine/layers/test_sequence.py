"""TimeDistributed and RNN with cells against Keras 3 (shapes, params, weights, forward) and finite differences."""
import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from tests.oracle import (assert_case_matches_keras, assert_forward_matches_keras, assert_gradients_match_fd,
                          keras_layer, random_inputs)


def td(class_name, **config):
    return {"layer": {"class_name": class_name, "config": config}}


def cell(class_name, **config):
    return {"class_name": class_name, "config": config}


def stacked(*cells):
    return cell("StackedRNNCells", cells=list(cells))


TD_CASES = [
    ("TimeDistributed", td("Dense", units=3, activation="relu"), [(None, 3, 4)]),
    ("TimeDistributed", td("Conv2D", filters=2, kernel_size=3, padding="same", activation="tanh"),
     [(None, 3, 5, 5, 2)]),
    ("TimeDistributed", td("MaxPooling2D", pool_size=2), [(None, 3, 4, 4, 2)]),
    ("TimeDistributed", td("Flatten"), [(None, 3, 2, 2, 2)]),
    ("TimeDistributed", td("Dense", units=2, use_bias=False), [(None, 2, 3, 4)]),
    ("TimeDistributed", td("LSTM", units=2), [(None, 3, 4, 2)]),
    ("TimeDistributed", {"layer": {"class_name": "TimeDistributed", "config": td("Dense", units=2)}},
     [(None, 2, 3, 4)]),
]
RNN_CELL_CASES = [
    ("RNN", {"cell": cell("LSTMCell", units=3)}, [(None, 4, 2)]),
    ("RNN", {"cell": cell("GRUCell", units=3, reset_after=False), "return_sequences": True, "go_backwards": True},
     [(None, 4, 2)]),
    ("RNN", {"cell": cell("SimpleRNNCell", units=2, activation="relu"), "return_sequences": True,
             "unroll": True}, [(None, 4, 2)]),
]
STACKED_CASES = [
    ("RNN", {"cell": stacked(cell("GRUCell", units=2), cell("SimpleRNNCell", units=3, use_bias=False)),
             "return_sequences": True, "go_backwards": True}, [(None, 4, 2)]),
    ("RNN", {"cell": stacked(cell("LSTMCell", units=2), cell("LSTMCell", units=2))}, [(None, 3, 2)]),
]
IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(TD_CASES + RNN_CELL_CASES)]


@pytest.mark.parametrize("class_name,config,shapes", TD_CASES + RNN_CELL_CASES, ids=IDS)
def test_matches_keras(class_name, config, shapes):
    assert_case_matches_keras(class_name, config, shapes)


@pytest.mark.parametrize("class_name,config,shapes", TD_CASES + RNN_CELL_CASES + STACKED_CASES)
def test_gradients(class_name, config, shapes):
    assert_gradients_match_fd(class_name, config, shapes, n_checks=12)


@pytest.mark.parametrize("class_name,config,shapes", STACKED_CASES)
def test_stacked_cells_match_keras(class_name, config, shapes):
    """Keras names every cell's weights alike (kernel, kernel...); ours carry the cell's position."""
    layer = create_layer(class_name, config)
    kl = keras_layer(layer, shapes)
    specs = layer.weight_specs(shapes)
    assert [s.shape for s in specs] == [tuple(w.shape) for w in kl.weights]
    assert [s.name.split("_", 2)[2] for s in specs] == [w.name for w in kl.weights]
    assert layer.param_count(shapes) == kl.count_params()
    assert_forward_matches_keras(class_name, config, shapes)


def test_rnn_of_a_cell_computes_exactly_its_layer():
    rnn = create_layer("RNN", {"cell": cell("LSTMCell", units=3), "return_sequences": True})
    lstm = create_layer("LSTM", {"units": 3, "return_sequences": True})
    rng = np.random.default_rng(0)
    w = lstm.init_weights([(None, 4, 2)], rng)
    assert [s.name for s in rnn.weight_specs([(None, 4, 2)])] == list(w)
    x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(rnn.forward([x], w)[0], lstm.forward([x], w)[0])
    fresh = rnn.init_weights([(None, 4, 2)], np.random.default_rng(1))
    np.testing.assert_array_equal(fresh["bias"][3:6], 1.0)       # the LSTM cell's unit_forget_bias


def test_dropout_inside_time_distributed_and_cells_trains_with_masks():
    assert_gradients_match_fd("TimeDistributed", td("Dropout", rate=0.5), [(None, 3, 4)], training=True)
    cfg = {"cell": stacked(cell("GRUCell", units=2, dropout=0.3, recurrent_dropout=0.3), cell("LSTMCell", units=2)),
           "return_sequences": True}
    assert_gradients_match_fd("RNN", cfg, [(None, 3, 2)], training=True, n_checks=10)
    layer = create_layer("RNN", cfg)
    w = layer.init_weights([(None, 3, 2)], np.random.default_rng(0))
    x = np.ones((4, 3, 2), np.float32)
    a = layer.forward([x], w, training=True, rng=np.random.default_rng(1))[0]
    assert not np.allclose(a, layer.forward([x], w)[0])         # masks act in training only
    assert_forward_matches_keras("RNN", cfg, [(None, 3, 2)])


def test_refusals_are_one_line_naming_the_layer():
    with pytest.raises(ConfigError, match=r"TimeDistributed 'time_distributed': Add cannot be applied per time "
                                          r"step: it does not take exactly one input"):
        create_layer("TimeDistributed", td("Add"))
    with pytest.raises(ConfigError, match="BatchNormalization cannot be applied per time step: its moving"):
        create_layer("TimeDistributed", td("BatchNormalization"))
    with pytest.raises(ConfigError, match="Embedding cannot be applied per time step: it reads integer ids"):
        create_layer("TimeDistributed", td("Embedding", input_dim=3, output_dim=2))
    with pytest.raises(ConfigError, match=r"in 'layer'.*units"):
        create_layer("TimeDistributed", td("Dense", units=0))
    with pytest.raises(ShapeError, match=r"TimeDistributed 'time_distributed' expects an input with a time axis"):
        create_layer("TimeDistributed", td("Dense", units=2)).output_shape([(None, 4)])
    with pytest.raises(ShapeError, match=r"TimeDistributed 't' \(wrapping Conv2D\)"):
        create_layer("TimeDistributed", {**td("Conv2D", filters=2, kernel_size=3), "name": "t"}).output_shape(
            [(None, 3, 4, 2)])
    with pytest.raises(ConfigError, match=r"RNN 'rnn': 'return_state' = true is not supported"):
        create_layer("RNN", {"cell": cell("LSTMCell", units=2), "return_state": True})
    with pytest.raises(ConfigError, match=r"'stateful' = true is not supported"):
        create_layer("RNN", {"cell": cell("LSTMCell", units=2), "stateful": True})
    with pytest.raises(ConfigError, match=r"'cell' must be one of SimpleRNNCell, LSTMCell, GRUCell"):
        create_layer("RNN", {"cell": cell("LSTM", units=2)})
    with pytest.raises(ConfigError, match=r"LSTMCell has no argument 'return_sequences'"):
        create_layer("RNN", {"cell": cell("LSTMCell", units=2, return_sequences=True)})
    with pytest.raises(ConfigError, match=r"RNN 'rnn': in 'cell': .*units"):
        create_layer("RNN", {"cell": stacked(cell("LSTMCell", units=2), cell("GRUCell", units=0))})


STATE_CASES = [   # SimpleRNN and GRU(reset_after=False) with states: the sequence_wrappers round-trip model
    ("LSTM", {"units": 3, "return_sequences": True}, 2),
    ("GRU", {"units": 3, "go_backwards": True}, 1),
    ("RNN", {"cell": cell("LSTMCell", units=2), "return_sequences": True, "go_backwards": True}, 2),
]


@pytest.mark.parametrize("class_name,config,n_states", STATE_CASES)
def test_initial_state_inputs_match_keras_and_finite_differences(class_name, config, n_states):
    """Inputs after the sequence are Keras's initial_state (h, or h and c): forward equal to Keras's
    ``layer(x, initial_state=...)``, gradients of the states by finite differences."""
    layer = create_layer(class_name, config)
    units = layer.output_shape([(None, 4, 2)])[-1]
    shapes = [(None, 4, 2)] + [(None, units)] * n_states
    rng = np.random.default_rng(0)
    w = {k: v + rng.uniform(-0.3, 0.3, v.shape).astype(v.dtype) for k, v in layer.init_weights(shapes, rng).items()}
    x, *states = random_inputs(shapes, rng, batch=2)
    ours, _ = layer.forward([x, *states], w)
    theirs = keras_layer(layer, shapes[:1], w)(x, initial_state=states if n_states > 1 else states[0])
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-5)
    assert not np.allclose(ours, layer.forward([x], w)[0])          # the states are used
    assert_gradients_match_fd(class_name, config, shapes, n_checks=8)


def test_initial_state_shapes_are_checked_in_one_line():
    lstm = create_layer("LSTM", {"units": 3})
    with pytest.raises(ShapeError, match=r"LSTM 'lstm' takes its initial state as 2 inputs \(h and c\) after the "
                                         r"sequence but gets 1"):
        lstm.output_shape([(None, 4, 2), (None, 3)])
    with pytest.raises(ShapeError, match=r"needs initial states of shape \(batch, 3\) but gets \(None, 4\)"):
        lstm.output_shape([(None, 4, 2), (None, 3), (None, 4)])
    with pytest.raises(ShapeError, match=r"RNN 'rnn' takes no initial state with stacked cells"):
        create_layer("RNN", {"cell": stacked(cell("GRUCell", units=2), cell("GRUCell", units=2))}).output_shape(
            [(None, 4, 2), (None, 2)])


# (class_name, config, input_shapes) lines for the registry contract (tests/engine/layers/test_layer_contract.py).
CASES = STACKED_CASES + TD_CASES + RNN_CELL_CASES   # the first line of each layer is its export case
