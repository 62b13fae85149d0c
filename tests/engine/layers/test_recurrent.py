"""SimpleRNN, LSTM, GRU and Bidirectional against Keras 3 (shapes, params, weights, forward) and finite differences."""
import json

import numpy as np
import pytest

from engine.errors import ConfigError, ShapeError
from engine.layers import create_layer
from engine.numerics.recurrent import rnn_dropout_masks
from tests.engine.layers import recurrent_naive as naive
from tests.oracle import (assert_forward_matches_keras, assert_gradients_match_fd, keras, keras_layer,
                          keras_output_shape, keras_param_count)

SEQ = [(None, 5, 4)]
TINY = [(None, 3, 2)]

RNN_CASES = [
    ("SimpleRNN", {"units": 3}),
    ("SimpleRNN", {"units": 3, "return_sequences": True, "activation": "relu"}),
    ("SimpleRNN", {"units": 2, "go_backwards": True, "use_bias": False, "return_sequences": True}),
    ("LSTM", {"units": 3}),
    ("LSTM", {"units": 3, "return_sequences": True, "go_backwards": True}),
    ("LSTM", {"units": 2, "use_bias": False, "activation": "relu"}),
    ("LSTM", {"units": 3, "unit_forget_bias": False, "recurrent_activation": "hard_sigmoid",
              "return_sequences": True}),
    ("GRU", {"units": 3}),
    ("GRU", {"units": 3, "return_sequences": True, "go_backwards": True}),
    ("GRU", {"units": 2, "use_bias": False, "activation": "relu"}),
    ("GRU", {"units": 3, "reset_after": False, "return_sequences": True}),
    ("GRU", {"units": 2, "reset_after": False, "use_bias": False, "go_backwards": True}),
    ("LSTM", {"units": 3, "recurrent_activation": "softmax", "return_sequences": True}),  # per gate, as Keras
    ("GRU", {"units": 3, "recurrent_activation": "softmax", "reset_after": False}),
    ("GRU", {"units": 2, "recurrent_activation": "softmax", "go_backwards": True}),
]
IDS = [f"{c}-{'-'.join(f'{k}={v}' for k, v in cfg.items())}" for c, cfg in RNN_CASES]


@pytest.mark.parametrize("class_name,config", RNN_CASES, ids=IDS)
def test_rnn_shape_params_weights_and_forward_match_keras(class_name, config):
    layer = create_layer(class_name, config)
    for shapes in (SEQ, [(None, None, 4)]):
        kshape, _ = keras_output_shape(layer, shapes)
        assert layer.output_shape(shapes) == kshape
    assert layer.param_count(SEQ) == keras_param_count(layer, SEQ)
    kw = keras_layer(layer, SEQ).get_weights()
    assert [s.shape for s in layer.weight_specs(SEQ)] == [tuple(w.shape) for w in kw]
    assert_forward_matches_keras(class_name, config, SEQ)


@pytest.mark.parametrize("class_name,config", RNN_CASES, ids=IDS)
def test_rnn_gradients(class_name, config):
    cfg = dict(config, units=min(config["units"], 3))
    assert_gradients_match_fd(class_name, cfg, TINY)


@pytest.mark.parametrize("class_name", ["SimpleRNN", "LSTM", "GRU"])
def test_input_dropout_gradients_and_time_shared_mask(class_name):
    cfg = {"units": 2, "dropout": 0.5, "return_sequences": True}
    assert_gradients_match_fd(class_name, cfg, [(None, 4, 3)], training=True, batch=3)
    layer = create_layer(class_name, cfg)
    rng = np.random.default_rng(3)
    w = layer.init_weights([(None, 4, 3)], rng, dtype=np.float64)
    x = rng.standard_normal((8, 4, 3))
    out, cache = layer.forward([x], w, training=True, rng=np.random.default_rng(5))
    (dx,), _ = layer.backward(np.ones_like(out), cache, w)
    dropped = np.all(dx == 0, axis=1)            # (batch, features) dropped at every step
    assert dropped.any() and not dropped.all()
    assert np.all((dx == 0).any(axis=1) == dropped)  # never dropped at only some steps
    # inference ignores dropout, exactly like Keras
    assert_forward_matches_keras(class_name, cfg, [(None, 4, 3)])


