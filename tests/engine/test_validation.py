import pytest

from engine.graph import LayerGraph
from engine.validation import Validator, infer_shapes


def build(edges, nodes):
    g = LayerGraph()
    ids = {k: g.add_node(cn, cfg) for k, (cn, cfg) in nodes.items()}
    for a, b in edges:
        g.connect(ids[a], ids[b])
    return g, ids


def test_valid_chain_has_no_problems_and_shapes_on_every_edge():
    g, ids = build([("i", "d"), ("d", "o")], {"i": ("Input", {"shape": [5]}), "d": ("Dense", {"units": 4}),
                                             "o": ("Dense", {"units": 2, "activation": "softmax"})})
    r = infer_shapes(g)
    assert r.ok
    assert [r.edge_shape(e) for e in g.edges] == [(None, 5), (None, 4)]
    assert r.total_params == 5 * 4 + 4 + 4 * 2 + 2


def test_missing_input_disconnected_and_arity_problems_name_the_node():
    g, ids = build([], {"d": ("Dense", {"units": 4}), "a": ("Add", {})})
    r = infer_shapes(g)
    msgs = " | ".join(p.message for p in r.problems)
    assert "no Input layer" in msgs
    assert any(p.node_id == ids["d"] and "has no input" in p.message for p in r.problems)
    i = g.add_node("Input", {"shape": [4]})
    g.connect(i, ids["a"])
    r = infer_shapes(g)
    assert any(p.node_id == ids["a"] and "at least 2 inputs" in p.message for p in r.problems)
    lonely = g.add_node("Input", {"shape": [4]})
    r = infer_shapes(g)
    assert any(p.node_id == lonely and "not connected" in p.message for p in r.problems)


def test_shape_mismatch_reports_the_sentence_and_downstream_is_unknown_not_blamed():
    g, ids = build([("i", "a"), ("j", "a"), ("a", "d")],
                   {"i": ("Input", {"shape": [8]}), "j": ("Input", {"shape": [16]}), "a": ("Add", {}),
                    "d": ("Dense", {"units": 2})})
    r = infer_shapes(g)
    assert [p.node_id for p in r.problems] == [ids["a"]]
    assert "Add" in r.problems[0].message
    assert r.node_shapes[ids["d"]] is None


def test_cycle_in_a_loaded_graph_is_reported(tmp_path):
    from engine.fileformat import document_from_json

    data = {"format": "layergraph", "version": 1,
            "nodes": [{"id": "a", "name": "a", "class_name": "Dense", "config": {"units": 2}},
                      {"id": "b", "name": "b", "class_name": "Dense", "config": {"units": 2}}],
            "edges": [{"source": "a", "target": "b", "index": 0}, {"source": "b", "target": "a", "index": 0}]}
    with pytest.raises(Exception, match="cycle"):
        document_from_json(data)


def test_incremental_revalidation_only_touches_downstream():
    g, ids = build([("i", "a"), ("a", "b"), ("i", "c")],
                   {"i": ("Input", {"shape": [3]}), "a": ("Dense", {"units": 4}), "b": ("Dense", {"units": 5}),
                    "c": ("Dense", {"units": 6})})
    v = Validator(g)
    v.validate()
    seen = []
    orig = v._infer_node
    v._infer_node = lambda nid: (seen.append(nid), orig(nid))
    g.set_config_value(ids["a"], "units", 9)
    r = v.validate()
    assert sorted(seen) == sorted([ids["a"], ids["b"]])
    assert r.node_shapes[ids["a"]] == (None, 9)
    assert r.param_counts[ids["b"]] == 9 * 5 + 5
    full = infer_shapes(g)
    assert full.node_shapes == r.node_shapes and full.param_counts == r.param_counts


def test_incremental_equals_full_after_random_edits():
    import random

    rnd = random.Random(3)
    g = LayerGraph()
    v = Validator(g)
    inp = g.add_node("Input", {"shape": [4]})
    nodes = [inp]
    for step in range(120):
        op = rnd.random()
        if op < 0.5 or len(nodes) < 3:
            n = g.add_node("Dense", {"units": rnd.choice([4, 8])})
            src = rnd.choice(nodes)
            g.connect(src, n)
            nodes.append(n)
        elif op < 0.75:
            n = rnd.choice([n for n in nodes if g.node(n).class_name == "Dense"])
            g.set_config_value(n, "units", rnd.choice([4, 8, 12]))
        else:
            a = g.add_node("Add")
            s1, s2 = rnd.sample(nodes, 2)
            g.connect(s1, a)
            g.connect(s2, a)
            nodes.append(a)
        r = v.validate()
        f = infer_shapes(g)
        assert r.node_shapes == f.node_shapes
        assert sorted(p.message for p in r.problems) == sorted(p.message for p in f.problems)
