"""The CLI and the trust store: untrusted custom code is reported (validate, summary: exit 1) or refused (train,
predict, export: exit 2), one line each, and never run; ``--trust-code`` or ``layergraph trust`` lets it run."""
import copy

import numpy as np
import pytest

from engine.cli import main
from engine.custom import trust, trusted_exec
from engine.fileformat import save_document
from engine.graph import LayerGraph
from tests.engine.custom.definitions import RBF


@pytest.fixture
def spy_document(tmp_path, monkeypatch):
    """A document whose custom layer writes a marker file when its code runs (given ``open`` for the test)."""
    monkeypatch.setitem(trusted_exec._BUILTINS, "open", open)
    marker = tmp_path / "code_ran.txt"
    spy = copy.deepcopy(RBF)
    spy["name"] = f"SpyRBF{abs(hash(str(tmp_path))) % 10**8}"  # a definition no other test has signed
    spy.pop("compute_output_shape")  # validate then runs call on a probe
    spy["call"] = f"open({str(marker)!r}, 'a').write('ran')\n" + spy["call"]
    g = LayerGraph()
    a = g.add_node("Input", {"shape": [3]}, name="x")
    b = g.add_node("CustomLayer", {"definition": spy}, name="rbf")
    c = g.add_node("Dense", {"units": 2, "activation": "softmax"}, name="out")
    g.connect(a, b)
    g.connect(b, c)
    path = tmp_path / "spy.lgraph"
    save_document(path, g)
    np.save(tmp_path / "x.npy", np.zeros((4, 3), "float32"))
    return path, marker


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", ["validate", "summary"])
def test_validate_and_summary_report_untrusted_layers_without_running_them(spy_document, command, capsys):
    path, marker = spy_document
    assert main([command, str(path)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "untrusted custom layer code in rbf (SpyRBF" in line and "shapes unknown" in line
    assert not marker.exists()


@pytest.mark.parametrize("extra", [
    ["train", "--data", "spirals", "--epochs", "1"],
    ["predict", "--input", "X", "-o", "OUT"],
    ["export", "--to", "keras", "-o", "OUT"],
    ["export", "--to", "numpy", "-o", "OUT"],
])
def test_train_predict_and_export_refuse_untrusted_code(spy_document, extra, capsys):
    path, marker = spy_document
    argv = [extra[0], str(path)] + [str(path.parent / "x.npy") if a == "X" else str(path.parent / "out.py")
                                     if a == "OUT" else a for a in extra[1:]]
    assert main(argv) == 2
    assert "--trust-code" in _one_line(capsys.readouterr().err)
    assert not marker.exists()
    assert not (path.parent / "out.py").exists()


def test_trust_code_runs_the_code_for_this_process_only(spy_document, capsys):
    path, marker = spy_document
    assert main(["validate", "--trust-code", str(path)]) == 0
    assert marker.exists()
    assert "valid" in capsys.readouterr().out
    trust._process_trust["all"] = False
    assert main(["validate", str(path)]) == 1  # nothing was recorded


def test_layergraph_trust_signs_the_document_code(spy_document, capsys):
    path, marker = spy_document
    assert main(["trust", str(path)]) == 0
    assert "trusted the code of 1 custom layer" in capsys.readouterr().out
    assert main(["validate", str(path)]) == 0
    assert marker.exists()


def test_a_signature_made_with_another_key_is_not_trusted(spy_document, tmp_path, monkeypatch):
    path, _ = spy_document
    monkeypatch.setenv(trust.CONFIG_DIR_ENV, str(tmp_path / "other-user"))
    assert main(["trust", str(path)]) == 0
    signed = next((tmp_path / "other-user" / "trust" / "signed").iterdir())
    monkeypatch.setenv(trust.CONFIG_DIR_ENV, str(tmp_path / "this-user"))
    trust._key(create=True)
    (tmp_path / "this-user" / "trust" / "signed").mkdir()
    (tmp_path / "this-user" / "trust" / "signed" / signed.name).touch()  # a copied signature file
    assert main(["validate", str(path)]) == 1
