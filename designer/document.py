"""``GraphDocument``: the Qt wrapper around ``LayerGraph`` and the only code that mutates it.

Views subscribe to its signals (which carry ids, not objects) and never change the graph
themselves; user actions become ``QUndoCommand``s (``designer/commands.py``) that call the
mutators here.  After every mutation the incremental validator runs and ``validation_changed``
fires, so the canvas, problems list, summary and code view all follow the document.
"""
from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.fileformat import Document, load_document, save_document
from engine.graph import Edge, LayerGraph, Node, Position
from engine.custom.probe import isolated_shapes
from engine.validation import ValidationResult, Validator

_painting = {"busy": False}


def _keep_window_painting() -> None:
    """While a custom layer's shape is inferred in its child process: timers fire and the window paints, but no
    user input is taken (an edit must not start while the graph is being validated)."""
    app = QCoreApplication.instance()
    if app is None or _painting["busy"]:
        return
    _painting["busy"] = True
    try:
        app.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
    finally:
        _painting["busy"] = False


def sandboxed_shapes():
    """The designer's shape inference: custom layers' code runs in a limited child process
    (``engine.custom.probe``), so an endless loop or a huge allocation is an error on the node, not a frozen
    window."""
    return isolated_shapes(idle=_keep_window_painting)


@dataclass(frozen=True)
class RemovedWeights:
    """Trained weights taken out with deleted layers: the weights dict they came from, and theirs."""

    source: dict[str, dict[str, Any]] | None
    arrays: dict[str, dict[str, Any]]


