"""Type-to-search popup that adds a layer at the cursor (Tab or double-click on empty canvas)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from engine.layers import LAYERS


def match_layers(text: str) -> list[str]:
    """Class names matching ``text``: prefix, substring, family, then in-order letters; shorter first."""
    t = text.strip().lower()
    names = sorted(LAYERS)
    if not t:
        return names

    def rank(name: str) -> int | None:
        n = name.lower()
        fam = LAYERS[name].family.lower()
        if n.startswith(t):
            return 0
        if t in n:
            return 1
        if t in fam:
            return 2
        it = iter(n)
        return 3 if all(ch in it for ch in t) else None

    ranked = [(r, len(name), name) for name in names if (r := rank(name)) is not None]
    return [name for _, _, name in sorted(ranked)]


class QuickAddPopup(QFrame):
    """A filter box over the catalog; Enter (or a click) emits ``chosen(class_name)`` and closes."""

    chosen = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, Qt.Popup)
        self.setFrameShape(QFrame.StyledPanel)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Add layer…")
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.edit)
        lay.addWidget(self.list)
        self.resize(240, 300)
        self.edit.textChanged.connect(self._refilter)
        self.edit.returnPressed.connect(self.accept_current)
        self.list.itemActivated.connect(lambda _item: self.accept_current())
        self.list.itemClicked.connect(lambda _item: self.accept_current())
        self.edit.installEventFilter(self)
        self._refilter("")

    def _refilter(self, text: str) -> None:
        self.list.clear()
        for name in match_layers(text):
            item = QListWidgetItem(f"{name}    {LAYERS[name].family}")
            item.setData(Qt.UserRole, name)
            item.setToolTip(LAYERS[name].doc())
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def current_class(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def accept_current(self) -> None:
        name = self.current_class()
        self.close()
        if name:
            self.chosen.emit(name)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        """Up/Down in the filter box move through the list."""
        if obj is self.edit and event.type() == event.Type.KeyPress and event.key() in (Qt.Key_Up, Qt.Key_Down):
            row = self.list.currentRow() + (1 if event.key() == Qt.Key_Down else -1)
            self.list.setCurrentRow(max(0, min(self.list.count() - 1, row)))
            return True
        return super().eventFilter(obj, event)

    def popup_at(self, global_pos) -> None:
        self.edit.clear()
        self.move(global_pos)
        self.show()
        self.edit.setFocus()
