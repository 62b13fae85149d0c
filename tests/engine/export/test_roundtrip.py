"""Keras model -> .keras -> import -> engine predict / Keras export / NumPy export, proven by running code.

One combined Keras model per layer family (``keras_models``).  The exported modules of all families
run in two subprocesses (one with Keras, one with only numpy), so the file stays fast.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main as cli_main
from engine.executor import Executor
from engine.export.keras_import import import_model
from engine.export.numpy_code import init_fresh_weights
from engine.export.plan import make_plan
from engine.fileformat import load_document, save_document
from engine.layers import LAYERS
from tests.engine.export import drivers
from tests.oracle import keras
from tests.engine.export.keras_models import MODELS, randomize, sample_inputs

RTOL, ATOL = 1e-5, 1e-5
EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "resources" / "examples").glob("*.lgraph"))
ENV = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
       "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _outputs(y) -> list[np.ndarray]:
    if isinstance(y, dict):
        return [np.asarray(v) for v in y.values()]
    return [np.asarray(v) for v in (y if isinstance(y, (list, tuple)) else [y])]


def _save_inputs(path: Path, xs: dict) -> None:
    np.savez(path, **(xs if len(xs) > 1 else {"x": next(iter(xs.values()))}))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Build, save, import and export every model; run all exported modules once."""
    tmp = tmp_path_factory.mktemp("roundtrip")
    data = {}
    keras_jobs, numpy_jobs = [], []
    for name, build in MODELS.items():
        model = build()
        randomize(model, seed=len(name))
        xs = sample_inputs(model)
        model_path = tmp / f"{name}.keras"
        model.save(model_path)
        doc_path = tmp / f"{name}.lgraph"
        assert cli_main(["import", str(model_path), "-o", str(doc_path)]) == 0
        xin = tmp / f"{name}_x.npz"
        _save_inputs(xin, xs)
        for to, jobs in (("keras", keras_jobs), ("numpy", numpy_jobs)):
            out = tmp / f"{name}_{to}.py"
            assert cli_main(["export", str(doc_path), "--to", to, "-o", str(out)]) == 0
            jobs.append({"module": str(out), "x": str(xin), "out": str(tmp / f"{name}_{to}_y.npz")})
        data[name] = {"model": model, "xs": xs, "keras_y": _outputs(model.predict(xs if len(xs) > 1 else
                                                                                  next(iter(xs.values())), verbose=0)),
                      "doc": doc_path, "path": model_path}
    examples = {}
    for path in EXAMPLES:
        doc = load_document(path)
        plan = make_plan(doc.graph)
        weights = doc.weights or init_fresh_weights(plan, seed=3)
        doc_path = tmp / f"example_{path.stem}.lgraph"
        save_document(doc_path, doc.graph, weights, doc.training)
        xs = _example_inputs(plan)
        xin = tmp / f"example_{path.stem}_x.npz"
        _save_inputs(xin, xs)
        for to, jobs in (("keras", keras_jobs), ("numpy", numpy_jobs)):
            out = tmp / f"example_{path.stem}_{to}.py"
            assert cli_main(["export", str(doc_path), "--to", to, "-o", str(out)]) == 0
            jobs.append({"module": str(out), "x": str(xin), "out": str(tmp / f"example_{path.stem}_{to}_y.npz")})
        y = Executor(doc.graph).predict(weights, xs if len(xs) > 1 else next(iter(xs.values())))
        examples[path.stem] = _outputs(y)
    # --training export of the MLP: fit for real on one device, then data-parallel over 2 CPU devices
    train_data = tmp / "train.npz"
    rng = np.random.default_rng(0)
    np.savez(train_data, x=rng.normal(size=(16, 8)).astype("float32"), y=rng.integers(0, 4, 16))
    train_py = tmp / "mlp_train.py"
    assert cli_main(["export", str(data["mlp"]["doc"]), "--to", "keras", "--training", "-o", str(train_py)]) == 0
    keras_jobs.append({"module": str(train_py), "x": str(tmp / "mlp_x.npz"), "out": str(tmp / "mlp_train_y.npz"),
                       "train": str(train_data)})
    runs = {}
    for kind, jobs, script in (("keras", keras_jobs, drivers.KERAS_DRIVER), ("numpy", numpy_jobs,
                                                                             drivers.NUMPY_DRIVER)):
        manifest = tmp / f"{kind}_jobs.json"
        manifest.write_text(json.dumps(jobs))
        drv = tmp / f"{kind}_driver.py"
        drv.write_text(script)
        env = dict(ENV)
        if kind == "numpy":  # nothing from the project on the path: only numpy and the standard library
            env.pop("PYTHONPATH", None)
        runs[kind] = subprocess.run([sys.executable, str(drv), str(manifest)], cwd=tmp, env=env,
                                    capture_output=True, text=True, timeout=300)
    return {"tmp": tmp, "models": data, "runs": runs, "examples": examples}


