"""The source of ``engine.numerics``, for copying exactly the functions a graph needs into generated code.

Every top-level function and upper-case constant of the numerics modules is indexed with the other
top-level names it refers to; ``sources_for`` follows those references and returns the sources in
the package's order, so an exported module defines each function it calls before ``predict``.
"""
from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from functools import lru_cache

from engine import numerics


@dataclass(frozen=True)
class Definition:
    name: str
    module: str
    source: str
    refers_to: frozenset[str]


@lru_cache(maxsize=1)
def definitions() -> dict[str, Definition]:
    """Every top-level definition of the numerics package by name, in package order."""
    found: dict[str, tuple[str, str, ast.AST]] = {}
    for module in numerics.MODULES:
        text = inspect.getsource(module)
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            else:
                continue
            for name in names:
                if name in found:
                    raise RuntimeError(f"engine.numerics defines {name!r} twice "
                                       f"({found[name][0]} and {module.__name__})")
                found[name] = (module.__name__, ast.get_source_segment(text, node), node)
    out = {}
    for name, (module, source, node) in found.items():
        refs = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in found and n.id != name}
        out[name] = Definition(name, module, source, frozenset(refs))
    return out


def is_numerics_function(fn: object) -> bool:
    """Whether ``fn`` is a top-level function of the numerics package (so it can be exported)."""
    name = getattr(fn, "__name__", None)
    mod = getattr(fn, "__module__", "")
    return bool(name) and mod.startswith("engine.numerics.") and name in definitions()


def sources_for(names: set[str]) -> list[str]:
    """Sources of ``names`` and of everything they refer to, in package order."""
    defs = definitions()
    todo, seen = list(names), set()
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(defs[n].refers_to)
    return [d.source for d in defs.values() if d.name in seen]
