"""Errors a person can act on: each names the thing that is wrong and the fix."""
from __future__ import annotations


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


class TrainingError(LayergraphError):
    """Training cannot start or had to stop (NaN, memory, data that does not fit)."""

    def __init__(self, message: str, node_id: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id
