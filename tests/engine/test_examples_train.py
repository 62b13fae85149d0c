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


def test_the_custom_layer_example_trains_from_the_cli_with_trust_code(tmp_path, capsys, monkeypatch):
    """On a machine that never accepted its code, the example refuses to train until --trust-code."""
    monkeypatch.setenv("LAYERGRAPH_CONFIG_DIR", str(tmp_path / "fresh-user"))
    g = tmp_path / "spirals_custom_rbf.lgraph"
    shutil.copy(EXAMPLES / g.name, g)
    assert main(["train", str(g), "--data", "spirals", "--epochs", "1"]) == 2
    assert "--trust-code" in capsys.readouterr().err
    logs, _ = _train(tmp_path, "spirals_custom_rbf", "--trust-code", "--data", "spirals", "--epochs", "60",
                     capsys=capsys)
    assert logs["val_accuracy"] >= 0.9, logs


def test_an_edited_copy_of_the_custom_example_is_untrusted(tmp_path, capsys):
    """The session accepted the bundled example (tests/conftest.py); a copy with changed code is another text."""
    g = tmp_path / "edited.lgraph"
    g.write_text((EXAMPLES / "spirals_custom_rbf.lgraph").read_text().replace("-self.gamma", "-2.0 * self.gamma"))
    assert main(["validate", str(EXAMPLES / "spirals_custom_rbf.lgraph")]) == 0
    capsys.readouterr()
    assert main(["validate", str(g)]) == 1
    assert "untrusted custom layer code in rbf (RBFLayer)" in capsys.readouterr().err
