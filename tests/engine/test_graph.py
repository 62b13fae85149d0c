import pytest

from engine.errors import ConfigError, GraphError
from engine.graph import Edge, LayerGraph


def chain(*specs):
    g = LayerGraph()
    ids = [g.add_node(cn, cfg) for cn, cfg in specs]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g, ids


def test_names_follow_keras_scheme_and_stay_unique():
    g = LayerGraph()
    ids = [g.add_node("Dense", {"units": 2}) for _ in range(3)]
    assert [g.node(i).name for i in ids] == ["dense", "dense_1", "dense_2"]
    assert g.node(g.add_node("Input", {"shape": [3]})).name == "input_layer"
    assert g.node(g.add_node("MaxPooling2D")).name == "max_pooling2d"
    with pytest.raises(ConfigError, match="already used"):
        g.rename(ids[0], "dense_1")
    g.rename(ids[0], "encoder")
    assert g.node_by_name("encoder").id == ids[0]
    assert g.node(g.add_node("Dense", {"units": 2})).name == "dense"


def test_connect_refuses_cycles_self_loops_taken_ports_and_inputs():
    g, (i, a, b) = chain(("Input", {"shape": [3]}), ("Dense", {"units": 2}), ("Dense", {"units": 2}))
    ok, why = g.can_connect(b, a)
    assert not ok and "taken" not in why
    add = g.add_node("Add")
    g.connect(a, add, 0)
    with pytest.raises(GraphError, match="Input"):
        g.connect(add, i)
    with pytest.raises(GraphError, match="already connected"):
        g.connect(b, add, 0)
    g.connect(b, add)  # next free index
    assert g.inputs_of(add) == [a, b]
    with pytest.raises(GraphError, match="itself"):
        g.connect(add, add)
    ok, why = g.can_connect(add, a)
    assert not ok and "at most 1" in why


def test_cycle_refused_through_longer_path():
    g, (i, a, b, c) = chain(("Input", {"shape": [3]}), ("Dense", {"units": 2}), ("Add", {}), ("Dense", {"units": 2}))
    with pytest.raises(GraphError, match="cycle"):
        g.connect(c, b, 1)


def test_remove_and_restore_node_roundtrip():
    g, (i, a, b) = chain(("Input", {"shape": [3]}), ("Dense", {"units": 2}), ("Dense", {"units": 4}))
    before = g.to_dict()
    node, edges = g.remove_node(a)
    assert a not in g and len(edges) == 2 and g.edges == []
    g.restore_node(node)
    for e in edges:
        g.connect(e.source, e.target, e.index)
    assert g.to_dict() == before


def test_set_config_validates_and_marks_dirty():
    g, (i, a) = chain(("Input", {"shape": [3]}), ("Dense", {"units": 2}))
    g.take_dirty()
    with pytest.raises(ConfigError):
        g.set_config(a, {"units": -1})
    assert g.node(a).config["units"] == 2
    g.set_config_value(a, "units", 7)
    assert g.layer(a).config["units"] == 7 and g.take_dirty() == {a}


def test_subgraph_paste_gets_fresh_ids_and_names_and_keeps_internal_edges():
    g, (i, a, b) = chain(("Input", {"shape": [3]}), ("Dense", {"units": 2}), ("Dense", {"units": 4}))
    data = g.to_dict([a, b])
    mapping = g.add_subgraph(data, offset=(40, 40))
    assert set(mapping) == {a, b} and not set(mapping.values()) & {i, a, b}
    names = {g.node(n).name for n in mapping.values()}
    assert names == {"dense_2", "dense_3"} or len(names) == 2 and not names & {"dense", "dense_1"}
    assert Edge(mapping[a], mapping[b], 0) in g.edges
    assert len(g.edges) == 3


def test_outputs_and_inputs():
    g, (i, a, b) = chain(("Input", {"shape": [3]}), ("Dense", {"units": 2}), ("Dense", {"units": 4}))
    c = g.add_node("Dense", {"units": 1})
    g.connect(a, c)
    assert g.input_nodes() == [i]
    assert g.output_nodes() == [b, c]
    assert g.topological_order().index(a) < g.topological_order().index(c)
