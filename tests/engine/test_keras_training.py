"""``layergraph train --backend keras``: the same run on real Keras (JAX here), weights back in the document."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import keras_training
from engine.cli import main
from engine.datasets import load_dataset
from engine.fileformat import load_document
from engine.training import evaluate, validation_cut

pytest.importorskip("keras")
pytest.importorskip("jax")
EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _final(err: str) -> dict[str, float]:
    """The last epoch line's numbers (both backends print ``name value`` pairs)."""
    line = [ln for ln in err.splitlines() if ln.startswith("epoch ")][-1].split()
    return {k: float(v) for k, v in zip(line, line[1:]) if k in ("loss", "val_loss", "accuracy", "val_accuracy")}


def _train(tmp_path, capsys, example: str, name: str, *flags: str) -> tuple[dict[str, float], Path]:
    path = tmp_path / f"{name}.lgraph"
    shutil.copy(EXAMPLES / f"{example}.lgraph", path)
    assert main(["train", str(path), *flags]) == 0
    return _final(capsys.readouterr().err), path


def test_keras_and_the_engine_take_the_same_steps_and_the_weights_come_back(tmp_path, capsys):
    flags = ("--data", "spirals", "--epochs", "6", "--no-shuffle", "--seed", "3")
    keras_run, keras_doc = _train(tmp_path, capsys, "spirals_mlp", "k", *flags, "--backend", "keras",
                                  "--keras-backend", "jax")
    engine_run, _ = _train(tmp_path, capsys, "spirals_mlp", "e", *flags)
    # same initial weights, batches and optimizer: the same run, up to float32 rounding
    for key in ("loss", "val_loss"):
        assert keras_run[key] == pytest.approx(engine_run[key], rel=2e-3), key
    # the weights Keras trained are in the document: the engine evaluates them to Keras's own val_loss
    doc = load_document(keras_doc)
    x, y = load_dataset("spirals")
    cut = validation_cut(len(y), doc.training["validation_split"])
    logs = evaluate(doc.graph, x[cut:], y[cut:], params=doc.weights, loss=doc.training["loss"])
    assert logs["loss"] == pytest.approx(keras_run["val_loss"], rel=1e-3)


def test_shuffled_digits_reach_a_final_loss_within_20_percent(tmp_path, capsys):
    flags = ("--data", "digits", "--epochs", "4", "--seed", "0")
    keras_run, _ = _train(tmp_path, capsys, "digits_mlp", "k", *flags, "--backend", "keras")
    engine_run, _ = _train(tmp_path, capsys, "digits_mlp", "e", *flags)
    assert keras_run["loss"] == pytest.approx(engine_run["loss"], rel=0.2)
    assert keras_run["loss"] < 1.0 and engine_run["loss"] < 1.0  # both really trained (ln 10 = 2.3 at the start)


def test_without_keras_the_option_is_one_line_and_nothing_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(keras_training, "installed_backends", lambda: [])
    path = tmp_path / "m.lgraph"
    shutil.copy(EXAMPLES / "spirals_mlp.lgraph", path)
    before = path.read_bytes()
    assert main(["train", str(path), "--data", "spirals", "--backend", "keras"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install keras" in err
    assert path.read_bytes() == before and not path.with_suffix(".npz").exists()
