"""The inspector's view of a group: its inner layers as a table (name, class, output shape, params)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from designer.document import sandboxed_shapes
from engine.shapes import fmt_shape
from engine.validation import infer_shapes

COLUMNS = ("name", "class", "output shape", "params")


def group_rows(layer) -> list[tuple[str, str, str, str]]:
    """One row per inner layer of a ``Group`` layer, in the group's node order."""
    inner = layer.inner
    with sandboxed_shapes():
        result = infer_shapes(inner)
    rows = []
    for nid, node in inner.nodes.items():
        shape = result.node_shapes.get(nid)
        rows.append((node.name, node.class_name, "?" if shape is None else fmt_shape(shape),
                     f"{result.param_counts.get(nid, 0):,}"))
    return rows


class GroupTable(QTableWidget):
    """Read-only; the layers are edited by opening the group (double-click its card)."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().hide()
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, len(COLUMNS)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        self.setToolTip("The layers inside the group. Double-click the group's card to open and edit them.")

    def show_group(self, layer) -> None:
        rows = group_rows(layer)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)
        height = self.horizontalHeader().height() + sum(self.rowHeight(r) for r in range(len(rows))) + 4
        self.setMinimumHeight(min(height, 360))
