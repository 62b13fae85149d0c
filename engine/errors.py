"""Errors a person can act on: each names the thing that is wrong and the fix."""
from __future__ import annotations

import reprlib
from typing import Any


class LayergraphError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(LayergraphError):
    """A layer argument has a wrong type or value.  ``field`` names the argument."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ShapeError(LayergraphError):
    """A layer cannot accept the shapes it is given.

    ``node_id`` is filled in by the validator so the canvas can mark the node.
    """

    def __init__(self, message: str, node_id: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id


class GraphError(LayergraphError):
    """The graph's structure is wrong (cycle, arity, unknown node, ...)."""


class FileFormatError(LayergraphError):
    """A document, dataset or model file cannot be read.  The message names the file and the place."""


class UsageError(LayergraphError):
    """A command-line argument has a value the command cannot use (exit 2, like argparse's own errors)."""


class TrainingError(LayergraphError):
    """Training cannot start or had to stop (NaN, memory, data that does not fit)."""

    def __init__(self, message: str, node_id: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id


# ----- quoting values in messages ----------------------------------------------------------------------
MAX_QUOTED = 80
"""Most characters of any one value a message quotes (a 50 MB name must not become a 50 MB message)."""

_reprs = reprlib.Repr()
_reprs.maxstring = _reprs.maxother = _reprs.maxlong = MAX_QUOTED
_reprs.maxlist = _reprs.maxtuple = _reprs.maxdict = _reprs.maxset = 8
_reprs.maxlevel = 3


def shown(value: Any) -> str:
    """``repr(value)`` for an error message: at most ~``MAX_QUOTED`` characters, on one line.

    ``repr`` escapes line breaks, control characters and unpaired surrogates in text; long values are cut
    with an ellipsis.  Use it for every value that came from a file, a command line or a user.
    """
    try:
        text = _reprs.repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    text = one_line(text)
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED - 1] + "…"


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped and unpaired surrogates replaced,
    so it prints as one line on any terminal encoding."""
    if text.isprintable() and "\n" not in text:
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)
