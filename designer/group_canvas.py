"""A group opened as its own canvas: a breadcrumb "model › group" above it, with a way back.

The group's inner graph gets its own ``GraphDocument``, scene, view and
inspector, so every canvas gesture works inside as outside.  Its undo stack forwards each command to
the model's stack as an ``InnerEditCommand``: one undo step in the one Undo history, and the group
node's config follows the edit.  Undo and redo reload the open canvas from what the command recorded.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QToolButton, QVBoxLayout, QWidget

from designer.canvas.scene import GraphScene
from designer.canvas.view import GraphView
from designer.document import GraphDocument
from designer.group_commands import InnerEditCommand
from designer.panels.inspector import Inspector
from engine.fileformat import Document
from engine.graph import LayerGraph


class ForwardingStack(QUndoStack):
    """The inner document's undo stack: pushes go to the model's stack wrapped as ``InnerEditCommand``s."""

    def __init__(self, canvas: "GroupCanvas") -> None:
        super().__init__(canvas)
        self.canvas = canvas

    def push(self, command) -> None:  # noqa: D102 (QUndoStack's)
        c = self.canvas
        if c.outer.locked_reason:  # a training run holds the model, and so its groups
            c.scene.status_message.emit(c.outer.locked_reason)
            return
        c.pushing = True
        try:
            c.outer.undo_stack.push(InnerEditCommand(c.outer, c.group_id, c.inner, command, c.reload))
        finally:
            c.pushing = False


def graph_of(data: dict) -> LayerGraph:
    g = LayerGraph()
    g.add_subgraph(data, fresh=False)
    return g


class GroupCanvas(QWidget):
    """The central widget: the model's canvas, or a group's canvas under its breadcrumb."""

    opened = Signal(str)   # group id
    closed = Signal()

    def __init__(self, outer: GraphDocument, view: GraphView, inspector_dock, inspector: Inspector,
                 parent=None) -> None:
        super().__init__(parent)
        self.outer, self.model_view = outer, view
        self.inspector_dock, self.model_inspector = inspector_dock, inspector
        self.group_id: str | None = None
        #: an edit made here is being applied to the group (its config change is not news to this canvas)
        self.pushing = False
        self.inner = GraphDocument(self)
        self.inner.undo_stack = ForwardingStack(self)
        self.scene = GraphScene(self.inner)
        self.view = GraphView(self.scene)
        self.inspector = Inspector(self.inner)
        self.scene.selection_changed_ids.connect(self.inspector.set_selection)
        self.scene.open_group_requested.connect(
            lambda _nid: self.scene.status_message.emit("a group inside a group opens from the model's canvas "
                                                        "after expanding the outer group"))
        self._build()
        back = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.view)
        back.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        back.activated.connect(self.close_group)
        outer.node_removed.connect(lambda nid: nid == self.group_id and self.close_group())
        outer.node_changed.connect(self._on_outer_changed)
        outer.reset.connect(self.close_group)

    def _build(self) -> None:
        self.bar = QWidget()
        self.bar.setObjectName("breadcrumb")
        row = QHBoxLayout(self.bar)
        row.setContentsMargins(8, 4, 8, 4)
        self.back_button = QToolButton()
        self.back_button.setText("← Back to model")
        self.back_button.setToolTip("Close the group and show the whole model (Esc)")
        self.back_button.clicked.connect(self.close_group)
        self.model_link = QToolButton()
        self.model_link.setAutoRaise(True)
        self.model_link.setText("model")
        self.model_link.clicked.connect(self.close_group)
        self.crumb = QLabel()
        self.crumb.setTextFormat(Qt.TextFormat.PlainText)
        self.note = QLabel()
        self.note.setProperty("role", "muted")
        for w in (self.back_button, self.model_link, QLabel("›"), self.crumb):
            row.addWidget(w)
        row.addSpacing(16)
        row.addWidget(self.note, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.model_view)
        self.stack.addWidget(self.view)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.bar)
        col.addWidget(self.stack, 1)
        self.bar.hide()
        self.inner.validation_changed.connect(lambda _r: self._update_note())

    # ----- opening and closing -------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.group_id is not None

    def current_view(self) -> GraphView:
        return self.view if self.is_open else self.model_view

    def open_group(self, group_id: str) -> None:
        node = self.outer.graph.node(group_id)
        self.group_id = group_id
        self.inner.replace(Document(graph_of(node.config["graph"])), None)
        self.crumb.setText(node.name)
        self.model_link.setText(self.outer.display_name.removesuffix(".lgraph"))
        self.bar.show()
        self.stack.setCurrentWidget(self.view)
        self.inspector_dock.setWidget(self.inspector)
        self.view.setFocus()
        self.view.fit_to_view()
        self._update_note()
        self.opened.emit(group_id)

    def close_group(self) -> None:
        if self.group_id is None:
            return
        self.group_id = None
        self.bar.hide()
        self.stack.setCurrentWidget(self.model_view)
        self.inspector_dock.setWidget(self.model_inspector)
        self.model_view.setFocus()
        self.closed.emit()

    def reload(self, group_id: str, data: dict) -> None:
        """Undo/redo of an edit inside: show the inner graph the command recorded (if that group is open)."""
        if group_id == self.group_id:
            self.inner.replace(Document(graph_of(data)), None)

    def _on_outer_changed(self, nid: str) -> None:
        """The open group changed on the model's side (renamed, or its config set by an undo/redo of an
        edit made elsewhere): follow it, so the next edit here starts from what the group holds."""
        if nid != self.group_id:
            return
        node = self.outer.graph.node(nid)
        self.crumb.setText(node.name)
        if not self.pushing and node.config["graph"] != self.inner.graph.to_dict():
            self.inner.replace(Document(graph_of(node.config["graph"])), None)
        self._update_note()

    def _update_note(self) -> None:
        """Say when the graph inside is not (yet) a valid group, so the group keeps its last valid form."""
        if self.group_id is None:
            return
        saved = self.outer.graph.node(self.group_id).config["graph"]
        pending = self.inner.graph.to_dict() != saved
        self.note.setText("not applied to the group yet: inside a group every layer leads to its one output"
                          if pending else "")
