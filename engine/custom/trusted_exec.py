"""The one place user code becomes runnable: a custom layer's ``call`` and ``compute_output_shape``.

Nothing is compiled unless the trust store says the user wrote or accepted this exact code
(``engine.custom.trust``); ``tests/test_architecture.py`` allows ``exec`` in this module alone.  The code runs
with ``ops`` (the NumPy ``keras.ops`` subset) and a few plain builtins, so what works here also works in the
exported Keras layer; the limits are for portability, the trust check is what keeps foreign code from running.
"""
from __future__ import annotations

import ast
import builtins
import traceback
from types import SimpleNamespace
from typing import Any, Callable

from engine.custom import ops as ops_module
from engine.custom import trust
from engine.custom.definition import SUPPORTED_OPS, CustomDefinition, parse_body
from engine.errors import ShapeError, one_line

OPS = SimpleNamespace(**{name: getattr(ops_module, name) for name in SUPPORTED_OPS})
_BUILTINS = {name: getattr(builtins, name) for name in (
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "isinstance", "len", "list", "max", "min",
    "range", "reversed", "round", "slice", "sum", "tuple", "zip", "ValueError", "Ellipsis", "None", "True",
    "False")}
SIGNATURES = {"call": "self, inputs", "compute_output_shape": "self, input_shape"}
_compiled: dict[tuple[str, str], Callable] = {}


class UntrustedCodeError(ShapeError):
    """The layer's code was not written or accepted on this machine, so it is not run."""


class CodeRunError(ShapeError):
    """The layer's code raised; ``line`` is the line of its body (1-based), for the editor."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def untrusted_message(definition: CustomDefinition) -> str:
    return (f"custom layer {definition.name} is untrusted: its code was not written or accepted on this machine, "
            "so it is not run (shapes unknown); trust it in the designer, run 'layergraph trust FILE', or pass "
            "--trust-code")


def code_filename(definition: CustomDefinition, what: str) -> str:
    return f"<custom layer {definition.name}.{what}>"


def compiled(definition: CustomDefinition, what: str) -> Callable:
    """The function ``what`` (``call`` or ``compute_output_shape``) of a trusted definition."""
    if not trust.is_trusted(definition):
        raise UntrustedCodeError(untrusted_message(definition))
    key = (definition.digest, what)
    if key not in _compiled:
        body = parse_body(getattr(definition, what), f"{definition.name}.{what}")
        module = ast.parse(f"def {what}({SIGNATURES[what]}):\n    pass\n")
        module.body[0].body = body.body
        ast.fix_missing_locations(module)
        namespace: dict[str, Any] = {"__builtins__": _BUILTINS, "ops": OPS}
        exec(compile(module, code_filename(definition, what), "exec"), namespace)  # noqa: S102 - trusted above
        _compiled[key] = namespace[what]
    return _compiled[key]


def run(definition: CustomDefinition, what: str, *args: Any) -> Any:
    """Call the layer's ``what`` with ``args``; an exception in the user's code becomes a ``CodeRunError``
    naming the line of the body it came from."""
    fn = compiled(definition, what)
    try:
        return fn(*args)
    except (ShapeError, RecursionError, MemoryError) as exc:
        if isinstance(exc, ShapeError):
            raise
        raise CodeRunError(f"{definition.name}.{what}: {type(exc).__name__}", None) from None
    except Exception as exc:  # the user's code may raise anything; it becomes one line on the node
        line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__))
                     if f.filename == code_filename(definition, what)), None)
        where = f" line {line}" if line else ""
        raise CodeRunError(one_line(f"{definition.name}.{what}{where}: {type(exc).__name__}: {exc}"), line) from None
