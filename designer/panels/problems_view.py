"""The problems dock: one sentence per problem; clicking one selects and centres its node."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from designer.document import GraphDocument
from engine.validation import ValidationResult

ID_ROLE = Qt.ItemDataRole.UserRole


class ProblemsView(QWidget):
    node_activated = Signal(str)

    def __init__(self, doc: GraphDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.header = QLabel()
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        lay.addWidget(self.header)
        lay.addWidget(self.list, 1)
        doc.validation_changed.connect(self.refresh)
        doc.reset.connect(lambda: self.refresh(self.doc.result))
        self.refresh(doc.result)

    def refresh(self, result: ValidationResult) -> None:
        self.list.clear()
        g = self.doc.graph
        for p in result.problems:
            where = f"{g.node(p.node_id).name}: " if p.node_id in g else ""
            item = QListWidgetItem(where + p.message)
            item.setData(ID_ROLE, p.node_id)
            item.setToolTip(p.message)
            self.list.addItem(item)
        n = len(result.problems)
        if not len(g):
            self.header.setText("The graph is empty.")
            self.header.setProperty("role", "muted")
        elif n:
            self.header.setText(f"{n} problem{'s' if n != 1 else ''} — click one to show its layer.")
            self.header.setProperty("role", "error")
        else:
            self.header.setText("No problems: every shape fits.")
            self.header.setProperty("role", "muted")
        self.header.style().unpolish(self.header)
        self.header.style().polish(self.header)

    def messages(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        nid = item.data(ID_ROLE)
        if nid and nid in self.doc.graph:
            self.node_activated.emit(nid)