DROPOUT_CASES = [
    ("SimpleRNN", {"recurrent_dropout": 0.4}),
    ("SimpleRNN", {"dropout": 0.3, "recurrent_dropout": 0.4}),
    ("LSTM", {"recurrent_dropout": 0.4}),
    ("LSTM", {"dropout": 0.3, "recurrent_dropout": 0.4, "go_backwards": True}),
    ("GRU", {"dropout": 0.3, "recurrent_dropout": 0.4}),
    ("GRU", {"dropout": 0.3, "recurrent_dropout": 0.4, "reset_after": False}),
]


@pytest.mark.parametrize("class_name,extra", DROPOUT_CASES)
def test_recurrent_dropout_gradients(class_name, extra):
    assert_gradients_match_fd(class_name, {"units": 3, "return_sequences": True, **extra}, [(None, 4, 3)],
                              training=True, batch=3)


@pytest.mark.parametrize("class_name,extra", DROPOUT_CASES)
def test_training_forward_with_masks_follows_keras_per_gate_cell(class_name, extra):
    """With recurrent dropout Keras uses one input and one recurrent mask per gate, fixed over time."""
    cfg = {"units": 3, "return_sequences": True, **extra, "go_backwards": False}
    layer = create_layer(class_name, cfg)
    rng = np.random.default_rng(0)
    w = {k: v + rng.uniform(-0.3, 0.3, v.shape) for k, v in layer.init_weights(SEQ, rng, np.float64).items()}
    x = rng.standard_normal((6, 5, 4))
    out, _ = layer.forward([x], w, training=True, rng=np.random.default_rng(9))
    in_m, rec_m = rnn_dropout_masks(layer.gates, x, 3, cfg.get("dropout", 0.0), cfg["recurrent_dropout"],
                                    np.random.default_rng(9))
    assert rec_m.shape == (layer.gates, 6, 3) and (in_m is None or in_m.shape == (layer.gates, 6, 4))
    assert 0 < (rec_m == 0).mean() < 1
    args = (x, w["kernel"], w["recurrent_kernel"], w.get("bias"), cfg.get("activation", "tanh"))
    if class_name == "SimpleRNN":
        ref = naive.simple_rnn_naive(*args, in_masks=in_m, rec_masks=rec_m)
    elif class_name == "LSTM":
        ref = naive.lstm_naive(*args, "sigmoid", in_masks=in_m, rec_masks=rec_m)
    else:
        ref = naive.gru_naive(*args, "sigmoid", cfg.get("reset_after", True), in_masks=in_m, rec_masks=rec_m)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert_forward_matches_keras(class_name, cfg, SEQ)   # inference ignores both dropouts


def test_float_dtype_is_kept():
    layer = create_layer("LSTM", {"units": 3, "return_sequences": True})
    for dt in (np.float32, np.float64):
        w = layer.init_weights(SEQ, np.random.default_rng(0), dtype=dt)
        out, cache = layer.forward([np.ones((2, 5, 4), dt)], w)
        (dx,), gw = layer.backward(np.ones_like(out), cache, w)
        assert out.dtype == dt and dx.dtype == dt and all(g.dtype == dt for g in gw.values())


