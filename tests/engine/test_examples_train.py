"""The bundled examples learn: the issue's accuracy targets, through the real CLI."""
import re
import shutil
from pathlib import Path

import pytest

from engine.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _train(tmp_path, name, *args, capsys):
    g = tmp_path / f"{name}.lgraph"
    shutil.copy(EXAMPLES / f"{name}.lgraph", g)
    assert main(["train", str(g), *args]) == 0
    out = capsys.readouterr().out
    last = [line for line in out.splitlines() if line.startswith("trained")][-1]
    return {k: float(v) for k, v in re.findall(r"(\w+) (\d+\.\d+)", last)}, g


def test_digits_cnn_reaches_95_percent_validation_accuracy_in_10_epochs(tmp_path, capsys):
    logs, g = _train(tmp_path, "digits_cnn", "--data", "digits", "--epochs", "10", capsys=capsys)
    assert logs["val_accuracy"] >= 0.95, logs
    assert g.with_suffix(".npz").exists()


@pytest.mark.parametrize("name", ["digits_mlp", "lstm_sequence", "residual_block"])
def test_other_digit_examples_learn(tmp_path, capsys, name):
    logs, _ = _train(tmp_path, name, "--data", "digits", "--epochs", "8", capsys=capsys)
    assert logs["val_accuracy"] >= 0.85, logs


def test_spirals_mlp_reaches_98_percent(tmp_path, capsys):
    logs, _ = _train(tmp_path, "spirals_mlp", "--data", "spirals", "--validation-split", "0", capsys=capsys)
    assert logs["accuracy"] >= 0.98, logs
