"""The layer guide (``layergraph explain``): sections, computed numbers, proofs, prose data."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.activations import ACTIVATIONS
from engine.cli import main
from engine.guide import SECTIONS, explain, explainable_layers, parse_shape
from engine.guide.prose import PROSE_SECTIONS, all_prose, has_full_prose, parse_prose
from engine.errors import FileFormatError
from engine.layers import LAYERS, create_layer
from engine.numerics import conv, core, lstm, merging, normalization, pooling, preprocessing, resampling

ALL = explainable_layers()

@pytest.fixture(autouse=True)
def no_keras_child(monkeypatch):
    """``explain --proof`` also runs Keras in a child process; these tests check the engine side, so it is
    reported as not installed here (tests/engine/test_guide_keras.py runs the real thing)."""
    import engine.guide.keras_proof as keras_proof

    monkeypatch.setattr(keras_proof, "keras_installed", lambda: False)


def headings(markdown):
    return re.findall(r"^## (.+)$", markdown, flags=re.M)


@pytest.mark.parametrize("name", ALL)
def test_every_layer_has_every_section_in_order_and_its_proof_passes(name):
    """Issue 18: every catalog layer's guide proves the engine against an independent NumPy formula."""
    guide = explain(name, proof=True)
    assert headings(guide.markdown) == list(SECTIONS)
    assert guide.proof.passed is True, guide.proof.text


@pytest.mark.parametrize("name,config,shape", [
    ("Conv2D", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}, "5,7,2"),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, "8,3"),
    ("Conv2D", {"filters": 4, "kernel_size": 2, "groups": 2, "data_format": "channels_first"}, "4,5,5"),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2}, "3,2,2"),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "strides": 2, "padding": "same"}, "5,6,2"),
    ("SeparableConv2D", {"filters": 3, "kernel_size": 2, "dilation_rate": 2}, "5,5,2"),
    ("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, "5,6,2"),
    ("LSTM", {"units": 3, "return_sequences": True, "go_backwards": True}, "4,2"),
    ("GRU", {"units": 3, "reset_after": False}, "4,2"),
    ("GRU", {"units": 2, "return_sequences": True}, "3,3"),
    ("BatchNormalization", {"axis": 1, "center": False}, "3,4"),
    ("Dense", {"units": 3, "activation": "softmax", "use_bias": False}, "2,4"),
    ("ReLU", {"max_value": 0.6, "negative_slope": 0.1, "threshold": 0.2}, "3,4"),
    ("Softmax", {"axis": (1, 2)}, "3,4"),
    ("PReLU", {"shared_axes": (1,)}, "3,4"),
    ("Permute", {"dims": (3, 1, 2)}, "2,3,4"),
    ("Concatenate", {"axis": 1}, "2,3;4,3"),
    ("UpSampling2D", {"size": (2, 3), "data_format": "channels_first"}, "2,3,2"),
    ("Dot", {"axes": (2, 2)}, "3,4;5,4"),
    ("Dot", {"axes": (1, 2), "normalize": True}, "3,2;4,3"),
    ("GroupNormalization", {"groups": 2, "center": False}, "3,4"),
    ("GroupNormalization", {"groups": -1}, "2,2,3"),
    ("Normalization", {"axis": (1,), "mean": (0.5, -0.2, 0.1), "variance": (2.0, 0.5, 1e-20)}, "3,2"),
    ("Normalization", {"invert": True}, "4"),
    ("Discretization", {"bin_boundaries": (-0.5, 0.0, 0.25), "output_mode": "count"}, "5"),
    ("Discretization", {"bin_boundaries": (0.0,), "output_mode": "one_hot"}, "1"),
    ("CategoryEncoding", {"num_tokens": 5, "output_mode": "count"}, "6"),
    ("CategoryEncoding", {"num_tokens": 3, "output_mode": "one_hot"}, "4"),
    ("Bidirectional", {"layer": {"class_name": "GRU", "config": {"units": 2, "return_sequences": True}},
                       "merge_mode": "sum"}, "4,3"),
    ("Bidirectional", {"layer": {"class_name": "SimpleRNN", "config": {"units": 3}}, "merge_mode": "mul"}, "3,2"),
    ("ZeroPadding2D", {"padding": ((0, 2), (1, 0)), "data_format": "channels_first"}, "2,3,2"),
    ("ZeroPadding1D", {"padding": (2, 0)}, "3,2"),
    ("Cropping3D", {"cropping": ((0, 1), (1, 0), (1, 1))}, "3,3,4,2"),
    ("Cropping1D", {"cropping": (0, 2)}, "5,2"),
    ("AdaptiveAveragePooling2D", {"output_size": (3, 2)}, "7,5,2"),
    ("AdaptiveMaxPooling1D", {"output_size": 3, "data_format": "channels_first"}, "2,7"),
    ("AdaptiveMaxPooling3D", {"output_size": (2, 1, 3)}, "3,4,5,1"),
    ("Resizing", {"height": 5, "width": 3, "interpolation": "nearest"}, "3,4,2"),
    ("Resizing", {"height": 3, "width": 7}, "4,3,1"),
    ("CenterCrop", {"height": 2, "width": 3}, "5,6,2"),
    ("RandomCrop", {"height": 2, "width": 3}, "5,4,1"),
    ("UnitNormalization", {}, "2,3"),
    ("RMSNormalization", {"epsilon": 0.1}, "2,5"),
    ("LayerScale", {"init_values": 0.1, "projection_dim": 3}, "2,3"),
    ("TimeDistributed", {"layer": {"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 2,
                                                                       "strides": 2}}}, "2,4,4,1"),
    ("RNN", {"cell": {"class_name": "StackedRNNCells", "config": {"cells": [
        {"class_name": "GRUCell", "config": {"units": 2}}, {"class_name": "LSTMCell", "config": {"units": 3}}]}},
        "go_backwards": True, "return_sequences": True}, "3,2"),
    ("ConvLSTM1D", {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same", "go_backwards": True,
                    "return_sequences": True}, "3,5,2"),
    ("Attention", {"use_scale": True, "score_mode": "concat", "use_causal_mask": True}, "4,3;4,2;4,3"),
    ("AdditiveAttention", {"use_scale": False}, "3,2;4,3;4,2"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "use_causal_mask": True, "output_shape": (2, 3)},
     "4,3;4,2;4,5"),
    ("GroupQueryAttention", {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2, "use_bias": False},
     "3,4;5,4"),
    ("EinsumDense", {"equation": "...b,bc->...c", "output_shape": 3, "bias_axes": "c"}, "2,3,2"),
])
def test_proof_passes_on_non_default_configs(name, config, shape):
    guide = explain(name, config, parse_shape(shape), proof=True)
    assert guide.proof.passed is True, guide.proof.text


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_proof_covers_every_activation_argument(activation):
    """A Dense with any activation the engine offers has a proof (each written out again in proofs.py)."""
    assert explain("Dense", {"units": 3, "activation": activation}, proof=True).proof.passed is True


