"""The inspector: the selected node's name and arguments as typed editors generated from its fields.

Each committed edit is checked by building the layer with the new config first; a ``ConfigError``
is shown in red beside the field and nothing is pushed.  A valid edit becomes exactly one
``SetConfigCommand`` (or ``RenameCommand``), so the inspector itself never mutates the document and
refreshes from it on ``node_changed`` (which also covers undo/redo).
"""
from __future__ import annotations

from engine.graph import jsonable

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFormLayout, QLabel, QLineEdit, QScrollArea, QVBoxLayout, QWidget)

from designer import commands
from designer.document import GraphDocument
from designer.panels.custom_layer_panel import CustomLayerPanel
from designer.panels.field_widgets import FieldWidget, make_field_widget
from designer.panels.group_table import GroupTable
from engine.errors import ConfigError
from engine.layers import layer_class
from engine.shapes import fmt_shape


def _error_label() -> QLabel:
    lab = QLabel()
    lab.setProperty("role", "error")
    lab.setWordWrap(True)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    lab.hide()
    return lab



def _hint() -> QLabel:
    hint = QLabel("Select a layer on the canvas to edit its arguments.")
    hint.setProperty("role", "muted")
    hint.setWordWrap(True)
    hint.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    hint.setMargin(8)
    return hint


