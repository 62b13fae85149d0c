# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""Files from the window: save/reopen, broken files, failed saves, examples, export/import wiring,
autosave and crash recovery."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

from designer import commands
from designer.autosave import find_orphans
from designer.main_window import EXAMPLES_DIR
from engine.fileformat import load_document
from engine.graph import LayerGraph
from engine.layers import starter_config
from tests.designer.window_helpers import FakeDialogs, make_window, settings, window  # noqa: F401


def build(w):
    doc = w.doc
    ids = []
    for i, (cls, cfg) in enumerate((("Input", {"shape": [6]}), ("Dense", {"units": 4, "activation": "relu"}),
                                    ("Dense", {"units": 2}))):
        cmd = commands.AddNodeCommand(doc, cls, {**starter_config(cls), **cfg}, (i * 250.0, 10.0))
        assert commands.push(doc, cmd) is None
        ids.append(cmd.node_id)
    for a, b in zip(ids, ids[1:]):
        assert commands.push(doc, commands.ConnectCommand(doc, a, b)) is None
    return ids


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_save_and_reopen_gives_the_same_document(tmp_path, window, make_window):
    build(window)
    window.dialogs.save_path_answer = str(tmp_path / "net")
    assert window.act["save"].isEnabled()
    window.act["save"].trigger()
    path = tmp_path / "net.lgraph"
    assert path.exists() and window.doc.path == path
    assert window.windowTitle() == "net.lgraph — layergraph"
    other = make_window()
    other.dialogs.open_path_answer = str(path)
    other.act["open"].trigger()
    assert other.doc.graph.to_dict() == window.doc.graph.to_dict()
    assert other.windowTitle() == "net.lgraph — layergraph"


def test_broken_file_shows_the_loader_message_and_keeps_the_graph(tmp_path, window):
    build(window)
    before = window.doc.graph.to_dict()
    title = window.windowTitle()
    bad = tmp_path / "bad.lgraph"
    bad.write_text('{"format": "layergraph", "version": 1, "nodes": [{"id": "n1"}], "edges": []}')
    window.dialogs.save_answer = "discard"
    assert window.files.open_path(bad) is False
    assert len(window.dialogs.errors) == 1
    assert "bad.lgraph" in window.dialogs.errors[0][1] and "nodes[0]" in window.dialogs.errors[0][1]
    assert window.doc.graph.to_dict() == before and window.windowTitle() == title
    (tmp_path / "junk.lgraph").write_text("not json")
    assert window.files.open_path(tmp_path / "junk.lgraph") is False
    assert "invalid JSON" in window.dialogs.errors[1][1]
    assert window.doc.graph.to_dict() == before


def test_failed_save_reports_and_keeps_the_document_modified(tmp_path, window):
    build(window)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    window.dialogs.save_path_answer = str(blocker / "net.lgraph")
    assert window.files.save() is False
    assert window.dialogs.errors and "net.lgraph" in window.dialogs.errors[0][1]
    assert window.is_modified() and window.windowTitle().startswith("untitled.lgraph*")
    assert window.doc.path is None


def test_example_opens_untitled_and_save_never_overwrites_it(tmp_path, window):
    example = EXAMPLES_DIR / "digits_mlp.lgraph"
    original = example.read_bytes()
    act = next(a for a in window.examples_menu.actions() if a.data() == str(example))
    act.trigger()
    assert window.doc.path is None and window.windowTitle() == "digits_mlp.lgraph — layergraph"
    assert len(window.doc.graph) == len(load_document(example).graph)
    window.dialogs.save_path_answer = str(tmp_path / "copy.lgraph")
    assert window.files.save()
    assert example.read_bytes() == original and (tmp_path / "copy.lgraph").exists()


def test_new_asks_before_dropping_changes(window):
    build(window)
    window.dialogs.save_answer = "cancel"
    window.act["new"].trigger()
    assert len(window.doc.graph) == 3
    window.dialogs.save_answer = "discard"
    window.act["new"].trigger()
    assert len(window.doc.graph) == 0 and not window.is_modified()


def test_export_keras_code_writes_a_file_and_refuses_invalid_graphs(tmp_path, window):
    build(window)
    window.dialogs.save_path_answer = str(tmp_path / "model.py")
    assert window.files.export_code("keras")
    code = (tmp_path / "model.py").read_text()
    compile(code, "model.py", "exec")
    assert "keras" in code and "Dense" in code
    cmd = commands.AddNodeCommand(window.doc, "Dense", {"units": 1}, (0.0, 300.0))
    commands.push(window.doc, cmd)  # a layer with no input: invalid
    assert window.files.export_code("keras") is False
    assert "problem" in window.dialogs.errors[-1][1]


def trained_weights(w):
    """Weights for the built graph drawn by the layers' own initialisers (stand-in for training)."""
    from engine.export.numpy_code import init_fresh_weights
    from engine.export.plan import make_plan

    weights = init_fresh_weights(make_plan(w.doc.graph), seed=3)
    w.doc.set_weights(weights)
    return weights


