"""The layer palette: every catalog layer grouped by family, a filter box, drag-to-canvas.

Dragging a layer starts a ``QDrag`` whose mime data is ``application/x-layergraph-layer`` holding
the class name; the canvas view adds the layer where it is dropped.  Double-click (or Enter in the
filter box, for the first match) asks for the layer at the centre of the view via ``add_requested``.
"""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.layers import FAMILIES, LAYERS

LAYER_MIME = "application/x-layergraph-layer"
CLASS_ROLE = Qt.ItemDataRole.UserRole


def layer_mime_data(class_name: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(LAYER_MIME, class_name.encode("utf-8"))
    mime.setText(class_name)
    return mime


class LayerTree(QTreeWidget):
    """The tree itself; only leaf items (layers) can be dragged."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)

    def mimeTypes(self) -> list[str]:  # noqa: N802 (Qt override)
        return [LAYER_MIME]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:  # noqa: N802 (Qt override)
        names = [it.data(0, CLASS_ROLE) for it in items if it.data(0, CLASS_ROLE)]
        return layer_mime_data(names[0]) if names else QMimeData()

    def startDrag(self, actions: Qt.DropAction) -> None:  # noqa: N802 (Qt override)
        item = self.currentItem()
        name = item.data(0, CLASS_ROLE) if item else None
        if not name:
            return
        drag = QDrag(self)
        drag.setMimeData(layer_mime_data(name))
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    add_requested = Signal(str)  # class name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter layers…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.apply_filter)
        self.filter.returnPressed.connect(self._add_first_match)
        self.tree = LayerTree()
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        lay.addWidget(self.filter)
        lay.addWidget(self.tree, 1)
        self.items: dict[str, QTreeWidgetItem] = {}
        self._populate()

    def _populate(self) -> None:
        families = list(FAMILIES) + sorted({c.family for c in LAYERS.values()} - set(FAMILIES))
        for fam in families:
            members = sorted((c for c in LAYERS.values() if c.family == fam), key=lambda c: c.class_name)
            if not members:
                continue
            group = QTreeWidgetItem(self.tree, [fam])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for cls in members:
                item = QTreeWidgetItem(group, [cls.class_name])
                item.setData(0, CLASS_ROLE, cls.class_name)
                item.setToolTip(0, f"<b>{cls.class_name}</b><br>{_html(cls.doc())}")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                self.items[cls.class_name] = item
            group.setExpanded(True)

    def apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            any_shown = False
            for j in range(group.childCount()):
                item = group.child(j)
                name = item.data(0, CLASS_ROLE)
                show = not needle or needle in name.lower() or needle in LAYERS[name].doc().lower()
                item.setHidden(not show)
                any_shown |= show
            group.setHidden(not any_shown)
            if needle and any_shown:
                group.setExpanded(True)

    def visible_layers(self) -> list[str]:
        return [name for name, item in self.items.items() if not item.isHidden() and not item.parent().isHidden()]

    def _add_first_match(self) -> None:
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                item = group.child(j)
                if not item.isHidden() and not group.isHidden():
                    self.add_requested.emit(item.data(0, CLASS_ROLE))
                    return

    def _double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        name = item.data(0, CLASS_ROLE)
        if name:
            self.add_requested.emit(name)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
