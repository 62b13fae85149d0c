"""Attention layers through the Keras importer and exporters: call arguments, separate inputs, refusals.

(Weights and predictions of an imported attention model are checked in test_roundtrip.py's ``attention``
model and test_keras_file.py's round trip.)
"""
from __future__ import annotations

import json
import re

import pytest

from engine.errors import ConfigError
from engine.export.keras_code import keras_code
from engine.export.keras_import import import_model
from engine.graph import LayerGraph
from tests.oracle import keras


def _json_model(tmp_path, build) -> dict:
    k = keras()
    model = build(k, k.layers)
    return json.loads(model.to_json())


def _import(tmp_path, config: dict):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(config))
    return import_model(path)


def _self_attention(k, L, **call):
    x = k.Input((4, 6), name="x")
    return k.Model(x, L.MultiHeadAttention(2, 3, name="mha")(x, x, **call))


def test_call_arguments_are_read_from_the_inbound_node_and_written_back_into_the_call(tmp_path):
    imported = _import(tmp_path, _json_model(tmp_path, lambda k, L: _self_attention(k, L, use_causal_mask=True)))
    graph = imported.graph
    mha = graph.node_by_name("mha")
    assert graph.layer(mha.id).config["use_causal_mask"] is True
    assert len(graph.inputs_of(mha.id)) == 2  # query and value from the same tensor: ports 0 and 1
    code = keras_code(graph)
    line = code[code.index("layers.MultiHeadAttention("):]
    line = line[:line.index("\n    )(") + 60]
    assert "use_causal_mask" not in line.split(")(")[0]  # not a constructor argument ...
    assert re.search(r"\)\((\w+), \1, use_causal_mask=True\)", line)  # ... but a call argument


def test_key_given_as_keyword_is_the_third_input(tmp_path):
    def build(k, L):
        q, v, key = k.Input((3, 4), name="q"), k.Input((5, 4), name="v"), k.Input((5, 2), name="key")
        return k.Model([q, v, key], L.MultiHeadAttention(1, 2, name="mha")(q, v, key=key))

    graph = _import(tmp_path, _json_model(tmp_path, build)).graph
    mha = graph.node_by_name("mha").id
    assert [graph.node(s).name for s in graph.inputs_of(mha)] == ["q", "v", "key"]


def test_return_attention_scores_is_refused_in_one_line_naming_the_layer(tmp_path):
    def build(k, L):
        x = k.Input((4, 6))
        out, _scores = L.MultiHeadAttention(2, 3, name="mha")(x, x, return_attention_scores=True)
        return k.Model(x, out)

    with pytest.raises(ConfigError, match=r"MultiHeadAttention 'mha' .*return_attention_scores=True.*second output"):
        _import(tmp_path, _json_model(tmp_path, build))


def test_a_call_argument_the_engine_does_not_honour_is_refused(tmp_path):
    def build(k, L):
        x = k.Input((4, 6))
        mask = k.Input((4, 4), dtype="bool")
        return k.Model([x, mask], L.MultiHeadAttention(2, 3, name="mha")(x, x, attention_mask=mask))

    with pytest.raises(ConfigError, match=r"'mha' is called with extra arguments \(attention_mask\)"):
        _import(tmp_path, _json_model(tmp_path, build))


@pytest.mark.parametrize("key,value", [("use_gate", True), ("sliding_window", 2)])
def test_multi_head_options_that_change_the_numbers_are_refused(tmp_path, key, value):
    config = _json_model(tmp_path, _self_attention)
    layer = next(entry for entry in config["config"]["layers"] if entry["class_name"] == "MultiHeadAttention")
    layer["config"][key] = value
    with pytest.raises(ConfigError, match=key):
        _import(tmp_path, config)


def test_grouped_query_attention_is_read_under_its_python_class_name_too(tmp_path):
    def build(k, L):
        x = k.Input((4, 6))
        return k.Model(x, L.GroupQueryAttention(2, 4, 2, name="gqa")(x, x))

    config = _json_model(tmp_path, build)
    for entry in config["config"]["layers"]:
        if entry["class_name"] == "GroupQueryAttention":
            entry["class_name"] = "GroupedQueryAttention"  # the name older Keras 3 files carry
    graph = _import(tmp_path, config).graph
    assert graph.node(graph.node_by_name("gqa").id).class_name == "GroupQueryAttention"


def test_an_unconnected_key_is_passed_as_none_in_the_numpy_export():
    from engine.export.numpy_code import numpy_code

    g = LayerGraph()
    x = g.add_node("Input", {"shape": [4, 6]}, name="x")
    mha = g.add_node("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, name="mha")
    g.connect(x, mha)
    g.connect(x, mha)
    assert re.search(r"mha_forward\(\s*(\w+),\s*\1,\s*None,\s*W\[", numpy_code(g))
