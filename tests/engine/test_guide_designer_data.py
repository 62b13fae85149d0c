"""The data the Guide dock's buttons use: the Example model as graph data, the proof on given (trained) weights."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import UsageError
from engine.graph import LayerGraph
from engine.guide import example_graph, explainable_layers, guide_inputs, run_proof
from engine.validation import infer_shapes


def test_every_layers_example_model_is_a_valid_graph_with_the_guides_layer_and_shapes():
    for name in explainable_layers():
        layer, shapes = guide_inputs(name)
        graph = LayerGraph()
        mapping = graph.add_subgraph(example_graph(layer, shapes))
        result = infer_shapes(graph)
        assert result.ok, (name, result.problems)
        node = graph.node(mapping["y"])
        assert node.class_name == name
        assert [result.node_shapes[s] for s in graph.inputs_of(mapping["y"])] == [tuple(s) for s in shapes], name
        assert graph.output_nodes() == [mapping["y"]], name


def test_the_proof_runs_on_given_weights_and_refuses_weights_of_another_shape():
    layer, shapes = guide_inputs("Dense", {"units": 3}, [(None, 4)])
    kernel, bias = np.arange(12.0).reshape(4, 3) / 10, np.array([1.0, -2.0, 3.0])
    proof = run_proof(layer, shapes, weights={"kernel": kernel, "bias": bias})
    assert proof.passed and proof.difference < 1e-12
    x = proof.case.inputs[0]
    np.testing.assert_allclose(proof.case.engine_output, x @ kernel + bias, atol=1e-12)
    assert "trained weights" in proof.text
    with pytest.raises(UsageError, match="do not match"):
        run_proof(layer, shapes, weights={"kernel": np.zeros((3, 3)), "bias": bias})


def test_the_proof_refuses_an_unknown_dimension_in_one_line():
    layer, shapes = guide_inputs("Dense", {"units": 3}, [(None, 4)])
    with pytest.raises(UsageError, match="needs every input dimension"):
        run_proof(layer, [(None, None, 4)])
