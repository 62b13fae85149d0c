"""Group commands: make-group, ungroup, expand and collapse are each one undo step that keeps the
model's parameter count and predictions (checked through the executor with the document's weights)."""
from __future__ import annotations

import numpy as np
import pytest

from designer import commands as c
from designer import group_commands as gc
from designer.document import GraphDocument
from engine.executor import CompiledGraph, ParamStore
from engine.training import predict
from engine.validation import infer_shapes

X = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)


@pytest.fixture
def doc(qapp):
    return GraphDocument()


def add(doc, cls, cfg=None, pos=(0, 0)):
    cmd = c.AddNodeCommand(doc, cls, cfg or {}, pos)
    assert c.push(doc, cmd) is None
    return cmd.node_id


def connect(doc, s, t, i=0):
    assert c.push(doc, c.ConnectCommand(doc, s, t, i)) is None


@pytest.fixture
def branchy(doc):
    """input (6,) -> dense(5) -> [bn, dense_1(5, relu)] -> add -> dense_2(3) -> output; trained weights
    (non-trivial BatchNormalization statistics) for every layer."""
    i = add(doc, "Input", {"shape": (6,)})
    d = add(doc, "Dense", {"units": 5}, (300, 0))
    bn = add(doc, "BatchNormalization", {}, (600, 0))
    d1 = add(doc, "Dense", {"units": 5, "activation": "relu"}, (600, 200))
    a = add(doc, "Add", {}, (900, 0))
    d2 = add(doc, "Dense", {"units": 3}, (1200, 0))
    connect(doc, i, d)
    connect(doc, d, bn)
    connect(doc, d, d1)
    connect(doc, bn, a, 0)
    connect(doc, d1, a, 1)
    connect(doc, a, d2)
    store = ParamStore(CompiledGraph(doc.graph, infer_shapes(doc.graph)), seed=3)
    rng = np.random.default_rng(4)
    store.values[bn]["moving_mean"] = rng.normal(size=5).astype(np.float32)
    store.values[bn]["moving_variance"] = rng.uniform(0.5, 2, size=5).astype(np.float32)
    doc.set_weights({n: dict(w) for n, w in store.values.items()})
    doc.undo_stack.clear()
    return {"i": i, "d": d, "bn": bn, "d1": d1, "a": a, "d2": d2}


def outputs(doc) -> np.ndarray:
    return predict(doc.graph, X, params=doc.weights)


def totals(doc) -> int:
    assert doc.result.ok, doc.result.problems
    return doc.result.total_params


def test_make_group_keeps_params_and_predictions_and_undoes_exactly(doc, branchy):
    before, y0, p0 = doc.graph.to_dict(), outputs(doc), totals(doc)
    cmd = gc.MakeGroupCommand(doc, [branchy[k] for k in ("bn", "d1", "a")])
    assert c.push(doc, cmd) is None
    assert doc.undo_stack.count() == 1
    gid = cmd.group_id
    assert doc.graph.node(gid).class_name == "Group"
    assert set(doc.graph.nodes) == {branchy["i"], branchy["d"], gid, branchy["d2"]}
    assert [e.source for e in doc.graph.in_edges(gid)] == [branchy["d"]]
    assert totals(doc) == p0
    np.testing.assert_array_equal(outputs(doc), y0)
    doc.undo_stack.undo()
    assert doc.graph.to_dict() == before
    np.testing.assert_array_equal(outputs(doc), y0)
    doc.undo_stack.redo()
    np.testing.assert_array_equal(outputs(doc), y0)


def test_ungroup_puts_the_same_layers_back(doc, branchy):
    before, y0 = doc.graph.to_dict(), outputs(doc)
    make = gc.MakeGroupCommand(doc, [branchy[k] for k in ("bn", "d1", "a", "d2")])
    assert c.push(doc, make) is None
    un = gc.UngroupCommand(doc, make.group_id, origin=(600, 0))
    assert c.push(doc, un) is None
    assert doc.graph.to_dict() == before  # same ids, names, configs, wires, positions and order
    np.testing.assert_array_equal(outputs(doc), y0)
    doc.undo_stack.undo()
    assert doc.graph.node(make.group_id).class_name == "Group"
    np.testing.assert_array_equal(outputs(doc), y0)


