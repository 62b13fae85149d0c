"""Weight shapes of custom layers: an arithmetic-only language, parsed here and never run as Python.

A shape is a comma-separated list of dimensions, each an expression of integers, the layer's arguments
(bare names), the input shape (``input_shape[-1]``; with several inputs ``input_shape[1][-1]``), ``+ - *
//`` and parentheses: ``input_shape[-1], units * 2``.  The same text is valid Python, which is how the Keras
export writes it into ``build`` (arguments become ``self.<name>``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from engine.errors import ConfigError

MAX_EXPRESSION = 500
"""Longest shape text accepted (a shape is a few dimensions; anything longer is damage)."""
MAX_DIMENSION = 2**31 - 1

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]\w*)|(//|[-+*(),\[\]]))")


@dataclass(frozen=True)
class Num:
    value: int


@dataclass(frozen=True)
class Name:
    name: str
    indices: tuple[int, ...] = ()


@dataclass(frozen=True)
class Neg:
    operand: Any


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Any
    right: Any


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ConfigError(f"shape {text!r}: unexpected {text[pos:].strip()[:10]!r}; a shape uses integers, "
                              "argument names, input_shape[i], + - * // and parentheses")
        num, name, sym = m.groups()
        out.append(("num", int(num)) if num else ("name", name) if name else ("sym", sym))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, sym: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (sym is not None and tok != ("sym", sym)):
            want = repr(sym) if sym else "a dimension"
            got = "the end" if tok is None else repr(tok[1])
            raise ConfigError(f"shape {self.text!r}: expected {want}, found {got}")
        self.i += 1
        return tok

    def shape(self) -> tuple:
        dims = [self.expr()]
        while self.peek() == ("sym", ","):
            self.take(",")
            if self.peek() is None:
                break
            dims.append(self.expr())
        if self.peek() is not None:
            raise ConfigError(f"shape {self.text!r}: unexpected {self.peek()[1]!r}")
        return tuple(dims)

    def expr(self):
        node = self.term()
        while self.peek() in (("sym", "+"), ("sym", "-")):
            node = BinOp(self.take()[1], node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.peek() in (("sym", "*"), ("sym", "//")):
            node = BinOp(self.take()[1], node, self.factor())
        return node

    def factor(self):
        kind, value = self.take()
        if (kind, value) == ("sym", "-"):
            return Neg(self.factor())
        if (kind, value) == ("sym", "("):
            node = self.expr()
            self.take(")")
            return node
        if kind == "num":
            return Num(value)
        if kind == "name":
            indices = []
            while self.peek() == ("sym", "["):
                self.take("[")
                sign = -1 if self.peek() == ("sym", "-") else 1
                if sign < 0:
                    self.take("-")
                k, idx = self.take()
                if k != "num":
                    raise ConfigError(f"shape {self.text!r}: an index of {value} must be an integer")
                self.take("]")
                indices.append(sign * idx)
            return Name(value, tuple(indices))
        raise ConfigError(f"shape {self.text!r}: unexpected {value!r}")


def parse_shape(text: str) -> tuple:
    """The parsed dimensions of ``text`` or a ``ConfigError`` saying what is wrong where."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"a weight shape must be non-empty text such as 'input_shape[-1], units', got {text!r}")
    if len(text) > MAX_EXPRESSION:
        raise ConfigError(f"a weight shape is at most {MAX_EXPRESSION} characters")
    return _Parser(text).shape()


def names_in(node) -> set[str]:
    """The names an expression reads."""
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Neg):
        return names_in(node.operand)
    if isinstance(node, BinOp):
        return names_in(node.left) | names_in(node.right)
    return set()


def _lookup(node: Name, args: Mapping[str, Any], input_shapes: list) -> int:
    if node.name == "input_shape":
        value: Any = input_shapes[0] if len(input_shapes) == 1 else input_shapes
        for k in node.indices:
            if not isinstance(value, (list, tuple)) or not -len(value) <= k < len(value):
                raise ConfigError(f"input_shape{''.join(f'[{i}]' for i in node.indices)} is out of range for "
                                  f"the input shape {input_shapes[0] if len(input_shapes) == 1 else input_shapes}")
            value = value[k]
        if value is None:
            raise ConfigError(f"a weight shape reads input_shape{''.join(f'[{i}]' for i in node.indices)}, "
                              "which is unknown (None); weights need known dimensions")
    else:
        if node.name not in args:
            known = ", ".join(["input_shape", *args]) or "input_shape"
            raise ConfigError(f"a weight shape reads {node.name!r}, which is not an argument (known: {known})")
        if node.indices:
            raise ConfigError(f"argument {node.name!r} cannot be indexed in a weight shape")
        value = args[node.name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"a weight shape reads {node.name!r}, which is {value!r}, not an integer")
    return value


def evaluate(node, args: Mapping[str, Any], input_shapes: list) -> int:
    """The integer value of one dimension expression."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        return _lookup(node, args, input_shapes)
    if isinstance(node, Neg):
        return -evaluate(node.operand, args, input_shapes)
    a, b = evaluate(node.left, args, input_shapes), evaluate(node.right, args, input_shapes)
    if node.op == "//" and b == 0:
        raise ConfigError("a weight shape divides by zero")
    value = {"+": a + b, "-": a - b, "*": a * b}.get(node.op) if node.op != "//" else a // b
    if abs(value) > MAX_DIMENSION**2:
        raise ConfigError("a weight shape is far too large")
    return value


def evaluate_shape(text: str, args: Mapping[str, Any], input_shapes: list) -> tuple[int, ...]:
    """The concrete shape ``text`` gives for these arguments and input shapes (every dimension positive)."""
    dims = tuple(evaluate(d, args, input_shapes) for d in parse_shape(text))
    for d in dims:
        if not 1 <= d <= MAX_DIMENSION:
            raise ConfigError(f"weight shape {text!r} gives {dims}; every dimension must be a positive integer")
    return dims


def to_python(node, arg_prefix: str = "self.") -> str:
    """Python source of an expression for the Keras export (arguments read from ``self``)."""
    if isinstance(node, Num):
        return str(node.value)
    if isinstance(node, Name):
        base = node.name if node.name == "input_shape" else f"{arg_prefix}{node.name}"
        return base + "".join(f"[{i}]" for i in node.indices)
    if isinstance(node, Neg):
        return f"-({to_python(node.operand, arg_prefix)})"
    return f"({to_python(node.left, arg_prefix)} {node.op} {to_python(node.right, arg_prefix)})"


def shape_to_python(text: str, arg_prefix: str = "self.") -> str:
    dims = [to_python(d, arg_prefix) for d in parse_shape(text)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
