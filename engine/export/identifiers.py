"""Safe Python identifiers and literals for generated code.

Layer names come from documents and model files, so they are untrusted text: a name may hold quotes,
newlines, ``__import__(...)``, unicode or a Python keyword.  Generated code uses a name only as

* an identifier made here by ``Identifiers.get`` (ASCII letters, digits and ``_``; never a keyword,
  a builtin, a dunder, or a name the generated module itself uses), or
* a string literal made by ``literal`` (``repr``), which Python reads back as the same text.

Nothing else from a document is ever pasted into generated source.
"""
from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from typing import Any, Iterable

_NON_IDENT = re.compile(r"[^0-9A-Za-z_]+")

#: Names generated modules use themselves; a layer variable must never shadow them.
RESERVED = frozenset({
    "np", "keras", "layers", "argparse", "Path", "model", "inputs", "outputs", "x", "y", "main", "predict",
    "build_model", "load_weights", "weights", "data", "args", "parser", "WEIGHTS_FILE", "W",
})


def sanitize(name: str, fallback: str = "layer") -> str:
    """A readable ASCII identifier for ``name`` (not yet made unique).

    Accents are folded (``ñame`` -> ``name``), runs of other characters become ``_``, a leading
    digit gets a ``_`` prefix, and keywords, builtins, dunders and reserved names get a ``_`` suffix.
    """
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    ident = _NON_IDENT.sub("_", text).strip("_").lower()
    ident = re.sub("_{2,}", "_", ident)[:40].strip("_")
    if not ident:
        ident = fallback
    if ident[0].isdigit():
        ident = f"{fallback}_{ident}"
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident) or hasattr(builtins, ident) or ident in RESERVED:
        ident = f"{ident}_"
    return ident


def camel_case(ident: str) -> str:
    """``res_block_1`` -> ``ResBlock1``: a function name no layer variable can shadow (those are lowercase)."""
    return "".join(part[:1].upper() + part[1:] for part in ident.split("_")) or "Group"


class Identifiers:
    """Gives each key (a node id) one unique identifier derived from its display name."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._by_key: dict[str, str] = {}
        self._taken: set[str] = set(RESERVED) | set(reserved)

    def assign(self, names: dict[str, str]) -> dict[str, str]:
        """Identifiers for ``{key: name}``: every name that is free as it is keeps it exactly, and only the
        rest get a suffix, so layer ``dense_1`` is never renamed because layer ``dense`` needed a suffix."""
        bases = {key: sanitize(name) for key, name in names.items()}
        counts: dict[str, int] = {}
        for base in bases.values():
            counts[base] = counts.get(base, 0) + 1
        for key, base in bases.items():
            if counts[base] == 1 and base not in self._taken:
                self._taken.add(base)
                self._by_key[key] = base
        return {key: self.get(key, names[key]) for key in names}

    def get(self, key: str, name: str | None = None) -> str:
        if key in self._by_key:
            return self._by_key[key]
        base = sanitize(name if name is not None else key)
        ident, i = base, 1
        while ident in self._taken:
            ident = f"{base}_{i}"
            i += 1
        self._taken.add(ident)
        self._by_key[key] = ident
        return ident


def literal(value: Any) -> str:
    """Python source for a JSON-like value (str, number, bool, None, list, tuple, dict) — always via ``repr``.

    Raises ``TypeError`` for anything else so no object's own ``__repr__`` can inject code.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError(f"cannot write the non-finite number {value!r} into generated code")
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"dictionary keys in generated code must be text, got {k!r}")
            items.append(f"{literal(k)}: {literal(v)}")
        return "{" + ", ".join(items) + "}"
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return literal(value.item())
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    raise TypeError(f"cannot write a {type(value).__name__} into generated code")


def comment(text: str) -> str:
    """A one-line ``#`` comment body: newlines and control characters removed."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text)).strip()


def call(head: str, args: list[str], tail: str = "", indent: int = 4, width: int = 110) -> str:
    """``head(arg, ...)tail`` on one line, or one argument per line when that is wider than ``width``."""
    one = f"{head}({', '.join(args)}){tail}"
    if len(one) + indent <= width or not args:
        return one
    pad = " " * (indent + 4)
    return f"{head}(\n" + "".join(f"{pad}{a},\n" for a in args) + " " * indent + f"){tail}"
