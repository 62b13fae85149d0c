"""Undo commands: every action undoes and redoes back to the exact previous document."""
from __future__ import annotations

import numpy as np
import pytest

from designer import commands as c
from engine.layout import layered_positions
from designer.document import GraphDocument
from engine.graph import Edge


@pytest.fixture
def doc(qapp):
    return GraphDocument()


def add(doc, cls, cfg=None, pos=(0, 0), name=None):
    cmd = c.AddNodeCommand(doc, cls, cfg or {}, pos, name)
    assert c.push(doc, cmd) is None
    return cmd.node_id


def connect(doc, s, t, i=0):
    assert c.push(doc, c.ConnectCommand(doc, s, t, i)) is None


@pytest.fixture
def chain(doc):
    """input_layer (8,) -> dense (4) -> dense_1 (2), plus an unconnected dropout; both Dense layers
    hold trained weights (random float32 arrays, as a run leaves them)."""
    i = add(doc, "Input", {"shape": (8,)})
    d1 = add(doc, "Dense", {"units": 4}, (250, 0))
    d2 = add(doc, "Dense", {"units": 2}, (500, 0))
    dr = add(doc, "Dropout", {"rate": 0.5}, (250, 200))
    connect(doc, i, d1)
    connect(doc, d1, d2)
    rng = np.random.default_rng(0)
    doc.set_weights({nid: {"kernel": rng.normal(size=(n_in, n)).astype(np.float32),
                           "bias": rng.normal(size=n).astype(np.float32)}
                     for nid, n_in, n in ((d1, 8, 4), (d2, 4, 2))})
    doc.undo_stack.clear()
    return i, d1, d2, dr


def weights_state(doc) -> dict:
    """The document's trained weights as exact bytes, dtypes and shapes (comparable with ==)."""
    return {nid: {k: (a.dtype.str, a.shape, a.tobytes()) for k, a in ws.items()}
            for nid, ws in (doc.weights or {}).items()}


def state(doc) -> tuple[dict, dict]:
    return doc.graph.to_dict(), weights_state(doc)


def roundtrip(doc, command):
    """Push, undo, redo; assert exact document equality (graph and trained weights) at each step;
    return the graph dicts (before, after)."""
    before = state(doc)
    n = doc.undo_stack.count()
    assert c.push(doc, command) is None
    after = state(doc)
    assert after[0] != before[0]
    assert doc.undo_stack.count() == n + 1
    doc.undo_stack.undo()
    assert state(doc) == before
    doc.undo_stack.redo()
    assert state(doc) == after
    doc.undo_stack.undo()
    assert state(doc) == before
    doc.undo_stack.redo()
    return before[0], after[0]


def test_add_node_label_and_stable_id(doc, chain):
    cmd = c.AddNodeCommand(doc, "Dense", {"units": 3}, (10, 20))
    assert cmd.text() == "Add Dense 'dense_2'"
    roundtrip(doc, cmd)
    assert doc.graph.node(cmd.node_id).name == "dense_2"
    assert doc.graph.node(cmd.node_id).position == (10.0, 20.0)


def test_remove_nodes_restores_edges_ids_and_order(doc, chain):
    i, d1, d2, dr = chain
    before, after = roundtrip(doc, c.RemoveNodesCommand(doc, [d1, i]))
    assert [n["id"] for n in after["nodes"]] == [d2, dr]
    assert before["edges"] == [{"source": i, "target": d1, "index": 0}, {"source": d1, "target": d2, "index": 0}]
    doc.undo_stack.undo()
    assert doc.graph.input_nodes() == [i]
    assert doc.result.node_shapes[d2] == (None, 2)


def test_deleting_trained_layers_and_undo_restore_their_weights_exactly(doc, chain):
    i, d1, d2, dr = chain
    trained = weights_state(doc)
    assert set(trained) == {d1, d2}
    for command in (c.RemoveNodesCommand(doc, [d1]), c.RemoveNodesCommand(doc, [d2, i]),
                    c.ReconnectAroundCommand(doc, d1),
                    c.CompositeCommand(doc, "Delete", [c.DisconnectCommand(doc, Edge(i, d1, 0)),
                                                       c.RemoveNodesCommand(doc, [d2])])):
        assert c.push(doc, command) is None
        gone = {d1, d2} - set(doc.graph.nodes)
        assert gone and gone.isdisjoint(doc.weights)
        for _ in range(3):  # undo/redo cycles keep them too
            doc.undo_stack.undo()
            assert weights_state(doc) == trained
            doc.undo_stack.redo()
            assert gone.isdisjoint(doc.weights)
        doc.undo_stack.undo()
        assert weights_state(doc) == trained


def test_undo_puts_weights_back_only_into_the_weights_they_came_from(doc, chain):
    i, d1, d2, dr = chain
    assert c.push(doc, c.RemoveNodesCommand(doc, [d1])) is None
    doc.set_weights(None)  # Reset weights (or a new run) since the delete
    doc.undo_stack.undo()
    assert d1 in doc.graph and doc.weights is None


def test_connect_disconnect_and_labels(doc, chain):
    i, d1, d2, dr = chain
    cmd = c.ConnectCommand(doc, d2, dr, 0)
    assert cmd.text() == "Connect dense_1 → dropout"
    roundtrip(doc, cmd)
    roundtrip(doc, c.DisconnectCommand(doc, Edge(d1, d2, 0)))


def test_illegal_connection_is_refused_with_reason(doc, chain):
    i, d1, d2, dr = chain
    why = c.push(doc, c.ConnectCommand(doc, d2, i, 0))
    assert "Input" in why
    why = c.push(doc, c.ConnectCommand(doc, d2, d1, 0))
    assert "already connected" in why
    assert doc.undo_stack.count() == 0