# ----- initializers (statistical: RNG streams differ from Keras) -----------------------------------------
@pytest.mark.parametrize("class_name,gates", [("SimpleRNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_default_initializers(class_name, gates):
    u, f = 16, 10
    layer = create_layer(class_name, {"units": u})
    w = layer.init_weights([(None, 7, f)], np.random.default_rng(0))
    rec = w["recurrent_kernel"].astype(np.float64)
    assert rec.shape == (u, gates * u)
    np.testing.assert_allclose(rec @ rec.T, np.eye(u), atol=1e-5)   # orthogonal rows (wide matrix)
    limit = np.sqrt(6 / (f + gates * u))
    assert np.abs(w["kernel"]).max() <= limit and np.abs(w["kernel"]).max() > 0.8 * limit
    expected = np.zeros(layer.bias_shape())
    if class_name == "LSTM":
        expected[u:2 * u] = 1.0                     # unit_forget_bias
    np.testing.assert_array_equal(w["bias"], expected)


def test_orthogonal_recurrent_kernel_when_tall_and_forget_bias_switch():
    layer = create_layer("SimpleRNN", {"units": 6})
    rec = layer.init_weights(SEQ, np.random.default_rng(1), dtype=np.float64)["recurrent_kernel"]
    np.testing.assert_allclose(rec.T @ rec, np.eye(6), atol=1e-10)
    w = create_layer("LSTM", {"units": 4, "unit_forget_bias": False}).init_weights(SEQ, np.random.default_rng(0))
    np.testing.assert_array_equal(w["bias"], 0)
    w = create_layer("LSTM", {"units": 4, "bias_initializer": "ones"}).init_weights(SEQ, np.random.default_rng(0))
    np.testing.assert_array_equal(w["bias"], 1)
    a = create_layer("LSTM", {"units": 4}).init_weights(SEQ, np.random.default_rng(7))
    b = create_layer("LSTM", {"units": 4}).init_weights(SEQ, np.random.default_rng(7))
    assert all(np.array_equal(a[k], b[k]) for k in a)          # seeded determinism


# ----- Bidirectional (Keras needs a layer instance, so the generic oracle does not apply) -----------------
def keras_bidirectional(layer, input_shape, weights=None):
    k = keras()
    inner = layer.config["layer"]
    kl = k.layers.Bidirectional(getattr(k.layers, inner["class_name"]).from_config(inner["config"]),
                                merge_mode=layer.config["merge_mode"])
    kl.build(tuple(input_shape))
    if weights is not None:
        kl.set_weights([weights[s.name] for s in layer.weight_specs([input_shape])])
    return kl


BI_CASES = [(inner, mode, rs) for inner in ("LSTM", "GRU", "SimpleRNN") for mode in ("concat", "sum", "mul", "ave")
            for rs in (True, False) if (mode in ("concat", "mul")) or rs]


def _bi_config(inner, mode, rs, units=3):
    return {"layer": {"class_name": inner, "config": {"units": units, "return_sequences": rs}}, "merge_mode": mode}


@pytest.mark.parametrize("inner,mode,rs", BI_CASES)
def test_bidirectional_matches_keras(inner, mode, rs):
    layer = create_layer("Bidirectional", _bi_config(inner, mode, rs))
    shape = SEQ[0]
    rng = np.random.default_rng(0)
    w = {k: v + rng.uniform(-0.5, 0.5, v.shape).astype(v.dtype) for k, v in layer.init_weights(SEQ, rng).items()}
    kl = keras_bidirectional(layer, shape, w)
    specs = layer.weight_specs(SEQ)
    assert [s.shape for s in specs] == [tuple(a.shape) for a in kl.get_weights()]
    assert len({s.name for s in specs}) == len(specs)
    assert layer.param_count(SEQ) == kl.count_params()
    assert layer.output_shape(SEQ) == tuple(kl.compute_output_shape(shape))
    x = rng.standard_normal((3, *shape[1:])).astype(np.float32)
    ours, _ = layer.forward([x], w)
    np.testing.assert_allclose(ours, np.asarray(kl(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("inner,mode,rs", BI_CASES)
def test_bidirectional_gradients(inner, mode, rs):
    assert_gradients_match_fd("Bidirectional", _bi_config(inner, mode, rs, units=2), TINY)


def test_bidirectional_weights_order_initializers_and_explicit_backward_layer():
    layer = create_layer("Bidirectional", _bi_config("LSTM", "concat", False, units=4))
    names = [s.name for s in layer.weight_specs(SEQ)]
    assert names == ["forward_kernel", "forward_recurrent_kernel", "forward_bias",
                     "backward_kernel", "backward_recurrent_kernel", "backward_bias"]
    w = layer.init_weights(SEQ, np.random.default_rng(0))
    for prefix in ("forward", "backward"):
        np.testing.assert_array_equal(w[f"{prefix}_bias"][4:8], 1.0)
    assert not np.array_equal(w["forward_kernel"], w["backward_kernel"])
    cfg = _bi_config("GRU", "sum", True)
    cfg["backward_layer"] = {"class_name": "GRU", "config": {"units": 3, "return_sequences": True,
                                                             "go_backwards": True, "activation": "relu"}}
    bi = create_layer("Bidirectional", cfg)
    assert bi.backward_layer.config["activation"] == "relu" and bi.forward_layer.config["activation"] == "tanh"
    assert_gradients_match_fd("Bidirectional", cfg, TINY)
    assert bi.default_name_base is None and bi.base_name() == "bidirectional"


def test_get_config_round_trips_through_json():
    for class_name, config in RNN_CASES[:1] + RNN_CASES[3:4] + RNN_CASES[7:8]:
        layer = create_layer(class_name, config)
        again = create_layer(class_name, json.loads(json.dumps(layer.get_config())))
        assert again.get_config() == layer.get_config()
    bi = create_layer("Bidirectional", _bi_config("LSTM", "ave", True))
    again = create_layer("Bidirectional", json.loads(json.dumps(bi.get_config())))
    assert again.get_config() == bi.get_config()


# ----- errors a person can act on -------------------------------------------------------------------------
def test_non_sequence_input_is_rejected_with_the_fix():
    with pytest.raises(ShapeError, match=r"LSTM 'lstm' expects a 3-D sequence input .* \(None, 64\); "
                                         r"add a Reshape or RepeatVector"):
        create_layer("LSTM", {"units": 4}).output_shape([(None, 64)])
    with pytest.raises(ShapeError, match=r"Bidirectional 'bidirectional' expects a 3-D sequence input"):
        create_layer("Bidirectional", _bi_config("GRU", "concat", False)).output_shape([(None, 8, 8, 3)])
    with pytest.raises(ShapeError, match="known number of features"):
        create_layer("GRU", {"units": 4}).output_shape([(None, 5, None)])


def test_bad_configs_are_rejected_naming_the_argument():
    with pytest.raises(ConfigError, match="'recurrent_dropout' must be below 1"):
        create_layer("LSTM", {"units": 4, "recurrent_dropout": 1.0})
    with pytest.raises(ConfigError, match="return_state"):
        create_layer("GRU", {"units": 4, "return_state": True})
    with pytest.raises(ConfigError, match="dropout"):
        create_layer("SimpleRNN", {"units": 4, "dropout": 1.5})
    with pytest.raises(ConfigError, match="must be an LSTM, GRU or SimpleRNN layer, got 'Dense'"):
        create_layer("Bidirectional", {"layer": {"class_name": "Dense", "config": {"units": 3}}})
    with pytest.raises(ConfigError, match="go_backwards=false"):
        create_layer("Bidirectional", {"layer": {"class_name": "LSTM", "config": {"units": 3, "go_backwards": True}}})
    with pytest.raises(ConfigError, match=r"in 'layer'.*units"):
        create_layer("Bidirectional", {"layer": {"class_name": "LSTM", "config": {"units": 0}}})
    with pytest.raises(ConfigError, match="merge_mode"):
        create_layer("Bidirectional", {**_bi_config("LSTM", "concat", False), "merge_mode": "max"})
    with pytest.raises(ConfigError, match=r"merge_mode=None .* is not supported.*use 'concat'"):
        create_layer("Bidirectional", {**_bi_config("LSTM", "concat", False), "merge_mode": None})


# (class_name, config, input_shapes) lines for the registry contract (tests/engine/layers/test_layer_contract.py).
CASES = [(c, cfg, SEQ) for c, cfg in RNN_CASES] + [("Bidirectional", _bi_config(*case), SEQ) for case in BI_CASES]
