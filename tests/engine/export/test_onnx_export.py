"""ONNX export: onnxruntime runs the exported model and must give the engine's ``predict`` (rtol 1e-4, atol 1e-5).

Every registered layer either exports and matches on every line of its ``CASES`` (the lines the layer contract
collects), or is listed in ``REFUSED``; a new layer without a converter fails here.  The bundled examples and
the models of the import tests (groups among them) are exported whole.  The CLI refuses a layer without an
ONNX equivalent, and a missing ``onnx`` package, in one line with exit 2.
"""
from __future__ import annotations

import builtins
import re
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from engine.cli import main as cli_main  # noqa: E402
from engine.executor import Executor  # noqa: E402
from engine.export.numpy_code import init_fresh_weights  # noqa: E402
from engine.export.onnx_activations import ACTIVATION_NAMES  # noqa: E402
from engine.export.onnx_export import REFUSED, converters, onnx_model, refusal_reason, refused_layers  # noqa: E402
from engine.export.plan import make_plan  # noqa: E402
from engine.fileformat import load_document, save_document  # noqa: E402
from engine.graph import LayerGraph  # noqa: E402
from engine.layers import LAYERS, create_layer  # noqa: E402
from tests.engine.layers.test_layer_contract import CASES, _data, _one_layer_graph, _weights  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
#: Examples with a custom layer are refused by name (REFUSED["CustomLayer"]), which the case lines check.
EXAMPLES = sorted(p for p in (Path(__file__).resolve().parents[3] / "resources" / "examples").glob("*.lgraph")
                  if '"CustomLayer"' not in p.read_text(encoding="utf-8"))


def run_onnx(model, xs: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: xs[i.name] for i in session.get_inputs()})


def assert_matches_engine(graph, weights, xs: dict[str, np.ndarray]):
    """Export, run in onnxruntime, compare every output with the engine; the model for further checks."""
    model = onnx_model(graph, weights)
    got = run_onnx(model, xs)
    expected = Executor(graph).predict(weights, xs if len(xs) > 1 else next(iter(xs.values())))
    expected = list(expected.values()) if isinstance(expected, dict) else [expected]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)
    return model


# ----- every layer -----------------------------------------------------------------------------------------
COMPUTING = sorted(n for n, cls in LAYERS.items() if cls.min_inputs > 0 and not cls.composite)
LINES = [(name, i) for name in COMPUTING for i in range(len(CASES.get(name, [])))]


def test_every_computing_layer_has_a_converter_or_a_refusal_reason():
    missing = [n for n in COMPUTING if n not in converters() and n not in REFUSED]
    assert not missing, f"layers neither exported to ONNX nor listed in REFUSED: {missing}"


@pytest.mark.parametrize("class_name,line", LINES, ids=[f"{n}-{i}" for n, i in LINES])
def test_every_case_line_exports_and_matches_or_is_refused_by_name(class_name, line):
    config, shapes = CASES[class_name][line]
    reason = refusal_reason(create_layer(class_name, config))
    if class_name in REFUSED:
        assert reason == REFUSED[class_name]
        return
    assert reason is None, reason
    shapes = [tuple(1 if d is None else d for d in s[:1]) + tuple(3 if d is None else d for d in s[1:])
              for s in shapes]
    rng = np.random.default_rng(line)
    g, node = _one_layer_graph(class_name, config, shapes)
    weights = _weights(make_plan(g), node, rng)
    assert_matches_engine(g, weights, _data(class_name, config, shapes, rng))