def test_set_config_label_and_merge_of_consecutive_edits(doc, chain):
    i, d1, d2, dr = chain
    original = doc.graph.to_dict()
    c.push(doc, c.SetConfigCommand(doc, d1, {"units": 5}))
    c.push(doc, c.SetConfigCommand(doc, d1, {"units": 64}))
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Change units of 'dense' to 64"
    assert doc.result.node_shapes[d1] == (None, 64)
    assert doc.result.param_counts[d2] == 64 * 2 + 2
    c.push(doc, c.SetConfigCommand(doc, d1, {"activation": "relu"}))  # another field: a new step
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.graph.to_dict() == original


def test_set_config_roundtrip_and_bad_value_refused(doc, chain):
    i, d1, d2, dr = chain
    roundtrip(doc, c.SetConfigCommand(doc, d2, {"units": 7, "use_bias": False}))
    why = c.push(doc, c.SetConfigCommand(doc, d2, {"units": 0}))
    assert "units" in why and ">= 1" in why


def test_rename_and_duplicate_name_refused(doc, chain):
    i, d1, d2, dr = chain
    cmd = c.RenameCommand(doc, d1, "hidden")
    assert cmd.text() == "Rename 'dense' to 'hidden'"
    roundtrip(doc, cmd)
    assert "already used" in c.push(doc, c.RenameCommand(doc, d2, "hidden"))


def test_move_and_nudges_merge(doc, chain):
    i, d1, d2, dr = chain
    roundtrip(doc, c.MoveNodesCommand(doc, {d1: ((250, 0), (300, 40)), d2: ((500, 0), (550, 40))}))
    n = doc.undo_stack.count()
    for k in range(3):
        c.push(doc, c.MoveNodesCommand(doc, {dr: ((250 + k, 200), (251 + k, 200))}, nudge=True))
    assert doc.undo_stack.count() == n + 1
    assert doc.graph.node(dr).position == (253.0, 200.0)
    doc.undo_stack.undo()
    assert doc.graph.node(dr).position == (250.0, 200.0)


def test_paste_fresh_names_internal_edges(doc, chain):
    i, d1, d2, dr = chain
    data = doc.graph.to_dict([d1, d2])
    cmd = c.PasteCommand(doc, data, (40, 40))
    before, after = roundtrip(doc, cmd)
    new = [doc.graph.node(n) for n in cmd.node_ids]
    assert [n.name for n in new] == ["dense_2", "dense_3"]
    assert set(cmd.node_ids).isdisjoint({i, d1, d2, dr})
    assert doc.graph.in_edges(cmd.node_ids[1]) == [Edge(cmd.node_ids[0], cmd.node_ids[1], 0)]
    assert new[0].position == (290.0, 40.0)
    assert "not hold a valid" in c.push(doc, c.PasteCommand(doc, {"nodes": [{"id": "x", "class_name": "Nope"}]}))


def test_insert_on_edge(doc, chain):
    i, d1, d2, dr = chain
    cmd = c.InsertOnEdgeCommand(doc, Edge(d1, d2, 0), "Dropout", {"rate": 0.1}, (380, 0))
    assert cmd.text() == "Insert Dropout between dense and dense_1"
    roundtrip(doc, cmd)
    assert doc.graph.inputs_of(cmd.node_id) == [d1]
    assert doc.graph.inputs_of(d2) == [cmd.node_id]


def test_reconnect_around_bridges_to_every_consumer(doc, chain):
    i, d1, d2, dr = chain
    connect(doc, d1, dr)  # dense now feeds dense_1 and dropout
    assert c.can_reconnect_around(doc.graph, d1)
    assert not c.can_reconnect_around(doc.graph, d2)
    roundtrip(doc, c.ReconnectAroundCommand(doc, d1))
    assert sorted(doc.graph.edges) == sorted([Edge(i, d2, 0), Edge(i, dr, 0)])
    assert c.push(doc, c.ReconnectAroundCommand(doc, d2)) is not None


def test_auto_layout_is_left_to_right_and_undoable(doc, chain):
    i, d1, d2, dr = chain
    connect(doc, i, dr)
    pos = layered_positions(doc.graph)
    for e in doc.graph.edges:
        assert pos[e.source][0] < pos[e.target][0]
    roundtrip(doc, c.AutoLayoutCommand(doc, pos))
    assert doc.graph.node(d2).position == pos[d2]


def test_layout_barycenter_removes_crossings(doc):
    a1 = add(doc, "Input", {"shape": (4,)}, name="a_in")
    b1 = add(doc, "Input", {"shape": (4,)}, name="b_in")
    b2 = add(doc, "Dense", {"units": 2}, name="b_out")  # inserted in the crossed order
    a2 = add(doc, "Dense", {"units": 2}, name="a_out")
    connect(doc, a1, a2)
    connect(doc, b1, b2)
    pos = layered_positions(doc.graph)
    assert (pos[a1][1] < pos[b1][1]) == (pos[a2][1] < pos[b2][1])


def test_locked_document_refuses_everything(doc, chain):
    i, d1, d2, dr = chain
    doc.locked_reason = "Training is running; stop it to edit the graph."
    before = doc.graph.to_dict()
    for cmd in (c.AddNodeCommand(doc, "Dense", {"units": 1}, (0, 0)), c.RemoveNodesCommand(doc, [d1]),
                c.SetConfigCommand(doc, d1, {"units": 9}), c.ConnectCommand(doc, d2, dr, 0)):
        assert c.push(doc, cmd) == doc.locked_reason
    assert doc.graph.to_dict() == before and doc.undo_stack.count() == 0
