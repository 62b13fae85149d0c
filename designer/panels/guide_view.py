"""The Guide dock: ``layergraph explain`` for the selected node, with its real config and input shapes (read-only)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from designer.document import GraphDocument
from engine.errors import LayergraphError
from engine.guide import explain
from engine.layers import LAYERS

HINT = "Select one layer (or press F1 on it) to read its guide: what it computes, its shapes and parameters."


class GuideView(QWidget):
    """Shows the guide of one node; follows the selection and the node's config and wires."""

    def __init__(self, doc: GraphDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.node_id: str | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        # a hidden tab must not make its tab group taller or wider than the docks beside it need
        self.browser.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        lay.addWidget(self.browser)
        self.browser.setPlainText(HINT)
        doc.validation_changed.connect(lambda _r: self.refresh())
        doc.reset.connect(lambda: self.set_selection([]))

    def set_selection(self, node_ids: list[str]) -> None:
        self.node_id = node_ids[0] if len(node_ids) == 1 else None
        self.refresh()

    def markdown(self) -> str:
        """The guide for the selected node, or a sentence saying why there is none."""
        graph, nid = self.doc.graph, self.node_id
        if nid is None or nid not in graph:
            return HINT
        node = graph.node(nid)
        if node.class_name not in LAYERS or LAYERS[node.class_name].max_inputs == 0:
            return f"{node.name} is a graph input: it declares a shape and computes nothing."
        shapes = [self.doc.result.node_shapes.get(src) for src in graph.inputs_of(nid)]
        known = shapes and all(s is not None for s in shapes)
        config = {k: v for k, v in node.config.items() if k != "name"}
        try:
            guide = explain(node.class_name, config, shapes if known else None)
        except LayergraphError as exc:
            return f"No guide for {node.name} with its current settings: {exc}"
        where = "" if known else "_(not wired to a known input shape yet: the shapes below use a small example)_\n\n"
        return where + guide.markdown

    def refresh(self) -> None:
        self.browser.setMarkdown(self.markdown())


def attach_guide(window) -> GuideView:
    """The Guide dock, a tab behind the Inspector, and F1 to show it for the selected layer."""
    view = GuideView(window.doc)
    window.guide_dock = window.add_dock("Guide", "guideDock", view, Qt.DockWidgetArea.RightDockWidgetArea)
    window.tabifyDockWidget(window.inspector_dock, window.guide_dock)
    window.inspector_dock.raise_()
    window.scene.selection_changed_ids.connect(view.set_selection)
    show = QAction("Layer &guide", window)
    show.setShortcut(QKeySequence(Qt.Key.Key_F1))
    show.setToolTip("Show the guide of the selected layer")

    def open_guide():
        view.set_selection(window.scene.selected_node_ids())
        window.guide_dock.show()
        window.guide_dock.raise_()

    show.triggered.connect(open_guide)
    window.addAction(show)
    window.act["guide"] = show
    window.view_menu.addAction(window.guide_dock.toggleViewAction())
    return view