# ----- whole models ----------------------------------------------------------------------------------------
def _example_inputs(plan, n: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    xs = {}
    for nid in plan.inputs:
        cfg = plan.layer(nid).config
        shape = (n, *[7 if d is None else d for d in cfg["shape"]])
        xs[plan.name(nid)] = (rng.integers(0, 5, shape).astype("int32") if cfg["dtype"].startswith("int")
                              else rng.normal(size=shape).astype("float32"))
    return xs


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_bundled_example_runs_in_onnxruntime_like_the_engine(path):
    doc = load_document(path)
    plan = make_plan(doc.graph)
    weights = doc.weights or init_fresh_weights(plan, seed=3)
    model = assert_matches_engine(doc.graph, weights, _example_inputs(plan))
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "batch" and not batch.HasField("dim_value")
    initializers = {i.name for i in model.graph.initializer}
    assert all(f"{plan.name(n)}/{s.name}" in initializers for n in plan.order for s in plan.specs[n]
               if s.name in ("kernel", "embeddings"))
    assert [i.name for i in model.graph.input] == [plan.name(n) for n in plan.inputs]
    assert [o.name for o in model.graph.output] == [plan.name(n) for n in plan.outputs]


def test_channels_first_operators_get_transposes_only_at_the_layout_changes():
    """digits_cnn: Conv, MaxPool, Conv, MaxPool stay channels-first; one Transpose in, one before Flatten."""
    doc = load_document(next(p for p in EXAMPLES if p.stem == "digits_cnn"))
    model = onnx_model(doc.graph, doc.weights)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Transpose") == 2
    assert ops.index("Transpose") < ops.index("Conv")
    assert ops[ops.index("Flatten") - 1] == "Transpose"


@pytest.fixture(scope="module")
def imported_models(tmp_path_factory):
    """The Keras models of the import tests, saved and imported (groups among them)."""
    from engine.export.keras_import import import_model
    from tests.engine.export.keras_models import MODELS, randomize, sample_inputs

    tmp = tmp_path_factory.mktemp("onnx_import")
    out = {}
    for name, build in MODELS.items():
        model = build()
        randomize(model, seed=len(name))
        model.save(tmp / f"{name}.keras")
        out[name] = (import_model(str(tmp / f"{name}.keras")), sample_inputs(model))
    return out


def test_import_test_models_run_in_onnxruntime_like_the_engine(imported_models):
    assert len(imported_models) >= 10
    refused = set()
    for name, (imported, xs) in imported_models.items():
        if refused_layers(imported.graph):
            refused.add(name)
            continue
        try:
            assert_matches_engine(imported.graph, imported.weights, xs)
        except AssertionError as exc:
            raise AssertionError(f"model {name!r}: {exc}") from None
    # the sequence wrappers, ConvLSTM and initial states are refused by name until they have converters
    assert refused == {"sequence_wrappers", "conv_recurrent", "attention"}
    nested = imported_models["nested"][0].graph
    assert any(nested.layer(n).composite for n in nested.topological_order())


def test_names_are_sanitized_and_unique():
    g = LayerGraph()
    x = g.add_node("Input", {"shape": [3]}, name="in put")
    a = g.add_node("Dense", {"units": 2}, name="a b")
    b = g.add_node("Dense", {"units": 2}, name="a_b")
    c = g.add_node("Add", {}, name="sum?")
    for src, dst in ((x, a), (x, b), (a, c), (b, c)):
        g.connect(src, dst)
    weights = init_fresh_weights(make_plan(g), seed=1)
    model = assert_matches_engine(g, weights, {"in_put": np.ones((2, 3), np.float32)})
    names = [i.name for i in model.graph.initializer]
    assert len(names) == len(set(names)) and "a_b/kernel" in names and "a_b_1/kernel" in names
    assert model.graph.output[0].name == "sum_"


# ----- the command -----------------------------------------------------------------------------------------
def _doc(tmp_path, *layers) -> Path:
    g = LayerGraph()
    prev = g.add_node("Input", {"shape": [4, 3]}, name="x")
    for cls, cfg, name in layers:
        node = g.add_node(cls, cfg, name=name)
        g.connect(prev, node)
        prev = node
    path = tmp_path / "model.lgraph"
    save_document(path, g, None)
    return path


def test_cli_writes_a_model_onnxruntime_runs(tmp_path, capsys):
    doc = _doc(tmp_path, ("GRU", {"units": 2}, "gru"), ("Dense", {"units": 1}, "out"))
    out = tmp_path / "m.onnx"
    assert cli_main(["export", str(doc), "--to", "onnx", "-o", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.run(None, {"x": np.zeros((5, 4, 3), np.float32)})[0].shape == (5, 1)
    assert f"wrote {out}" in capsys.readouterr().out


def test_cli_refuses_layers_without_an_onnx_equivalent_in_one_line(tmp_path, capsys):
    doc = _doc(tmp_path, ("TimeDistributed", {"layer": {"class_name": "Dense", "config": {"units": 2}}}, "encoder"),
               ("RNN", {"cell": {"class_name": "GRUCell", "config": {"units": 2}}}, "decoder"))
    out = tmp_path / "m.onnx"
    assert cli_main(["export", str(doc), "--to", "onnx", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "2 layers" in err and "'encoder' (TimeDistributed: not mapped" in err
    assert "'decoder' (RNN: not mapped" in err
    assert not out.exists()


def test_cli_without_the_onnx_package_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    doc = _doc(tmp_path, ("Dense", {"units": 2}, "out"))
    out = tmp_path / "m.onnx"
    assert cli_main(["export", str(doc), "--to", "onnx", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "layergraph: ONNX export needs the onnx package: pip install layergraph[onnx]"
    assert not out.exists()


def _after_a_pointwise_conv(class_name, config, shape):
    """Input -> 1x1 ConvND (same shape, its output channels-first in ONNX) -> the layer: the layer reads a
    tensor that is not in Keras's order."""
    g = LayerGraph()
    x = g.add_node("Input", {"shape": list(shape[1:])}, name="in_0")
    conv = g.add_node(f"Conv{len(shape) - 2}D", {"filters": shape[-1], "kernel_size": 1}, name="pointwise")
    node = g.add_node(class_name, config)
    g.connect(x, conv)
    g.connect(conv, node)
    return g


CHANNELS_FIRST_LINES = [(n, i) for n, i in LINES if len(CASES[n][i][1]) == 1 and 3 <= len(CASES[n][i][1][0]) <= 5
                        and not LAYERS[n].integer_inputs and refusal_reason(create_layer(n, CASES[n][i][0])) is None]


@pytest.mark.parametrize("class_name,line", CHANNELS_FIRST_LINES, ids=[f"{n}-{i}" for n, i in CHANNELS_FIRST_LINES])
def test_every_layer_reads_a_channels_first_tensor_correctly(class_name, line):
    config, (shape,) = CASES[class_name][line]
    shape = (2, *(3 if d is None else d for d in shape[1:]))
    g = _after_a_pointwise_conv(class_name, config, shape)
    plan = make_plan(g)
    rng = np.random.default_rng(line)
    weights = {n: w for nid in plan.order for n, w in _weights(plan, nid, rng).items()}  # no zero bias, no unit gamma
    model = assert_matches_engine(g, weights, {"in_0": rng.normal(size=shape).astype("float32")})
    assert model.graph.node[0].op_type == "Transpose"


def test_weights_beyond_what_one_onnx_file_holds_are_refused_in_one_line(tmp_path, capsys, monkeypatch):
    import engine.export.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "MAX_PROTOBUF_BYTES", 100)  # Dense(2) on 4x3: 4*3*2... floats, > 100 bytes
    doc = _doc(tmp_path, ("Flatten", {}, "flat"), ("Dense", {"units": 8}, "out"))
    out = tmp_path / "m.onnx"
    assert cli_main(["export", str(doc), "--to", "onnx", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2 GB an ONNX file holds" in err and not out.exists()


def test_a_model_the_checker_rejects_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    """A converter bug (here: a node reading a tensor nobody writes) must not escape as a traceback."""
    from engine.export import onnx_layers

    def broken(cx, xs):
        return onnx_layers.Value(cx.op("Relu", ["nowhere"]), xs[0].perm)

    monkeypatch.setitem(onnx_layers.CONVERTERS, "Flatten", broken)
    doc = _doc(tmp_path, ("Flatten", {}, "flat"))
    out = tmp_path / "m.onnx"
    assert cli_main(["export", str(doc), "--to", "onnx", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fails onnx's checker" in err and not out.exists()


def test_hostile_layer_names_become_plain_unique_names():
    from tests.engine.export.test_safety import EVIL, HOSTILE, _hostile_graph

    g = _hostile_graph()
    plan = make_plan(g)
    rng = np.random.default_rng(0)
    weights = {n: w for nid in plan.order for n, w in _weights(plan, nid, rng).items()}
    xs = {HOSTILE[0]: rng.normal(size=(3, 4)).astype("float32"), HOSTILE[1]: rng.normal(size=(3, 4)).astype("float32")}
    model = onnx_model(g, weights)
    inputs = [i.name for i in model.graph.input]
    got = run_onnx(model, dict(zip(inputs, xs.values())))
    expected = Executor(g).predict(weights, xs)
    for g_, e in zip(got, expected.values()):
        np.testing.assert_allclose(g_, e, rtol=RTOL, atol=ATOL)
    names = [t for n in model.graph.node for t in n.output] + [i.name for i in model.graph.initializer] + inputs
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-/:]+", n) for n in names) and not any(EVIL in n for n in names)
    assert "a_b" in names and "a_b_1/kernel" in names  # the Add "a/b" and the Dense "a_b" stay apart


def _rnn_lines():
    """Every activation, as the state and as the gate activation, of each recurrent layer: those ONNX's
    operators take run as RNN/LSTM/GRU nodes, the others unrolled."""
    lines = []
    for act in sorted(ACTIVATION_NAMES):
        lines.append(("SimpleRNN", {"units": 3, "activation": act, "return_sequences": True}))
        lines.append(("LSTM", {"units": 3, "activation": act}))
        lines.append(("GRU", {"units": 3, "activation": act, "reset_after": False, "go_backwards": True}))
        lines.append(("LSTM", {"units": 3, "recurrent_activation": act, "go_backwards": True,
                               "return_sequences": True}))
        lines.append(("GRU", {"units": 3, "recurrent_activation": act, "return_sequences": True}))
    lines.append(("LSTM", {"units": 3, "recurrent_activation": "hard_sigmoid", "activation": "elu"}))
    lines.append(("GRU", {"units": 3, "recurrent_activation": "hard_sigmoid", "activation": "leaky_relu"}))
    lines.append(("Bidirectional", {"layer": {"class_name": "GRU", "config": {
        "units": 3, "activation": "gelu", "return_sequences": True}}}))  # unrolled, the backward one re-aligned
    lines.append(("Bidirectional", {"layer": {"class_name": "LSTM", "config": {"units": 3, "activation": "swish"}},
                                    "merge_mode": "sum"}))
    return lines


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize("class_name,config", _rnn_lines(), ids=lambda v: v if isinstance(v, str) else
                         f"{v.get('activation', 'tanh')}-{v.get('recurrent_activation', 'sigmoid')}"
                         if "layer" not in v else v["layer"]["config"]["activation"])
def test_every_recurrent_activation_matches_the_engine(class_name, config):
    shapes = [(2, 4, 3)]
    rng = np.random.default_rng(7)
    g, node = _one_layer_graph(class_name, config, shapes)
    weights = {nid: {k: v * np.float32(0.5) for k, v in w.items()}  # exponential gates stay finite
               for nid, w in _weights(make_plan(g), node, rng).items()}
    assert_matches_engine(g, weights, _data(class_name, config, shapes, rng))


def test_an_unrolled_recurrent_layer_needs_a_known_sequence_length(tmp_path, capsys):
    g = LayerGraph()
    x = g.add_node("Input", {"shape": [None, 3]}, name="x")
    rnn = g.add_node("GRU", {"units": 2, "activation": "gelu"}, name="encoder")
    g.connect(x, rnn)
    save_document(tmp_path / "m.lgraph", g, None)
    assert cli_main(["export", str(tmp_path / "m.lgraph"), "--to", "onnx", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'encoder'" in err and "known number of time steps" in err


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # exponential(100) is inf in both
@pytest.mark.parametrize("name", sorted(ACTIVATION_NAMES))
def test_every_activation_matches_the_engine_far_from_zero(name):
    """Large and tiny inputs (where a naive log(1 + exp(x)) or exp overflows) give the engine's values."""
    g, _ = _one_layer_graph("Activation", {"activation": name}, [(1, 9)])
    x = np.array([[-100.0, -30.0, -9.5, -1.0, 0.0, 1e-4, 2.5, 30.0, 100.0]], np.float32).repeat(2, axis=0)
    assert_matches_engine(g, {}, {"in_0": x})


def test_a_refusal_is_the_only_line_even_when_layers_start_from_fresh_weights(tmp_path, capsys):
    """A fuzz finding: the fresh-weights notice came before the refusal, so exit 2 printed two lines."""
    g = LayerGraph()
    x = g.add_node("Input", {"shape": [4, 3]}, name="x")
    d = g.add_node("Dense", {"units": 2}, name="dense")
    t = g.add_node("TimeDistributed", {"layer": {"class_name": "Dense", "config": {"units": 2}}}, name="td")
    g.connect(x, d)
    g.connect(d, t)
    path = tmp_path / "m.lgraph"
    save_document(path, g, {d: {"kernel": np.ones((3, 2), np.float32), "bias": np.zeros(2, np.float32)}})
    assert cli_main(["export", str(path), "--to", "onnx", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'td' (TimeDistributed" in err and "fresh" not in err
