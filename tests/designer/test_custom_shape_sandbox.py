"""The designer infers custom layers' shapes in a limited child process (``engine.custom.probe``): an endless loop
or a huge allocation in trusted code is a one-line error on the node while the window keeps running its timers;
a normal layer still gets its shape, cached so edits elsewhere do not respawn the child; untrusted code never
runs, neither in the designer's process nor in a child."""
import copy
import sys
import uuid

import pytest
from PySide6.QtCore import QTimer

from designer import commands
from designer.document import GraphDocument
from designer.panels.code_view import CodeView
from engine.custom import probe, trust, trusted_exec
from engine.custom.definition import CustomDefinition
from engine.layers import starter_config
from tests.engine.custom.definitions import GLU


@pytest.fixture
def spawns(monkeypatch):
    """The child processes started (each a list of the request's node name), with a fresh shape cache."""
    monkeypatch.setattr(probe, "_cache", {})
    started = []
    real = probe._run_child

    def counting(request, layer, idle):
        started.append(request["config"]["name"])
        return real(request, layer, idle)

    monkeypatch.setattr(probe, "_run_child", counting)
    return started


def _definition(call: str, signed: bool = True) -> dict:
    d = copy.deepcopy(GLU)
    d["name"] = f"Probe{uuid.uuid4().hex[:8]}"  # code no other test has signed or cached
    d["call"] = call
    if signed:
        trust.sign(CustomDefinition.from_dict(d))
    return d


def _document_with(definition: dict) -> tuple[GraphDocument, str]:
    doc = GraphDocument()
    ids = []
    for class_name, config in (("Input", {"shape": [5]}), ("CustomLayer", {"definition": definition})):
        before = set(doc.graph.nodes)
        assert commands.push(doc, commands.AddNodeCommand(doc, class_name, {**starter_config(class_name),
                                                                           **config}, (0.0, 0.0))) is None
        ids += list(set(doc.graph.nodes) - before)
    assert commands.push(doc, commands.ConnectCommand(doc, *ids)) is None
    return doc, ids[1]


def _node_error(doc: GraphDocument, node: str) -> str:
    problems = doc.result.problems_for(node)
    assert len(problems) == 1 and doc.result.node_shapes[node] is None, problems
    message = problems[0].message
    assert "\n" not in message
    return message


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_CPU on Windows: only the 15 s wall clock applies")
def test_an_endless_loop_is_a_node_error_and_timers_keep_firing(qtbot, spawns):
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(50)
    loop = _definition("while True:\n    pass\nreturn inputs\n")
    doc, node = _document_with(loop)
    timer.stop()
    message = _node_error(doc, node)
    assert "ran longer than 2 s while its shape was inferred" in message, message
    assert len(ticks) >= 5  # the event loop ran while the child looped (2 s of CPU: ~40 ticks of 50 ms)
    assert spawns.count(doc.graph.node(node).name) == 1
    view = CodeView(doc)  # the code view's exporter infers shapes again: from the cache, never in this process
    qtbot.addWidget(view)
    view.regenerate()
    assert spawns.count(doc.graph.node(node).name) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is enforced on Linux only")
def test_a_huge_allocation_is_a_node_error(qtbot, spawns):
    doc, node = _document_with(_definition("waste = [0.0] * 10**9\nreturn inputs\n"))  # 8 GB of list
    assert "needed more than 1 GB while its shape was inferred" in _node_error(doc, node)


def test_a_normal_layer_gets_its_shape_and_the_answer_is_cached(qtbot, spawns):
    doc, node = _document_with(_definition(GLU["call"]))
    assert doc.result.ok and doc.result.node_shapes[node] == (None, 4)
    assert len(spawns) == 1
    config = doc.graph.node(node).config
    assert commands.push(doc, commands.SetConfigCommand(doc, node, {**config, "arguments": {"units": 6}})) is None
    assert doc.result.node_shapes[node] == (None, 6) and len(spawns) == 2
    doc.undo_stack.undo()  # units 4 again: a new layer object, the same (code, arguments, shapes)
    doc.revalidate_all()
    assert doc.result.node_shapes[node] == (None, 4) and len(spawns) == 2


def test_an_error_in_the_code_keeps_its_line(qtbot, spawns):
    doc, node = _document_with(_definition("h = inputs\nreturn ops.matmul(h, h)\n"))
    problem = doc.result.problems_for(node)[0]
    assert problem.message.startswith("Probe") and ".call line 2: ValueError: matmul" in problem.message


def test_untrusted_code_runs_in_no_process(qtbot, spawns, tmp_path, monkeypatch):
    """The parent refuses before starting a child; the child refuses too (proved with a side effect)."""
    marker = tmp_path / "code_ran.txt"
    monkeypatch.setitem(trusted_exec._BUILTINS, "open", open)
    spy = _definition(f"open({str(marker)!r}, 'a').write('ran')\nreturn inputs\n", signed=False)
    doc, node = _document_with(spy)
    assert "is untrusted" in _node_error(doc, node)
    assert spawns == [] and not marker.exists()
    reply = probe._child_reply({"config": {"name": "spy", "definition": spy}, "input_shapes": [[None, 5]]})
    assert reply["kind"] == "shape_error" and "is untrusted" in reply["value"]
    assert not marker.exists()
