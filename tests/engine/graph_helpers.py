"""Small graphs and oracles shared by the executor / training tests."""
from __future__ import annotations

import numpy as np

from engine.executor import CompiledGraph, Executor, ParamStore
from engine.graph import LayerGraph
from tests.oracle import keras, keras_class, keras_config, numeric_grad


def chain(*layers, input_shape=(4,), input_dtype="float32") -> tuple[LayerGraph, list[str]]:
    """Input -> layers[0] -> layers[1] ...; each layer is ``(class_name, config)``."""
    g = LayerGraph()
    ids = [g.add_node("Input", {"shape": list(input_shape), "dtype": input_dtype})]
    for cname, cfg in layers:
        ids.append(g.add_node(cname, cfg))
        g.connect(ids[-2], ids[-1])
    return g, ids


def keras_model(graph: LayerGraph, params: ParamStore):
    """The Keras functional twin of ``graph`` with ``params`` copied in (test oracle)."""
    return keras_twin(graph, params)[0]


def keras_twin(graph: LayerGraph, params: ParamStore):
    """``(model, {node id: keras layer})`` for ``graph`` with ``params`` copied in."""
    k = keras()
    plan = CompiledGraph(graph)
    tensors, inputs = {}, []
    layers = {}
    for nid in plan.order:
        layer = plan.layers[nid]
        if not plan.sources[nid]:
            t = k.Input(shape=tuple(layer.config["shape"]), dtype=layer.config["dtype"], name=layer.name)
            inputs.append(t)
        else:
            kl = keras_class(layer).from_config(keras_config(layer))
            ins = [tensors[s] for s in plan.sources[nid]]
            t = kl(ins[0] if len(ins) == 1 else ins)
            layers[nid] = kl
        tensors[nid] = t
    outs = [tensors[o] for o in plan.output_ids]
    model = k.Model(inputs if len(inputs) > 1 else inputs[0], outs if len(outs) > 1 else outs[0])
    for nid, kl in layers.items():
        if nid in params.values:
            kl.set_weights([params.values[nid][s.name] for s in params.specs[nid]])
    return model, layers


def fd_check_graph(graph: LayerGraph, xs: dict[str, np.ndarray], *, seed=0, n_checks=8, rtol=1e-4, atol=1e-7):
    """Backprop through the whole graph vs central differences in float64 (weights and float inputs)."""
    rng = np.random.default_rng(seed)
    ex = Executor(graph)
    store = ParamStore(ex.plan, seed=seed, dtype=np.float64)
    for ws in store.values.values():
        for v in ws.values():
            v += rng.uniform(-0.3, 0.3, v.shape)
    inputs = ex.plan.prepare_inputs(xs, np.float64)
    fwd = ex.forward(store, inputs)
    rs = {o: rng.standard_normal(fwd.activations[o].shape) for o in ex.plan.output_ids}

    def loss():
        f = ex.forward(store, inputs)
        return float(sum((f.activations[o] * r).sum() for o, r in rs.items()))

    wgrads, igrads = ex.backward(store, fwd, rs)
    targets = [(f"weight {nid}/{k}", store.values[nid][k], wgrads[nid][k]) for nid, ks in store.values.items()
               for k in ks]
    targets += [(f"input {nid}", inputs[nid], igrads[nid]) for nid in inputs if inputs[nid].dtype.kind == "f"]
    assert targets
    for what, arr, grad in targets:
        assert grad.shape == arr.shape, what
        for i in rng.choice(arr.size, min(n_checks, arr.size), replace=False):
            idx = np.unravel_index(i, arr.shape)
            np.testing.assert_allclose(grad[idx], numeric_grad(loss, arr, idx), rtol=rtol, atol=atol,
                                       err_msg=f"{what} at {idx}")
    return ex, store