def test_a_config_no_reference_covers_says_so_instead_of_passing():
    guide = explain("UpSampling2D", {"interpolation": "bilinear"}, proof=True)
    assert guide.proof.passed is None
    assert "No independent reference for UpSampling2D with this config" in guide.markdown
    assert main(["explain", "UpSampling2D", "--config", '{"interpolation": "bilinear"}', "--proof"]) == 0


@pytest.mark.parametrize("name,module,fn", [
    ("Dense", core, "dense_forward"), ("Conv2D", conv, "conv_gemm"), ("LSTM", lstm, "lstm_fused_infer"),
    ("MaxPooling2D", pooling, "max_pool_forward"),
    ("GroupNormalization", normalization, "group_normalization_forward"), ("Dot", merging, "dot_forward"),
    ("AdaptiveAveragePooling2D", pooling, "adaptive_pool_forward"), ("Resizing", preprocessing, "resizing_forward"),
    ("ZeroPadding2D", resampling, "zero_padding_forward"), ("Bidirectional", lstm, "lstm_fused_infer"),
    ("CategoryEncoding", preprocessing, "category_encoding_forward"),
])
def test_proof_fails_when_the_engine_is_slightly_wrong(monkeypatch, name, module, fn):
    """A numerics function off by 1e-3 makes the proof say FAIL and the command exit 1."""
    original = getattr(module, fn)

    def off_by_a_little(*args, **kwargs):
        result = original(*args, **kwargs)
        return (result[0] + 1e-3, *result[1:]) if isinstance(result, tuple) else result + 1e-3

    monkeypatch.setattr(module, fn, off_by_a_little)
    guide = explain(name, proof=True)
    assert guide.proof.passed is False
    assert "**FAIL**" in guide.markdown
    assert main(["explain", name, "--proof"]) == 1