def _example_inputs(plan, n: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    xs = {}
    for nid in plan.inputs:
        cfg = plan.layer(nid).config
        shape = (n, *[7 if d is None else d for d in cfg["shape"]])
        xs[plan.name(nid)] = (rng.integers(0, 5, shape).astype("int32") if cfg["dtype"].startswith("int")
                              else rng.normal(size=shape).astype("float32"))
    return xs


def test_catalog_is_covered(world):
    """The family models together use every catalog layer (Input stands for InputLayer)."""
    used = {"Input"}
    exported = {cls.keras_python_name: n for n, cls in LAYERS.items() if cls.keras_python_name}  # GroupQueryAttention

    def walk(model):
        for layer in model.layers:
            if isinstance(layer, keras().Model):  # a model used as a layer imports as a Group
                used.add("Group")
                walk(layer)
            else:
                used.add(exported.get(type(layer).__name__, type(layer).__name__))

    for entry in world["models"].values():
        walk(entry["model"])
    # custom layers' code never comes from a .keras file (issue 16): they have no import to round-trip
    custom = {n for n, cls in LAYERS.items() if cls.gradient == "automatic"}
    missing = sorted(set(LAYERS) - used - {"SpatialDropout3D"} - custom)
    assert not missing, f"no round-trip model uses {missing}"


@pytest.mark.parametrize("name", list(MODELS))
def test_import_then_engine_predict_matches_keras(world, name):
    entry = world["models"][name]
    doc = load_document(entry["doc"])
    xs = entry["xs"]
    y = Executor(doc.graph).predict(doc.weights, xs if len(xs) > 1 else next(iter(xs.values())))
    ours = _outputs(y)
    assert len(ours) == len(entry["keras_y"])
    for a, b in zip(ours, entry["keras_y"]):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(MODELS))
def test_summary_total_params_matches_keras(world, name, capsys):
    entry = world["models"][name]
    assert cli_main(["summary", str(entry["doc"])]) == 0
    m = re.search(r"Total params: ([\d,]+)", capsys.readouterr().out)
    assert m and int(m.group(1).replace(",", "")) == entry["model"].count_params()