class GraphDocument(QObject):
    node_added = Signal(str)
    node_removed = Signal(str)
    node_changed = Signal(str)        # config or name
    node_moved = Signal(str)
    edge_added = Signal(object)       # Edge
    edge_removed = Signal(object)     # Edge
    validation_changed = Signal(object)  # ValidationResult
    weights_changed = Signal()
    reset = Signal()                  # the whole graph was replaced (new/open)
    path_changed = Signal(object)     # Path | None
    frames_changed = Signal()         # an expanded group's frame was added or removed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.graph = LayerGraph()
        self.validator = Validator(self.graph)
        self.result: ValidationResult = self._validate(full=True)
        self.path: Path | None = None
        self.weights: dict[str, dict[str, Any]] | None = None
        self.training: dict[str, Any] = {}
        #: Set by the run panel while training; commands refuse to edit then (see ``commands.push``).
        self.locked_reason: str | None = None
        #: Trained weights changed since the last save (the undo stack does not track weights).
        self.weights_modified = False
        #: Groups expanded in place, by key: their layers are shown framed and can be collapsed again
        #: (``designer.group_commands.GroupFrame``; changed only by undo commands, not saved).
        self.group_frames: dict[str, Any] = {}

    # ----- whole-document operations (not undoable: they reset the stack) -------------------------
    def replace(self, doc: Document, path: Path | None) -> None:
        self.graph = doc.graph
        self.validator = Validator(self.graph)
        self.weights = doc.weights
        self.training = dict(doc.training)
        self.path = Path(path) if path else None
        self.weights_modified = False
        self.group_frames = {}
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.result = self._validate(full=True)
        self.reset.emit()
        self.path_changed.emit(self.path)
        self.validation_changed.emit(self.result)
        self.weights_changed.emit()

    def new(self) -> None:
        self.replace(Document(LayerGraph()), None)

    def open(self, path: str | Path) -> Document:
        """Load ``path``; on any error (``FileFormatError``) the current document is untouched.

        Returns the loaded ``Document``: its ``notices()`` name layers that start from fresh weights."""
        doc = load_document(path)
        self.replace(doc, Path(path))
        return doc

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no file name given")
        save_document(target, self.graph, self.weights, self.training)
        self.path = target
        self.weights_modified = False
        self.undo_stack.setClean()
        self.path_changed.emit(self.path)
        return target

    def set_weights(self, weights: dict[str, dict[str, Any]] | None) -> None:
        """Trained weights (from a run, or None after Reset); they make the document modified."""
        self.weights = weights
        self.weights_modified = True
        self.weights_changed.emit()

    @property
    def is_modified(self) -> bool:
        return not self.undo_stack.isClean() or self.weights_modified

    # ----- mutators: called by undo commands only ----------------------------------------------------
    def add_node(self, class_name: str, config: dict | None = None, position: Position = (0.0, 0.0),
                 name: str | None = None, node_id: str | None = None) -> str:
        nid = self.graph.add_node(class_name, config, position, name, node_id)
        self.node_added.emit(nid)
        self._revalidate()
        return nid

    def connect(self, source: str, target: str, index: int | None = None) -> Edge:
        edge = self.graph.connect(source, target, index)
        self.edge_added.emit(edge)
        self._revalidate()
        return edge

    def disconnect(self, edge: Edge, revalidate: bool = True) -> None:
        self.graph.disconnect(edge)
        self.edge_removed.emit(edge)
        if revalidate:
            self._revalidate()

    def set_config(self, node_id: str, config: dict) -> None:
        self.graph.set_config(node_id, config)
        self.node_changed.emit(node_id)
        self._revalidate()

    def rename(self, node_id: str, name: str) -> None:
        self.graph.rename(node_id, name)
        self.node_changed.emit(node_id)
        self._revalidate()

    def move_node(self, node_id: str, position: Position) -> None:
        self.graph.move(node_id, position)
        self.node_moved.emit(node_id)

    def remove_nodes(self, node_ids: list[str]) -> list[tuple[Node, list[Edge]]]:
        """Remove several nodes (and their edges and trained weights) with one revalidation at the end."""
        removed = []
        dropped = False
        for nid in node_ids:
            edges = self.graph.in_edges(nid) + self.graph.out_edges(nid)
            for e in edges:
                self.disconnect(e, revalidate=False)
            node, _ = self.graph.remove_node(nid)
            removed.append((node, edges))
            if self.weights and self.weights.pop(nid, None) is not None:
                dropped = True
            self.node_removed.emit(nid)
        self._revalidate()
        if dropped:
            self.weights_changed.emit()
        return removed

    def node_weights(self, node_ids: list[str]) -> RemovedWeights:
        """The trained weights of ``node_ids``, to hand back to ``restore_nodes`` on undo."""
        held = {nid: self.weights[nid] for nid in node_ids if self.weights and nid in self.weights}
        return RemovedWeights(self.weights, held)

    def restore_nodes(self, nodes: list[Node], edges: list[Edge], order: list[str] | None = None,
                      weights: RemovedWeights | None = None) -> None:
        """Undo of ``remove_nodes``: the same ids, names, configs, edge indices and trained weights.

        ``order`` is the node order before the removal; restoring it keeps the model's input and
        output order (and ``graph.to_dict()``) exactly as it was.  ``weights`` (from ``node_weights``)
        go back only into the weights they were taken from: after a new run or a reset the other
        layers' weights are not the ones these belonged with.
        """
        for node in nodes:
            self.graph.restore_node(node)
            self.node_added.emit(node.id)
        for e in sorted(set(edges)):
            if e not in self.graph.in_edges(e.target):
                self.graph.connect(e.source, e.target, e.index)
                self.edge_added.emit(e)
        if order is not None:
            self.graph.reorder_nodes(order)
        restored = weights is not None and weights.arrays and weights.source is self.weights
        if restored:
            self.weights.update(weights.arrays)
        self._revalidate()
        if restored:
            self.weights_changed.emit()

    def add_subgraph(self, data: dict, offset: Position = (0.0, 0.0), fresh: bool = True) -> dict[str, str]:
        mapping = self.graph.add_subgraph(data, offset, fresh=fresh)
        added = set(mapping.values())
        for nid in mapping.values():
            self.node_added.emit(nid)
        for e in self.graph.edges:
            if e.target in added and e.source in added:
                self.edge_added.emit(e)
        self._revalidate()
        return mapping

    def revalidate_all(self) -> None:
        """Re-infer every node: something outside the document changed (custom code was trusted)."""
        self.result = self._validate(full=True)
        self.validation_changed.emit(self.result)

    def put_weights(self, arrays: dict[str, dict[str, Any]]) -> None:
        """Trained weights for nodes a command just made (a group from its layers', or the reverse)."""
        if self.weights is not None and arrays:
            self.weights.update(arrays)
            self.weights_changed.emit()

    def reorder_nodes(self, order: list[str]) -> None:
        """Node order is the model's input and output order: commands that replace nodes keep it."""
        self.graph.reorder_nodes(order)
        self._revalidate()

    def set_frame(self, key: str, frame: Any | None) -> None:
        """Add (or with None remove) the frame of a group expanded in place."""
        if frame is None:
            self.group_frames.pop(key, None)
        else:
            self.group_frames[key] = frame
        self.frames_changed.emit()

    # ----- helpers ------------------------------------------------------------------------------------
    def _validate(self, full: bool = False) -> ValidationResult:
        with sandboxed_shapes():
            return self.validator.validate(full=full)

    def _revalidate(self) -> None:
        self.result = self._validate()
        self.validation_changed.emit(self.result)

    @property
    def display_name(self) -> str:
        return self.path.name if self.path else "untitled.lgraph"