@pytest.mark.parametrize("picked, message", [
    (("d", "bn"), "2 outputs"),          # d also feeds d1 outside: two results leave the selection
    (("d", "a"), "lies between"),        # bn and d1 sit between d and a
    (("i", "d"), "Input layer"),
    ((), "select the layers"),
])
def test_make_group_refuses_what_cannot_be_a_group_in_one_line(doc, branchy, picked, message):
    before = doc.graph.to_dict()
    why = c.push(doc, gc.MakeGroupCommand(doc, [branchy[k] for k in picked]))
    assert why is not None and message in why and "\n" not in why
    assert doc.graph.to_dict() == before and doc.undo_stack.count() == 0


def test_expand_and_collapse_keep_the_group_and_the_predictions(doc, branchy):
    y0, p0 = outputs(doc), totals(doc)
    make = gc.MakeGroupCommand(doc, [branchy[k] for k in ("bn", "d1", "a")])
    assert c.push(doc, make) is None
    grouped = doc.graph.to_dict()
    expand = gc.ExpandGroupCommand(doc, make.group_id)
    assert c.push(doc, expand) is None
    assert make.group_id not in doc.graph and len(doc.group_frames) == 1
    frame = next(iter(doc.group_frames.values()))
    assert set(frame.members) == {branchy["bn"], branchy["d1"], branchy["a"]}
    assert doc.graph.node(branchy["d2"]).position[0] > 1200  # moved aside for the wider layers
    assert totals(doc) == p0
    np.testing.assert_array_equal(outputs(doc), y0)
    collapse = gc.CollapseGroupCommand(doc, frame.key)
    assert c.push(doc, collapse) is None
    assert doc.graph.to_dict()["nodes"][2]["config"] == grouped["nodes"][2]["config"]  # the same group
    assert doc.graph.node(branchy["d2"]).position == (1200.0, 0.0)
    assert not doc.group_frames
    np.testing.assert_array_equal(outputs(doc), y0)
    for _ in range(2):
        doc.undo_stack.undo()
    assert doc.graph.to_dict() == grouped and not doc.group_frames


def test_expand_and_collapse_of_a_group_whose_inner_ids_are_taken_outside_keep_it_whole(doc):
    """An imported group's inner ids ("n1", ...) are usually taken in the outer graph too, so its layers
    get other ids when expanded (or take the group's own id).  Collapsing gives back the same group: its
    id (it got a new one), and the weights under the inner ids (they went under the outer ids, and the
    group started from fresh weights)."""
    i = add(doc, "Input", {"shape": (6,)})
    inner = {"nodes": [{"id": "in", "name": "block_in", "class_name": "Input", "config": {"shape": [6]}},
                       {"id": "n1", "name": "block_dense", "class_name": "Dense", "config": {"units": 4}},
                       {"id": "n2", "name": "block_dense_1", "class_name": "Dense", "config": {"units": 3}}],
             "edges": [{"source": "in", "target": "n1", "index": 0}, {"source": "n1", "target": "n2", "index": 0}]}
    g = add(doc, "Group", {"graph": inner}, (300, 0))
    assert (i, g) == ("n1", "n2")  # inner ids equal to the outer Input's and to the group's own
    connect(doc, i, g)
    store = ParamStore(CompiledGraph(doc.graph, infer_shapes(doc.graph)), seed=7)
    doc.set_weights({n: dict(w) for n, w in store.values.items()})
    before, y0 = doc.graph.to_dict(), outputs(doc)
    expand = gc.ExpandGroupCommand(doc, g)
    assert c.push(doc, expand) is None
    assert expand.ungroup.node_ids == ["n1_1", "n2"]
    np.testing.assert_array_equal(outputs(doc), y0)
    assert c.push(doc, gc.CollapseGroupCommand(doc, next(iter(doc.group_frames)))) is None
    assert doc.graph.to_dict() == before
    assert sorted(doc.weights[g]) == ["n1/bias", "n1/kernel", "n2/bias", "n2/kernel"]
    np.testing.assert_array_equal(outputs(doc), y0)