def reference_mlp(weights, ids, x):
    """Input(6) -> Dense(4, relu) -> Dense(2) computed by hand from the weights."""
    h = np.maximum(x @ weights[ids[1]]["kernel"] + weights[ids[1]]["bias"], 0.0)
    return h @ weights[ids[2]]["kernel"] + weights[ids[2]]["bias"]


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_numpy_writes_the_trained_weights_beside_the_code(tmp_path, window):
    ids = build(window)
    weights = trained_weights(window)
    window.dialogs.save_path_answer = str(tmp_path / "net_numpy")  # no suffix: .py is added
    window.act["export_numpy"].trigger()
    code, npz = tmp_path / "net_numpy.py", tmp_path / "net_numpy.weights.npz"
    assert code.exists() and npz.exists() and not window.dialogs.errors
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    got = load_module(code).predict(x)
    np.testing.assert_allclose(got, reference_mlp(weights, ids, x), rtol=1e-5, atol=1e-6)
    assert "net_numpy.weights.npz" in window.statusBar().currentMessage()


def test_export_keras_loads_the_trained_weights(tmp_path, window):
    ids = build(window)
    weights = trained_weights(window)
    window.dialogs.save_path_answer = str(tmp_path / "net_keras.py")
    window.act["export_keras"].trigger()
    code, npz = tmp_path / "net_keras.py", tmp_path / "net_keras.weights.npz"
    assert npz.exists() and "net_keras.weights.npz" in code.read_text()
    model = load_module(code).build_model()
    x = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    got = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(got, reference_mlp(weights, ids, x), rtol=1e-5, atol=1e-5)


def test_export_keras_without_weights_writes_only_code(tmp_path, window):
    build(window)
    window.dialogs.save_path_answer = str(tmp_path / "plain.py")
    assert window.files.export_code("keras")
    assert (tmp_path / "plain.py").exists() and not (tmp_path / "plain.weights.npz").exists()


def test_stale_weights_are_left_out_with_a_reason(tmp_path, window):
    ids = build(window)
    trained_weights(window)
    cfg = {**window.doc.graph.node(ids[1]).config, "units": 5}  # edited after training
    assert commands.push(window.doc, commands.SetConfigCommand(window.doc, ids[1], cfg)) is None
    window.dialogs.save_path_answer = str(tmp_path / "stale.py")
    assert window.files.export_code("keras")
    assert (tmp_path / "stale.py").exists() and not (tmp_path / "stale.weights.npz").exists()
    title, text = window.dialogs.errors[-1]
    assert "without the trained weights" in title and "train the graph again" in text


def test_import_keras_reads_a_real_keras_file(tmp_path, window):
    from tests.oracle import keras

    k = keras()
    model = k.Sequential([k.Input((3,)), k.layers.Dense(2, activation="relu", name="hidden"),
                          k.layers.Dense(1, name="score")])
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "m.keras")
    window.dialogs.open_path_answer = str(tmp_path / "m.keras")
    window.act["import_keras"].trigger()
    assert not window.dialogs.errors
    g = window.doc.graph
    assert [n.class_name for n in g.nodes.values()] == ["Input", "Dense", "Dense"]
    hidden = g.node_by_name("hidden")
    assert hidden.config["units"] == 2 and hidden.config["activation"] == "relu"
    np.testing.assert_array_equal(window.doc.weights[hidden.id]["kernel"], model.get_layer("hidden").get_weights()[0])
    assert window.doc.training.get("loss") == "mse"
    assert len({n.position for n in g.nodes.values()}) == 3  # laid out, not stacked
    assert window.is_modified() and window.windowTitle().startswith("m.lgraph*")
    assert window.doc.result.ok and all(window.scene.node_item(n) for n in g.nodes)


def test_import_of_a_broken_model_keeps_the_graph(tmp_path, window):
    ids = build(window)
    before = window.doc.graph.to_dict()
    (tmp_path / "bad.keras").write_bytes(b"PK\x03\x04 not really a zip")
    window.dialogs.open_path_answer = str(tmp_path / "bad.keras")
    window.dialogs.save_answer = "discard"
    assert window.files.import_keras() is False
    assert window.dialogs.errors and "bad.keras" in window.dialogs.errors[-1][1]
    assert window.doc.graph.to_dict() == before and len(ids) == 3


def test_import_without_importer_says_so(monkeypatch, window):
    monkeypatch.setitem(sys.modules, "engine.export.keras_import", None)
    assert window.files.import_keras() is False
    assert "importer" in window.dialogs.errors[-1][1]


# ----- autosave ----------------------------------------------------------------------------------------
def test_autosave_writes_when_modified_and_cleans_up_on_close(qtbot, tmp_path, window):
    saver = window.autosaver
    saver.start()
    assert saver.lock_path.exists()
    saver.tick()
    assert not saver.graph_path.exists()  # nothing to save yet
    build(window)
    saver.tick()
    assert saver.graph_path.exists()
    assert load_document(saver.graph_path).graph.to_dict() == window.doc.graph.to_dict()
    window.dialogs.save_answer = "discard"
    window.show()
    assert window.close()
    assert not saver.graph_path.exists() and not saver.lock_path.exists() and not saver.meta_path.exists()


