"""One-layer graphs for every catalog layer, taken from the layer tests' ``*CASES`` lists (the registry of
examples each layer is checked with), plus the few classes whose tests list them in another form."""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np

import tests.engine.layers as layer_tests
from engine.export.keras_config import to_snake_case
from engine.graph import LayerGraph
from engine.layers import LAYERS, layer_class
from engine.validation import infer_shapes

SEQUENCE = [(None, 4, 3)]
EXTRA = [
    ("BatchNormalization", {"center": False, "epsilon": 0.1}, [(None, 4, 3)]),
    ("LayerNormalization", {"axis": [1, 2]}, [(None, 3, 4)]),
    ("Bidirectional", {"layer": {"class_name": "LSTM", "config": {"units": 2, "return_sequences": True}}}, SEQUENCE),
    ("Bidirectional", {"layer": {"class_name": "GRU", "config": {"units": 2}}, "merge_mode": "mul",
                       "backward_layer": {"class_name": "GRU", "config": {"units": 2, "go_backwards": True,
                                                                          "reset_after": False}}}, SEQUENCE),
    *[(name, {}, [(None, 4, 3), (None, 4, 3)]) for name in ("Add", "Subtract", "Multiply", "Average", "Maximum",
                                                            "Minimum")],
    ("Concatenate", {"axis": 1}, [(None, 2, 3), (None, 4, 3)]),
    ("Dot", {"axes": 1}, [(None, 3), (None, 3)]),
    ("SpatialDropout1D", {"rate": 0.4}, [(None, 5, 3)]),
    ("SpatialDropout2D", {"rate": 0.4}, [(None, 4, 4, 3)]),
    ("SpatialDropout3D", {"rate": 0.1}, [(None, 2, 2, 2, 3)]),
]


def _normalise(entry) -> tuple[str, dict, list] | None:
    if not isinstance(entry, tuple) or len(entry) not in (2, 3) or not isinstance(entry[0], str) \
            or entry[0] not in LAYERS or LAYERS[entry[0]].gradient == "automatic":
        return None  # custom layers: a .keras file holds no code, so the writer refuses them (test_keras_parity)
    if not isinstance(entry[1], dict):
        return None
    shapes = entry[2] if len(entry) == 3 else SEQUENCE
    if isinstance(shapes, tuple):
        shapes = [shapes]
    if not (isinstance(shapes, list) and shapes and all(isinstance(s, tuple) and s[:1] == (None,) for s in shapes)):
        return None
    if any(d is None for s in shapes for d in s[1:]):
        return None
    return entry[0], entry[1], shapes


def catalog_cases() -> list[tuple[str, dict, list]]:
    """The first valid ``(class_name, config, input shapes)`` line per class of
    ``tests/engine/layers/test_*.py``: one line per catalog layer."""
    found = []
    for info in pkgutil.iter_modules(layer_tests.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{layer_tests.__name__}.{info.name}")
        for attr, value in vars(module).items():
            if attr.endswith("CASES") and isinstance(value, list):
                found += [c for c in map(_normalise, value) if c is not None]
    first: dict[str, tuple] = {}
    for case in found + EXTRA:
        if case[0] not in first and _add_case(LayerGraph(), "", *case) is not None:
            first[case[0]] = case
    return list(first.values())


def _add_case(g: LayerGraph, prefix: str, class_name: str, config: dict, shapes: list) -> str | None:
    """Add ``Input``s and the layer to ``g``; None when the case is one of the layer tests' invalid examples."""
    integer = layer_class(class_name).integer_inputs
    trial = g.copy()
    try:
        ins = [trial.add_node("Input", {"shape": list(s[1:]), "dtype": "int32" if integer else "float32"},
                              name=f"{prefix}in_{i}") for i, s in enumerate(shapes)]
        node = trial.add_node(class_name, config, name=f"{prefix}{to_snake_case(class_name)}")
        for i in ins:
            trial.connect(i, node)
    except Exception:  # noqa: BLE001 - a case written to be refused
        return None
    if not infer_shapes(trial).ok:
        return None
    return g.add_subgraph(trial.to_dict([*ins, node]))[node]


def catalog_graph(cases) -> LayerGraph:
    """All the one-layer cases side by side in one graph (one file, one Keras load, one compiled predict)."""
    g = LayerGraph()
    for i, case in enumerate(cases):
        if _add_case(g, f"c{i}_", *case) is None:
            raise AssertionError(f"case {case} is not valid")
    return g


def random_weights(specs, rng) -> dict[str, np.ndarray]:
    return {s.name: (rng.uniform(0.5, 1.5, s.shape) if "variance" in s.name else rng.normal(0, 0.5, s.shape))
            .astype("float32") for s in specs}


def sample_inputs(graph: LayerGraph, rng, batch: int = 2) -> dict[str, np.ndarray]:
    out = {}
    for nid in graph.input_nodes():
        layer = graph.layer(nid)
        shape = (batch, *layer.config["shape"])
        consumers = [graph.layer(e.target) for e in graph.out_edges(nid)]
        if layer.config.get("dtype") == "int32":
            high = min([c.config.get("input_dim") or c.config.get("num_tokens") or 4 for c in consumers] or [4])
            out[layer.name] = rng.integers(0, high, size=shape).astype(np.int32)
        else:
            out[layer.name] = rng.standard_normal(shape).astype(np.float32)
    return out
