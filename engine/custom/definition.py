"""A custom layer's definition as data: what the document stores, checked without running any of it.

``CustomDefinition`` holds the layer's class name, its typed arguments, its weights (shapes as
arithmetic expressions, ``shape_expr``), the ``call(self, inputs)`` body and an optional
``compute_output_shape(self, input_shape)`` body.  Checking it parses the code (``ast``) but never runs it:
syntax errors, an ``ops`` function outside the supported subset, imports and NumPy or Keras names are
reported with their line.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import json
import keyword
import re
from dataclasses import dataclass
from typing import Any

from engine.activations import ACTIVATIONS
from engine.custom import ops as ops_module
from engine.custom.shape_expr import names_in, parse_shape
from engine.errors import ConfigError, shown
from engine.initializers import INITIALIZERS


SUPPORTED_OPS: tuple[str, ...] = tuple(n for n, f in vars(ops_module).items()
                                       if inspect.isfunction(f) and f.__module__ == ops_module.__name__)
"""The ``keras.ops`` functions a custom layer may call (``engine/custom/ops.py`` implements each)."""

ARGUMENT_KINDS = ("int", "float", "bool", "choice", "activation")
#: Activations a custom layer may take as an argument (each is an ``ops`` function of the same name).
CUSTOM_ACTIVATIONS = tuple(a for a in ("linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "softplus",
                                       "silu", "gelu", "elu", "leaky_relu", "hard_sigmoid") if a in ACTIVATIONS)
RESERVED_NAMES = frozenset({"name", "trainable", "dtype", "self", "inputs", "input_shape", "ops", "keras", "np",
                            "call", "build", "get_config", "compute_output_shape", "weights", "built"})
#: Names the exported modules define or import, so a custom layer class may not take them.
RESERVED_CLASS_NAMES = frozenset({"keras", "layers", "ops", "np", "numpy", "math", "os", "argparse", "Path", "main",
                                  "build_model", "load_weights", "compile_model", "load_data", "predict",
                                  "CustomLayer", "Layer", "Model", "Input"})
#: What a custom layer dropped from the palette holds: a Dense written by hand.
STARTER_DEFINITION = {
    "name": "MyDense", "inputs": 1,
    "arguments": [{"name": "units", "kind": "int", "default": 32},
                  {"name": "activation", "kind": "activation", "default": "relu"}],
    "weights": [{"name": "kernel", "shape": "input_shape[-1], units", "initializer": "glorot_uniform"},
                {"name": "bias", "shape": "units", "initializer": "zeros"}],
    "call": "return self.activation(ops.matmul(inputs, self.kernel) + self.bias)\n",
}

MAX_CODE = 20_000
"""Most characters of one code body (a layer's math fits in a screenful)."""
MAX_ITEMS = 64
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_FORBIDDEN_NAMES = {"np": "ops", "numpy": "ops", "keras": "ops", "tf": "ops", "torch": "ops", "jax": "ops"}


def _identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _IDENT.match(value) or keyword.iskeyword(value):
        raise ConfigError(f"{what} must be a Python identifier (letters, digits, _), got {shown(value)}")
    return value


@dataclass(frozen=True)
class ArgumentSpec:
    """A typed constructor argument of the custom layer (``self.<name>`` in its code)."""

    name: str
    kind: str
    default: Any
    choices: tuple = ()

    def field(self):
        """The argument as a catalog ``Field`` (validated, and shown in the inspector, like built-in ones)."""
        from engine.layers.base import Field  # engine.layers imports this module to register CustomLayer

        choices = CUSTOM_ACTIVATIONS if self.kind == "activation" else self.choices
        kind = "choice" if self.kind == "activation" else self.kind
        return Field(self.name, kind, self.default, f"{self.kind} argument of the custom layer", choices=choices)

    def to_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "default": self.default}
        if self.choices:
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class WeightDecl:
    """A weight: its shape is an expression of ``input_shape`` and the arguments."""

    name: str
    shape: str
    initializer: str = "glorot_uniform"
    trainable: bool = True

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": self.shape, "initializer": self.initializer, "trainable": self.trainable}


