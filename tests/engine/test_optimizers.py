"""Optimizers vs Keras 3: the same weights and gradients for several steps, compared after every step."""
import numpy as np
import pytest

from engine.errors import TrainingError
from engine.optimizers import OPTIMIZERS, SGD, Adagrad, Adam, AdamW, RMSprop, get_optimizer
from tests.oracle import keras

CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.01}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.8, "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("RMSprop", {"rho": 0.8, "centered": True}),
    ("Adagrad", {}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5}),
]


@pytest.mark.parametrize("cls_name,config", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_updates_match_keras_for_several_steps(cls_name, config):
    k = keras()
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,)]
    ours = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    theirs = [k.Variable(w.copy()) for w in ours]
    opt = get_optimizer(cls_name, **config)
    kopt = getattr(k.optimizers, cls_name)(**config)
    for _ in range(6):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        opt.apply(((i, w, g) for i, (w, g) in enumerate(zip(ours, grads))))
        kopt.apply_gradients(list(zip([k.ops.convert_to_tensor(g) for g in grads], theirs)))
        for w, v in zip(ours, theirs):
            assert w.dtype == np.float32
            np.testing.assert_allclose(w, np.asarray(v), rtol=1e-5, atol=1e-6)
    assert opt.iterations == 6


def test_keras_defaults():
    assert SGD().learning_rate == 0.01 and SGD().momentum == 0.0 and not SGD().nesterov
    a = Adam()
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)
    assert AdamW().weight_decay == 0.004
    r = RMSprop()
    assert (r.learning_rate, r.rho, r.momentum, r.epsilon, r.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    ag = Adagrad()
    assert (ag.learning_rate, ag.initial_accumulator_value, ag.epsilon) == (0.001, 0.1, 1e-7)


def test_lookup_by_name_and_slot_counts():
    assert set(OPTIMIZERS) == {"sgd", "adam", "adamw", "rmsprop", "adagrad"}
    assert isinstance(get_optimizer("Adam", learning_rate=0.1), Adam)
    assert get_optimizer("adam", learning_rate=0.1).learning_rate == 0.1
    assert get_optimizer({"name": "sgd", "momentum": 0.9}).momentum == 0.9
    assert SGD().slots_per_weight == 0 and SGD(momentum=0.9).slots_per_weight == 1
    assert Adam().slots_per_weight == 2 and Adam(amsgrad=True).slots_per_weight == 3
    with pytest.raises(TrainingError, match="Unknown optimizer 'adamax'"):
        get_optimizer("adamax")
    with pytest.raises(TrainingError, match="learning_rate must be a positive number"):
        get_optimizer("sgd", learning_rate=-1.0)
    with pytest.raises(TrainingError, match="SGD"):
        get_optimizer("sgd", betas=0.3)


def test_float64_weights_keep_their_dtype():
    w = np.ones(3)
    Adam().apply([("w", w, np.ones(3))])
    assert w.dtype == np.float64 and np.all(w < 1)
