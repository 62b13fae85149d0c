"""Weight shapes are arithmetic parsed by engine/custom/shape_expr.py, never Python."""
import pytest

from engine.custom.shape_expr import evaluate_shape, shape_to_python
from engine.errors import ConfigError


@pytest.mark.parametrize("text,expected", [
    ("input_shape[-1], units", (5, 3)),
    ("units * 2", (6,)),
    ("(input_shape[1] + units) // 2, 7 - units", (4, 4)),
    ("-(-units)", (3,)),
    ("input_shape[-1] * input_shape[-1],", (25,)),
])
def test_shapes_evaluate_with_the_arguments_and_the_input_shape(text, expected):
    assert evaluate_shape(text, {"units": 3}, [(None, 5)]) == expected


def test_several_inputs_are_indexed_first_by_input():
    assert evaluate_shape("input_shape[1][-1], input_shape[0][1]", {}, [(None, 4), (None, 2)]) == (2, 4)


@pytest.mark.parametrize("text,message", [
    ("__import__('os').system('x')", "unexpected"),
    ("units ** 2", "expected"),
    ("units.real", "unexpected"),
    ("2.5", "unexpected"),
    ("'a'", "unexpected"),
    ("width", "not an argument"),
    ("input_shape[0]", "unknown (None)"),
    ("input_shape[7]", "out of range"),
    ("units // 0", "divides by zero"),
    ("units - 3", "positive"),
    ("", "non-empty"),
])
def test_anything_but_arithmetic_is_refused_with_the_reason(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate_shape(text, {"units": 3}, [(None, 5)])


def test_the_keras_export_reads_arguments_from_self():
    assert shape_to_python("input_shape[-1], units * 2") == "(input_shape[-1], (self.units * 2))"
    assert shape_to_python("units") == "(self.units,)"
