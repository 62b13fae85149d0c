"""Hostile names in exported code, and the importer's refusals (clear message, exit code, no file)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.cli import main as cli_main
from engine.executor import Executor
from engine.export.identifiers import Identifiers, literal, sanitize
from engine.export.keras_code import keras_code
from engine.fileformat import load_document, save_document
from engine.graph import LayerGraph
from tests.engine.export.drivers import KERAS_DRIVER, NUMPY_DRIVER
from tests.oracle import keras

EVIL = "__import__('os').system('touch PWNED')"
HOSTILE = [f"in'put\"\n{EVIL}", "class", f"ñame€\u2028{EVIL}#", "np", "a/b", "a_b", f"{EVIL}#'''\"\"\"", "predict"]


# ----- identifiers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("dense_1", "dense_1"), ("class", "class_"), ("1st layer", "layer_1st_layer"), ("__init__", "init"),
    ("ñame", "name"), ("", "layer"), ("€€", "layer"), ("print", "print_"), ("match", "match_"), ("np", "np_"),
    (EVIL, "import_os_system_touch_pwned"),
])
def test_sanitize(name, expected):
    ident = sanitize(name)
    assert ident == expected
    assert ident.isidentifier() and ident.isascii() and not ident.startswith("__")


def test_identifiers_are_unique_and_stable():
    ids = Identifiers()
    got = [ids.get(f"n{i}", n) for i, n in enumerate(["a b", "a-b", "a_b", "A B"])]
    assert got == ["a_b", "a_b_1", "a_b_2", "a_b_3"]
    assert ids.get("n0", "something else") == "a_b"


def test_literal_only_writes_plain_data():
    value = {"k": [1, 2.5, None, True, ("x", EVIL)], "s": "a\nb'\""}
    assert eval(literal(value)) == {"k": [1, 2.5, None, True, ("x", EVIL)], "s": "a\nb'\""}  # noqa: S307
    assert literal((1,)) == "(1,)"
    for bad in (object(), float("nan"), {1: 2}, b"bytes"):
        with pytest.raises(TypeError):
            literal(bad)


# ----- hostile names, exported and run ----------------------------------------------------------------------
def _hostile_graph():
    g = LayerGraph()
    a = g.add_node("Input", {"shape": [4]}, name=HOSTILE[0])
    b = g.add_node("Input", {"shape": [4]}, name=HOSTILE[1])
    da = g.add_node("Dense", {"units": 3, "activation": "tanh"}, name=HOSTILE[2])
    db = g.add_node("Dense", {"units": 3}, name=HOSTILE[3])
    add = g.add_node("Add", {}, name=HOSTILE[4])
    d2 = g.add_node("Dense", {"units": 2}, name=HOSTILE[5])
    out = g.add_node("Activation", {"activation": "softmax"}, name=HOSTILE[6])
    side = g.add_node("Dense", {"units": 1, "activation": "sigmoid"}, name=HOSTILE[7])
    for s, t in ((a, da), (b, db), (da, add), (db, add), (add, d2), (d2, out), (add, side)):
        g.connect(s, t)
    return g


def test_hostile_names_export_code_that_runs_and_does_nothing_else(tmp_path):
    g = _hostile_graph()
    rng = np.random.default_rng(0)
    weights = {}
    for nid in g.topological_order():
        layer = g.layer(nid)
        shapes = [(None, 4 if g.node(s).class_name == "Input" else 3) for s in g.inputs_of(nid)]
        specs = layer.weight_specs(shapes) if g.node(nid).class_name == "Dense" else []
        if specs:
            weights[nid] = {s.name: rng.normal(size=s.shape).astype("float32") for s in specs}
    doc = tmp_path / "evil.lgraph"
    save_document(doc, g, weights, {"loss": "mse"})
    xs = {HOSTILE[0]: rng.normal(size=(3, 4)).astype("float32"), HOSTILE[1]: rng.normal(size=(3, 4)).astype("float32")}
    np.savez(tmp_path / "x.npz", **xs)
    expected = Executor(g).predict(weights, xs)
    jobs = {}
    for to in ("keras", "numpy"):
        out = tmp_path / f"evil_{to}.py"
        extra = ["--training"] if to == "keras" else []
        assert cli_main(["export", str(doc), "--to", to, "-o", str(out), *extra]) == 0
        src = out.read_text()
        compile(src, str(out), "exec")
        assert "import_os_system" in src  # the name became a harmless identifier
        names = {t.string for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.NAME}
        assert "__import__" not in names and "system" not in names  # the rest only inside string literals
        jobs[to] = [{"module": str(out), "x": str(tmp_path / "x.npz"), "out": str(tmp_path / f"y_{to}.npz")}]
    files = [str(tmp_path / "evil_keras.py"), str(tmp_path / "evil_numpy.py")]
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", *files], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    for to, script in (("keras", KERAS_DRIVER), ("numpy", NUMPY_DRIVER)):
        (tmp_path / f"jobs_{to}.json").write_text(json.dumps(jobs[to]))
        (tmp_path / f"drv_{to}.py").write_text(script)
        run = subprocess.run([sys.executable, str(tmp_path / f"drv_{to}.py"), str(tmp_path / f"jobs_{to}.json")],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        with np.load(tmp_path / f"y_{to}.npz") as d:
            got = [d["arr_0"], d["arr_1"]]
        for a, b in zip(got, expected.values()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not list(tmp_path.glob("PWNED*")) and not Path("PWNED").exists()


def test_live_code_view_sketches_an_unfinished_graph():
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [8]})
    d = g.add_node("Dense", {"units": 4})
    g.add_node("Dense", {"units": 2}, name="loose")
    g.connect(i, d)
    src = keras_code(g)
    compile(src, "<live>", "exec")
    assert "# loose: not connected yet" in src
    assert "layers.Dense(units=4, name='dense')(input_layer)" in src


# ----- import refusals ---------------------------------------------------------------------------------------
def _small_model(**dense_kwargs):
    k = keras()
    return k.Sequential([k.Input((4,)), k.layers.Dense(3, kernel_initializer="zeros", name="hidden", **dense_kwargs),
                         k.layers.Dense(2, kernel_initializer="zeros", name="head")])


def _import(tmp_path, model_path, capsys):
    out = tmp_path / "out.lgraph"
    code = cli_main(["import", str(model_path), "-o", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:
        assert not out.exists() and not out.with_suffix(".npz").exists()
    return code, err


def _json_with(tmp_path, mutate) -> Path:
    cfg = json.loads(_small_model().to_json())
    mutate(cfg["config"]["layers"])
    p = tmp_path / "model.json"
    p.write_text(json.dumps(cfg))
    return p


def test_refuses_lambda(tmp_path, capsys):
    k = keras()
    m = k.Sequential([k.Input((4,)), k.layers.Lambda(lambda x: x * 2, name="doubler")])
    p = tmp_path / "lambda.json"
    p.write_text(m.to_json())
    code, err = _import(tmp_path, p, capsys)
    assert code == 1 and "Lambda 'doubler'" in err and "never runs" in err


def test_refuses_custom_class(tmp_path, capsys):
    def mutate(layers):
        layers[1].update({"class_name": "Twice", "module": "my_package.layers", "registered_name": "my>Twice"})

    code, err = _import(tmp_path, _json_with(tmp_path, mutate), capsys)
    assert code == 1 and "'hidden'" in err and "my>Twice" in err


def test_refuses_layer_outside_catalog(tmp_path, capsys):
    def mutate(layers):
        layers[1]["class_name"] = "Conv4D"

    code, err = _import(tmp_path, _json_with(tmp_path, mutate), capsys)
    assert code == 1 and "Conv4D 'hidden'" in err and "no Conv4D layer" in err


def test_refuses_arguments_that_change_numbers(tmp_path, capsys):
    def mutate(layers):
        layers[1]["config"]["lora_rank"] = 4

    code, err = _import(tmp_path, _json_with(tmp_path, mutate), capsys)
    assert code == 1 and "Dense 'hidden'" in err and "lora_rank" in err

    def mutate_dtype(layers):
        layers[1]["config"]["dtype"] = "float64"

    code, err = _import(tmp_path, _json_with(tmp_path, mutate_dtype), capsys)
    assert code == 1 and "Dense 'hidden'" in err and "float64" in err


def test_keeps_regularizers_and_constraints(tmp_path, capsys):
    k = keras()
    m = _small_model(kernel_regularizer=k.regularizers.L2(0.01), bias_constraint=k.constraints.NonNeg())
    p = tmp_path / "reg.keras"
    m.save(p)
    code, _ = _import(tmp_path, p, capsys)
    assert code == 0
    cfg = load_document(tmp_path / "out.lgraph").graph.node_by_name("hidden").config
    assert cfg["kernel_regularizer"]["config"] == {"l2": 0.01}
    assert cfg["bias_constraint"]["class_name"] == "NonNeg"


def _rewrite_weights(src: Path, dst: Path, edit) -> None:
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        edit(f)
    members["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    p = tmp_path_factory.mktemp("saved") / "small.keras"
    _small_model().save(p)
    return p


def test_refuses_missing_weights(tmp_path, saved_model, capsys):
    bad = tmp_path / "missing.keras"
    _rewrite_weights(saved_model, bad, lambda f: f.__delitem__("layers/dense_1"))
    code, err = _import(tmp_path, bad, capsys)
    assert code == 1 and "Dense 'head'" in err and "missing" in err


def test_refuses_wrong_weight_shape(tmp_path, saved_model, capsys):
    def edit(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", data=np.zeros((5, 3), "float32"))

    bad = tmp_path / "shape.keras"
    _rewrite_weights(saved_model, bad, edit)
    code, err = _import(tmp_path, bad, capsys)
    assert code == 1 and "Dense 'hidden'" in err and "(5, 3)" in err and "(4, 3)" in err


def test_refuses_truncated_archive(tmp_path, saved_model, capsys):
    bad = tmp_path / "truncated.keras"
    data = saved_model.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    code, err = _import(tmp_path, bad, capsys)
    assert code == 2 and "damaged or truncated" in err


def test_refuses_absurd_declared_sizes(tmp_path, saved_model, capsys):
    """A zip-bomb-like archive: the declared uncompressed size is refused before anything is read."""
    data = bytearray(saved_model.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("config.json")
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = int.from_bytes(data[central + 28:central + 30], "little")
        if data[central + 46:central + 46 + name_len] == b"config.json":
            data[central + 24:central + 28] = (0xFFFF_FFF0).to_bytes(4, "little")
        central = data.find(b"PK\x01\x02", central + 4)
    local = info.header_offset
    data[local + 22:local + 26] = (0xFFFF_FFF0).to_bytes(4, "little")
    bad = tmp_path / "bomb.keras"
    bad.write_bytes(bytes(data))
    code, err = _import(tmp_path, bad, capsys)
    assert code == 2 and "config.json" in err and "declares" in err


def test_failed_import_leaves_existing_document_untouched(tmp_path, capsys):
    out = tmp_path / "out.lgraph"
    out.write_text("previous")
    (tmp_path / "junk.json").write_text("{not json")
    assert cli_main(["import", str(tmp_path / "junk.json"), "-o", str(out)]) == 2
    assert out.read_text() == "previous"
    assert "Traceback" not in capsys.readouterr().err


# ----- export refusals ---------------------------------------------------------------------------------------
def test_export_of_invalid_or_unreadable_graph_writes_nothing(tmp_path, capsys):
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [8, 8, 3]})
    d = g.add_node("Dense", {"units": 4})
    f = g.add_node("LSTM", {"units": 2})
    g.connect(i, d)
    g.connect(d, f)
    g.add_node("Dense", {"units": 2}, name="orphan")
    doc = tmp_path / "bad.lgraph"
    save_document(doc, g)
    out = tmp_path / "bad.py"
    assert cli_main(["export", str(doc), "--to", "keras", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "orphan" in err and not out.exists()
    (tmp_path / "broken.lgraph").write_text("{")
    assert cli_main(["export", str(tmp_path / "broken.lgraph"), "--to", "numpy", "-o", str(out)]) == 2
    assert not out.exists() and "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("weights_file", [None, "m.weights.npz"])
@pytest.mark.parametrize("training", [None, {}, {"optimizer": "rmsprop", "learning_rate": 0.01, "seed": 1}])
def test_every_keras_code_variant_passes_ruff(tmp_path, weights_file, training):
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [3]})
    d = g.add_node("Dense", {"units": 2, "activation": "softmax"})
    g.connect(i, d)
    path = tmp_path / "variant.py"
    path.write_text(keras_code(g, weights_file, training, strict=True))
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    assert ("def main(argv=None):" in path.read_text()) == (training is not None)


def test_refuses_weights_linking_outside_the_archive(tmp_path, saved_model, capsys):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["kernel"] = np.ones((4, 3), "float32")

    def edit(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(secret), "kernel")

    bad = tmp_path / "external.keras"
    _rewrite_weights(saved_model, bad, edit)
    code, err = _import(tmp_path, bad, capsys)
    assert code == 1 and "Dense 'hidden'" in err and "links outside the file" in err


def test_refuses_absurdly_nested_json(tmp_path, capsys):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    code, err = _import(tmp_path, p, capsys)
    assert code == 2 and "nested too deeply" in err


def test_each_output_is_named_after_its_own_layer():
    """A layer whose name was free keeps it even when an earlier layer's name needed a suffix (issue 15.12)."""
    from engine.export.numpy_code import numpy_code
    from engine.graph import LayerGraph

    g = LayerGraph()
    x = g.add_node("Input", {"shape": [4]}, name="points")
    relu = g.add_node("Activation", {"activation": "relu"}, name="relu")  # 'relu' is a copied function's name
    d0 = g.add_node("Dense", {"units": 3}, name="relu_1")
    d1 = g.add_node("Dense", {"units": 2}, name="dense")
    d2 = g.add_node("Dense", {"units": 2}, name="dense_1")
    for a, b in ((x, relu), (relu, d0), (d0, d1), (d1, d2)):
        g.connect(a, b)
    body = numpy_code(g).split("def predict(x):")[1]
    assert "\n    relu_1 = dense_forward(relu_2, W['relu_1/0']" in body
    assert "\n    dense = dense_forward(relu_1, W['dense/0']" in body
    assert "\n    dense_1 = dense_forward(dense, W['dense_1/0']" in body