def test_autosave_interval_is_a_minute(window):
    assert window.autosaver.timer.interval() == 60_000


def _crashed_session(directory, graph: LayerGraph, original=None, saved_at=None):
    from engine.fileformat import save_document

    pid = dead_pid()
    directory.mkdir(parents=True, exist_ok=True)
    save_document(directory / f"autosave-{pid}.lgraph", graph)
    (directory / f"autosave-{pid}.json").write_text(json.dumps(
        {"original": str(original) if original else None, "saved_at": saved_at or 4e9, "pid": pid}))
    (directory / f"session-{pid}.lock").write_text(str(pid))
    return pid


def test_crash_autosave_is_offered_and_restored(tmp_path, make_window):
    g = LayerGraph()
    g.add_node("Dense", {"units": 7}, name="lost_work")
    original = tmp_path / "work.lgraph"
    pid = _crashed_session(tmp_path / "autosave", g, original)
    w = make_window()
    assert w.files.offer_autosave_restore()
    assert "work.lgraph" in w.dialogs.asked[-1]
    assert w.doc.graph.node_by_name("lost_work") is not None
    assert w.doc.path == original and w.is_modified()
    assert not (tmp_path / "autosave" / f"autosave-{pid}.lgraph").exists()
    assert find_orphans(tmp_path / "autosave") == []


def test_a_restored_autosave_of_an_example_keeps_its_name(tmp_path, make_window):
    """An untitled copy of an example (or an imported model) shows the example's name; after a crash its
    autosave came back as "untitled.lgraph"."""
    crashed = make_window()
    assert crashed.files.open_example(EXAMPLES_DIR / "spirals_mlp.lgraph", ask=False)
    build(crashed)
    assert crashed.autosaver.save_now()
    pid = dead_pid()  # the session that wrote the copy is gone
    for path in (crashed.autosaver.graph_path, crashed.autosaver.meta_path):
        path.rename(path.with_name(path.name.replace(str(crashed.autosaver.pid), str(pid))))
    w = make_window()
    assert w.files.offer_autosave_restore()
    assert "spirals_mlp.lgraph" in w.dialogs.asked[-1]
    assert w.doc.path is None and w.is_modified()
    assert w.display_name() == "spirals_mlp.lgraph"
    assert w.windowTitle().startswith("spirals_mlp.lgraph*")
    assert len(w.doc.graph) == len(crashed.doc.graph)


def test_declined_or_stale_autosaves_are_removed(tmp_path, make_window):
    g = LayerGraph()
    g.add_node("Dense", {"units": 7})
    _crashed_session(tmp_path / "autosave", g)
    w = make_window()
    w.dialogs.restore_answer = False
    assert w.files.offer_autosave_restore() is False
    assert len(w.doc.graph) == 0 and find_orphans(tmp_path / "autosave") == []
    # an autosave older than the file it belongs to is not offered
    original = tmp_path / "saved.lgraph"
    original.write_text("{}")
    _crashed_session(tmp_path / "autosave", g, original, saved_at=1.0)
    assert find_orphans(tmp_path / "autosave") == []


def test_a_running_sessions_autosave_is_left_alone(tmp_path, window):
    live = tmp_path / "autosave"
    live.mkdir(parents=True, exist_ok=True)
    ppid = os.getppid()  # a process that is certainly alive
    (live / f"autosave-{ppid}.lgraph").write_text("{}")
    (live / f"session-{ppid}.lock").write_text(str(ppid))
    assert find_orphans(live) == []
    window.autosaver.start()
    assert window.files.offer_autosave_restore() is False
    assert (live / f"autosave-{ppid}.lgraph").exists()


def test_export_keras_model_file_from_the_menu_loads_in_keras(tmp_path, window):
    """File -> Export Keras model (.keras): the same writer as the CLI; Keras loads the trained weights."""
    from tests.oracle import keras

    ids = build(window)
    weights = trained_weights(window)
    window.doc.training = {**(window.doc.training or {}), "loss": "mse", "optimizer": "sgd", "learning_rate": 0.02}
    window.dialogs.save_path_answer = str(tmp_path / "net")
    window.act["export_keras_file"].trigger()
    model = keras().saving.load_model(str(tmp_path / "net.keras"))
    x = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x, training=False)), reference_mlp(weights, ids, x),
                               rtol=1e-5, atol=1e-5)
    assert model.loss == "mse" and type(model.optimizer).__name__ == "SGD"
    assert "net.keras" in window.statusBar().currentMessage()
    cmd = commands.AddNodeCommand(window.doc, "Dense", {"units": 1}, (0.0, 300.0))
    commands.push(window.doc, cmd)  # a layer with no input: invalid, refused with nothing written
    window.dialogs.save_path_answer = str(tmp_path / "broken.keras")
    assert window.files.export_keras_file() is False
    assert "problem" in window.dialogs.errors[-1][1] and not (tmp_path / "broken.keras").exists()
