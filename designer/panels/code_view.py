"""The code dock: the Keras 3 code for the current graph, syntax-highlighted, regenerated (debounced)
after edits, with a Copy button."""
from __future__ import annotations

import keyword
import re
from typing import Callable

from PySide6.QtCore import QRegularExpression, QTimer
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from designer.document import GraphDocument, sandboxed_shapes
from designer.theme import syntax_colors
from engine.graph import LayerGraph

DEBOUNCE_MS = 200
_BUILTINS = ("print", "len", "range", "int", "float", "str", "list", "dict", "tuple", "None", "True", "False",
             "super", "self", "isinstance", "zip", "enumerate")


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, builtins, numbers, strings, comments, decorators and def/class names."""

    def __init__(self, document, dark: bool = False) -> None:
        super().__init__(document)
        self.set_dark(dark)

    def set_dark(self, dark: bool) -> None:
        c = syntax_colors(dark)

        def fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(color))
            if bold:
                f.setFontWeight(QFont.Weight.Bold)
            f.setFontItalic(italic)
            return f

        kw = r"\b(" + "|".join(k for k in keyword.kwlist if k not in ("None", "True", "False")) + r")\b"
        self.rules = [
            (QRegularExpression(kw), fmt(c["keyword"], bold=True), 0),
            (QRegularExpression(r"\b(" + "|".join(_BUILTINS) + r")\b"), fmt(c["builtin"]), 0),
            (QRegularExpression(r"\b[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?\b"), fmt(c["number"]), 0),
            (QRegularExpression(r"@[A-Za-z_][\w.]*"), fmt(c["decorator"]), 0),
            (QRegularExpression(r"\b(?:def|class)\s+(\w+)"), fmt(c["def"], bold=True), 1),
            (QRegularExpression(r"(\"[^\"\\]*(\\.[^\"\\]*)*\"|'[^'\\]*(\\.[^'\\]*)*')"), fmt(c["string"]), 0),
            (QRegularExpression(r"#[^\n]*"), fmt(c["comment"], italic=True), 0),
        ]
        self.docstring = fmt(c["string"])
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt override)
        for rx, f, group in self.rules:
            it = rx.globalMatch(text)
            while it.hasNext():
                m = it.next()
                self.setFormat(m.capturedStart(group), m.capturedLength(group), f)
        self._triple_quotes(text)

    def _triple_quotes(self, text: str) -> None:
        """Multi-line docstrings: block state 1 means "inside a triple-quoted string"."""
        start = 0
        inside = self.previousBlockState() == 1
        self.setCurrentBlockState(0)
        for m in re.finditer('"""', text):
            if inside:
                self.setFormat(start, m.end() - start, self.docstring)
                inside = False
            else:
                start = m.start()
                inside = True
        if inside:
            self.setFormat(start, len(text) - start, self.docstring)
            self.setCurrentBlockState(1)


def default_generator() -> Callable[[LayerGraph], str] | None:
    """``engine.export.keras_code.keras_code`` once the exporter exists, else None."""
    try:
        from engine.export.keras_code import keras_code
    except ImportError:
        return None
    return keras_code


class CodeView(QWidget):
    def __init__(self, doc: GraphDocument, parent: QWidget | None = None,
                 generator: Callable[[LayerGraph], str] | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.generator = generator or default_generator()
        self._dirty = True
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.status = QLabel("Keras 3")
        self.status.setProperty("role", "muted")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the generated code to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.copy_button)
        lay.addLayout(bar)
        self.text = QPlainTextEdit()
        self.text.setObjectName("codeView")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        lay.addWidget(self.text, 1)
        self.highlighter = PythonHighlighter(self.text.document())
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.regenerate)
        doc.validation_changed.connect(self.schedule)
        doc.reset.connect(self.schedule)
        self.schedule()

    def set_dark(self, dark: bool) -> None:
        self.highlighter.set_dark(dark)

    def schedule(self, *_args) -> None:
        self._dirty = True
        self.timer.start()

    def regenerate(self) -> None:
        self._dirty = False
        self.text.setPlainText(self.code_for(self.doc.graph))

    def code_for(self, graph: LayerGraph) -> str:
        if self.generator is None:
            self.status.setText("Keras 3 (exporter not available)")
            return "# The Keras code exporter (engine.export.keras_code) is not installed in this build."
        if len(graph) == 0:
            self.status.setText("Keras 3")
            return "# Add layers from the palette to see the Keras 3 code for your graph."
        problems = len(self.doc.result.problems)
        try:
            with sandboxed_shapes():  # the exporter infers shapes again: custom code runs only in the limited child
                code = self.generator(graph)
        except Exception as exc:  # an exporter refusal is shown, never raised into the UI
            self.status.setText(f"Keras 3 — {problems} problem(s)" if problems else "Keras 3")
            return f"# The code cannot be generated yet:\n# {exc}\n# Fix the problems listed in the Problems dock."
        self.status.setText(f"Keras 3 — {problems} problem(s)" if problems else "Keras 3")
        return code

    def copy(self) -> None:
        if self._dirty:
            self.regenerate()
        QGuiApplication.clipboard().setText(self.text.toPlainText())
