"""The canvas driven like a user: real mouse and keyboard events on the view's viewport."""
from __future__ import annotations

import json
import warnings

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from designer import commands as c
from designer.canvas.colors import DARK, FAMILY_COLORS
from designer.canvas.edge_item import stroke
from designer.canvas.legibility import READABLE_ZOOM, text_zoom
from designer.canvas.node_item import HEADER, NodeItem
from designer.canvas.scene import CLIPBOARD_FORMAT, GraphScene
from designer.canvas.view import LAYER_MIME, GraphView
from designer.document import GraphDocument
from engine.fileformat import Document
from engine.graph import Edge
from engine.layers import LAYERS, Layer

L = Qt.LeftButton
NOMOD = Qt.NoModifier


@pytest.fixture
def canvas(qtbot):
    doc = GraphDocument()
    scene = GraphScene(doc)
    view = GraphView(scene)
    view.reconnect_policy = "never"
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    qtbot.waitExposed(view)
    view.centerOn(400, 100)
    return doc, scene, view


def add(doc, cls, cfg=None, pos=(0, 0), name=None):
    cmd = c.AddNodeCommand(doc, cls, cfg or {}, pos, name)
    assert c.push(doc, cmd) is None
    return cmd.node_id


def vp(view, scene_pos) -> QPoint:
    return view.mapFromScene(QPointF(scene_pos))


def drag(view, a: QPointF, b: QPointF, steps: int = 4, button=L, modifier=NOMOD) -> None:
    pa, pb = vp(view, a), vp(view, b)
    QTest.mousePress(view.viewport(), button, modifier, pa)
    for k in range(1, steps + 1):
        QTest.mouseMove(view.viewport(), pa + (pb - pa) * (k / steps))
    QTest.mouseRelease(view.viewport(), button, modifier, pb)


def title_point(scene, nid) -> QPointF:
    return scene.node_item(nid).scenePos() + QPointF(100, HEADER / 2)


def test_wire_two_nodes_by_dragging_port_to_port(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    d = add(doc, "Dense", {"units": 4}, (400, 0))
    out_port = scene.node_item(i).out_port
    in_port = scene.node_item(d).input_port(0)
    pa, pb = vp(view, out_port.scenePos()), vp(view, in_port.scenePos())
    QTest.mousePress(view.viewport(), L, NOMOD, pa)
    QTest.mouseMove(view.viewport(), (pa + pb) / 2)
    assert scene.wire is not None and scene.wire.target is None
    QTest.mouseMove(view.viewport(), pb)
    assert scene.wire.target is in_port and scene.wire.ok and in_port.drop_state == "ok"
    QTest.mouseRelease(view.viewport(), L, NOMOD, pb)
    assert scene.wire is None and in_port.drop_state is None
    assert doc.graph.edges == [Edge(i, d, 0)]
    assert doc.undo_stack.undoText() == "Connect input_layer → dense"
    edge_item = scene.edge_item(Edge(i, d, 0))
    assert edge_item.label == "(None, 8)" and edge_item.problem is None
    assert in_port.connected and out_port.connected
    doc.undo_stack.undo()
    assert doc.graph.edges == [] and scene.edge_item(Edge(i, d, 0)) is None and not in_port.connected


def test_illegal_wire_is_red_with_reason_and_not_added(canvas):
    doc, scene, view = canvas
    a = add(doc, "Input", {"shape": (8,)}, (0, 0))
    b = add(doc, "Dense", {"units": 4}, (400, 0))
    d = add(doc, "Dense", {"units": 4}, (800, 0))
    c.push(doc, c.ConnectCommand(doc, a, b, 0))
    c.push(doc, c.ConnectCommand(doc, b, d, 0))
    messages = []
    scene.status_message.connect(messages.append)
    pa = vp(view, scene.node_item(d).out_port.scenePos())
    pb = vp(view, title_point(scene, b))  # drop on the body of 'dense' (its only input is taken)
    QTest.mousePress(view.viewport(), L, NOMOD, pa)
    QTest.mouseMove(view.viewport(), pb)
    assert scene.wire.target is None  # no free input on 'dense'
    pc = vp(view, scene.node_item(b).input_port(0).scenePos())
    QTest.mouseMove(view.viewport(), pc)
    assert scene.wire.ok is False and "already connected" in scene.wire.reason
    assert scene.node_item(b).input_port(0).drop_state == "bad"
    QTest.mouseRelease(view.viewport(), L, NOMOD, pc)
    assert len(doc.graph.edges) == 2 and doc.undo_stack.count() == 5
    assert "already connected" in messages[-1]


def test_invalid_edge_turns_red_then_valid_after_set_config(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (None,)}, (0, 0))
    d = add(doc, "Dense", {"units": 4}, (400, 0))
    c.push(doc, c.ConnectCommand(doc, i, d, 0))
    edge = scene.edge_item(Edge(i, d, 0))
    assert edge.problem and "known last dimension" in edge.problem
    assert "known last dimension" in edge.toolTip()
    assert scene.node_item(d).problems and "known last dimension" in scene.node_item(d).toolTip()
    c.push(doc, c.SetConfigCommand(doc, i, {"shape": (8,)}))
    assert edge.problem is None and edge.toolTip() == "(None, 8)" and not scene.node_item(d).problems
    assert edge.label == "(None, 8)" and scene.node_item(d).shape_value == (None, 4)
    doc.undo_stack.undo()
    assert edge.problem is not None


