"""The headless CLI contract: exit codes 0/1/2, messages without tracebacks."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.fileformat import save_document
from engine.graph import LayerGraph

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.lgraph"))


def _valid(tmp_path):
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [4]})
    d = g.add_node("Dense", {"units": 3})
    g.connect(i, d)
    p = tmp_path / "ok.lgraph"
    save_document(p, g)
    return p, g, d


def test_validate_and_summary_on_valid_graph(tmp_path, capsys):
    p, g, d = _valid(tmp_path)
    assert main(["validate", str(p)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["summary", str(p)]) == 0
    out = capsys.readouterr().out
    assert "dense (Dense)" in out and "(None, 3)" in out and "Total params: 15" in out


def test_validate_invalid_graph_prints_problem_per_line_with_node_name(tmp_path, capsys):
    p, g, d = _valid(tmp_path)
    g.add_node("Dense", {"units": 2}, name="orphan")
    save_document(p, g)
    assert main(["validate", str(p)]) == 1
    out = capsys.readouterr().out
    assert "orphan: Dense 'orphan' has no input" in out
    assert main(["summary", str(p)]) == 1


@pytest.mark.parametrize("content", ["{broken", json.dumps({"format": "layergraph", "version": 7, "nodes": [],
                                                             "edges": []})])
def test_unreadable_files_exit_2_without_traceback(tmp_path, content):
    p = tmp_path / "bad.lgraph"
    p.write_text(content)
    r = subprocess.run([sys.executable, "-m", "engine.cli", "validate", str(p)], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and str(p) in r.stderr


def test_layers_lists_the_catalog(capsys):
    from engine.layers import LAYERS

    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    for name in LAYERS:
        assert name in out


def test_layers_prints_plain_text_without_markup_and_whole_summaries(capsys):
    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    assert "`" not in out and "**" not in out
    line = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ")}
    assert "a tensor of shape (batch dimension excluded)" in line["Input"]
    assert "becomes (batch, h*w*c)" in line["Flatten"]  # a * inside code stays
    assert line["Dropout"].rstrip().endswith("passes the input through.")  # a summary over two lines, joined


@pytest.mark.parametrize("markup, text", [
    ("a ``shape`` of `units`", "a shape of units"),
    ("**bold** and *emphasis* but 2 * 3 and ``h*w*c``", "bold and emphasis but 2 * 3 and h*w*c"),
    ("over two\n    lines", "over two lines"),
])
def test_plain_text_strips_inline_markup(markup, text):
    from engine.cli import plain_text

    assert plain_text(markup) == text


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_bundled_example_is_valid(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert main(["summary", str(path)]) == 0


def test_there_are_at_least_six_examples():
    assert len(EXAMPLES) >= 6


ISSUE_CATALOG = """Input Dense Activation Embedding Conv1D Conv2D Conv2DTranspose DepthwiseConv2D SeparableConv2D
MaxPooling1D MaxPooling2D AveragePooling1D AveragePooling2D GlobalAveragePooling1D GlobalAveragePooling2D
GlobalMaxPooling1D GlobalMaxPooling2D SimpleRNN LSTM GRU Bidirectional BatchNormalization LayerNormalization
Dropout SpatialDropout2D GaussianNoise Flatten Reshape Permute RepeatVector UpSampling2D ZeroPadding2D Cropping2D
Add Subtract Multiply Average Maximum Minimum Concatenate ReLU LeakyReLU ELU Softmax PReLU""".split()


def test_catalog_holds_every_required_layer_and_layers_command_lists_them(capsys):
    from engine.layers import LAYERS

    assert main(["layers"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    missing = [n for n in ISSUE_CATALOG if n not in LAYERS or n not in listed]
    assert not missing, f"missing from the catalog: {missing}"
