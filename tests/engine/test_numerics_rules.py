"""The numerics package stays copyable: what the NumPy export copies into a generated module must run there.

A generated module holds ``import numpy as np``, ``import math`` and the copied definitions, nothing else; so a
numerics module may import only those and sibling numerics functions, may define only functions and plain
constants, must not define a name twice, and its functions may refer to no other global.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import symtable

import pytest

from engine import numerics
from engine.export.numerics_source import definitions, sources_for

MODULES = [m.__name__ for m in numerics.MODULES]
ALLOWED_GLOBALS = {"np", "math"} | set(dir(builtins))


def _module(name):
    return next(m for m in numerics.MODULES if m.__name__ == name)


@pytest.mark.parametrize("name", MODULES)
def test_imports_only_numpy_math_and_sibling_numerics(name):
    tree = ast.parse(inspect.getsource(_module(name)))
    for node in tree.body:
        if isinstance(node, ast.Import):
            assert [(a.name, a.asname) for a in node.names] in ([("numpy", "np")], [("math", None)]), ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            assert node.module and node.module.startswith("engine.numerics."), ast.dump(node)
            assert all(a.name in definitions() for a in node.names)
        elif isinstance(node, ast.Assign):
            assert all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets), ast.dump(node)
            ast.literal_eval(node.value)  # a plain value, nothing computed from module state
        else:
            assert isinstance(node, (ast.FunctionDef, ast.Expr)), f"{name}: {type(node).__name__} at line {node.lineno}"


def test_every_numerics_module_is_exported():
    found = {m.name for m in __import__("pkgutil").iter_modules(numerics.__path__)}
    assert found == {m.rsplit(".", 1)[1] for m in MODULES}


@pytest.mark.parametrize("name", sorted(definitions()))
def test_functions_refer_only_to_numpy_math_builtins_and_numerics(name):
    d = definitions()[name]
    table = symtable.symtable(d.source, d.module, "exec")
    for child in table.get_children():
        stray = set(_globals_of(child)) - ALLOWED_GLOBALS - set(definitions())
        assert not stray, f"{d.module}.{name} uses {sorted(stray)}, which an exported module does not define"


def _globals_of(table):
    out = [s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()]
    for child in table.get_children():
        out += _globals_of(child)
    return out


def test_copied_sources_run_on_their_own():
    """All definitions together, with only numpy and math imported, define every function without error."""
    namespace = {}
    exec("import math\nimport numpy as np\n" + "\n\n".join(sources_for(set(definitions()))), namespace)  # noqa: S102
    assert set(definitions()) <= set(namespace)