class Inspector(QWidget):
    """Shows one node (``set_node``); empty with a hint when zero or several nodes are selected."""

    def __init__(self, doc: GraphDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.node_id: str | None = None
        self.editors: dict[str, FieldWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.custom_panel: CustomLayerPanel | None = None
        self.group_table: GroupTable | None = None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(self.scroll)
        self.body: QWidget | None = None
        self.scroll.setWidget(_hint())

        doc.node_changed.connect(self._on_node_changed)
        doc.node_removed.connect(self._on_node_removed)
        doc.reset.connect(lambda: self.set_node(None))
        doc.validation_changed.connect(lambda _r: self._update_info())

    # ----- building --------------------------------------------------------------------------------
    def set_selection(self, ids: list[str]) -> None:
        self.set_node(ids[0] if len(ids) == 1 else None)

    def set_node(self, node_id: str | None) -> None:
        if node_id is not None and node_id not in self.doc.graph:
            node_id = None
        if node_id == self.node_id and (self.body is not None or node_id is None):
            return
        self.node_id = node_id
        self.editors, self.errors = {}, {}
        if node_id is None:
            self.body = None
            self.scroll.setWidget(_hint())
            return
        self.body = self._build(node_id)
        self.scroll.setWidget(self.body)
        self._load_values()
        self._update_info()

    def _build(self, node_id: str) -> QWidget:
        node = self.doc.graph.node(node_id)
        cls = layer_class(node.class_name)
        body = QWidget()
        form = QFormLayout(body)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow dock: editor under its label
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.title = QLabel(node.class_name)
        self.title.setProperty("role", "heading")
        self.title.setToolTip(cls.doc())
        form.addRow(self.title)
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip("The layer's name; unique in the graph, used in messages and exported code.")
        self.name_edit.editingFinished.connect(self._rename)
        self.name_error = _error_label()
        form.addRow("name", self.name_edit)
        form.addRow(self.name_error)
        self.shape_label = QLabel()
        self.shape_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.params_label = QLabel()
        form.addRow("output shape", self.shape_label)
        form.addRow("params", self.params_label)
        self.general_error = _error_label()
        form.addRow(self.general_error)

        self.custom_panel = None
        if cls.gradient == "automatic":  # a custom layer: its code in an editor instead of the raw definition
            self.custom_panel = CustomLayerPanel(self.doc, node_id, self._push)
            form.addRow(self.custom_panel)
        self.group_table = None
        if cls.composite:  # a group: its layers as a table, not its inner graph as JSON
            self.group_table = GroupTable()
            caption = QLabel(f"Layers inside (double-click the card to open '{node.name}')")
            caption.setWordWrap(True)
            form.addRow(caption)
            form.addRow(self.group_table)
        for f in cls.all_fields():
            if cls.composite and f.kind == "json" or self.custom_panel is not None and f.name in ("definition",
                                                                                                   "arguments"):
                continue
            editor = make_field_widget(f)
            editor.edited.connect(lambda name=f.name: self._field_edited(name))
            label = QLabel(f.name + ("" if not f.required else " *"))
            label.setToolTip(f.doc)
            err = _error_label()
            self.editors[f.name] = editor
            self.errors[f.name] = err
            form.addRow(label, editor)
            form.addRow(err)
        return body

    # ----- following the document --------------------------------------------------------------------
    def _load_values(self) -> None:
        if self.node_id is None:
            return
        node = self.doc.graph.node(self.node_id)
        self.name_edit.setText(node.name)
        self._show_error(self.name_error, None)
        for name, editor in self.editors.items():
            if name in node.config:
                editor.set_value(node.config[name])
            self._show_error(self.errors[name], None)
            editor.set_invalid(False)
        self._show_error(self.general_error, None)
        if self.custom_panel is not None:
            self.custom_panel.load()
        if self.group_table is not None:
            try:
                self.group_table.show_group(self.doc.graph.layer(self.node_id))
            except Exception as exc:  # noqa: BLE001  (a broken group shows its problem, not a crash)
                self._show_error(self.general_error, str(exc))

    def _update_info(self) -> None:
        if self.node_id is None or self.node_id not in self.doc.graph:
            return
        res = self.doc.result
        shape = res.node_shapes.get(self.node_id)
        self.shape_label.setText("?" if shape is None else fmt_shape(shape))
        self.params_label.setText(f"{res.param_counts.get(self.node_id, 0):,}")
        probs = res.problems_for(self.node_id)
        self.shape_label.setToolTip("\n".join(p.message for p in probs))
        if self.custom_panel is not None:
            self.custom_panel.show_problems()

    def _on_node_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self._load_values()
            self._update_info()

    def _on_node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.set_node(None)

    # ----- edits ---------------------------------------------------------------------------------
    def _show_error(self, label: QLabel, message: str | None) -> None:
        label.setText(message or "")
        label.setVisible(bool(message))

    def _field_edited(self, name: str) -> None:
        if self.node_id is None:
            return
        node = self.doc.graph.node(self.node_id)
        editor = self.editors[name]
        for n, lab in self.errors.items():
            self._show_error(lab, None)
            self.editors[n].set_invalid(False)
        self._show_error(self.general_error, None)
        try:
            value = editor.value()
        except ValueError as exc:
            self._reject(name, f"{node.name}: argument '{name}': {exc}")
            return
        if jsonable(value) == jsonable(node.config.get(name)):
            return
        new_config = {**node.config, name: value}
        try:
            layer_class(node.class_name)({**new_config, "name": node.name})
        except ConfigError as exc:
            self._reject(exc.field if exc.field in self.editors else name, str(exc))
            return
        self._push(commands.SetConfigCommand(self.doc, self.node_id, new_config))

    def _reject(self, name: str, message: str) -> None:
        self._show_error(self.errors[name], message)
        self.editors[name].set_invalid(True)

    def _rename(self) -> None:
        if self.node_id is None:
            return
        node = self.doc.graph.node(self.node_id)
        new = self.name_edit.text().strip()
        if new == node.name:
            self._show_error(self.name_error, None)
            return
        if not new:
            self._show_error(self.name_error, "A layer needs a name; type one or press Esc to undo.")
            return
        owner = self.doc.graph.node_by_name(new)
        if owner is not None and owner.id != self.node_id:
            free = self.doc.graph.unique_name(new)
            self._show_error(self.name_error, f"The name '{new}' is already used by another layer; "
                                              f"choose another (e.g. '{free}').")
            return
        self._show_error(self.name_error, None)
        self._push(commands.RenameCommand(self.doc, self.node_id, new))

    def _push(self, command: Any) -> None:
        reason = commands.push(self.doc, command)
        if reason:
            self._load_values()
            self._show_error(self.general_error, reason)
