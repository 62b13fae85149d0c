"""Both exporters on argument combinations the family models don't reach.

Each case is a one-layer graph with random weights: the generated module (executed in-process; it is
our own output) must predict what the engine predicts, and the engine is held to Keras by the layer
tests.  Cheap enough to cover many configurations.
"""
from __future__ import annotations

import numpy as np
import pytest

from engine.executor import Executor
from engine.export.numpy_code import numpy_code
from engine.export.plan import make_plan, weight_arrays
from engine.graph import LayerGraph

CASES = [
    ("Dense", {"units": 3, "activation": "gelu"}, [(5, 4)]),
    ("Dense", {"units": 2, "activation": "swish", "use_bias": False}, [(3, 4)]),
    ("Conv2D", {"filters": 3, "kernel_size": [3, 2], "strides": [2, 1], "padding": "same"}, [(9, 7, 2)]),
    ("Conv2D", {"filters": 2, "kernel_size": 1, "use_bias": False, "activation": "relu6"}, [(4, 4, 3)]),
    ("Conv1D", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, [(9, 2)]),
    ("Conv1D", {"filters": 4, "kernel_size": 2, "groups": 2, "dilation_rate": 3}, [(10, 4)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1}, [(4, 5, 3)]),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same"}, [(5, 5, 1)]),
    ("Conv2DTranspose", {"filters": 1, "kernel_size": 4, "strides": 3, "padding": "same"}, [(3, 4, 2)]),
    ("DepthwiseConv2D", {"kernel_size": 2, "strides": 2, "activation": "sigmoid"}, [(6, 6, 3)]),
    ("SeparableConv2D", {"filters": 2, "kernel_size": 3, "depth_multiplier": 2, "dilation_rate": 2}, [(8, 8, 2)]),
    ("MaxPooling2D", {"pool_size": [3, 2], "strides": [1, 2], "padding": "same"}, [(5, 6, 2)]),
    ("AveragePooling2D", {"pool_size": 2, "strides": 1}, [(4, 5, 2)]),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, [(8, 3)]),
    ("AveragePooling1D", {"pool_size": 3, "padding": "same"}, [(7, 2)]),
    ("GlobalAveragePooling1D", {"keepdims": True}, [(5, 3)]),
    ("GlobalMaxPooling2D", {}, [(3, 4, 2)]),
    ("SimpleRNN", {"units": 3, "activation": "relu", "use_bias": False, "go_backwards": True}, [(6, 2)]),
    ("LSTM", {"units": 2, "return_sequences": True, "go_backwards": True}, [(5, 3)]),
    ("LSTM", {"units": 3, "activation": "relu", "recurrent_activation": "hard_sigmoid"}, [(4, 2)]),
    ("GRU", {"units": 3}, [(5, 2)]),
    ("GRU", {"units": 2, "use_bias": False, "return_sequences": True}, [(4, 3)]),
    ("Bidirectional", {"layer": {"class_name": "SimpleRNN", "config": {"units": 2, "return_sequences": True}},
                       "merge_mode": "ave"}, [(5, 3)]),
    ("Bidirectional", {"layer": {"class_name": "GRU", "config": {"units": 2}}, "merge_mode": "mul",
                       "backward_layer": {"class_name": "GRU", "config": {"units": 2, "go_backwards": True,
                                                                          "reset_after": False}}}, [(4, 3)]),
    ("BatchNormalization", {"center": False, "epsilon": 0.1}, [(4, 3)]),
    ("BatchNormalization", {"axis": 1, "scale": False}, [(3, 4, 2)]),
    ("LayerNormalization", {"axis": [1, 2]}, [(3, 4)]),
    ("LayerNormalization", {"center": False, "scale": False}, [(5,)]),
    ("Reshape", {"target_shape": [-1, 2]}, [(3, 4)]),
    ("Permute", {"dims": [3, 1, 2]}, [(2, 3, 4)]),
    ("UpSampling2D", {"size": [3, 2], "interpolation": "bilinear"}, [(3, 4, 2)]),
    ("ZeroPadding2D", {"padding": 2}, [(3, 3, 1)]),
    ("Cropping2D", {"cropping": [1, 2]}, [(5, 6, 1)]),
    ("Softmax", {"axis": 1}, [(3, 4)]),
    ("ReLU", {"threshold": 0.5, "max_value": 2.0}, [(6,)]),
    ("ReLU", {"negative_slope": 0.2}, [(6,)]),
    ("LeakyReLU", {"negative_slope": 0.05}, [(6,)]),
    ("PReLU", {"shared_axes": [1]}, [(3, 4)]),
    ("Multiply", {}, [(3, 4), (3, 4), (3, 4)]),
    ("Maximum", {}, [(2, 3), (2, 3)]),
    ("Concatenate", {"axis": 1}, [(2, 3), (4, 3)]),
    ("Activation", {"activation": "softsign"}, [(5,)]),
    ("Activation", {"activation": "exponential"}, [(5,)]),
    ("GroupNormalization", {"groups": 2, "axis": 1}, [(4, 3)]),
    ("GroupNormalization", {"groups": -1, "center": False}, [(3, 3, 2)]),
    ("UnitNormalization", {"axis": [1, 2]}, [(3, 2)]),
    ("RMSNormalization", {"axis": [-2, -1], "epsilon": 1e-3}, [(2, 3)]),
    ("Dropout", {"rate": 0.5, "noise_shape": [None, 1, 3]}, [(2, 3)]),
    ("SpatialDropout2D", {"rate": 0.3}, [(3, 3, 2)]),
    ("GaussianNoise", {"stddev": 0.2}, [(4,)]),
    ("AlphaDropout", {"rate": 0.4}, [(4,)]),
    ("ActivityRegularization", {"l1": 0.1, "l2": 0.01}, [(2, 3)]),
    ("Identity", {}, [(2, 3)]),
    ("Dot", {"axes": [2, 1], "normalize": True}, [(3, 4), (4, 2)]),
    ("Dot", {"axes": 1}, [(4,), (4,)]),
]