@dataclass(frozen=True)
class CustomDefinition:
    name: str
    call: str
    inputs: int = 1
    arguments: tuple[ArgumentSpec, ...] = ()
    weights: tuple[WeightDecl, ...] = ()
    compute_output_shape: str | None = None

    # ----- data --------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "inputs": self.inputs,
                               "arguments": [a.to_dict() for a in self.arguments],
                               "weights": [w.to_dict() for w in self.weights], "call": self.call}
        if self.compute_output_shape is not None:
            out["compute_output_shape"] = self.compute_output_shape
        return out

    def canonical(self) -> str:
        """The text a trust signature covers: every part of the definition, in a fixed order."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    def argument_fields(self) -> tuple:
        return tuple(a.field() for a in self.arguments)

    @classmethod
    def from_dict(cls, data: Any) -> "CustomDefinition":
        """A checked definition, or a ``ConfigError`` naming the part that is wrong (no code is run)."""
        if isinstance(data, CustomDefinition):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"a custom layer's definition must be an object, got {shown(data)}", "definition")
        unknown = sorted(set(data) - {"name", "inputs", "arguments", "weights", "call", "compute_output_shape"})
        if unknown:
            raise ConfigError(f"a custom layer's definition has an unknown entry {unknown[0]!r}", "definition")
        name = _identifier(data.get("name"), "a custom layer's name")
        if name in RESERVED_CLASS_NAMES or name.startswith("_"):
            raise ConfigError(f"{name!r} cannot name a custom layer (the exported code uses it); choose another",
                              "definition")
        inputs = data.get("inputs", 1)
        if isinstance(inputs, bool) or not isinstance(inputs, int) or not 1 <= inputs <= 16:
            raise ConfigError(f"{name}: 'inputs' must be an integer from 1 to 16, got {shown(inputs)}", "definition")
        arguments = tuple(_argument(a, name) for a in _items(data.get("arguments", []), name, "arguments"))
        weights = tuple(_weight(w, name) for w in _items(data.get("weights", []), name, "weights"))
        taken = [a.name for a in arguments] + [w.name for w in weights]
        dup = next((n for n in taken if taken.count(n) > 1), None)
        if dup:
            raise ConfigError(f"{name}: {dup!r} is declared twice (arguments and weights share self.)", "definition")
        for w in weights:
            unknown_names = {n for d in parse_shape(w.shape) for n in names_in(d)} - {"input_shape"} - {
                a.name for a in arguments if a.kind == "int"}
            if unknown_names:
                raise ConfigError(f"{name}: weight {w.name!r} shape {w.shape!r} reads {sorted(unknown_names)[0]!r}, "
                                  "which is not an int argument", "definition")
        call = _code(data.get("call"), name, "call")
        cos = data.get("compute_output_shape")
        cos = None if cos is None or (isinstance(cos, str) and not cos.strip()) else _code(
            cos, name, "compute_output_shape")
        return cls(name, call, inputs, arguments, weights, cos)


def _items(value: Any, owner: str, what: str) -> list:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ConfigError(f"{owner}: {what!r} must be a list of at most {MAX_ITEMS} entries", "definition")
    return value


def _argument(data: Any, owner: str) -> ArgumentSpec:
    if not isinstance(data, dict):
        raise ConfigError(f"{owner}: an argument must be an object, got {shown(data)}", "definition")
    name = _identifier(data.get("name"), f"{owner}: an argument's name")
    if name in RESERVED_NAMES:
        raise ConfigError(f"{owner}: {name!r} is reserved and cannot name an argument", "definition")
    kind = data.get("kind")
    if kind not in ARGUMENT_KINDS:
        raise ConfigError(f"{owner}: argument {name!r} kind must be one of {', '.join(ARGUMENT_KINDS)}, "
                          f"got {shown(kind)}", "definition")
    choices = data.get("choices", [])
    if kind == "choice" and (not isinstance(choices, list) or not choices
                             or not all(isinstance(c, str) for c in choices)):
        raise ConfigError(f"{owner}: argument {name!r} needs a list of text 'choices'", "definition")
    spec = ArgumentSpec(name, kind, data.get("default"), tuple(choices) if kind == "choice" else ())
    spec.field().validate(spec.default, f"{owner}: default of")
    return spec


def _weight(data: Any, owner: str) -> WeightDecl:
    if not isinstance(data, dict):
        raise ConfigError(f"{owner}: a weight must be an object, got {shown(data)}", "definition")
    name = _identifier(data.get("name"), f"{owner}: a weight's name")
    if name in RESERVED_NAMES:
        raise ConfigError(f"{owner}: {name!r} is reserved and cannot name a weight", "definition")
    shape = data.get("shape")
    try:
        parse_shape(shape)
    except ConfigError as exc:
        raise ConfigError(f"{owner}: weight {name!r}: {exc}", "definition") from None
    init = data.get("initializer", "glorot_uniform")
    if init not in INITIALIZERS:
        raise ConfigError(f"{owner}: weight {name!r} initializer must be one of {', '.join(INITIALIZERS)}, "
                          f"got {shown(init)}", "definition")
    trainable = data.get("trainable", True)
    if not isinstance(trainable, bool):
        raise ConfigError(f"{owner}: weight {name!r} 'trainable' must be true or false", "definition")
    return WeightDecl(name, shape, init, trainable)


def _code(text: Any, owner: str, what: str) -> str:
    """The body text, checked by parsing only (no code runs here)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{owner}.{what} must be the text of the function's body", "definition")
    if len(text) > MAX_CODE or "\x00" in text:
        raise ConfigError(f"{owner}.{what} is longer than {MAX_CODE} characters or holds NUL", "definition")
    tree = parse_body(text, f"{owner}.{what}")
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        where = f"{owner}.{what} line {line}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise CodeError(f"{where}: imports are not available in a custom layer; use ops", line)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ops" \
                and node.attr not in SUPPORTED_OPS:
            raise CodeError(f"{where}: ops.{node.attr} is not in the supported keras.ops subset "
                            f"({', '.join(SUPPORTED_OPS)})", line)
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            raise CodeError(f"{where}: {node.id!r} is not available in a custom layer; write the math with ops "
                            "(the same code then runs in the engine and in Keras)", line)
        if isinstance(node, ast.Name) and node.id.startswith("__") or isinstance(node, ast.Attribute) \
                and node.attr.startswith("__"):
            raise CodeError(f"{where}: dunder names are not available in a custom layer", line)
    if not any(isinstance(n, ast.Return) for n in ast.walk(tree)):
        raise CodeError(f"{owner}.{what} never returns a value; end it with 'return ...'", 1)
    return text


class CodeError(ConfigError):
    """A custom layer's code is wrong; ``line`` is the line of its body (1-based) for the editor."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message, "definition")
        self.line = line


def parse_body(text: str, where: str) -> ast.Module:
    """The body as a module of statements whose line numbers are the body's own (1-based)."""
    try:
        return ast.parse(text, filename=where)
    except SyntaxError as exc:
        raise CodeError(f"{where} line {exc.lineno}: {exc.msg}", exc.lineno or 1) from None
