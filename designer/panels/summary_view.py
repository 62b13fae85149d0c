"""The summary dock: Keras's ``model.summary()`` table (layer, type, output shape, params, inputs) and totals."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from designer.document import GraphDocument
from engine.summary import human_bytes, summarize

COLUMNS = ("Layer", "Type", "Output shape", "Params", "Connected to")
ID_ROLE = Qt.ItemDataRole.UserRole


class SummaryView(QWidget):
    node_activated = Signal(str)  # a row was clicked: select that node

    def __init__(self, doc: GraphDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.cellClicked.connect(self._clicked)
        self.totals = QLabel()
        self.totals.setWordWrap(True)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.totals)
        doc.validation_changed.connect(lambda _r: self.refresh())
        doc.reset.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        s = summarize(self.doc.graph, self.doc.result)
        self.table.setRowCount(len(s.rows))
        for i, r in enumerate(s.rows):
            cells = (r.name, r.class_name, r.output_shape, f"{r.params:,}", r.connected_to or "-")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(ID_ROLE, r.node_id)
                if j == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        text = (f"Total params: {s.total:,} ({human_bytes(s.total)}) · trainable {s.trainable:,} · "
                f"non-trainable {s.non_trainable:,}")
        if s.problems:
            text += f" · {s.problems} problem(s): shapes marked ? are unknown"
        self.totals.setText(text)

    def _clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.node_activated.emit(item.data(ID_ROLE))