@pytest.mark.parametrize("name,config,shape,params", [
    ("Dense", {"units": 5}, "7", 7 * 5 + 5),
    ("Conv2D", {"filters": 8, "kernel_size": 3}, "9,9,3", 3 * 3 * 3 * 8 + 8),
    ("LSTM", {"units": 4}, "5,3", 4 * (3 * 4 + 4 * 4 + 4)),
    ("GRU", {"units": 4}, "5,3", 3 * (3 * 4 + 4 * 4 + 2 * 4)),
    ("GRU", {"units": 4, "reset_after": False}, "5,3", 3 * (3 * 4 + 4 * 4 + 4)),
    ("BatchNormalization", {}, "6", 4 * 6),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3}, "6,6,2", 3 * 3 * 2 + 2 * 4 + 4),
])
def test_guide_states_the_parameter_count_and_output_shape_of_the_declaration(name, config, shape, params):
    """Counts written out by hand (the Keras formulas), and the shape the layer's rule gives."""
    shapes = parse_shape(shape)
    md = explain(name, config, shapes).markdown
    assert create_layer(name, config).param_count(shapes) == params
    assert f"= **{params:,}**" in md
    assert f"# {params:,} parameters" in md
    out = create_layer(name, config).output_shape(shapes)
    assert f"- output: ({', '.join('None' if d is None else str(d) for d in out)})" in md


def test_arguments_table_lists_every_field_and_marks_non_defaults():
    md = explain("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}).markdown
    table = md.split("## Arguments")[1].split("## Shapes")[0]
    for f in LAYERS["Conv2D"].all_fields():
        assert f"| `{f.name}` |" in table
    assert "**'same'**" in table and "| 'valid' |" in table


def test_how_shows_the_engine_function_source():
    md = explain("Dense").markdown
    assert "engine.numerics.core.dense_forward" in md
    assert "def dense_forward(x, kernel, bias=None, activation=None):" in md


def test_cli_explain_prints_markdown_and_refuses_bad_input(capsys):
    assert main(["explain", "Dense", "--config", '{"units": 2}', "--input-shape", "3", "--proof"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Dense") and "**PASS**" in out
    assert main(["explain", "Dense", "--config", "[1]"]) == 2
    assert "JSON object" in capsys.readouterr().err
    assert main(["explain", "NoSuchLayer"]) == 2
    assert main(["explain", "Dense", "--input-shape", "a,b"]) == 2
    assert main(["explain", "Dense", "--config", '{"units": 0}']) == 1


def test_layer_without_prose_says_so_plainly(monkeypatch):
    """A layer whose prose file lacks sections shows each missing one plainly (here: Dense with two sections)."""
    import engine.guide as guide

    monkeypatch.setattr(guide, "prose_for", lambda name: {"What": "Computes things.", "Summary": "A layer."})
    md = explain("Dense").markdown
    assert "Computes things." in md
    assert guide.missing_prose("Dense") == [s for s in PROSE_SECTIONS if s not in ("What", "Summary")]
    for section in guide.missing_prose("Dense"):
        assert f"_Not written yet: the '{section}' prose for Dense has not been written._" in md


def test_every_explainable_layer_has_all_its_prose_and_no_prose_names_a_missing_layer():
    """Issue 18 item 3: a layer added to the registry without its guide fails here (and in the contract test)."""
    from engine.layers import LAYERS

    assert [n for n in ALL if not has_full_prose(n)] == []
    assert set(ALL) <= set(all_prose()) <= set(LAYERS)  # CustomLayer has prose, but no computed guide


def templated(paragraph: str) -> str:
    """A paragraph with layer names, ranks and numbers blanked: two layers' paragraphs that differ only
    there ("`MaxPooling1D` keeps ..." and "`MaxPooling3D` keeps ...") are the same template."""
    text = re.sub(r"\b(" + "|".join(sorted(LAYERS, key=len, reverse=True)) + r")\b", "LAYER", paragraph)
    text = re.sub(r"\d+", "N", text.lower())
    return " ".join(text.split())


def test_templated_blanks_names_and_numbers():
    assert templated("`MaxPooling1D` keeps 2 of\n 4.") == templated("`MaxPooling3D`  keeps 8 of 16.")
    assert templated("`Dense` multiplies.") != templated("`Dense` adds.")


def test_no_two_layers_share_a_paragraph_even_up_to_names_and_numbers():
    """Every prose paragraph and bullet is written for its layer: no copy, and no copy with the name swapped."""
    seen = {}
    for layer, sections in all_prose().items():
        for section, text in sections.items():
            for para in (p.strip() for p in re.split(r"\n\s*\n|\n- ", text)):
                if len(para) < 25:
                    continue
                key = templated(para)
                assert key not in seen, f"{layer} {section} repeats {seen[key]}: {para[:60]}"
                seen[key] = f"{layer} {section}"


def test_prose_parser_refuses_unknown_sections_and_stray_text():
    assert parse_prose("# A\n## What\nx\n\n## Summary\ny\n", "t.md") == {"A": {"What": "x", "Summary": "y"}}
    for bad in ("# A\n## Purpose\nx\n", "stray\n# A\n", "# A\n## What\nx\n## What\ny\n", "# A\n# A\n"):
        with pytest.raises(FileFormatError):
            parse_prose(bad, "t.md")
    assert len(PROSE_SECTIONS) == 8


def test_dropout_proof_is_inference_identity_and_training_keeps_or_scales_units():
    layer = create_layer("Dropout", {"rate": 0.25})
    x = np.random.default_rng(1).uniform(0.5, 1.0, (4, 50))
    out, _ = layer.forward([x], {}, training=True, rng=np.random.default_rng(2))
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.75)
    assert 0.5 < kept.mean() < 0.95
    assert explain("Dropout", {"rate": 0.25}, proof=True).proof.passed is True


def test_applications_lists_bundled_examples_and_keras_applications_from_the_data_files():
    md = explain("Conv2D").markdown
    section = md.split("## Applications")[1].split("## Key points")[0]
    assert "`digits_cnn.lgraph`" in section and "`resnet`" in section
    assert "`xception`" in explain("SeparableConv2D").markdown.split("## Applications")[1]


@pytest.mark.parametrize("name,config,shape", [
    ("Dense", {"units": 3, "activation": "relu"}, "5"),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, "6"),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, "7,7,2"),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"}, "3,3,2"),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, "5,6,2"),
    ("GRU", {"units": 3}, "4,2"),
    ("Add", {}, "3;3"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "use_causal_mask": True}, "3,4;3,4"),
])
def test_example_code_runs_under_keras_and_builds_the_stated_model(name, config, shape):
    """The Example block is executed by Keras 3; its model has the parameter count and shape the guide states."""
    keras = pytest.importorskip("keras")
    md = explain(name, config, parse_shape(shape)).markdown
    code = md.split("## Example")[1].split("```python")[1].split("```")[0]
    stated = re.search(r"# ([\d,]+) parameters, output (\(.*\))", code)
    namespace = {}
    exec(compile(code.replace("model.summary()", "pass"), f"<{name} example>", "exec"), namespace)  # our own code
    model = namespace["model"]
    assert isinstance(model, keras.Model)
    assert model.count_params() == int(stated.group(1).replace(",", ""))
    assert str(tuple(model.output.shape)) == stated.group(2)


