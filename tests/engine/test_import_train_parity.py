"""An imported-then-trained model learns what Keras learns from the same start (issue 3).

A small Keras 3 CNN is saved untrained, imported, and both sides are trained from the *same* initial
weights with the same optimizer, batch size, epochs and batch order (``shuffle=False``).  The held-out
accuracy must agree within 3 points, and beyond that the runs must be the same run up to float32
round-off: per-epoch losses, final weights and held-out predictions.  The CLI run shuffles (seeded),
so it is held only to the accuracy.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from engine.cli import main
from engine.datasets import load_dataset
from engine.export.keras_import import import_keras_model
from engine.fileformat import load_document
from engine.training import evaluate, fit, predict
from tests.oracle import keras

EPOCHS, BATCH, LR, N_TEST = 8, 32, 0.003, 360


def _digits():
    x, y = load_dataset("digits")
    return x[:-N_TEST], y[:-N_TEST], x[-N_TEST:], y[-N_TEST:]


def _keras_cnn(seed: int = 0):
    k = keras()
    k.utils.set_random_seed(seed)
    m = k.Sequential([
        k.Input((8, 8, 1)),
        k.layers.Conv2D(8, 3, activation="relu"),
        k.layers.MaxPooling2D(),
        k.layers.Flatten(),
        k.layers.Dense(32, activation="relu"),
        k.layers.Dense(10, activation="softmax"),
    ])
    m.compile(optimizer=k.optimizers.Adam(LR), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    """The untrained model's file, and Keras's own training result from those weights."""
    x_tr, y_tr, x_te, y_te = _digits()
    path = tmp_path_factory.mktemp("parity") / "model.keras"
    m = _keras_cnn()
    m.save(path)  # untrained: the starting point for both sides
    h = m.fit(x_tr, y_tr, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    probs = np.asarray(m.predict(x_te, batch_size=BATCH, verbose=0))
    acc = float(np.mean(probs.argmax(1) == y_te))
    weights = {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in m.layers}
    return path, probs, acc, h.history["loss"], weights


def test_imported_model_trains_to_the_accuracy_keras_reaches(keras_run):
    path, k_probs, k_acc, k_loss, k_weights = keras_run
    x_tr, y_tr, x_te, y_te = _digits()
    doc = import_keras_model(path)
    assert doc.training["optimizer"] == "adam" and doc.training["learning_rate"] == pytest.approx(LR)
    hist = fit(doc.graph, x_tr, y_tr, params=doc.weights, loss="sparse_categorical_crossentropy", optimizer="adam",
               learning_rate=LR, epochs=EPOCHS, batch_size=BATCH, shuffle=False, seed=0)
    assert len(hist.epoch) == EPOCHS
    ours = evaluate(doc.graph, x_te, y_te, params=hist.params)
    probs = predict(doc.graph, x_te, params=hist.params)
    assert ours["accuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == y_te)))
    assert k_acc > 0.85 and ours["accuracy"] > 0.85, (k_acc, ours)
    assert abs(ours["accuracy"] - k_acc) <= 0.03, (k_acc, ours)
    # the stronger check: the same start and batches give (nearly) the same trained network
    agree = float(np.mean(probs.argmax(1) == k_probs.argmax(1)))
    assert agree >= 0.98, agree
    assert float(np.max(np.abs(probs - k_probs))) < 1e-3
    # per-epoch training loss (running mean over the epoch's batches, as Keras logs it)
    np.testing.assert_allclose(hist.history["loss"], k_loss, rtol=1e-3)
    # final weights, layer by layer, in Keras's weight order
    for name, kws in k_weights.items():
        ours_w = list(hist.params.values.get(doc.graph.node_by_name(name).id, {}).values())
        assert len(ours_w) == len(kws), name
        for kw, ow in zip(kws, ours_w):
            np.testing.assert_allclose(ow, kw, atol=1e-3, err_msg=name)


def test_import_and_train_through_the_cli(keras_run, tmp_path, capsys):
    path, _, k_acc, _, _ = keras_run
    x_tr, y_tr, x_te, y_te = _digits()
    data = tmp_path / "digits_train.npz"
    np.savez(data, x=x_tr, y=y_tr)
    graph = tmp_path / "g.lgraph"
    assert main(["import", str(path), "-o", str(graph)]) == 0
    assert "wrote" in capsys.readouterr().out
    # optimizer and learning rate come from the model's compile settings
    rc = main(["train", str(graph), "--data", str(data), "--epochs", str(EPOCHS), "--batch-size", str(BATCH),
               "--seed", "0"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    last = [line for line in out.splitlines() if line.startswith("trained")][-1]
    logs = {k: float(v) for k, v in re.findall(r"(\w+) (\d+\.\d+)", last)}
    assert logs["accuracy"] > 0.85, last
    doc = load_document(graph)
    assert doc.training["optimizer"] == "adam" and doc.training["learning_rate"] == pytest.approx(LR)
    test_acc = evaluate(doc.graph, x_te, y_te, params=doc.weights)["accuracy"]
    assert test_acc > 0.85 and abs(test_acc - k_acc) <= 0.05, (test_acc, k_acc)
