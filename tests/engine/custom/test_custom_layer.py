"""CustomLayer in the engine: checked definitions, shapes from a probe or compute_output_shape, automatic
gradients (checked by finite differences), errors with the line, and no code run unless trusted."""
import copy

import numpy as np
import pytest

from engine.custom import trusted_exec
from engine.custom.definition import CodeError, CustomDefinition
from engine.errors import ConfigError, ShapeError
from engine.graph import LayerGraph
from engine.layers import create_layer
from engine.validation import infer_shapes
from tests.engine.custom.definitions import GLU, PARITY_CASES, RBF, signed
from tests.oracle import assert_gradients_match_fd


def _variant(base: dict, **changes) -> dict:
    data = copy.deepcopy(base)
    data.update(changes)
    return data


@pytest.mark.parametrize("body,message", [
    ("return ops.frobnicate(inputs)", r"line 1: ops\.frobnicate is not in the supported keras\.ops subset"),
    ("x = inputs\n\nreturn ops.fft(x)", r"line 3: ops\.fft is not"),
    ("return np.tanh(inputs)", r"line 1: 'np' is not available"),
    ("import os\nreturn inputs", "line 1: imports are not available"),
    ("x = (\nreturn x", "line 1"),
    ("return inputs.__class__", "dunder"),
    ("x = inputs", "never returns"),
])
def test_bad_code_is_refused_with_its_line_without_running_it(body, message):
    with pytest.raises(CodeError, match=message):
        CustomDefinition.from_dict(_variant(GLU, call=body))


@pytest.mark.parametrize("change,message", [
    ({"name": "my layer"}, "identifier"),
    ({"weights": [{"name": "kernel", "shape": "input_shape[-1], width"}]}, "'width', which is not an int"),
    ({"arguments": [{"name": "units", "kind": "tensor", "default": 1}]}, "kind must be one of"),
    ({"arguments": [{"name": "kernel", "kind": "int", "default": 1}]}, "declared twice"),
    ({"arguments": [{"name": "units", "kind": "int", "default": "x"}]}, "must be an integer"),
    ({"source": "x"}, "unknown entry 'source'"),
])
def test_a_bad_definition_names_what_is_wrong(change, message):
    with pytest.raises(ConfigError, match=message):
        CustomDefinition.from_dict(_variant(GLU, **change))


def test_arguments_are_typed_like_built_in_fields():
    with pytest.raises(ConfigError, match="units"):
        create_layer("CustomLayer", {"definition": GLU, "arguments": {"units": 2.5}})
    with pytest.raises(ConfigError, match="unknown argument 'size'"):
        create_layer("CustomLayer", {"definition": GLU, "arguments": {"size": 2}})


@pytest.mark.parametrize("definition,arguments,shapes", PARITY_CASES, ids=lambda v: v.get("name", "") if
                         isinstance(v, dict) and "call" in v else "")
def test_shapes_and_parameters_follow_the_definition(definition, arguments, shapes):
    layer = create_layer("CustomLayer", {"definition": signed(definition), "arguments": arguments})
    out = layer.output_shape(shapes)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(3, *s[1:])).astype("float32") for s in shapes]
    y, _ = layer.forward(xs, layer.init_weights(shapes, rng))
    assert out == (None, *y.shape[1:])
    assert layer.param_count(shapes) == sum(w.size for w in layer.init_weights(shapes, rng).values())


def test_an_unknown_input_dimension_gives_an_unknown_output_dimension():
    seq = _variant(GLU, name="SeqGLU")
    layer = create_layer("CustomLayer", {"definition": signed(seq)})
    assert layer.output_shape([(None, None, 5)]) == (None, None, 4)


@pytest.mark.parametrize("definition,arguments,shapes", PARITY_CASES, ids=lambda v: v.get("name", "") if
                         isinstance(v, dict) and "call" in v else "")
def test_automatic_gradients_match_finite_differences(definition, arguments, shapes):
    assert_gradients_match_fd("CustomLayer", {"definition": signed(definition), "arguments": arguments}, shapes)


def test_an_error_in_call_is_a_problem_on_the_node_with_its_line():
    broken = signed(_variant(GLU, name="BrokenGLU", call="h = ops.matmul(inputs, self.kernel)\n"
                                                        "return ops.reshape(h, (-1, 7, 5))\n"))
    g = LayerGraph()
    a = g.add_node("Input", {"shape": [5]})
    b = g.add_node("CustomLayer", {"definition": broken})
    g.connect(a, b)
    problems = infer_shapes(g).problems_for(b)
    assert len(problems) == 1 and "BrokenGLU.call line 2: ValueError" in problems[0].message


def test_self_names_only_arguments_and_weights():
    typo = signed(_variant(GLU, name="TypoGLU", call="return ops.matmul(inputs, self.kernal)\n"))
    with pytest.raises(ShapeError, match="line 1: AttributeError: self.kernal is neither an argument"):
        create_layer("CustomLayer", {"definition": typo}).output_shape([(None, 5)])


def test_untrusted_code_never_runs(tmp_path, monkeypatch):
    """The side effect the code would have (a file) happens only once the code is trusted."""
    monkeypatch.setitem(trusted_exec._BUILTINS, "open", open)  # so the code *could* write a file
    marker = tmp_path / "ran.txt"
    spy = _variant(RBF, name="SpyRBF", call=f"open({str(marker)!r}, 'w').write('ran')\n" + RBF["call"])
    layer = create_layer("CustomLayer", {"definition": spy})
    with pytest.raises(trusted_exec.UntrustedCodeError, match="SpyRBF is untrusted"):
        layer.output_shape([(None, 3)])
    with pytest.raises(trusted_exec.UntrustedCodeError):
        layer.forward([np.zeros((2, 3), "float32")], layer.init_weights([(None, 3)], np.random.default_rng(0)))
    assert layer.param_count([(None, 3)]) == 15  # weights are data: known without running anything
    assert not marker.exists()
    signed(spy)
    layer.forward([np.zeros((2, 3), "float32")], layer.init_weights([(None, 3)], np.random.default_rng(0)))
    assert marker.read_text() == "ran"


def test_an_edited_copy_of_trusted_code_is_untrusted():
    signed(GLU)
    edited = _variant(GLU, call=GLU["call"].replace("value *", "value * 2.0 *"))
    with pytest.raises(trusted_exec.UntrustedCodeError):
        create_layer("CustomLayer", {"definition": edited}).output_shape([(None, 5)])
