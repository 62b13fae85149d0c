"""Randomized edit / undo / redo stress of the canvas, with a forced repaint after every action.

Thousands of seeded random actions — add, delete (keys and menu), connect, disconnect, drag and move,
paste, duplicate, insert on a wire, auto-layout, open an example, zoom, undo, redo — each followed by
a synchronous repaint of the view and the scene invariant of ``scene_check`` (no item that belongs
to no node or wire, every wire drawn once between its own ports).  A crash in Qt's painting kills
the process, so the test runs this module in a subprocess with ``faulthandler`` on.

    python -m tests.designer.stress --actions 20000 --seed 7       # the long run
    python -m tests.designer.stress --seconds 40                    # what CI runs (random seed)

The seed is printed first; rerun with it to replay the same actions.  Exit status 0: clean;
1: an invariant broke (the last actions are printed); a crash exits by its signal.
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import random
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

CLASSES = ["Input", "Dense", "Dense", "Dropout", "Flatten", "Conv2D", "Activation", "Concatenate", "Add",
           "BatchNormalization", "MaxPooling2D"]
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "resources" / "examples").glob("*.lgraph"))
MAX_NODES = 30
SPAN = 1500.0  # random positions fall in [-SPAN, SPAN]: they cross the scene index's splits at 0


class Stress:
    """One scene and view under random actions; ``step`` does one and checks the scene afterwards."""

    def __init__(self, seed: int, verbose: bool = False) -> None:
        from designer.canvas.scene import GraphScene
        from designer.canvas.view import GraphView
        from designer.document import GraphDocument

        from tests.designer.scene_check import PaintWatch

        self.watch = PaintWatch().__enter__()  # what each repaint draws must belong to the document
        self.rng = random.Random(seed)
        self.verbose = verbose
        self.doc = GraphDocument()
        self.scene = GraphScene(self.doc)
        self.view = GraphView(self.scene)
        self.view.reconnect_policy = "never"
        self.view.resize(1000, 650)
        # Start as the app does, with a document open before any event is processed: the scene
        # sizes its index then, and an empty scene would get a one-cell index that hides stale entries.
        self._open(self.rng.choice(EXAMPLES))
        self.view.show()
        self.log: deque[str] = deque(maxlen=25)
        self.actions = [
            (self.add, 8), (self.connect, 8), (self.delete_keys, 3), (self.delete_menu, 2),
            (self.disconnect, 3), (self.move, 4), (self.drag_node, 3), (self.drag_wire_off, 2),
            (self.paste, 3), (self.duplicate, 1), (self.insert_on_wire, 2), (self.set_config, 2),
            (self.auto_layout, 2), (self.open_example, 1), (self.zoom, 2),
            (self.make_group, 3), (self.ungroup, 1), (self.expand, 2), (self.collapse, 2),
            (self.undo, 10), (self.redo, 5), (self.undo_many, 2)]
        self.weights = [w for _, w in self.actions]

    # ----- helpers ------------------------------------------------------------------------------------------
    def _node_ids(self) -> list[str]:
        return list(self.doc.graph.nodes)

    def _pos(self):
        from PySide6.QtCore import QPointF
        return QPointF(self.rng.uniform(-SPAN, SPAN), self.rng.uniform(-SPAN, SPAN))

    def _push(self, command) -> None:
        self.scene.push(command)

    def _show(self, scene_pos) -> None:
        self.view.centerOn(scene_pos)
        self._paint()

    def _paint(self) -> None:
        from PySide6.QtWidgets import QApplication
        QApplication.processEvents()
        self.view.viewport().repaint()

    # ----- actions ------------------------------------------------------------------------------------------
    def add(self) -> str:
        if len(self.doc.graph) >= MAX_NODES:
            return self.delete_menu()
        cls = self.rng.choice(CLASSES)
        self.scene.add_node_at(cls, self._pos())
        return f"add {cls}"

    def connect(self) -> str:
        from designer import commands as cmds
        ids = self._node_ids()
        if len(ids) < 2:
            return self.add()
        s, t = self.rng.sample(ids, 2)
        self._push(cmds.ConnectCommand(self.doc, s, t))
        return f"connect {s}->{t}"

    def _select_some(self) -> None:
        ids = self._node_ids()
        k = min(len(ids), self.rng.choice([1, 1, 2, 3]))
        self.scene.select_nodes(self.rng.sample(ids, k))
        edges = self.scene.edge_items()
        if edges and self.rng.random() < 0.5:
            self.rng.choice(edges).setSelected(True)

    def delete_keys(self) -> str:
        """Click a wire or a card in the view, then press Delete (real events)."""
        from PySide6.QtCore import QPointF, Qt
        from PySide6.QtTest import QTest
        edges, nodes = self.scene.edge_items(), self.scene.node_items()
        if not edges and not nodes:
            return self.add()
        if edges and self.rng.random() < 0.6:
            item = self.rng.choice(edges)
            at = item.path().pointAtPercent(0.5)
            what = f"wire {item.edge}"
        else:
            item = self.rng.choice(nodes)
            at = item.scenePos() + QPointF(100, 12)
            what = f"card {item.node_id}"
        del item
        self._show(at)
        vp = self.view.viewport()
        QTest.mouseClick(vp, Qt.LeftButton, Qt.NoModifier, self.view.mapFromScene(at))
        self._paint()
        QTest.keyClick(self.view, Qt.Key_Delete)
        return f"click {what}, Delete"

    def delete_menu(self) -> str:
        if not len(self.doc.graph):
            return self.add()
        self._select_some()
        self.scene.delete_selection(reconnect=self.rng.random() < 0.3)
        return "delete selection"

    def disconnect(self) -> str:
        from designer import commands as cmds
        edges = self.doc.graph.edges
        if not edges:
            return self.connect()
        e = self.rng.choice(edges)
        self._push(cmds.DisconnectCommand(self.doc, e))
        return f"disconnect {e}"

    def move(self) -> str:
        from designer import commands as cmds
        ids = self._node_ids()
        if not ids:
            return self.add()
        moved = self.rng.sample(ids, min(len(ids), self.rng.choice([1, 2, 4])))
        d = (self.rng.uniform(-700, 700), self.rng.uniform(-500, 500))
        moves = {}
        for nid in moved:
            x, y = self.doc.graph.node(nid).position
            moves[nid] = ((x, y), (round(x + d[0]), round(y + d[1])))
        self._push(cmds.MoveNodesCommand(self.doc, moves))
        return f"move {moved} by {d}"

    def drag_node(self) -> str:
        """Drag a card by its title with the mouse."""
        from PySide6.QtCore import QPointF, Qt
        from PySide6.QtTest import QTest
        nodes = self.scene.node_items()
        if not nodes:
            return self.add()
        item = self.rng.choice(nodes)
        nid, start = item.node_id, item.scenePos() + QPointF(100, 12)
        del item
        self._show(start)
        a = self.view.mapFromScene(start)
        b = a + self.view.mapFromScene(QPointF(self.rng.uniform(-300, 300), self.rng.uniform(-250, 250))) \
            - self.view.mapFromScene(QPointF(0, 0))
        vp = self.view.viewport()
        QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
        for k in range(1, 4):
            QTest.mouseMove(vp, a + (b - a) * (k / 3))
            self._paint()
        QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)
        return f"drag card {nid}"

    def drag_wire_off(self) -> str:
        """Drag a wire's end off its input port into empty canvas (disconnects it)."""
        from PySide6.QtCore import QPointF, Qt
        from PySide6.QtTest import QTest
        edges = self.scene.edge_items()
        if not edges:
            return self.connect()
        item = self.rng.choice(edges)
        edge, port = item.edge, item.target_item.input_port(item.edge.index).scenePos()
        del item
        self._show(port)
        a = self.view.mapFromScene(port)
        vp = self.view.viewport()
        QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
        for k in range(1, 4):
            QTest.mouseMove(vp, a + QPointF(-60 * k, 45 * k).toPoint())
            self._paint()
        QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, a + QPointF(-180, 135).toPoint())
        return f"drag wire {edge} off its input"

    def paste(self) -> str:
        if not len(self.doc.graph):
            return self.add()
        self._select_some()
        text = self.scene.copy_selection()
        if text:
            self.scene.paste_text(text)
        return "copy, paste"

    def duplicate(self) -> str:
        if not len(self.doc.graph):
            return self.add()
        self._select_some()
        self.scene.duplicate()
        return "duplicate"

    def insert_on_wire(self) -> str:
        edges = self.doc.graph.edges
        if not edges:
            return self.connect()
        e = self.rng.choice(edges)
        cls = self.rng.choice(["Dense", "Dropout", "Activation", "Flatten"])
        self.scene.insert_on_edge(cls, e, self._pos())
        return f"insert {cls} on {e}"

    def set_config(self) -> str:
        from designer import commands as cmds
        dense = [n for n, node in self.doc.graph.nodes.items() if node.class_name == "Dense"]
        if not dense:
            return self.add()
        nid = self.rng.choice(dense)
        self._push(cmds.SetConfigCommand(self.doc, nid, {"units": self.rng.choice([1, 3, 16, 64])}))
        return f"set units of {nid}"

    def make_group(self) -> str:
        """Ctrl+G on a layer and, sometimes, the layer feeding it (refused selections are fine too)."""
        graph, shapes = self.doc.graph, self.doc.result.node_shapes
        fed = [n for n in graph.nodes if graph.in_edges(n) and all(e.source in shapes for e in graph.in_edges(n))]
        if not fed:
            return self.connect()
        nid = self.rng.choice(fed)
        picked = [nid]
        src = graph.in_edges(nid)[0].source
        if graph.node(src).class_name != "Input" and self.rng.random() < 0.6:
            picked.append(src)
        self.scene.select_nodes(picked)
        self.scene.make_group()
        return f"make group of {picked}"

    def _groups(self) -> list[str]:
        return [n for n, node in self.doc.graph.nodes.items() if node.class_name == "Group"]

    def ungroup(self) -> str:
        groups = self._groups()
        if not groups:
            return self.make_group()
        gid = self.rng.choice(groups)
        self.scene.ungroup(gid)
        return f"ungroup {gid}"

    def expand(self) -> str:
        groups = self._groups()
        if not groups:
            return self.make_group()
        gid = self.rng.choice(groups)
        self.scene.expand_group(gid)
        return f"expand {gid}"

    def collapse(self) -> str:
        keys = list(self.doc.group_frames)
        if not keys:
            return self.expand()
        key = self.rng.choice(keys)
        self.scene.collapse_frame(key)
        return f"collapse {key}"

    def auto_layout(self) -> str:
        self.scene.auto_layout()
        return "auto-layout"

    def open_example(self) -> str:
        """Open a bundled example, or close the document (File → New)."""
        path = self.rng.choice([*EXAMPLES, None])
        if path is None:
            self.doc.new()
            return "new document"
        return self._open(path)

    def _open(self, path: Path) -> str:
        from engine.fileformat import load_document
        self.doc.replace(load_document(path), None)
        self.view.fit_to_view()
        return f"open {path.name}"

    def zoom(self) -> str:
        z = self.rng.choice([0.1, 0.25, 0.5, 1.0, 1.5])
        self.view.resetTransform()
        self.view.scale(z, z)
        self.view.centerOn(self._pos())
        return f"zoom {z}"

    def undo(self) -> str:
        self.doc.undo_stack.undo()
        return "undo"

    def redo(self) -> str:
        self.doc.undo_stack.redo()
        return "redo"

    def undo_many(self) -> str:
        n = self.rng.randint(2, 8)
        for _ in range(n):
            self.doc.undo_stack.undo()
            self._paint()
        return f"undo x{n}"

    # ----- the loop -----------------------------------------------------------------------------------------
    def step(self, i: int) -> list[str]:
        from tests.designer.scene_check import scene_problems

        action = self.rng.choices(self.actions, self.weights)[0][0]
        self.log.append(f"{i}: {action()}")
        if self.verbose:
            print(self.log[-1], flush=True)
        self.watch.clear()
        self._paint()
        problems = scene_problems(self.scene, self.watch.painted)
        self.watch.clear()
        return problems


