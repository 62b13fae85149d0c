"""layergraph's engine: the layer catalog, the document model, validation, execution and training.

Pure Python + NumPy + networkx; it never imports Qt, so it works from a notebook or the command line.
"""
from engine.errors import ConfigError, FileFormatError, GraphError, LayergraphError, ShapeError, TrainingError
from engine.graph import Edge, LayerGraph, Node

__all__ = ["ConfigError", "FileFormatError", "GraphError", "LayergraphError", "ShapeError", "TrainingError",
           "Edge", "LayerGraph", "Node"]