@pytest.mark.parametrize("argv", [["layers"], ["explain", "Conv2D"]])
def test_output_piped_into_a_reader_that_closes_early_ends_without_a_traceback(argv):
    """``layergraph layers | head`` used to end with a BrokenPipeError traceback."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "designer.launcher", *argv], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""


@pytest.mark.parametrize("word,hint", [("explian", "did you mean 'explain'?"), ("sumary", "did you mean 'summary'?"),
                                       ("frobnicate", "Commands: open, doctor, validate")])
def test_a_mistyped_command_is_named_as_unknown_with_the_closest_command(capsys, word, hint):
    from designer import launcher

    assert launcher.main([word, "Dense"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"layergraph: unknown command '{word}'") and hint in err and "explain" in err


def test_an_existing_file_named_like_a_command_is_still_opened_as_a_graph(tmp_path, monkeypatch):
    from designer import launcher

    (tmp_path / "explian").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert launcher.unknown_command("explian") is None
    assert launcher.unknown_command("model.lgraph") is None  # a missing file keeps its 'no such file' message


def test_explain_all_writes_every_guide_and_an_index_by_family(tmp_path, capsys):
    assert main(["explain", "--all", "-o", str(tmp_path / "ref")]) == 0
    files = {p.name for p in (tmp_path / "ref").iterdir()}
    assert files == {f"{n}.md" for n in ALL} | {"index.md"}
    index = (tmp_path / "ref" / "index.md").read_text()
    assert index.index("## core") < index.index("[Dense](Dense.md)") < index.index("## convolutional")
    assert "prose not written yet" not in index
    assert main(["explain", "--all"]) == 2
    assert main(["explain"]) == 2
