"""The inspector's part for a custom layer: its trust state and its ``call`` code in an editor.

Untrusted code (a document from elsewhere) is shown, not run, with a button to trust it; trusting is the
user's decision about this machine, not an edit of the document, so it is not an undo step.  Applying the
code checks it by parsing (``CustomDefinition``), signs it (the user wrote it) and pushes one
``SetCustomCodeCommand``; an error underlines its line with the message.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from designer import commands
from designer.document import GraphDocument
from designer.panels.code_editor import CodeEditor
from designer.panels.field_widgets import FieldWidget, make_field_widget
from engine.custom import trust
from engine.custom.definition import CodeError, CustomDefinition
from engine.errors import ConfigError
from engine.graph import jsonable
from engine.layers import layer_class

_LINE = re.compile(r"\.call line (\d+)")


class CustomLayerPanel(QWidget):
    def __init__(self, doc: GraphDocument, node_id: str, push: Callable[[Any], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc, self.node_id, self._push = doc, node_id, push
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        self.banner = QWidget()
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(0, 0, 0, 0)
        self.banner_text = QLabel("Untrusted: this code was not written or accepted on this machine, so it is "
                                  "not run (shapes unknown). Read it, then trust it.")
        self.banner_text.setWordWrap(True)
        self.banner_text.setProperty("role", "error")
        self.trust_button = QPushButton("Trust")
        self.trust_button.setToolTip("Run this layer's code on this machine from now on")
        self.trust_button.clicked.connect(self.trust)
        row.addWidget(self.banner_text, 1)
        row.addWidget(self.trust_button)
        layout.addWidget(self.banner)
        self.arguments = QFormLayout()
        self.arg_editors: dict[str, FieldWidget] = {}
        for spec in self.definition().arguments:
            editor = make_field_widget(spec.field())
            editor.edited.connect(lambda name=spec.name: self.argument_edited(name))
            self.arg_editors[spec.name] = editor
            self.arguments.addRow(spec.name, editor)
        layout.addLayout(self.arguments)
        self.signature = QLabel()
        self.signature.setProperty("role", "muted")
        self.signature.setWordWrap(True)
        layout.addWidget(self.signature)
        self.editor = CodeEditor()
        self.editor.setMinimumHeight(150)
        layout.addWidget(self.editor)
        buttons = QHBoxLayout()
        self.apply_button = QPushButton("Apply code")
        self.apply_button.setToolTip("Check and apply the code (Ctrl+Return); one undo step")
        self.apply_button.clicked.connect(self.apply)
        self.editor.commit.connect(self.apply)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        layout.addLayout(buttons)
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        self.load()

    def definition(self) -> CustomDefinition:
        return self.doc.graph.layer(self.node_id).definition

    def load(self) -> None:
        """Follow the document: the code (unless it is what the editor already holds), trust and problems."""
        d = self.definition()
        values = self.doc.graph.layer(self.node_id).arguments
        for name, editor in self.arg_editors.items():
            editor.set_value(values[name])
            editor.set_invalid(False)
        if self.editor.toPlainText() != d.call:
            self.editor.setPlainText(d.call)
        args = ", ".join(f"{a.name}: {a.kind}" for a in d.arguments) or "none"
        weights = "; ".join(f"{w.name} ({w.shape})" for w in d.weights) or "none"
        self.signature.setText(f"class {d.name} — arguments: {args} — weights: {weights}\ndef call(self, inputs):")
        self.banner.setVisible(not trust.is_trusted(d))
        self.show_problems()

    def show_problems(self) -> None:
        probs = self.doc.result.problems_for(self.node_id) if self.node_id in self.doc.graph else []
        message = next((p.message for p in probs if ".call" in p.message), None)
        m = _LINE.search(message or "")
        self.editor.set_error(int(m.group(1)) if m else None, message or "")
        self._show_error(message)

    def _show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))

    def argument_edited(self, name: str) -> None:
        """One typed argument changed: checked by building the layer, then one ``SetConfigCommand``."""
        node = self.doc.graph.node(self.node_id)
        editor = self.arg_editors[name]
        try:
            value = editor.value()
            arguments = {**(node.config.get("arguments") or {}), name: value}
            config = {**node.config, "arguments": arguments}
            layer_class(node.class_name)({**config, "name": node.name})
        except (ValueError, ConfigError) as exc:
            editor.set_invalid(True)
            self._show_error(str(exc))
            return
        if jsonable(arguments) != jsonable(node.config.get("arguments") or {}):
            self._push(commands.SetConfigCommand(self.doc, self.node_id, config))

    def trust(self) -> None:
        trust.sign(self.definition())
        self.doc.revalidate_all()
        self.load()

    def apply(self) -> None:
        text = self.editor.toPlainText()
        d = self.definition()
        if text == d.call:
            return
        try:
            new = CustomDefinition.from_dict({**d.to_dict(), "call": text})
        except CodeError as exc:
            self.editor.set_error(exc.line, str(exc))
            self._show_error(str(exc))
            return
        except ConfigError as exc:
            self._show_error(str(exc))
            return
        trust.sign(new)  # the user wrote this code here
        node = self.doc.graph.node(self.node_id)
        self._push(commands.SetCustomCodeCommand(self.doc, self.node_id,
                                                 {**node.config, "definition": new.to_dict()}))
