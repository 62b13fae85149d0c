"""The Guide dock: ``layergraph explain`` for the selected node, with its real config and input shapes (read-only)."""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from designer.document import GraphDocument
from designer.panels.guide_picture import picture_image
from engine.errors import LayergraphError
from engine.guide import Guide, guide_inputs, render_guide
from engine.layers import LAYERS, Layer

GUIDE_WIDTH_SHARE, GUIDE_MAX_WIDTH = 0.4, 720  # the Guide's width when it opens: a share, at most this many px
GUIDE_BOTTOM_SHARE = 0.12  # the bottom tab group's height while the Guide is open (Problems still shows a line)
H, V, BOTTOM = Qt.Orientation.Horizontal, Qt.Orientation.Vertical, Qt.DockWidgetArea.BottomDockWidgetArea
PICTURE_SCHEME = "guide-picture"
HINT = "Select one layer (or press F1 on it) to read its guide: what it computes, its shapes and parameters."


class GuideBrowser(QTextBrowser):
    """The guide's text; ``guide-picture:`` images are the drawing of the selected layer, made on request."""

    def __init__(self, view: "GuideView") -> None:
        super().__init__()
        self.view = view
        self.image: QImage | None = None

    def loadResource(self, kind: int, url: QUrl):  # noqa: N802 (Qt's name)
        if url.scheme() == PICTURE_SCHEME:
            return self.image
        return super().loadResource(kind, url)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.image is not None and abs(self.image.width() - self.picture_width()) > 40:
            self.view.refresh()

    def picture_width(self) -> int:
        return min(max(self.viewport().width() - 24, 320), 900)


class GuideView(QWidget):
    """Shows the guide of one node; follows the selection and the node's config and wires."""

    def __init__(self, doc: GraphDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.node_id: str | None = None
        self.revision = 0  # a new image URL per drawing, so the document never shows a cached one
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.browser = GuideBrowser(self)
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

    def current(self) -> tuple[Guide | None, Layer | None, list, str]:
        """``(guide, layer, shapes, note)`` for the selected node; without a guide the note says why."""
        graph, nid = self.doc.graph, self.node_id
        if nid is None or nid not in graph:
            return None, None, [], HINT
        node = graph.node(nid)
        if node.class_name not in LAYERS or LAYERS[node.class_name].max_inputs == 0:
            return None, None, [], f"{node.name} is a graph input: it declares a shape and computes nothing."
        shapes = [self.doc.result.node_shapes.get(src) for src in graph.inputs_of(nid)]
        known = shapes and all(s is not None for s in shapes)
        config = {k: v for k, v in node.config.items() if k != "name"}
        try:
            layer, used = guide_inputs(node.class_name, config, shapes if known else None)
            guide = render_guide(layer, used, None)
        except LayergraphError as exc:
            return None, None, [], f"No guide for {node.name} with its current settings: {exc}"
        where = "" if known else "_(not wired to a known input shape yet: the shapes below use a small example)_\n\n"
        return guide, layer, used, where

    def markdown(self) -> str:
        """The guide for the selected node, or a sentence saying why there is none."""
        guide, _layer, _shapes, note = self.current()
        return note if guide is None else note + guide.markdown

    def refresh(self) -> None:
        guide, layer, shapes, note = self.current()
        if guide is None:
            self.browser.image = None
            self.browser.setMarkdown(note)
            return
        self.revision += 1
        self.browser.image = picture_image(layer, shapes, self.browser.picture_width(), self.palette())
        drawn = f"![the computation of {layer.class_name}]({PICTURE_SCHEME}:{self.revision})\n\n"
        text = guide.markdown.replace("## Picture\n\n", "## Picture\n\n" + drawn, 1)
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setMarkdown(note + text)
        self.browser.verticalScrollBar().setValue(scroll)


def _column_below(window, dock) -> list:
    """The visible docks under ``dock`` in its column (the Run / Keras code tab group), at most one per group."""
    below = [d for d in (getattr(window, "run_dock", None), window.code_dock)
             if d is not None and d.isVisible() and not d.isFloating()
             and window.dockWidgetArea(d) == window.dockWidgetArea(dock)]
    return below[:1]


def _bottom_dock(window):
    dock = window.problems_dock
    ok = dock.isVisible() and not dock.isFloating() and window.dockWidgetArea(dock) == BOTTOM
    return dock if ok else None


def give_room(window) -> None:
    """Open the Guide wide and tall enough to read: about 40% of the window's width (the canvas keeps the rest),
    most of the right column's height, the bottom tab group at its smallest; the sizes before are given back
    when the Guide is hidden (``give_back_room``)."""
    dock = window.guide_dock
    if dock.isFloating() or getattr(window, "_guide_sizes", None):
        return
    bottom = _bottom_dock(window)
    window._guide_sizes = (dock.width(), dock.height(), bottom.height() if bottom else None)
    width = min(max(int(window.width() * GUIDE_WIDTH_SHARE), dock.width()), GUIDE_MAX_WIDTH)
    window.resizeDocks([dock], [width], H)
    if bottom is not None:
        window.resizeDocks([bottom], [int(window.height() * GUIDE_BOTTOM_SHARE)], V)
    below = _column_below(window, dock)
    window.resizeDocks([dock, *below], [window.height(), 1][:1 + len(below)], V)


def give_back_room(window) -> None:
    sizes, window._guide_sizes = getattr(window, "_guide_sizes", None), None
    if not sizes or window.guide_dock.isFloating():
        return
    width, height, bottom_height = sizes
    window.resizeDocks([window.inspector_dock], [width], H)
    below = _column_below(window, window.inspector_dock)
    window.resizeDocks([window.inspector_dock, *below], [height, window.height()][:1 + len(below)], V)
    bottom = _bottom_dock(window)
    if bottom is not None and bottom_height:
        window.resizeDocks([bottom], [bottom_height], V)


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
        give_room(window)

    def visibility(visible: bool):
        if not shiboken6.isValid(window) or not window.isVisible():
            return  # the window is closing: nothing to give room to
        if visible:
            give_room(window)
        else:
            give_back_room(window)

    show.triggered.connect(open_guide)
    window.guide_dock.visibilityChanged.connect(visibility)
    window.addAction(show)
    window.act["guide"] = show
    window.view_menu.addAction(window.guide_dock.toggleViewAction())
    return view
