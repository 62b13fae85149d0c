"""The Guide dock: ``layergraph explain`` for the selected node, with its real config and input shapes (read-only)."""
from __future__ import annotations

import json
import re
import threading

import shiboken6
from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from designer import commands
from designer.document import GraphDocument
from designer.panels.guide_picture import picture_image
from engine.errors import LayergraphError
from engine.guide import TOLERANCE, Guide, Proof, example_graph, explainable_layers, guide_inputs, render_guide, \
    run_proof
from engine.layers import LAYERS, Layer

GUIDE_WIDTH_SHARE, GUIDE_MAX_WIDTH = 0.4, 720  # the Guide's width when it opens: a share, at most this many px
GUIDE_BOTTOM_SHARE = 0.12  # the bottom tab group's height while the Guide is open (Problems still shows a line)
H, V, BOTTOM = Qt.Orientation.Horizontal, Qt.Orientation.Vertical, Qt.DockWidgetArea.BottomDockWidgetArea
PICTURE_SCHEME = "guide-picture"
LINK_SCHEME = "layer"  # ``layer:Dense`` opens Dense's guide in the dock
EXAMPLE_GAP = 300.0  # px between the existing graph's right edge and an inserted example
CODE_SPAN = re.compile(r"`([A-Za-z][A-Za-z0-9]*)`")
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


def linked(markdown: str, current: str) -> str:
    """``markdown`` with every `Name` of another explainable layer, outside code blocks, made a ``layer:`` link."""
    names = set(explainable_layers()) - {current}
    parts = markdown.split("```")
    for i in range(0, len(parts), 2):  # even parts are outside fenced code blocks
        parts[i] = CODE_SPAN.sub(lambda m: f"[`{m[1]}`]({LINK_SCHEME}:{m[1]})" if m[1] in names else m[0], parts[i])
    return "```".join(parts)


def proof_summary(proof: Proof) -> str:
    """One line: the difference engine vs the NumPy reference and the verdict."""
    if proof.difference is None:
        return "Proof ran; no independent NumPy reference covers this layer with this config yet."
    verdict = "PASS" if proof.passed else "FAIL"
    return f"max |engine − NumPy reference| = {proof.difference:.3g} (tolerance {TOLERANCE:g}): {verdict}"


class ProofRunner(QObject):
    """Runs one proof off the UI thread (the reference loops take ~0.1 s on the digits CNN's Conv2D but ~25 s on
    a 28×28×32 → 64 one); never Keras."""

    finished = Signal(object, object)  # (key, Proof or the one-line reason it could not run)

    def start(self, key, layer: Layer, shapes: list, weights: dict | None) -> None:
        threading.Thread(target=self._run, args=(key, layer, shapes, weights), name="guide-proof",
                         daemon=True).start()

    def _run(self, key, layer, shapes, weights) -> None:
        try:
            result = run_proof(layer, shapes, weights=weights)
        except LayergraphError as exc:
            result = f"The proof could not run: {exc}"
        except Exception as exc:  # noqa: BLE001  (a thread's boundary: any failure is shown, the button comes back)
            result = f"The proof could not run: {type(exc).__name__}: {exc}"
        try:
            if shiboken6.isValid(self):
                self.finished.emit(key, result)
        except RuntimeError:
            pass  # the dock was closed while the proof ran


