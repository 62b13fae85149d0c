"""The Proof's Keras check: Keras 3 runs the guide's layer on the same weights in a child process."""
import numpy as np
import pytest

import engine.guide.keras_proof as keras_proof
from engine.cli import main
from engine.guide import guide_inputs, parse_shape, run_proof
from engine.guide.keras_proof import KerasCase, KerasResult, run_keras
from engine.layers import create_layer

#: A handful of layers, one Keras process for all (the whole registry: tools/keras_proof_sweep.py).
HANDFUL = [
    ("Dense", {"units": 3, "activation": "gelu"}, "4"),
    ("Conv2D", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, "5,6,2"),
    ("LSTM", {"units": 3, "return_sequences": True}, "4,2"),
    ("Bidirectional", {"layer": {"class_name": "GRU", "config": {"units": 2}}, "merge_mode": "sum"}, "4,3"),
    ("BatchNormalization", {}, "3,4"),
    ("Normalization", {}, "4"),  # statistics are weights Keras reads in finalize_state
    ("LayerScale", {"init_values": 0.1, "projection_dim": 3}, "2,3"),  # a Keras-internal class
    ("Embedding", {"input_dim": 10, "output_dim": 3}, "5"),  # integer inputs
    ("Dot", {"axes": (2, 2), "normalize": True}, "3,4;5,4"),  # two inputs
    ("Resizing", {"height": 3, "width": 5}, "4,3,2"),
]


@pytest.fixture(scope="module")
def keras_run():
    """The handful's proofs, checked by Keras, plus one case Keras is given with a different config
    (Dense relu while the engine ran a linear Dense): one Keras process for all."""
    pytest.importorskip("keras")
    proofs = [run_proof(*guide_inputs(n, c, parse_shape(s))) for n, c, s in HANDFUL]
    linear = proofs[0].case
    relu = KerasCase(create_layer("Dense", {"units": 3, "activation": "relu"}), linear.inputs, linear.weights,
                     np.asarray(create_layer("Dense", {"units": 3}).forward(linear.inputs, linear.weights,
                                                                          training=False)[0]))
    *handful, mismatch = run_keras([p.case for p in proofs] + [relu])
    for proof, result in zip(proofs, handful):
        proof.keras = result
    return proofs, mismatch


@pytest.mark.parametrize("index", range(len(HANDFUL)), ids=[h[0] for h in HANDFUL])
def test_keras_agrees_with_the_engine_on_the_proof_weights(keras_run, index):
    proof = keras_run[0][index]
    assert proof.keras.version is not None, proof.keras.message
    assert proof.keras.difference is not None and proof.keras.difference <= 1e-5, proof.keras.message
    assert proof.passed is True
    assert "- Keras: max |engine − Keras 3." in proof.text


def test_keras_disagreeing_is_a_failure_with_its_difference(keras_run):
    """A Keras layer configured differently from the engine's (relu vs linear) gives a difference above 1e-5."""
    mismatch = keras_run[1]
    assert mismatch.difference > 1e-5 and mismatch.passed is False


def test_explain_proof_exits_1_when_keras_differs_and_0_when_keras_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(keras_proof, "keras_installed", lambda: True)
    seen = []

    def differing(cases):
        seen.extend(cases)
        return [KerasResult("3.x (jax)", 2e-5, "max |engine − Keras 3.x (jax)| = 2e-05")] * len(cases)

    monkeypatch.setattr("engine.guide.run_keras", differing)
    assert main(["explain", "Dense", "--proof"]) == 1
    out = capsys.readouterr()
    assert "- Keras: max |engine − Keras 3.x (jax)| = 2e-05" in out.out and "**FAIL**" in out.out
    assert "Keras" in out.err and len(seen) == 1 and set(seen[0].weights) == {"kernel", "bias"}
    monkeypatch.undo()
    monkeypatch.setattr(keras_proof, "keras_installed", lambda: False)
    assert main(["explain", "Dense", "--proof"]) == 0
    assert "- Keras: Keras is not installed" in capsys.readouterr().out


def test_keras_contradicting_its_own_output_shape_is_reported_not_compared(monkeypatch):
    layer = create_layer("Dense", {"units": 2})
    case = KerasCase(layer, [np.zeros((2, 3))], {}, np.zeros((2, 2)))
    result = keras_proof._compare(case, np.zeros((2, 5)), None, [2, 2], "3.x (jax)")
    assert result.passed is None and "not comparable" in result.message and "(2, 5)" in result.message
    result = keras_proof._compare(case, np.zeros((2, 5)), None, [2, 5], "3.x (jax)")
    assert result.passed is False and "returned shape (2, 5)" in result.message