def test_move_is_one_undo_step_per_drag_with_snap(canvas):
    doc, scene, view = canvas
    a = add(doc, "Dense", {"units": 4}, (0, 0))
    b = add(doc, "Dense", {"units": 4}, (0, 200))
    scene.select_nodes([a, b])
    n = doc.undo_stack.count()
    start = title_point(scene, a)
    drag(view, start, start + QPointF(123, 41), steps=6)
    assert doc.undo_stack.count() == n + 1
    assert doc.undo_stack.undoText() == "Move 2 layers"
    pa, pb = doc.graph.node(a).position, doc.graph.node(b).position
    assert pa[0] % 20 == 0 and pa[1] % 20 == 0 and pa != (0.0, 0.0)
    assert (pb[0] - pa[0], pb[1] - pa[1]) == (0.0, 200.0)
    doc.undo_stack.undo()
    assert doc.graph.node(a).position == (0.0, 0.0)
    assert scene.node_item(a).pos() == QPointF(0, 0) and scene.node_item(b).pos() == QPointF(0, 200)


def test_edges_follow_node_moves(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    d = add(doc, "Dense", {"units": 4}, (400, 0))
    c.push(doc, c.ConnectCommand(doc, i, d, 0))
    c.push(doc, c.MoveNodesCommand(doc, {d: ((400, 0), (400, 300))}))
    end = scene.edge_item(Edge(i, d, 0)).path().pointAtPercent(1.0)
    assert end == scene.node_item(d).input_port(0).scenePos()


def test_rubber_band_selects_and_emits_ids(canvas):
    doc, scene, view = canvas
    a = add(doc, "Dense", {"units": 4}, (0, 0))
    b = add(doc, "Dense", {"units": 4}, (300, 0))
    add(doc, "Dense", {"units": 4}, (0, 400))
    got = []
    scene.selection_changed_ids.connect(got.append)
    drag(view, QPointF(-40, -40), QPointF(520, 140))
    assert scene.selected_node_ids() == [a, b]
    assert got[-1] == [a, b]


def test_copy_paste_subgraph_keeps_edges_with_fresh_names(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    d1 = add(doc, "Dense", {"units": 4}, (300, 0))
    d2 = add(doc, "Dense", {"units": 2}, (600, 0))
    c.push(doc, c.ConnectCommand(doc, i, d1, 0))
    c.push(doc, c.ConnectCommand(doc, d1, d2, 0))
    before = doc.graph.to_dict()
    scene.select_nodes([d1, d2])
    text = scene.copy_selection()
    data = json.loads(text)
    assert data["format"] == CLIPBOARD_FORMAT and len(data["nodes"]) == 2 and len(data["edges"]) == 1
    assert json.loads(QApplication.clipboard().text()) == data
    assert scene.paste_from_clipboard() is None
    new = scene.selected_node_ids()
    assert [doc.graph.node(n).name for n in new] == ["dense_2", "dense_3"]
    assert doc.graph.in_edges(new[1]) == [Edge(new[0], new[1], 0)]
    assert scene.edge_item(Edge(new[0], new[1], 0)) is not None
    scene.paste_from_clipboard()  # a second paste lands on screen, on no other card
    third = scene.selected_node_ids()
    cards = {n: scene.node_item(n).mapRectToScene(scene.node_item(n).card_rect()) for n in doc.graph.nodes}
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    for n in third:
        assert visible.contains(cards[n])
        assert not any(cards[n].intersects(r) for m, r in cards.items() if m not in third)
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.graph.to_dict() == before
    assert scene.paste_text("not json") is not None


def test_cut_and_duplicate(canvas):
    doc, scene, view = canvas
    a = add(doc, "Dense", {"units": 4}, (0, 0))
    scene.select_nodes([a])
    assert scene.duplicate() is None
    assert doc.undo_stack.undoText() == "Duplicate 1 layer"
    assert len(doc.graph) == 2
    scene.select_nodes([a])
    scene.cut()
    assert doc.undo_stack.undoText() == "Cut 'dense'" and a not in doc.graph
    scene.paste_from_clipboard()
    assert doc.graph.node(scene.selected_node_ids()[0]).name == "dense"


@pytest.mark.parametrize("policy, bridged", [("always", True), ("never", False)])
def test_delete_key_with_reconnect_policy(canvas, policy, bridged):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    dr = add(doc, "Dropout", {"rate": 0.5}, (300, 0))
    d = add(doc, "Dense", {"units": 2}, (600, 0))
    c.push(doc, c.ConnectCommand(doc, i, dr, 0))
    c.push(doc, c.ConnectCommand(doc, dr, d, 0))
    before = doc.graph.to_dict()
    view.reconnect_policy = policy
    QTest.mouseClick(view.viewport(), L, NOMOD, vp(view, title_point(scene, dr)))
    assert scene.selected_node_ids() == [dr]
    QTest.keyClick(view, Qt.Key_Delete)
    assert dr not in doc.graph and scene.node_item(dr) is None
    assert doc.graph.edges == ([Edge(i, d, 0)] if bridged else [])
    doc.undo_stack.undo()
    assert doc.graph.to_dict() == before
    assert scene.edge_item(Edge(dr, d, 0)) is not None


def test_delete_selected_edge_disconnects(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    d = add(doc, "Dense", {"units": 2}, (400, 0))
    c.push(doc, c.ConnectCommand(doc, i, d, 0))
    mid = scene.edge_item(Edge(i, d, 0)).path().pointAtPercent(0.25)
    QTest.mouseClick(view.viewport(), L, NOMOD, vp(view, mid))
    assert scene.selected_edges() == [Edge(i, d, 0)]
    QTest.keyClick(view, Qt.Key_Delete)
    assert doc.graph.edges == [] and doc.undo_stack.undoText() == "Disconnect input_layer → dense"


def test_drag_from_connected_input_reroutes_or_detaches(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    d1 = add(doc, "Dense", {"units": 2}, (400, 0))
    d2 = add(doc, "Dense", {"units": 3}, (400, 250))
    c.push(doc, c.ConnectCommand(doc, i, d1, 0))
    drag(view, scene.node_item(d1).input_port(0).scenePos(), scene.node_item(d2).input_port(0).scenePos())
    assert doc.graph.edges == [Edge(i, d2, 0)]
    assert doc.undo_stack.undoText() == "Reconnect input_layer → dense_1"
    drag(view, scene.node_item(d2).input_port(0).scenePos(), QPointF(200, 500))
    assert doc.graph.edges == []
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.graph.edges == [Edge(i, d1, 0)] and scene.edge_item(Edge(i, d1, 0)).isVisible()


def _send_drop(view, class_name: str, point: QPoint) -> None:
    mime = QMimeData()
    mime.setData(LAYER_MIME, class_name.encode())
    with warnings.catch_warnings():  # PySide flags the QPoint constructors; they are the only ones Qt 6 has
        warnings.simplefilter("ignore", DeprecationWarning)
        QApplication.sendEvent(view.viewport(), QDragEnterEvent(point, Qt.CopyAction, mime, L, NOMOD))
        QApplication.sendEvent(view.viewport(), QDragMoveEvent(point, Qt.CopyAction, mime, L, NOMOD))
    QApplication.sendEvent(view.viewport(), QDropEvent(QPointF(point), Qt.CopyAction, mime, L, NOMOD))


def test_drop_from_palette_adds_and_drop_on_wire_inserts(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    d = add(doc, "Dense", {"units": 2}, (600, 0))
    c.push(doc, c.ConnectCommand(doc, i, d, 0))
    before = doc.graph.to_dict()
    wire_point = scene.edge_item(Edge(i, d, 0)).path().pointAtPercent(0.3)
    _send_drop(view, "Dropout", vp(view, wire_point))
    (new,) = [n for n in doc.graph.nodes if n not in (i, d)]
    assert doc.graph.inputs_of(new) == [i] and doc.graph.inputs_of(d) == [new]
    assert doc.undo_stack.undoText() == "Insert Dropout between input_layer and dense"
    assert scene.selected_node_ids() == [new]
    doc.undo_stack.undo()
    assert doc.graph.to_dict() == before
    _send_drop(view, "Flatten", vp(view, QPointF(300, 400)))
    node = doc.graph.node_by_name("flatten")
    item = scene.node_item(node.id)
    assert item.sceneBoundingRect().contains(QPointF(300, 400)) and not doc.graph.in_edges(node.id)


def test_auto_layout_and_undo(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (500, 500))
    d1 = add(doc, "Dense", {"units": 2}, (0, 0))
    d2 = add(doc, "Dense", {"units": 3}, (-300, 90))
    c.push(doc, c.ConnectCommand(doc, i, d1, 0))
    c.push(doc, c.ConnectCommand(doc, d1, d2, 0))
    before = doc.graph.to_dict()
    scene.auto_layout()
    xs = [doc.graph.node(n).position[0] for n in (i, d1, d2)]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert scene.node_item(d2).pos().x() == xs[2]
    assert doc.undo_stack.undoText() == "Auto-layout"
    doc.undo_stack.undo()
    assert doc.graph.to_dict() == before and scene.node_item(d2).pos() == QPointF(-300, 90)


def test_wheel_zoom_keeps_point_under_cursor_and_middle_pan(canvas):
    doc, scene, view = canvas
    add(doc, "Dense", {"units": 2}, (0, 0))
    p = QPoint(300, 200)
    under = view.mapToScene(p)
    z = view.zoom()
    QApplication.sendEvent(view.viewport(), QWheelEvent(QPointF(p), QPointF(view.viewport().mapToGlobal(p)),
                                                        QPoint(0, 0), QPoint(0, 240), Qt.NoButton, NOMOD,
                                                        Qt.NoScrollPhase, False))
    assert view.zoom() > z * 1.2
    after = view.mapToScene(p)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2
    before = view.mapToScene(QPoint(500, 300))
    QTest.mousePress(view.viewport(), Qt.MiddleButton, NOMOD, QPoint(500, 300))
    QTest.mouseMove(view.viewport(), QPoint(400, 250))
    QTest.mouseRelease(view.viewport(), Qt.MiddleButton, NOMOD, QPoint(400, 250))
    moved = view.mapToScene(QPoint(500, 300))
    assert moved.x() > before.x() + 50 and moved.y() > before.y() + 20


def test_fit_to_view_with_f_key_shows_all_nodes(canvas):
    doc, scene, view = canvas
    add(doc, "Dense", {"units": 2}, (-700, 0))
    add(doc, "Dense", {"units": 2}, (700, 500))
    QTest.keyClick(view, Qt.Key_F)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(scene.nodes_bounding_rect())


def test_fit_never_zooms_out_past_legible_text_and_shows_the_inputs(canvas):
    """A graph too big to show whole at a readable size is shown from its inputs, top left."""
    doc, scene, view = canvas
    ids = [add(doc, "Input", {"shape": (4,)}, (0, 0))]
    for k in range(1, 40):  # one long row, like an imported chain before any wrapping
        ids.append(add(doc, "Dense", {"units": 2}, (300 * k, 0)))
        c.push(doc, c.ConnectCommand(doc, ids[-2], ids[-1], 0))
    QTest.keyClick(view, Qt.Key_F)
    assert view.zoom() == pytest.approx(READABLE_ZOOM)
    view.viewport().repaint()
    assert text_zoom(view.zoom()) == "simple" and not scene.overview.active  # the cards draw their text
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    first = scene.node_item(ids[0]).sceneBoundingRect()
    assert shown.contains(first) and first.left() - shown.left() < 100 / view.zoom()  # the input, at the left
    assert not shown.contains(scene.node_item(ids[-1]).sceneBoundingRect())


def test_fit_to_view_never_magnifies_and_leaves_a_margin(canvas):
    doc, scene, view = canvas
    n = add(doc, "Dense", {"units": 2}, (137, -41))
    QTest.keyClick(view, Qt.Key_F)
    assert view.zoom() == pytest.approx(1.0)  # one small card: real size, not blown up
    card = view.mapFromScene(scene.node_item(n).sceneBoundingRect()).boundingRect()
    assert view.viewport().rect().center().x() == pytest.approx(card.center().x(), abs=3)
    add(doc, "Dense", {"units": 2}, (1500, 700))
    QTest.keyClick(view, Qt.Key_F)
    assert view.zoom() < 0.7
    shown = view.mapFromScene(scene.nodes_bounding_rect()).boundingRect()
    vp = view.viewport().rect()
    assert min(shown.left() - vp.left(), vp.right() - shown.right(),
               shown.top() - vp.top(), vp.bottom() - shown.bottom()) >= 30


def test_empty_canvas_shows_a_hint_until_a_layer_is_added(canvas):
    doc, scene, view = canvas
    assert "Drag a layer from the palette" in view.hint_text() and "Tab" in view.hint_text()

    def centre_ink() -> int:
        img = view.viewport().grab().toImage()
        bg = QColor(scene.colors["background"])
        cy = img.height() // 2
        return sum(1 for x in range(img.width()) for y in range(cy - 12, cy + 12, 3)
                   if abs(QColor(img.pixel(x, y)).lightness() - bg.lightness()) > 40)
    assert centre_ink() > 20  # the sentence is drawn in the middle of the canvas
    nid = add(doc, "Dense", {"units": 2}, (5000, 5000))  # off screen: the middle is empty again
    assert view.hint_text() == "" and centre_ink() == 0
    c.push(doc, c.RemoveNodesCommand(doc, [nid]))
    assert view.hint_text()


def test_input_nodes_have_their_own_title_colour(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8,)}, (0, 0))
    d = add(doc, "Dense", {"units": 2}, (300, 0))
    e = add(doc, "Embedding", {"input_dim": 10, "output_dim": 4}, (600, 0))
    titles = {scene.node_item(n).title_color for n in (i, d, e)}
    assert scene.node_item(d).family == scene.node_item(i).family == "core"
    assert len(titles) == 2 and scene.node_item(d).title_color == scene.node_item(e).title_color
    assert scene.node_item(i).title_color not in FAMILY_COLORS.values()


def test_short_wires_shrink_or_hide_the_shape_label(canvas):
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (8, 8, 16)}, (0, 0))
    far = add(doc, "Flatten", {}, (500, 0))
    near = add(doc, "Flatten", {}, (270, 10))
    i2 = add(doc, "Input", {"shape": (8, 8, 16)}, (0, 600))
    tight = add(doc, "Flatten", {}, (215, 580))
    for s, t in ((i, far), (i, near), (i2, tight)):
        c.push(doc, c.ConnectCommand(doc, s, t, 0))
    labels = {t: scene.edge_item(Edge(s, t, 0)) for s, t in ((i, far), (i, near), (i2, tight))}
    assert all(e.label == "(None, 8, 8, 16)" for e in labels.values())
    assert labels[far].shown_label == "(None, 8, 8, 16)"
    assert labels[near].shown_label == "8×8×16"  # 70 px of wire: the compact form
    assert labels[tight].shown_label == "" and labels[tight].toolTip() == "(None, 8, 8, 16)"  # 15 px: none
    c.push(doc, c.MoveNodesCommand(doc, {tight: ((215.0, 580.0), (215.0, 400.0))}))
    assert labels[tight].shown_label == "(None, 8, 8, 16)"  # a tall wire has room enough
    for e in labels.values():  # the label never covers a port
        a, b = e.endpoints()
        assert not e._label_rect.contains(a) and not e._label_rect.contains(b)


def test_a_skip_connection_detours_over_the_cards_between(canvas):
    doc, scene, view = canvas
    ids = [add(doc, cls, cfg, (x, 0)) for x, (cls, cfg) in zip(
        (0, 300, 600, 900), (("Input", {"shape": (4,)}), ("Dense", {"units": 4}), ("Dense", {"units": 4}),
                             ("Add", {})))]
    for a, b in zip(ids, ids[1:3]):
        c.push(doc, c.ConnectCommand(doc, a, b, 0))
    c.push(doc, c.ConnectCommand(doc, ids[2], ids[3], 0))
    c.push(doc, c.ConnectCommand(doc, ids[0], ids[3], 1))
    skip, chain = scene.edge_item(Edge(ids[0], ids[3], 1)), scene.edge_item(Edge(ids[0], ids[1], 0))
    cards = [scene.node_item(n).mapRectToScene(scene.node_item(n).card_rect()) for n in ids[1:3]]
    assert skip.detoured and not chain.detoured
    assert not any(stroke(skip.path(), 2).intersects(r) for r in cards)  # over the Dense cards, not behind
    assert skip.path().boundingRect().top() < min(r.top() for r in cards)
    assert skip._label_rect.bottom() < min(r.top() for r in cards)  # its shape label is readable too
    # move the middle cards down out of the way: the skip wire goes straight again
    c.push(doc, c.MoveNodesCommand(doc, {n: ((x, 0.0), (x, 400.0)) for n, x in zip(ids[1:3], (300.0, 600.0))}))
    assert not skip.detoured


def test_tab_quick_add_at_cursor(canvas, qtbot):
    doc, scene, view = canvas
    QTest.mouseMove(view.viewport(), QPoint(300, 300))
    QTest.keyClick(view, Qt.Key_Tab)
    popup = view.quick_add
    assert popup.isVisible()
    QTest.keyClicks(popup.edit, "maxpool2")
    assert popup.current_class() == "MaxPooling2D"
    QTest.keyClick(popup.edit, Qt.Key_Return)
    assert not popup.isVisible()
    node = doc.graph.node_by_name("max_pooling2d")
    assert node is not None and doc.undo_stack.undoText() == "Add MaxPooling2D 'max_pooling2d'"


def test_double_click_empty_canvas_opens_quick_add(canvas):
    doc, scene, view = canvas
    QTest.mouseDClick(view.viewport(), L, NOMOD, QPoint(200, 500))
    assert view.quick_add.isVisible()
    view.quick_add.close()


def test_merge_layer_grows_input_ports(canvas, monkeypatch):
    class FakeMerge(Layer):
        class_name = "FakeMerge"
        family = "merging"
        min_inputs, max_inputs = 2, None

        def output_shape(self, input_shapes):
            return input_shapes[0]

    monkeypatch.setitem(LAYERS, "FakeMerge", FakeMerge)
    doc, scene, view = canvas
    srcs = [add(doc, "Input", {"shape": (4,)}, (0, 150 * k)) for k in range(3)]
    m = add(doc, "FakeMerge", {}, (400, 0))
    item = scene.node_item(m)
    assert len(item.in_ports) == 2
    for k, s in enumerate(srcs):
        drag(view, scene.node_item(s).out_port.scenePos(), scene.node_item(m).input_port(k).scenePos())
        assert len(item.in_ports) == max(2, k + 2)
    assert [e.index for e in doc.graph.in_edges(m)] == [0, 1, 2]
    doc.undo_stack.undo()
    assert len(item.in_ports) == 3


def test_validation_updates_only_changed_nodes(canvas, monkeypatch):
    doc, scene, view = canvas
    ids = [add(doc, "Input", {"shape": (8,)}, (0, 0))]
    for k in range(1, 300):
        ids.append(add(doc, "Dense", {"units": 8}, (250 * (k % 20), 150 * (k // 20))))
        doc.graph.connect(ids[-2], ids[-1])  # fast setup; the scene learns about it through the document below
    doc.replace(Document(doc.graph), None)
    calls = []
    monkeypatch.setattr(NodeItem, "set_validation", lambda self, *a: calls.append(self.node_id))
    c.push(doc, c.SetConfigCommand(doc, ids[290], {"activation": "relu"}))
    assert calls == []  # same shape, params and problems: nothing repainted
    c.push(doc, c.SetConfigCommand(doc, ids[297], {"units": 3}))
    assert sorted(calls) == sorted([ids[297], ids[298]])  # its own shape, the next layer's params


def test_badge_highlight_theme_and_locked(canvas):
    doc, scene, view = canvas
    a = add(doc, "Dense", {"units": 2}, (0, 0))
    b = add(doc, "Dense", {"units": 2}, (400, 0))
    scene.set_node_badge(a, "loss 0.12")
    assert scene.node_item(a).badge == "loss 0.12"
    scene.highlight_node(a, "NaN in the output of 'dense' at batch 3")
    assert "NaN" in scene.node_item(a).toolTip()
    scene.highlight_node(a, None)
    assert "NaN" not in scene.node_item(a).toolTip()
    scene.set_canvas_theme(True)
    assert scene.backgroundBrush().color().name().upper() == DARK["background"].upper()
    image = view.grab().toImage()
    assert image.pixelColor(5, 5).name().upper() in (DARK["background"].upper(), DARK["grid"].upper(),
                                                       DARK["grid_major"].upper())
    doc.locked_reason = "Training is running; stop it to edit the graph."
    said = []
    scene.status_message.connect(said.append)
    drag(view, scene.node_item(a).out_port.scenePos(), scene.node_item(b).input_port(0).scenePos())
    assert doc.graph.edges == [] and said and said[0].startswith("Training")
    drag(view, title_point(scene, b), title_point(scene, b) + QPointF(100, 100))
    assert doc.graph.node(b).position == (400.0, 0.0) and scene.node_item(b).pos() == QPointF(400, 0)


# ----- scale: batched drawing when zoomed out ------------------------------------------------------------
def _grid(doc, n: int) -> list[str]:
    """A chain of ``n`` layers in rows of 10 with a skip Add every 5th, like a big imported model."""
    ids = [add(doc, "Input", {"shape": (8,)}, (0, 0))]
    for i in range(1, n):
        pos = ((i % 10) * 300.0, (i // 10) * 180.0)
        if i % 5 == 0:
            ids.append(add(doc, "Add", {}, pos))
            c.push(doc, c.ConnectCommand(doc, ids[-2], ids[-1], 0))
            c.push(doc, c.ConnectCommand(doc, ids[-6], ids[-1], 1))
        else:
            ids.append(add(doc, "Dense", {"units": 8}, pos))
            c.push(doc, c.ConnectCommand(doc, ids[-2], ids[-1], 0))
    return ids


def _pictures(view, monkeypatch):
    """The viewport drawn in overview mode, then drawn item by item (overview switched off)."""
    import designer.canvas.view as view_module

    batched = view.viewport().grab().toImage()
    assert view.scene().overview.active
    monkeypatch.setattr(view_module, "OVERVIEW_LOD", 0.0)
    itemwise = view.viewport().grab().toImage()
    assert not view.scene().overview.active
    monkeypatch.undo()
    return batched, itemwise


def test_zoomed_out_canvas_is_drawn_in_batches_with_the_same_picture(canvas, monkeypatch):
    doc, scene, view = canvas
    ids = _grid(doc, 40)
    c.push(doc, c.SetConfigCommand(doc, ids[3], {"units": 8, "activation": "nope"}))  # a red card
    scene.select_nodes(ids[7:9])
    view.resetTransform()
    view.scale(0.2, 0.2)
    view.centerOn(scene.nodes_bounding_rect().center())
    batched, itemwise = _pictures(view, monkeypatch)
    assert batched == itemwise
    # in overview mode the items paint nothing themselves, yet the view still finds them under the cursor
    view.viewport().repaint()
    node = scene.node_item(ids[12])
    assert node.flags() & node.GraphicsItemFlag.ItemHasNoContents
    assert view.itemAt(vp(view, title_point(scene, ids[12]))) is node
    # zoomed back in, the cards draw themselves again (text and all)
    view.resetTransform()
    view.viewport().repaint()
    assert not scene.overview.active and not node.flags() & node.GraphicsItemFlag.ItemHasNoContents


def test_zoomed_out_clicks_drags_and_undo_redraw_the_batches(canvas, monkeypatch):
    doc, scene, view = canvas
    ids = _grid(doc, 20)
    view.resetTransform()
    view.scale(0.25, 0.25)
    view.centerOn(scene.nodes_bounding_rect().center())
    first = view.viewport().grab().toImage()
    QTest.mouseClick(view.viewport(), L, NOMOD, vp(view, title_point(scene, ids[6])))
    assert scene.selected_node_ids() == [ids[6]]
    drag(view, title_point(scene, ids[6]), title_point(scene, ids[6]) + QPointF(0, 400))
    assert doc.graph.node(ids[6]).position[1] > 300
    moved, itemwise = _pictures(view, monkeypatch)
    assert moved != first and moved == itemwise  # the cache followed the selection and the move
    doc.undo_stack.undo()
    scene.clearSelection()
    c.push(doc, c.RemoveNodesCommand(doc, [ids[19]]))
    doc.undo_stack.undo()
    view.viewport().repaint()
    batched, itemwise = _pictures(view, monkeypatch)
    assert batched == itemwise and batched != moved


def test_wires_carrying_a_mask_are_marked_with_where_it_comes_from(canvas):
    """Embedding(mask_zero) makes a mask; the LSTM's sequence passes it on; the pooling consumes it."""
    from designer.canvas.edge_item import MASK_MARK
    doc, scene, view = canvas
    i = add(doc, "Input", {"shape": (5,), "dtype": "int32"}, (0, 0))
    e = add(doc, "Embedding", {"input_dim": 10, "output_dim": 4}, (320, 0), name="tokens")
    r = add(doc, "LSTM", {"units": 3, "return_sequences": True}, (640, 0))
    p = add(doc, "GlobalAveragePooling1D", {}, (960, 0))
    o = add(doc, "Dense", {"units": 2}, (1280, 0))
    for a, b in ((i, e), (e, r), (r, p), (p, o)):
        c.push(doc, c.ConnectCommand(doc, a, b, 0))
    wires = [scene.edge_item(Edge(a, b, 0)) for a, b in ((i, e), (e, r), (r, p), (p, o))]
    assert not any(w.mask_from for w in wires) and not wires[1].label.endswith(MASK_MARK)
    c.push(doc, c.SetConfigCommand(doc, e, {"mask_zero": True}))
    assert [bool(w.mask_from) for w in wires] == [False, True, True, False]
    assert wires[1].label == "(None, 5, 4)" + MASK_MARK
    assert wires[2].toolTip() == "(None, 5, 3)\ncarries a mask from tokens"
    assert wires[3].toolTip() == "(None, 3)"
    doc.undo_stack.undo()
    assert not any(w.mask_from for w in wires) and wires[1].toolTip() == "(None, 5, 4)"