def run(seed: int, actions: int, seconds: float, verbose: bool = False) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    stress = Stress(seed, verbose)
    start = time.monotonic()
    done = 0
    for i in range(actions):
        problems = stress.step(i)
        done = i + 1
        if problems:
            print("scene invariant broken after:\n  " + "\n  ".join(stress.log), flush=True)
            print("problems:\n  " + "\n  ".join(problems[:10]), flush=True)
            return 1
        if time.monotonic() - start > seconds:
            break
    stress.view.close()
    app.clipboard().clear()  # the clipboard's data, made in Python, must not outlive the interpreter
    app.processEvents()
    print(f"{done} actions clean in {time.monotonic() - start:.1f} s (seed {seed})", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=float("inf"), help="stop after this long")
    parser.add_argument("--verbose", action="store_true", help="print each action as it is done")
    parser.add_argument("--seed", type=int, default=None,
                        help="replay a run (default: $LAYERGRAPH_STRESS_SEED or a random seed)")
    args = parser.parse_args(argv)
    seed = args.seed
    if seed is None:
        env = os.environ.get("LAYERGRAPH_STRESS_SEED")
        seed = int(env) if env else random.SystemRandom().randrange(1_000_000)
    print(f"stress seed {seed}", flush=True)
    faulthandler.enable()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from designer.qt_compat import make_singletons_immortal
    make_singletons_immortal()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XDG_CONFIG_HOME", tmp)
        return run(seed, args.actions, args.seconds, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
