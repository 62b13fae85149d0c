"""Custom layers in both exports: a real ``keras.layers.Layer`` subclass, and the same body over a NumPy
``ops`` shim (the functions of ``engine/custom/ops.py``, copied).

The ``call`` text goes into the generated modules as written: that is the point of a custom layer, and why
``layergraph export`` refuses untrusted code (``engine.cli.require_trust``).
"""
from __future__ import annotations

import ast
import inspect
import textwrap

from engine.custom import ops as ops_module
from engine.custom.definition import CUSTOM_ACTIVATIONS, CustomDefinition
from engine.custom.shape_expr import shape_to_python
from engine.custom.trust import custom_definitions
from engine.errors import ConfigError
from engine.export.identifiers import call, literal

SHIM_CLASS = "ops"
SELF_CLASS = "_LayerSelf"


def definitions_of(graph) -> list[CustomDefinition]:
    """The distinct custom-layer classes of ``graph`` (groups included); two different definitions may not
    share a class name, since the export defines each class once."""
    by_name: dict[str, CustomDefinition] = {}
    for layer_name, d in custom_definitions(graph):
        if d.name in by_name and by_name[d.name] != d:
            raise ConfigError(f"two different custom layers are named {d.name} (one is {layer_name!r}); rename one "
                              "so each exported class has its own name.")
        by_name[d.name] = d
    return list(by_name.values())


def _indented(body: str) -> list[str]:
    return ["        " + ln if ln.strip() else "" for ln in textwrap.dedent(body).rstrip().splitlines()]


# ----- Keras -------------------------------------------------------------------------------------------
def keras_class_source(d: CustomDefinition) -> list[str]:
    """A ``keras.layers.Layer`` subclass: ``__init__`` with the arguments, ``build`` with ``add_weight``, the
    ``call`` body over ``keras.ops``, ``get_config``; registered so saved models load it by name."""
    params = [f"{a.name}={literal(a.default)}" for a in d.arguments]
    lines = ['@keras.saving.register_keras_serializable(package="layergraph")',
             f"class {d.name}(keras.layers.Layer):",
             '    """A custom layer written in layergraph."""', "",
             f"    def __init__(self, {', '.join(params + ['**kwargs'])}):",
             "        super().__init__(**kwargs)"]
    for a in d.arguments:
        value = f"keras.activations.get({a.name})" if a.kind == "activation" else a.name
        lines.append(f"        self.{a.name} = {value}")
    config = ", ".join(f"{literal(a.name)}: {a.name}" for a in d.arguments)
    lines += [f"        self._layergraph_config = {{{config}}}", "", "    def build(self, input_shape):"]
    for w in d.weights:
        lines.append("        " + call(f"self.{w.name} = self.add_weight", [
            f"name={literal(w.name)}", f"shape={shape_to_python(w.shape)}", f"initializer={literal(w.initializer)}",
            f"trainable={w.trainable!r}"], indent=8))
    if not d.weights:
        lines.append("        pass")
    lines += ["", "    def call(self, inputs):", *_indented(d.call)]
    if d.compute_output_shape:
        lines += ["", "    def compute_output_shape(self, input_shape):", *_indented(d.compute_output_shape)]
    lines += ["", "    def get_config(self):", "        return {**super().get_config(), **self._layergraph_config}"]
    return lines


def custom_names(graph) -> set[str]:
    """Module-level names the custom layers' code takes in an export (layer variables must avoid them)."""
    try:
        found = definitions_of(graph)
    except ConfigError:
        found = []
    return {d.name for d in found} | {numpy_function_name(d) for d in found} | ({SHIM_CLASS, SELF_CLASS} if found
                                                                               else set())


def numpy_function_name(d: CustomDefinition) -> str:
    return f"{d.name}_call"


def keras_layer_call(d: CustomDefinition, arguments: dict) -> tuple[str, list[str]]:
    """The constructor and its ``arg=value`` list for one node."""
    return d.name, [f"{k}={literal(tuple(v) if isinstance(v, list) else v)}" for k, v in (arguments or {}).items()]


# ----- NumPy -------------------------------------------------------------------------------------------
def used_ops(d: CustomDefinition) -> set[str]:
    """The ``ops`` functions a definition's code names, and its activation arguments' functions."""
    found = set(CUSTOM_ACTIVATIONS) if any(a.kind == "activation" for a in d.arguments) else set()
    for body in filter(None, (d.call, d.compute_output_shape)):
        for node in ast.walk(ast.parse(body)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ops":
                found.add(node.attr)
    return found


def shim_source(names: set[str]) -> list[str]:
    """``class ops`` with the NumPy functions of ``engine/custom/ops.py`` that the layers use."""
    lines = [f"class {SHIM_CLASS}:", '    """The keras.ops functions the custom layers use, in NumPy."""']
    for name in sorted(n for n in names if inspect.isfunction(getattr(ops_module, n, None))):
        lines += ["", "    @staticmethod", *textwrap.indent(inspect.getsource(getattr(ops_module, name)), "    ")
                  .rstrip().splitlines()]
    lines += ["", "", f"class {SELF_CLASS}:", '    """self in a custom layer call: its arguments and weights."""', "",
              "    def __init__(self, **values):", "        self.__dict__.update(values)"]
    return lines


def numpy_function_source(d: CustomDefinition, fn: str) -> list[str]:
    return [f"def {fn}(self, inputs):", f"    # the call of the custom layer {d.name}",
            *(ln[4:] for ln in _indented(d.call))]


def activation_source(name: str) -> str:
    return "(lambda x: x)" if name == "linear" else f"{SHIM_CLASS}.{name}"


def self_arguments(d: CustomDefinition, arguments: dict) -> list[str]:
    out = []
    for a in d.arguments:
        value = (arguments or {}).get(a.name, a.default)
        out.append(f"{a.name}={activation_source(value) if a.kind == 'activation' else literal(value)}")
    return out