def _one_layer_graph(cls, config, shapes):
    g = LayerGraph()
    ins = [g.add_node("Input", {"shape": list(s)}, name=f"in_{i}") for i, s in enumerate(shapes)]
    node = g.add_node(cls, config)
    for i in ins:
        g.connect(i, node)
    return g, node


@pytest.mark.parametrize("cls, config, shapes", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_numpy_kernel_matches_engine(cls, config, shapes):
    rng = np.random.default_rng(0)
    g, node = _one_layer_graph(cls, config, shapes)
    plan = make_plan(g)
    weights = {}
    if plan.specs[node]:
        weights[node] = {s.name: (rng.uniform(0.5, 1.5, s.shape) if "variance" in s.name
                                  else rng.normal(0, 0.5, s.shape)).astype("float32") for s in plan.specs[node]}
    xs = {f"in_{i}": rng.normal(size=(2, *s)).astype("float32") for i, s in enumerate(shapes)}
    x = xs if len(xs) > 1 else xs["in_0"]
    expected = Executor(g).predict(weights, x)
    namespace: dict = {"__file__": "generated.py", "__name__": "generated"}
    exec(compile(numpy_code(g), "generated.py", "exec"), namespace)  # noqa: S102 - our own generated code
    namespace["_W"].update(weight_arrays(plan, weights))  # weightless graphs never read the file
    got = namespace["predict"](x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls, config, shapes", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_keras_code_matches_engine(cls, config, shapes, tmp_path):
    """The same cases through the Keras exporter, executed in-process with the Keras oracle."""
    from engine.export.cli import write_export
    from tests.oracle import keras

    keras()
    rng = np.random.default_rng(1)
    g, node = _one_layer_graph(cls, config, shapes)
    plan = make_plan(g)
    weights = {node: {s.name: (rng.uniform(0.5, 1.5, s.shape) if "variance" in s.name
                               else rng.normal(0, 0.5, s.shape)).astype("float32") for s in plan.specs[node]}}
    xs = {f"in_{i}": rng.normal(size=(2, *s)).astype("float32") for i, s in enumerate(shapes)}
    x = xs if len(xs) > 1 else xs["in_0"]
    expected = Executor(g).predict(weights, x)
    out = tmp_path / "model.py"
    write_export(g, weights if plan.specs[node] else None, out, "keras")
    namespace: dict = {"__file__": str(out), "__name__": "generated"}
    exec(compile(out.read_text(), str(out), "exec"), namespace)  # noqa: S102 - our own generated code
    model = namespace["build_model"]()
    got = np.asarray(model([xs[k] for k in sorted(xs)] if len(xs) > 1 else x, training=False))
    assert model.count_params() == sum(s.size for s in plan.specs[node])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
