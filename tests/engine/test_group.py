"""Group nodes (engine/layers/group.py): a subgraph used as one layer.

Oracles: the same layers without the group (the flat graph, whose layers are each checked against Keras
and finite differences), Keras's own nested model, and finite differences through the group.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.executor import ParamStore, compile_graph
from engine.fileformat import load_document, save_document
from engine.graph import LayerGraph
from engine.summary import summarize
from engine.validation import infer_shapes
from tests.oracle import keras, numeric_grad

INNER = [("Dense", {"units": 5, "activation": "tanh"}), ("BatchNormalization", {}), ("Dense", {"units": 2})]


def inner_graph(layers=INNER, width=3) -> dict:
    g = LayerGraph()
    prev = g.add_node("Input", {"shape": [width]}, name="block_in")
    for cname, cfg in layers:
        nid = g.add_node(cname, cfg)
        g.connect(prev, nid)
        prev = nid
    return g.to_dict()


def grouped_and_flat() -> tuple[LayerGraph, LayerGraph, str]:
    """Input(4) -> Dense(3) -> [group of INNER] -> Dense(1), and the same layers without the group."""
    grouped, flat = LayerGraph(), LayerGraph()
    for g in (grouped, flat):
        i = g.add_node("Input", {"shape": [4]}, node_id="i")
        d = g.add_node("Dense", {"units": 3}, node_id="d")
        g.connect(i, d)
    grp = grouped.add_node("Group", {"graph": inner_graph()}, node_id="g")
    grouped.connect("d", grp)
    prev = "d"
    for k, (cname, cfg) in enumerate(INNER):
        flat.add_node(cname, cfg, node_id=f"f{k}")
        flat.connect(prev, f"f{k}")
        prev = f"f{k}"
    for g, src in ((grouped, grp), (flat, prev)):
        g.add_node("Dense", {"units": 1}, node_id="o")
        g.connect(src, "o")
    return grouped, flat, grp


def flat_weights(params: ParamStore, group_layer) -> dict:
    """The grouped graph's weights renamed to the flat graph's node ids."""
    inner_ids = [n for n in group_layer.inner.topological_order() if n not in group_layer.input_ids]
    out = {k: v for k, v in params.values.items() if k != "g"}
    for k, nid in enumerate(inner_ids):
        ws = {w.split("/", 1)[1]: a for w, a in params.values["g"].items() if w.startswith(nid + "/")}
        if ws:
            out[f"f{k}"] = ws
    return out


def randomized(params: ParamStore, seed=1) -> None:
    rng = np.random.default_rng(seed)
    for ws in params.values.values():
        for k, a in ws.items():
            a[...] = rng.uniform(0.5, 1.5, a.shape) if "variance" in k else rng.normal(0, 0.5, a.shape)


def test_group_shapes_params_and_summary_equal_the_flat_graph():
    grouped, flat, grp = grouped_and_flat()
    rg = infer_shapes(grouped)
    assert rg.ok and infer_shapes(flat).ok, rg.problems
    assert rg.node_shapes[grp] == (None, 2)
    assert summarize(grouped).total == summarize(flat).total == 4 * 3 + 3 + 3 * 5 + 5 + 4 * 5 + 5 * 2 + 2 + 3
    assert summarize(grouped).trainable == summarize(flat).trainable


def test_group_forward_backward_and_state_updates_equal_the_flat_graph():
    grouped, flat, grp = grouped_and_flat()
    ex_g, pg = compile_graph(grouped, seed=0, dtype=np.float64)
    randomized(pg)
    ex_f, pf = compile_graph(flat, seed=0, dtype=np.float64)
    pf.load(flat_weights(pg, ex_g.plan.layers[grp]))
    x = np.random.default_rng(2).normal(size=(6, 4))
    for training in (False, True):
        fg = ex_g.forward(pg, ex_g.plan.prepare_inputs(x, np.float64), training=training)
        ff = ex_f.forward(pf, ex_f.plan.prepare_inputs(x, np.float64), training=training)
        np.testing.assert_allclose(fg.outputs["o"], ff.outputs["o"], rtol=1e-12)
    g_out = np.random.default_rng(3).normal(size=(6, 1))
    wg, ig = ex_g.backward(pg, fg, {"o": g_out})
    wf, if_ = ex_f.backward(pf, ff, {"o": g_out})
    np.testing.assert_allclose(ig["i"], if_["i"], rtol=1e-10)
    renamed = flat_weights(type("P", (), {"values": wg})(), ex_g.plan.layers[grp])
    assert renamed.keys() == wf.keys()
    for nid in wf:
        for k in wf[nid]:
            np.testing.assert_allclose(renamed[nid][k], wf[nid][k], rtol=1e-10, atol=1e-12)
    ex_g.apply_state_updates(pg, fg)
    ex_f.apply_state_updates(pf, ff)
    moved = [k for k in pg.values[grp] if k.endswith("/moving_mean")]
    assert len(moved) == 1
    np.testing.assert_allclose(pg.values[grp][moved[0]], pf.values["f1"]["moving_mean"], rtol=1e-12)
    assert not np.allclose(pf.values["f1"]["moving_mean"], 0)  # the update happened


def test_group_weight_gradient_matches_finite_differences():
    grouped, _, grp = grouped_and_flat()
    ex, params = compile_graph(grouped, seed=0, dtype=np.float64)
    randomized(params)
    x = ex.plan.prepare_inputs(np.random.default_rng(4).normal(size=(5, 4)), np.float64)

    def loss() -> float:
        return float((ex.forward(params, x).outputs["o"] ** 2).sum() / 2)

    fwd = ex.forward(params, x)
    wgrads, _ = ex.backward(params, fwd, {"o": fwd.outputs["o"]})
    for name, arr in params.values[grp].items():
        if "moving" in name:
            continue
        idx = tuple(np.unravel_index(3 % arr.size, arr.shape))
        assert wgrads[grp][name][idx] == pytest.approx(numeric_grad(loss, arr, idx), rel=1e-5,
                                                       abs=1e-8), name


def test_group_predictions_and_param_count_equal_keras_nested_model():
    k = keras()
    grouped, _, grp = grouped_and_flat()
    ex, params = compile_graph(grouped, seed=0)
    randomized(params)
    block = k.Sequential([k.Input((3,)), k.layers.Dense(5, activation="tanh"), k.layers.BatchNormalization(),
                          k.layers.Dense(2)])
    inp = k.Input((4,))
    out = k.layers.Dense(1)(block(k.layers.Dense(3)(inp)))
    model = k.Model(inp, out)
    assert model.count_params() == summarize(grouped).total
    inner = ex.plan.layers[grp]
    plan = inner._compiled
    block.set_weights([params.values[grp][f"{nid}/{s.name}"] for nid in plan.order for s in plan.weight_specs(nid)])
    model.layers[1].set_weights([params.values["d"]["kernel"], params.values["d"]["bias"]])
    model.layers[3].set_weights([params.values["o"]["kernel"], params.values["o"]["bias"]])
    x = np.random.default_rng(5).normal(size=(7, 4)).astype(np.float32)
    np.testing.assert_allclose(ex.predict(params, x), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_group_saves_and_loads_with_weights_as_deeper_npz_paths(tmp_path):
    grouped, _, grp = grouped_and_flat()
    ex, params = compile_graph(grouped, seed=0)
    randomized(params)
    path = tmp_path / "m.lgraph"
    save_document(path, grouped, params.snapshot())
    members = zipfile.ZipFile(tmp_path / "m.npz").namelist()
    assert any(m.startswith(f"{grp}/") and m.count("/") == 2 for m in members), members
    body = json.loads(path.read_text())
    assert body["version"] == 2
    inner_dense = body["nodes"][2]["config"]["graph"]["nodes"][1]
    assert inner_dense["config"] == {"units": 5, "activation": "tanh"}  # inner configs keep only non-defaults
    doc = load_document(path)
    assert doc.graph.to_dict() == grouped.to_dict()
    ex2, params2 = compile_graph(doc.graph, weights=doc.weights)
    assert not params2.warnings
    x = np.random.default_rng(6).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(ex2.predict(params2, x), ex.predict(params, x))


def test_group_input_shape_mismatch_is_a_validation_problem_naming_the_inner_input():
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [4]})
    grp = g.add_node("Group", {"graph": inner_graph(width=3)})
    g.connect(i, grp)
    result = infer_shapes(g)
    assert not result.ok
    assert "'block_in' expects (None, 3) but gets (None, 4)" in result.problems[0].message


@pytest.mark.parametrize("graph, says", [
    ({"nodes": []}, "no Input layer"),
    ({"nodes": [{"id": "a", "name": "a", "class_name": "Input", "config": {"shape": [2]}},
                {"id": "b", "name": "b", "class_name": "Dense", "config": {"units": 1}},
                {"id": "c", "name": "c", "class_name": "Dense", "config": {"units": 1}}],
      "edges": [{"source": "a", "target": "b"}, {"source": "a", "target": "c"}]}, "exactly one output"),
    ({"nodes": [{"id": "a", "name": "a", "class_name": "Input", "config": {"shape": [2]}},
                {"id": "b", "name": "b", "class_name": "Dense", "config": {"units": 1}}],
      "edges": [{"source": "a", "target": "zz"}]}, "must join two layers"),
    ({"nodes": [{"id": "a/b", "name": "a", "class_name": "Input", "config": {"shape": [2]}}]}, "contains '/'"),
    ("not a graph", "must be {'nodes'"),
])
def test_bad_group_content_is_a_config_error(graph, says):
    with pytest.raises(ConfigError, match="Group") as exc:
        LayerGraph().add_node("Group", {"graph": graph})
    assert says in str(exc.value)


def test_keras_export_writes_the_group_as_its_own_model_with_equal_predictions(tmp_path):
    from engine.export.cli import write_export

    grouped, _, grp = grouped_and_flat()
    ex, params = compile_graph(grouped, seed=0)
    randomized(params)
    out = tmp_path / "exported.py"
    write_export(grouped, params.snapshot(), out, "keras")
    src = out.read_text()
    assert "def GroupModel(name='group'):" in src
    assert "group = GroupModel(name='group')(dense)" in src
    namespace: dict = {"__file__": str(out)}
    exec(compile(src, str(out), "exec"), namespace)  # our own generated file, the object under test
    model = namespace["build_model"]()
    assert isinstance(model.get_layer("group"), keras().Model)
    assert model.count_params() == summarize(grouped).total
    x = np.random.default_rng(7).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), ex.predict(params, x), rtol=1e-4, atol=1e-5)


def test_numpy_export_writes_the_group_as_its_own_function_with_equal_predictions(tmp_path):
    from engine.export.cli import write_export

    grouped, _, grp = grouped_and_flat()
    outer = LayerGraph()  # a group inside a group: the function of the inner one is written too
    i = outer.add_node("Input", {"shape": [4]}, node_id="i")
    g2 = outer.add_node("Group", {"graph": grouped.to_dict()}, name="outer_block", node_id="g2")
    outer.connect(i, g2)
    ex, params = compile_graph(outer, seed=0)
    randomized(params)
    out = tmp_path / "exported_np.py"
    write_export(outer, params.snapshot(), out, "numpy")
    src = out.read_text()
    assert "def OuterBlockBlock(input_layer, W, prefix):" in src and "def GroupBlock(block_in, W, prefix):" in src
    assert "outer_block = OuterBlockBlock(input_layer, W, 'outer_block/')" in src
    assert "group = GroupBlock(" in src and "W, prefix + 'group/')" in src  # its weights under both prefixes
    namespace: dict = {"__file__": str(out)}
    exec(compile(src, str(out), "exec"), namespace)  # our own generated file, the object under test
    x = np.random.default_rng(8).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(namespace["predict"](x), ex.predict(params, x), rtol=1e-4, atol=1e-5)


def test_keras_models_used_as_layers_import_as_groups_and_export_back(tmp_path):
    """A Sequential stem, a block built twice and a model inside a model (tests/engine/export/keras_models.py)."""
    from engine.export.cli import write_export
    from engine.export.keras_import import import_model
    from tests.engine.export.keras_models import nested, randomize, sample_inputs

    model = nested()
    randomize(model)
    model.save(tmp_path / "nested.keras")
    imported = import_model(tmp_path / "nested.keras")
    g = imported.graph
    assert [n.class_name for n in g.nodes.values()] == ["Input", "Group", "Group", "Group", "Group", "Dense"]
    wrapper = g.layer(g.node_by_name("wrapper").id)
    assert any(n.class_name == "Group" for n in wrapper.inner.nodes.values())  # the model inside a model
    assert summarize(g).total == model.count_params()
    ex, params = compile_graph(g, weights=imported.weights)
    assert not params.warnings
    x = sample_inputs(model)["values"]
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(ex.predict(params, x), want, rtol=1e-4, atol=1e-5)
    for to in ("keras", "numpy"):
        out = tmp_path / f"nested_{to}.py"
        write_export(g, imported.weights, out, to)
        namespace: dict = {"__file__": str(out)}
        exec(compile(out.read_text(), str(out), "exec"), namespace)  # our own generated file, under test
        got = namespace["build_model"]().predict(x, verbose=0) if to == "keras" else namespace["predict"](x)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=to)


def test_groups_nested_too_deeply_are_refused_before_building_them():
    """A hostile file could nest groups until building them overflowed Python's stack (a crash, not an error)."""
    data = inner_graph()
    for _ in range(200):
        data = {"nodes": [{"id": "i", "name": "i", "class_name": "Input", "config": {"shape": [3]}},
                          {"id": "g", "name": "g", "class_name": "Group", "config": {"graph": data}}],
                "edges": [{"source": "i", "target": "g"}]}
    with pytest.raises(ConfigError, match="nested more than 32 deep"):
        LayerGraph().add_node("Group", {"graph": data})