class GuideView(QWidget):
    """Shows the guide of one node (or of a layer a link opened); follows the selection and the node's config
    and wires. Run proof checks the engine on the shown layer; Add example puts its Example model on the canvas."""

    example_added = Signal(list)  # the new node ids

    def __init__(self, doc: GraphDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.node_id: str | None = None
        self.link: str | None = None  # a layer opened from a link; the selection is left as it was
        self.proof: tuple | None = None  # (key, Proof) of the last proof run, shown while the key still holds
        self.revision = 0  # a new image URL per drawing, so the document never shows a cached one
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(self._buttons())
        self.browser = GuideBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self.open_link)
        # a hidden tab must not make its tab group taller or wider than the docks beside it need
        self.browser.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        lay.addWidget(self.browser, 1)
        self.runner = ProofRunner(self)
        self.runner.finished.connect(self._proof_done)
        self.browser.setPlainText(HINT)
        self._enable(False)
        doc.validation_changed.connect(lambda _r: self.refresh())
        doc.weights_changed.connect(self._forget_proof)
        doc.reset.connect(lambda: self.set_selection([]))

    def _buttons(self) -> QVBoxLayout:
        self.proof_button = QPushButton("Run proof")
        self.proof_button.setToolTip("Run the layer in the engine (the node's trained weights when it has them, "
                                     "else seeded ones) and compare it with the plain-NumPy reference")
        self.example_button = QPushButton("Add example to canvas")
        self.example_button.setToolTip("Insert the Example section's model beside the graph (one undo step)")
        self.proof_button.clicked.connect(self.start_proof)
        self.example_button.clicked.connect(self.add_example)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Maximum)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.proof_button)
        row.addWidget(self.example_button)
        row.addStretch(1)
        column = QVBoxLayout()
        column.addLayout(row)
        column.addWidget(self.status)
        return column

    def _enable(self, on: bool) -> None:
        self.proof_button.setEnabled(on)
        self.example_button.setEnabled(on)

    def set_selection(self, node_ids: list[str]) -> None:
        self.node_id = node_ids[0] if len(node_ids) == 1 else None
        self.link = None
        self.status.setText("")
        self.refresh()

    def open_link(self, url: QUrl) -> None:
        """A ``layer:Name`` link: that layer's guide with its defaults; the canvas selection does not change."""
        if url.scheme() == LINK_SCHEME and url.path() in LAYERS:
            self.link = url.path()
            self.status.setText("")
            self.refresh()
            self.browser.verticalScrollBar().setValue(0)

    def current(self) -> tuple[Guide | None, Layer | None, list, str]:
        """``(guide, layer, shapes, note)`` for the shown layer; without a guide the note says why."""
        if self.link is not None:
            layer, used = guide_inputs(self.link)
            note = "_Opened from a link; select a layer (or press F1) to see its own guide._\n\n"
            return render_guide(layer, used, self._proof_for(layer, used)), layer, used, note
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
            guide = render_guide(layer, used, self._proof_for(layer, used))
        except LayergraphError as exc:
            return None, None, [], f"No guide for {node.name} with its current settings: {exc}"
        where = "" if known else "_(not wired to a known input shape yet: the shapes below use a small example)_\n\n"
        return guide, layer, used, where

    def _key(self, layer: Layer, shapes: list) -> str:
        """What a proof result belongs to: the shown node (or link), the layer's config and its input shapes."""
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        return json.dumps([self.link or self.node_id, layer.class_name, config, shapes], default=str)

    def _proof_for(self, layer: Layer, shapes: list) -> Proof | None:
        if self.proof is None or self.proof[0] != self._key(layer, shapes):
            return None
        return self.proof[1]

    def _forget_proof(self) -> None:
        self.proof = None
        self.refresh()

    def start_proof(self) -> None:
        guide, layer, shapes, _note = self.current()
        if guide is None:
            return
        trained = None
        if self.link is None and self.doc.weights and self.node_id in self.doc.weights:
            trained = self.doc.weights[self.node_id]
        self.proof_button.setEnabled(False)
        self.status.setText("Running the proof…")
        self.runner.start(self._key(layer, shapes), layer, shapes, trained)

    def _proof_done(self, key, result) -> None:
        self.proof_button.setEnabled(True)
        if isinstance(result, str):
            self.status.setText(result)
            return
        self.proof = (key, result)
        guide, layer, shapes, _note = self.current()
        if layer is not None and self._key(layer, shapes) == key:
            self.status.setText(proof_summary(result))
            self.refresh()

    def add_example(self) -> None:
        """The Example section's model, placed right of the existing graph, as one undoable paste."""
        guide, layer, shapes, _note = self.current()
        if guide is None:
            return
        data = example_graph(layer, shapes)
        nodes = list(self.doc.graph.nodes.values())
        right = max((n.position[0] for n in nodes), default=-EXAMPLE_GAP) + EXAMPLE_GAP
        top = min((n.position[1] for n in nodes), default=0.0)
        command = commands.PasteCommand(self.doc, data, (right, top))
        command.setText(f"Add {layer.class_name} example")
        why = commands.push(self.doc, command)
        added = f"Added the {layer.class_name} example ({len(command.node_ids)} layers); Ctrl+Z removes it."
        self.status.setText(f"Could not add the example: {why}" if why else added)
        if not why:
            self.example_added.emit(command.node_ids)

    def markdown(self) -> str:
        """The guide for the selected node, or a sentence saying why there is none."""
        guide, _layer, _shapes, note = self.current()
        return note if guide is None else note + guide.markdown

    def refresh(self) -> None:
        guide, layer, shapes, note = self.current()
        self._enable(guide is not None)
        if guide is None:
            self.browser.image = None
            self.browser.setMarkdown(note)
            return
        self.revision += 1
        self.browser.image = picture_image(layer, shapes, self.browser.picture_width(), self.palette())
        drawn = f"![the computation of {layer.class_name}]({PICTURE_SCHEME}:{self.revision})\n\n"
        text = linked(guide.markdown, layer.class_name).replace("## Picture\n\n", "## Picture\n\n" + drawn, 1)
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
    view.example_added.connect(window.scene.reveal_nodes)
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