def test_keras_driver_ran(world):
    run = world["runs"]["keras"]
    assert "KERAS DRIVER DONE" in run.stdout, run.stderr[-3000:]
    assert "data parallel over 2 devices" in run.stdout
    assert "DEVICES 2" in run.stdout


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_keras_predicts_like_the_original(world, name):
    entry = world["models"][name]
    out = world["tmp"] / f"{name}_keras_y.npz"
    assert out.exists(), world["runs"]["keras"].stderr[-3000:]
    with np.load(out) as d:
        assert int(d["params"]) == entry["model"].count_params()
        ys = [d[f"arr_{i}"] for i in range(len(entry["keras_y"]))]
    for a, b in zip(ys, entry["keras_y"]):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_numpy_driver_imported_only_numpy(world):
    run = world["runs"]["numpy"]
    assert "NUMPY DRIVER DONE" in run.stdout, run.stderr[-3000:]
    assert 'FORBIDDEN []' in run.stdout


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_numpy_predicts_like_keras(world, name):
    entry = world["models"][name]
    out = world["tmp"] / f"{name}_numpy_y.npz"
    assert out.exists(), world["runs"]["numpy"].stderr[-3000:]
    with np.load(out) as d:
        ys = [d[f"arr_{i}"] for i in range(len(entry["keras_y"]))]
    for a, b in zip(ys, entry["keras_y"]):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_exported_numpy_source_imports_only_numpy(world):
    for name in MODELS:
        tree = ast.parse((world["tmp"] / f"{name}_numpy.py").read_text())
        mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert mods <= {"numpy", "os", "math"}, (name, mods)


def test_exported_files_pass_ruff_and_py_compile(world):
    files = sorted(str(p) for p in world["tmp"].glob("*_keras.py")) + sorted(
        str(p) for p in world["tmp"].glob("*_numpy.py")) + [str(world["tmp"] / "mlp_train.py")]
    for f in files:
        subprocess.run([sys.executable, "-m", "py_compile", f], check=True)
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", *files], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_exported_keras_code_is_readable(world):
    src = (world["tmp"] / "mlp_keras.py").read_text()
    assert "hidden = layers.Dense(\n        units=16,\n        activation='relu',\n" in src  # long calls wrap
    assert "        kernel_regularizer=keras.regularizers.get({'class_name': 'L2', 'config': {'l2': 0.01}})," in src
    assert all(len(line) <= 110 for line in src.splitlines())
    assert re.search(r"layers\.Dropout\(rate=0\.3, name='dropout(_\d+)?'\)", src)  # Keras numbers names per process
    assert "def build_model(weights=WEIGHTS_FILE):" in src
    assert 'if __name__ == "__main__":' in src
    assert "use_bias=True" not in src  # defaults are left out


def test_json_config_import_has_structure_without_weights(world, tmp_path):
    entry = world["models"]["merging"]
    path = tmp_path / "merging.json"
    path.write_text(entry["model"].to_json())
    imported = import_model(path)
    assert not imported.weights
    ref = load_document(entry["doc"]).graph
    g = imported.graph
    assert [g.node(n).name for n in g.topological_order()] == [ref.node(n).name for n in ref.topological_order()]
    assert [g.node(n).name for n in g.input_nodes()] == ["left", "right"]
    assert [g.node(n).name for n in g.output_nodes()] == ["out_one", "out_two"]
    for nid in g.nodes:
        assert g.node(nid).config == ref.node_by_name(g.node(nid).name).config


def test_import_lays_out_in_reading_order(world):
    """Rows read like text (engine/layout.py wraps deep graphs into rows): every wire goes forward."""
    from tests.engine.test_layout import bands

    g = load_document(world["models"]["merging"]["doc"]).graph
    pos = {n: g.node(n).position for n in g.nodes}
    band = bands(g, pos)
    for e in g.edges:
        assert (band[e.source], pos[e.source][0]) < (band[e.target], pos[e.target][0])
    assert len(set(pos.values())) == len(pos)  # no two nodes on top of each other


def test_there_are_example_graphs():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("stem", [p.stem for p in EXAMPLES])
@pytest.mark.parametrize("to", ["keras", "numpy"])
def test_example_graph_exports_predict_like_the_engine(world, stem, to):
    expected = world["examples"][stem]
    out = world["tmp"] / f"example_{stem}_{to}_y.npz"
    assert out.exists(), world["runs"][to].stderr[-3000:]
    with np.load(out) as d:
        ys = [d[f"arr_{i}"] for i in range(len(expected))]
    for a, b in zip(ys, expected):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
