"""``engine.model_diff`` and ``layergraph diff``: pairs of models built from the bundled examples, each
with the differences written out by hand (renames, an inserted block, changed arguments, retrained
weights, a Keras file)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.cli import build_parser, main
from engine.executor import compile_graph
from engine.fileformat import load_document, save_document
from engine.model_diff import diff_files, diff_models

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def example(name: str):
    return load_document(EXAMPLES / f"{name}.lgraph").graph


def initial_weights(graph, seed: int = 0):
    return compile_graph(graph, seed=seed)[1].snapshot()


def ids_by_name(graph) -> dict[str, str]:
    return {n.name: nid for nid, n in graph.nodes.items()}


def test_identical_models_have_no_difference():
    g = example("digits_cnn")
    w = initial_weights(g)
    diff = diff_models(g, g.copy(), w, {k: dict(v) for k, v in w.items()})
    assert diff.identical
    assert not diff.added and not diff.removed
    assert all(p.matched_by == "name" and not p.differs for p in diff.pairs)
    assert {p.relative for p in diff.pairs if p.weights} == {0.0}


def test_rename_changed_arguments_and_retrained_weights():
    """digits_mlp: 'dense' renamed to 'hidden', the dropout rate 0.2 -> 0.35, the output kernel scaled
    by 1.5 (relative change 0.5, its zero bias untouched), everything else equal."""
    a = example("digits_mlp")
    b = a.copy()
    ids = ids_by_name(b)
    b.rename(ids["dense"], "hidden")
    b.set_config_value(ids["dropout"], "rate", 0.35)
    wa = initial_weights(a)
    wb = {nid: {k: v.copy() for k, v in ws.items()} for nid, ws in wa.items()}
    wb[ids["digit"]]["kernel"] = wa[ids["digit"]]["kernel"] * 1.5
    diff = diff_models(a, b, wa, wb)

    assert not diff.added and not diff.removed
    pairs = {p.b_name: p for p in diff.pairs}
    hidden = pairs["hidden"]
    assert (hidden.a_name, hidden.matched_by, hidden.renamed) == ("dense", "structure", True)
    assert hidden.arguments == [] and not hidden.rewired and hidden.relative == 0.0
    assert [(c.name, c.old, c.new) for c in pairs["dropout"].arguments] == [("rate", 0.2, 0.35)]
    assert not pairs["dropout"].rewired  # its input is the renamed layer's pair
    digit = pairs["digit"]
    assert [w.name for w in digit.weights] == ["kernel", "bias"]
    assert digit.weights[0].relative == pytest.approx(0.5, rel=1e-6)
    assert digit.weights[1].relative == 0.0
    assert digit.relative == pytest.approx(0.5, rel=1e-6)  # the zero bias adds nothing to either norm
    assert diff.counts() == {"added": 0, "removed": 0, "renamed": 1, "changed": 1, "rewired": 0,
                             "weights_changed": 1}
    assert not diff.identical


def test_inserted_block_is_added_and_its_consumer_rewired():
    """digits_mlp with Dense 'extra' + Dropout 'extra_drop' inserted between 'dense' and 'dropout'."""
    a = example("digits_mlp")
    b = a.copy()
    ids = ids_by_name(b)
    b.disconnect(b.in_edges(ids["dropout"])[0])
    extra = b.add_node("Dense", {"units": 32}, name="extra")
    drop = b.add_node("Dropout", {"rate": 0.1}, name="extra_drop")
    b.connect(ids["dense"], extra)
    b.connect(extra, drop)
    b.connect(drop, ids["dropout"])
    diff = diff_models(a, b)

    assert [(x.name, x.class_name, x.inputs) for x in diff.added] == [
        ("extra", "Dense", ["dense"]), ("extra_drop", "Dropout", ["extra"])]
    assert diff.removed == []
    rewired = [(p.b_name, p.inputs_a, p.inputs_b) for p in diff.pairs if p.rewired]
    assert rewired == [("dropout", ["dense"], ["extra_drop"])]
    assert not any(p.renamed or p.changed for p in diff.pairs)
    assert not diff.weights_compared


def test_every_layer_renamed_and_one_removed_is_matched_by_structure():
    """residual_block with every name changed and the second BatchNormalization removed (its Conv2D
    now feeds the Add directly): each remaining layer is found by its place in the graph."""
    a = example("residual_block")
    b = a.copy()
    ids = ids_by_name(b)
    bn = ids["batch_normalization_1"]
    b.remove_node(bn)
    b.connect(ids["conv2d_2"], ids["skip_add"], 0)
    for name, nid in ids.items():
        if nid in b:
            b.rename(nid, "new_" + name)
    diff = diff_models(a, b)

    assert [x.name for x in diff.removed] == ["batch_normalization_1"]
    assert diff.added == []
    assert {p.a_name: p.b_name for p in diff.pairs} == {
        name: "new_" + name for name in ids if name != "batch_normalization_1"}
    assert all(p.matched_by == "structure" for p in diff.pairs)
    assert [(p.b_name, p.inputs_a, p.inputs_b) for p in diff.pairs if p.rewired] == [
        ("new_skip_add", ["batch_normalization_1", "conv2d"], ["new_conv2d_2", "new_conv2d"])]


def test_block_inserted_after_the_input_with_every_name_changed():
    """digits_cnn with a 1x1 Conv2D 'pre' inserted after the input and every other layer renamed
    'v2_…': the insertion shifts every depth after it, so the rest is found by height and neighbours."""
    a = example("digits_cnn")
    b = a.copy()
    ids = ids_by_name(b)
    b.disconnect(b.in_edges(ids["conv2d"])[0])
    pre = b.add_node("Conv2D", {"filters": 8, "kernel_size": (1, 1)}, name="pre")
    b.connect(ids["image"], pre)
    b.connect(pre, ids["conv2d"])
    for name, nid in ids.items():
        b.rename(nid, "v2_" + name)
    diff = diff_models(a, b)
    assert [(x.name, x.inputs) for x in diff.added] == [("pre", ["v2_image"])]
    assert diff.removed == []
    assert {p.a_name: p.b_name for p in diff.pairs} == {
        "image": "v2_image", "conv2d": "v2_conv2d", "max_pooling2d": "v2_max_pooling2d", "conv2d_1": "v2_conv2d_1",
        "max_pooling2d_1": "v2_max_pooling2d_1", "flatten": "v2_flatten", "dense": "v2_dense", "digit": "v2_digit"}
    assert [(p.b_name, p.inputs_a, p.inputs_b) for p in diff.pairs if p.rewired] == [
        ("v2_conv2d", ["image"], ["pre"])]
    assert not any(p.changed for p in diff.pairs)


def test_same_class_in_a_new_place_with_other_arguments_is_not_guessed():
    """digits_mlp without its hidden Dense and with a new Dense 'head2' (7 units) after the output: the
    new Dense shares no paired neighbour, depth or arguments with the old one, so it is not a rename."""
    a = example("digits_mlp")
    b = a.copy()
    ids = ids_by_name(b)
    b.remove_node(ids["dense"])
    b.connect(ids["flatten"], ids["dropout"])
    head = b.add_node("Dense", {"units": 7}, name="head2")
    b.connect(ids["digit"], head)
    diff = diff_models(a, b)
    assert [x.name for x in diff.removed] == ["dense"]
    assert [x.name for x in diff.added] == ["head2"]
    assert [(p.b_name, p.inputs_a, p.inputs_b) for p in diff.pairs if p.rewired] == [
        ("dropout", ["dense"], ["flatten"])]


def test_weight_shape_change_is_reported_as_such():
    a = example("digits_mlp")
    b = a.copy()
    b.set_config_value(ids_by_name(b)["dense"], "units", 32)
    diff = diff_models(a, b, initial_weights(a), initial_weights(b))
    pairs = {p.b_name: p for p in diff.pairs}
    kernel = pairs["dense"].weights[0]
    assert (kernel.shape_a, kernel.shape_b, kernel.relative) == ((64, 64), (64, 32), None)
    assert pairs["dense"].relative is None and pairs["dense"].weight_shape_changed
    assert pairs["digit"].weights[0].shape_changed and not pairs["digit"].weights[1].shape_changed
    assert [(c.name, c.old, c.new) for c in pairs["dense"].arguments] == [("units", 64, 32)]


def test_change_from_all_zero_weights_is_infinite_and_null_in_json():
    a = example("digits_mlp")
    wa = initial_weights(a)
    wb = {nid: {k: v.copy() for k, v in ws.items()} for nid, ws in wa.items()}
    digit = ids_by_name(a)["digit"]
    wb[digit]["bias"] = wb[digit]["bias"] + 1.0
    diff = diff_models(a, a.copy(), wa, wb)
    bias = diff.pair_of_a(digit).weights[1]
    assert bias.name == "bias" and math.isinf(bias.relative)
    row = next(p for p in diff.to_json()["pairs"] if p["b_name"] == "digit")
    assert row["weights"][1] == {"name": "bias", "shape_a": [10], "shape_b": [10], "shape_changed": False,
                                 "relative_change": None}


# ----- files and the CLI -------------------------------------------------------------------------------
def _retrained_pair(tmp_path):
    """digits_mlp saved twice: B renames 'dense' to 'hidden' and doubles the output bias+kernel."""
    a = example("digits_mlp")
    wa = initial_weights(a)
    wa = {nid: {k: v + 0.5 if k == "bias" else v for k, v in ws.items()} for nid, ws in wa.items()}
    b = a.copy()
    ids = ids_by_name(b)
    b.rename(ids["dense"], "hidden")
    wb = {nid: {k: v * 2.0 if nid == ids["digit"] else v for k, v in ws.items()} for nid, ws in wa.items()}
    save_document(tmp_path / "a.lgraph", a, wa)
    save_document(tmp_path / "b.lgraph", b, wb)
    return tmp_path / "a.lgraph", tmp_path / "b.lgraph"


def test_diff_reads_documents_with_their_weights(tmp_path):
    pa, pb = _retrained_pair(tmp_path)
    diff = diff_files(pa, pb)
    assert diff.weights_compared
    rel = {p.b_name: p.relative for p in diff.pairs if p.weights}
    assert rel["hidden"] == 0.0 and rel["digit"] == pytest.approx(1.0, rel=1e-6)


def test_cli_table(tmp_path, capsys):
    pa, pb = _retrained_pair(tmp_path)
    assert main(["diff", str(pa), str(pb)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == "0 added, 0 removed, 1 renamed, 0 changed, 0 rewired, 1 weights changed"
    assert any(line.split() == ["renamed", "dense", "->", "hidden", "Dense"] for line in out)
    assert any(line.split()[:4] == ["digit", "Dense", "1", "kernel"] for line in out)
    assert any(line.split() == ["dense", "->", "hidden", "Dense", "0", "kernel", "0,", "bias", "0"] for line in out)


def test_cli_identical_files_say_so_and_exit_0(tmp_path, capsys):
    pa, _ = _retrained_pair(tmp_path)
    assert main(["diff", str(pa), str(pa)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "identical: same layers, arguments, wiring and weights"


def test_cli_json_is_stable_and_machine_readable(tmp_path, capsys):
    pa, pb = _retrained_pair(tmp_path)
    assert main(["diff", str(pa), str(pb), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["format"], data["version"], data["identical"], data["weights_compared"]) == (
        "layergraph-diff", 1, False, True)
    assert data["summary"] == {"added": 0, "removed": 0, "renamed": 1, "changed": 0, "rewired": 0,
                               "weights_changed": 1}
    hidden = next(p for p in data["pairs"] if p["b_name"] == "hidden")
    assert (hidden["a_name"], hidden["matched_by"], hidden["renamed"], hidden["relative_change"]) == (
        "dense", "structure", True, 0.0)
    digit = next(p for p in data["pairs"] if p["b_name"] == "digit")
    assert [(w["name"], w["shape_a"]) for w in digit["weights"]] == [("kernel", [64, 10]), ("bias", [10])]
    assert digit["relative_change"] == pytest.approx(1.0, rel=1e-6)
    assert main(["diff", str(pa), str(pb), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == data


def test_cli_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    pa, _ = _retrained_pair(tmp_path)
    bad = tmp_path / "bad.lgraph"
    bad.write_text("{not json")
    (tmp_path / "bad.keras").write_bytes(b"PK\x03\x04 truncated")
    unknown = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "in"}},
        {"module": "keras.layers", "class_name": "NoSuchLayer", "config": {"name": "x"}}]}}
    (tmp_path / "unknown.json").write_text(json.dumps(unknown))
    for other in (bad, tmp_path / "missing.lgraph", tmp_path / "bad.keras", tmp_path / "unknown.json"):
        assert main(["diff", str(pa), str(other)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("layergraph: ") and str(other) in err


def test_cli_help_says_the_exit_code_does_not_tell_whether_they_differ():
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["diff"].format_help().split())
    assert "Exits 0 whether or not the models differ" in help_text


def test_diff_against_a_keras_file(tmp_path, capsys):
    """A document against its own Keras export: the .keras file is read through the importer; the
    weights are the same, so only a retrained output kernel (x3, relative change 2) shows."""
    pa, _ = _retrained_pair(tmp_path)
    keras_path = tmp_path / "a.keras"
    assert main(["export", str(pa), "--to", "keras-file", "-o", str(keras_path)]) == 0
    doc = load_document(pa)
    digit = ids_by_name(doc.graph)["digit"]
    doc.weights[digit]["kernel"] = doc.weights[digit]["kernel"] * 3.0
    save_document(tmp_path / "c.lgraph", doc.graph, doc.weights)
    capsys.readouterr()
    diff = diff_files(keras_path, tmp_path / "c.lgraph")
    assert not diff.added and not diff.removed
    assert [p.b_name for p in diff.pairs if p.differs] == ["digit"]
    pair = diff.pair_of_b(digit)
    assert pair.weights[0].relative == pytest.approx(2.0, rel=1e-6) and pair.weights[1].relative == 0.0
