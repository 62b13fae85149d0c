"""One contract over the whole registry: every layer is declared completely and leaves by both exporters.

The family test modules hold the per-layer ``CASES`` lines (``(class_name, config, input_shapes)``), each checked
there against Keras (shape, parameters, weights, forward) and by finite differences (backward).  This module proves
that no registered layer escapes them: each has a case, declares its numerics and its gradient kind, computes the
shape its rule promises, and its first case runs unchanged through the standalone NumPy export (the same numerics
functions, copied) and the Keras export (checked by Keras itself).
"""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import tests.engine.layers as family_tests
from engine.executor import Executor
from engine.export.numerics_source import is_numerics_function
from engine.export.numpy_code import numpy_code
from engine.export.plan import make_plan, weight_arrays
from engine.graph import LayerGraph
from engine.layers import LAYERS, Layer, create_layer
from engine.layers.base import GRADIENT_KINDS


def _as_shapes(shapes):
    return [tuple(shapes)] if shapes and not isinstance(shapes[0], (list, tuple)) else [tuple(s) for s in shapes]


def family_cases() -> dict[str, list[tuple[dict, list]]]:
    """Every ``(class_name, config, shapes)`` line of every ``*CASES`` list in the family test modules."""
    found: dict[str, list] = {}
    for info in pkgutil.iter_modules(family_tests.__path__):
        if not info.name.startswith("test_") or info.name == "test_layer_contract":
            continue
        module = importlib.import_module(f"{family_tests.__name__}.{info.name}")
        for attr, value in vars(module).items():
            if not attr.endswith("CASES") or not isinstance(value, (list, tuple)):
                continue
            for item in value:
                if (isinstance(item, tuple) and len(item) == 3 and item[0] in LAYERS
                        and isinstance(item[1], dict) and isinstance(item[2], (list, tuple))):
                    found.setdefault(item[0], []).append((item[1], _as_shapes(item[2])))
    return found


CASES = family_cases()
#: Layers that compute through numerics of their own (groups compute through their inner layers, each of which is
#: checked here; tests/engine/test_group.py checks a group's forward, backward and both exports).
COMPUTING = sorted(n for n, cls in LAYERS.items() if cls.min_inputs > 0 and not cls.composite)


@pytest.mark.parametrize("class_name", sorted(LAYERS))
def test_every_layer_has_a_case_line(class_name):
    if LAYERS[class_name].min_inputs == 0 or LAYERS[class_name].composite:
        return  # Input: a graph's source, covered by every other case; groups: tests/engine/test_group.py
    assert CASES.get(class_name), f"{class_name} has no line in any CASES list of tests/engine/layers/test_*.py"


@pytest.mark.parametrize("class_name", COMPUTING)
def test_numerics_are_declared_once_in_the_numerics_package(class_name):
    cls = LAYERS[class_name]
    assert cls.gradient in GRADIENT_KINDS
    config, shapes = CASES[class_name][0]
    layer = create_layer(class_name, config)
    if cls.gradient == "automatic":  # user code (CustomLayer), differentiated by autograd: tests/engine/custom/
        assert type(layer).forward is not Layer.forward and type(layer).backward is not Layer.backward
        return
    assert type(layer).numerics is not Layer.numerics, f"{class_name} computes outside engine.numerics"
    num = layer.numerics()
    assert is_numerics_function(num.forward), f"{class_name}'s forward is not a function of engine.numerics"
    if cls.gradient == "hand-written":
        assert num.backward is not None and is_numerics_function(num.backward)
    elif cls.gradient == "none":
        assert cls.no_gradient_reason, f"{class_name} has no gradient and must say why"
    names = {s.name for s in layer.weight_specs(shapes)}
    assert names <= set(num.weights), f"{class_name} declares weights its numerics never receive"


def _one_layer_graph(class_name, config, shapes):
    g = LayerGraph()
    dtype = "int32" if LAYERS[class_name].integer_inputs else "float32"
    ins = [g.add_node("Input", {"shape": list(s[1:]), "dtype": dtype}, name=f"in_{i}") for i, s in enumerate(shapes)]
    node = g.add_node(class_name, config)
    for i in ins:
        g.connect(i, node)
    return g, node


def _data(class_name, config, shapes, rng):
    if LAYERS[class_name].integer_inputs:
        high = config.get("input_dim") or config.get("num_tokens") or 4
        return {f"in_{i}": rng.integers(0, high, size=(2, *s[1:])).astype("int32") for i, s in enumerate(shapes)}
    return {f"in_{i}": rng.normal(size=(2, *s[1:])).astype("float32") for i, s in enumerate(shapes)}


def _weights(plan, node, rng):
    return {node: {s.name: (rng.uniform(0.5, 1.5, s.shape) if "variance" in s.name
                            else rng.normal(0, 0.5, s.shape)).astype("float32") for s in plan.specs[node]}}


@pytest.mark.parametrize("class_name", COMPUTING)
def test_forward_has_the_declared_shape_and_both_exports_agree(class_name, tmp_path):
    from engine.export.cli import write_export
    from tests.oracle import keras

    config, shapes = CASES[class_name][0]
    shapes = [tuple(1 if d is None else d for d in s[:1]) + tuple(3 if d is None else d for d in s[1:])
              for s in shapes]
    rng = np.random.default_rng(0)
    g, node = _one_layer_graph(class_name, config, shapes)
    plan = make_plan(g)
    weights = _weights(plan, node, rng)
    xs = _data(class_name, config, shapes, rng)
    x = xs if len(xs) > 1 else xs["in_0"]
    expected = Executor(g).predict(weights, x)
    declared = create_layer(class_name, config).output_shape(shapes)
    assert expected.shape[1:] == tuple(declared[1:])

    namespace: dict = {"__file__": "generated.py", "__name__": "generated"}
    exec(compile(numpy_code(g), "generated.py", "exec"), namespace)  # noqa: S102 - our own generated code
    namespace["_W"].update(weight_arrays(plan, weights))
    np.testing.assert_allclose(namespace["predict"](x), expected, rtol=1e-5, atol=1e-6)

    keras()
    out = tmp_path / "model.py"
    write_export(g, weights if plan.specs[node] else None, out, "keras")
    namespace = {"__file__": str(out), "__name__": "generated_keras"}
    exec(compile(out.read_text(), str(out), "exec"), namespace)  # noqa: S102 - our own generated code
    model = namespace["build_model"]()
    got = np.asarray(model([xs[k] for k in sorted(xs)] if len(xs) > 1 else x, training=False))
    assert model.count_params() == sum(s.size for s in plan.specs[node])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("class_name", [n for n in COMPUTING if LAYERS[n].gradient != "automatic"])
def test_every_layer_has_its_guide_prose_and_proof(class_name):  # a custom layer's guide is its own code
    """Issue 18: a layer joins the catalog with its guide: every prose section in resources/guide/*.md and an
    independent NumPy reference in engine/guide/proofs*.py (tests/engine/test_guide.py runs the proofs)."""
    from engine.guide import make_layer, missing_prose
    from engine.guide.proofs import reference

    missing = missing_prose(class_name)
    assert not missing, f"{class_name} has no guide prose for {', '.join(missing)}; add it to resources/guide/"
    assert reference(make_layer(class_name, None)) is not None, \
        f"{class_name} has no proof reference; add one to engine/guide/proofs.py"
