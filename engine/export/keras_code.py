"""Keras 3 functional-API code for a graph: one readable line per layer, weights loaded with ``set_weights``.

``keras_code(graph)`` is what the designer's live code view shows (it tolerates unfinished graphs);
``export_keras(...)`` writes a file (and ``<stem>.weights.npz`` beside it) for a valid graph.
Every name or string from the document reaches the source only through ``identifiers``.
"""
from __future__ import annotations

import re
from typing import Any

from engine.errors import ConfigError, GraphError, LayergraphError
from engine.export.custom_code import custom_names, definitions_of, keras_class_source, keras_layer_call
from engine.export.identifiers import call, camel_case, comment, literal, sanitize
from engine.export.keras_config import keras_arguments, keras_call_arguments
from engine.export.plan import ExportPlan, make_plan
from engine.graph import LayerGraph
from engine.layers import LAYERS, Layer, layer_class, nested_layer_class
from engine.layers.sequence import CELLS
from engine.losses import default_loss
from engine.layers.custom import CustomLayer
from engine.layers.group import Group
from engine.validation import ValidationResult

OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adamw": "AdamW", "adagrad": "Adagrad",
              "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam"}
_LOSS_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
TRAINING_DEFAULTS = {"optimizer": "adam", "learning_rate": None, "batch_size": 32, "epochs": 10,
                     "validation_split": 0.0, "seed": None}


def keras_layer_name(name: str) -> str:
    """Keras refuses ``/`` in layer names; everything else is kept as is."""
    return name.replace("/", "_")


def keras_names(plan: ExportPlan) -> dict[str, str]:
    """Node id -> the layer name used in Keras (``/`` replaced, still unique)."""
    cached = getattr(plan, "_keras_names", None)
    if cached is not None:
        return cached
    taken = {plan.name(n) for n in plan.order}
    out = {}
    for nid in plan.order:
        name = plan.name(nid)
        new = keras_layer_name(name)
        if new != name:
            base, i = new, 1
            while new in taken:
                new, i = f"{base}_{i}", i + 1
            taken.add(new)
        out[nid] = new
    plan._keras_names = out
    return out


# ----- one layer -----------------------------------------------------------------------------------------
def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    return v


def _short_envelope(value: Any) -> Any:
    """Drop the envelope keys Keras fills in itself (``module`` of a built-in, ``registered_name`` None)."""
    if not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items()
            if not (k == "registered_name" and v is None)
            and not (k == "module" and v in ("keras.regularizers", "keras.constraints"))}


def _value_source(field_name: str, kind: str, value: Any) -> str:
    if kind == "json" and value is not None:
        value = _short_envelope(value)
        if "regularizer" in field_name:
            return f"keras.regularizers.get({literal(value)})"
        if "constraint" in field_name:
            return f"keras.constraints.get({literal(value)})"
    if kind == "layer":
        return nested_layer_source(value)
    if field_name == "cells" and isinstance(value, list):   # StackedRNNCells
        return "[" + ", ".join(nested_layer_source(v) for v in value) + "]"
    if isinstance(value, list):
        value = tuple(_norm(value))
    return literal(value)


def layer_arguments(layer: Layer, skip: tuple[str, ...] = ()) -> list[str]:
    """``arg=value`` for every argument that differs from its Keras default, in declaration order."""
    kinds = {f.name: f.kind for f in layer.all_fields()}
    return [f"{key}={_value_source(key, kinds[key], value)}" for key, value in keras_arguments(layer).items()
            if key not in skip]


def _class_ref(class_name: str) -> str:
    if (class_name not in LAYERS and class_name not in CELLS) or not class_name.isidentifier():
        raise ConfigError(f"unknown layer type {class_name!r}")
    module = nested_layer_class(class_name).keras_module
    return f"layers.{class_name}" if module == "keras.layers" else f"{module}.{class_name}"


def nested_layer_source(spec: dict) -> str:
    """A wrapped layer (Bidirectional's ``layer``) as a constructor call."""
    cls = nested_layer_class(spec["class_name"])
    inner = cls(dict(spec.get("config") or {}))
    args = layer_arguments(inner)
    if (spec.get("config") or {}).get("name"):
        args.append(f"name={literal(keras_layer_name(inner.name))}")
    return f"{_class_ref(cls.class_name)}({', '.join(args)})"


def layer_line(plan: ExportPlan, nid: str) -> str:
    node = plan.graph.node(nid)
    layer = plan.layer(nid)
    var = plan.idents[nid]
    name_arg = f"name={literal(keras_names(plan)[nid])}"
    if layer_class(node.class_name).max_inputs == 0:
        args = [f"shape={literal(tuple(layer.config['shape']))}"]
        if layer.config.get("dtype", "float32") != "float32":
            args.append(f"dtype={literal(layer.config['dtype'])}")
        return call(f"{var} = keras.Input", args + [name_arg])
    srcs = [plan.idents[s] for s in plan.graph.inputs_of(nid)]
    if isinstance(layer, Group):  # its own function builds it as a nested keras.Model
        inputs = f"[{', '.join(srcs)}]" if len(srcs) > 1 else (srcs[0] if srcs else "None")
        return call(f"{var} = {group_functions(plan)[nid][0]}", [name_arg], f"({inputs})")
    if layer.keras_inputs_as_arguments:  # mha(query, value, key)
        inputs = ", ".join(srcs) or "None"
    else:
        inputs = f"[{', '.join(srcs)}]" if plan.is_merge(nid) else (srcs[0] if srcs else "None")
    if isinstance(layer, CustomLayer):  # its class is defined in the module (custom_code.keras_class_source)
        cls_name, args = keras_layer_call(layer.definition, layer.config["arguments"])
        return call(f"{var} = {cls_name}", args + [name_arg], f"({inputs})")
    args = layer_arguments(layer) + [name_arg]
    if layer.takes_initial_state and len(srcs) > 1:
        inputs = f"{srcs[0]}, initial_state=[{', '.join(srcs[1:])}]"
    call_args = "".join(f", {k}={literal(v)}" for k, v in keras_call_arguments(layer).items())
    return call(f"{var} = {_class_ref(node.class_name)}", args, f"({inputs}{call_args})")


# ----- groups: each its own function returning a nested keras.Model ----------------------------------------
def group_functions(plan: ExportPlan) -> dict[str, tuple[str, ExportPlan]]:
    """Group node id -> (function name, plan of its inner graph), for this plan's groups."""
    cached = getattr(plan, "_group_functions", None)
    if cached is None:
        taken = getattr(plan, "_function_names", None) or set()
        cached = {}
        for nid in plan.order:
            layer = plan.layer(nid)
            if isinstance(layer, Group):
                fn = base = f"{camel_case(sanitize(plan.name(nid), 'group'))}Model"
                i = 1
                while fn in taken:
                    fn, i = f"{base}_{i}", i + 1
                taken.add(fn)
                inner = make_plan(layer.inner, strict=False)
                inner._function_names = taken  # nested groups share one set of module-level names
                cached[nid] = (fn, inner)
        plan._group_functions = cached
    return cached


def _group_sources(plan: ExportPlan) -> list[str]:
    """Every group's function (inner groups first, so each is defined before it is used)."""
    out: list[str] = []
    for nid, (fn, inner) in group_functions(plan).items():
        out += _group_sources(inner)
        body = _model_body(inner, "name")
        out += ["", "", f"def {fn}(name={literal(keras_names(plan)[nid])}):",
                f"    # the layers of the group {comment(plan.name(nid))}, as a nested Keras model"] + body + [
                    "    return model"]
    return out


def _model_body(plan: ExportPlan, model_name: str) -> list[str]:
    """The lines that build ``model`` from the plan's layers (``model_name`` is the name argument's source)."""
    out = []
    ready: set[str] = set()
    for nid in plan.order:
        srcs = plan.graph.inputs_of(nid)
        if layer_class(plan.graph.node(nid).class_name).max_inputs != 0 and (
                not srcs or any(s not in ready for s in srcs)):
            out.append(f"    # {comment(plan.name(nid))}: not connected yet")
            continue
        ready.add(nid)
        out.append("    " + layer_line(plan, nid))
    ins = [n for n in plan.inputs if n in ready]
    outs = [n for n in plan.outputs if n in ready]
    if not ins or not outs:
        out.append("    raise ValueError('the graph has no connected input and output yet')")
        return out
    io_args = [f"inputs={_io_source(plan, ins)}", f"outputs={_io_source(plan, outs)}", f"name={model_name}"]
    out.append("    " + call("model = keras.Model", io_args))
    return out


def _io_source(plan: ExportPlan, nids: list[str]) -> str:
    if len(nids) == 1:
        return plan.idents[nids[0]]
    return "[" + ", ".join(plan.idents[n] for n in nids) + "]"


def _build_model_source(plan: ExportPlan, model_name: str, weights_file: str | None) -> list[str]:
    out = []
    if weights_file:
        out += ["def build_model(weights=WEIGHTS_FILE):",
                '    """The model with the weights trained in layergraph (pass ``weights=None`` for fresh ones)."""']
    else:
        out += ["def build_model():", '    """The model as designed in layergraph (freshly initialised weights)."""']
    body = _model_body(plan, literal(model_name))
    out += body
    if body[-1].lstrip().startswith("raise"):
        return out
    if weights_file:
        out += ["    if weights is not None:", "        load_weights(model, weights)"]
    out.append("    return model")
    return out


LOAD_WEIGHTS = '''def load_weights(model, path):
    """Copy layergraph's weights (arrays "<layer name>/<i>" in get_weights() order) into ``model``."""
    with np.load(path, allow_pickle=False) as data:
        for layer in model.layers:
            if layer.weights:
                layer.set_weights([data[f"{layer.name}/{i}"] for i in range(len(layer.weights))])
                if hasattr(layer, "finalize_state"):
                    layer.finalize_state()  # as Keras's loader does (Normalization reads its statistics)'''

LOAD_NESTED_WEIGHTS = '''def load_weights(model, path, prefix=""):
    """Copy layergraph's weights (arrays "<layer name>/<i>" in get_weights() order) into ``model``;
    a nested model's layers are "<model name>/<layer name>/<i>"."""
    with np.load(path, allow_pickle=False) as data:
        _set_weights(model, data, prefix)


def _set_weights(model, data, prefix):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            _set_weights(layer, data, f"{prefix}{layer.name}/")
        elif layer.weights:
            layer.set_weights([data[f"{prefix}{layer.name}/{i}"] for i in range(len(layer.weights))])
            if hasattr(layer, "finalize_state"):
                layer.finalize_state()  # as Keras's loader does (Normalization reads its statistics)'''


def training_settings(plan: ExportPlan, training: dict | None) -> dict[str, Any]:
    t = {**TRAINING_DEFAULTS, **{k: v for k, v in (training or {}).items() if v is not None}}
    opt = str(t["optimizer"]).lower()
    if opt not in OPTIMIZERS:
        raise ConfigError(f"training optimizer {t['optimizer']!r} is not one of {', '.join(OPTIMIZERS)}; "
                          "choose one in the training settings.", "optimizer")
    t["optimizer"] = OPTIMIZERS[opt]
    if not t.get("loss"):
        t["loss"] = _default_loss(plan)
    try:
        from engine.losses import get_loss

        t["loss"] = get_loss(t["loss"]).name  # engine aliases ("MeanSquaredError") -> the Keras name
    except LayergraphError:
        pass  # not an engine loss: passed to Keras as written (checked below)
    if not isinstance(t["loss"], str) or not _LOSS_NAME.match(t["loss"]):
        raise ConfigError(f"training loss {t['loss']!r} is not a Keras loss name (e.g. 'mse', "
                          "'sparse_categorical_crossentropy').", "loss")
    if "metrics" not in t:
        t["metrics"] = ["accuracy"] if "crossentropy" in t["loss"] else ["mae"]
    for key, typ in (("learning_rate", float), ("batch_size", int), ("epochs", int), ("validation_split", float),
                     ("seed", int)):
        if t[key] is None and key in ("learning_rate", "seed"):
            continue  # Keras's default rate for the optimizer; no fixed seed
        try:
            t[key] = typ(t[key])
        except (TypeError, ValueError):
            raise ConfigError(f"training setting {key!r} must be a number, got {t[key]!r}.", key) from None
    if not isinstance(t["metrics"], list) or not all(isinstance(m, str) and _LOSS_NAME.match(m) for m in t["metrics"]):
        raise ConfigError(f"training metrics {t['metrics']!r} must be a list of Keras metric names.", "metrics")
    return t


def _default_loss(plan: ExportPlan) -> str:
    out = plan.outputs[0] if plan.outputs else None
    if out is None:
        return "mse"
    return default_loss(plan.layer(out).output_activation(), None, ())


def _training_source(plan: ExportPlan, t: dict[str, Any]) -> list[str]:
    lr = "" if t["learning_rate"] is None else f"learning_rate={t['learning_rate']!r}"
    seed = [f"    keras.utils.set_random_seed({t['seed']!r})"] if t["seed"] is not None else []
    kn = keras_names(plan)
    x_expr = 'data["x"]' if len(plan.inputs) == 1 else "{" + ", ".join(
        f"{literal(kn[n])}: data[{literal(plan.name(n))}]" for n in plan.inputs) + "}"
    return [
        f"LOSS = {literal(t['loss'])}",
        f"METRICS = {literal(t['metrics'])}",
        f"BATCH_SIZE = {t['batch_size']!r}",
        f"EPOCHS = {t['epochs']!r}",
        f"VALIDATION_SPLIT = {t['validation_split']!r}",
        "", "",
        "def compile_model(model, weighted=False):",
        '    """Compiled with the exported settings; ``weighted``: the metrics honour sample weights."""',
        f"    model.compile(optimizer=keras.optimizers.{t['optimizer']}({lr}), loss=LOSS,",
        "                  metrics=None if weighted else METRICS, weighted_metrics=METRICS if weighted else None)",
        "    return model",
        "", "",
        "def load_data(path):",
        '    """Features and targets from a .npz: ``x`` (or one array per input name) and ``y``."""',
        "    with np.load(path, allow_pickle=False) as data:",
        f"        x, y = {x_expr}, data[\"y\"]",
        '    if LOSS == "sparse_categorical_crossentropy" and y.ndim > 1 and y.shape[-1] > 1:',
        "        y = y.argmax(axis=-1)  # one-hot labels -> class ids",
        "    return x, y",
        "", "",
        "def main(argv=None):",
        '    parser = argparse.ArgumentParser(description="Train the model exported from layergraph.")',
        '    parser.add_argument("--data", help=".npz with x (or one array per input name) and y")',
        '    parser.add_argument("--epochs", type=int, default=EPOCHS)',
        '    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)',
        '    parser.add_argument("--distribute", nargs="?", const="data", choices=["data", "model"],',
        '                        help="data: the batch split over every device (DataParallel); model: kernels "',
        '                             "split over a model axis too (ModelParallel)")',
        '    parser.add_argument("--devices", type=int, default=None,',
        '                        help="with --distribute: use the first N devices")',
        '    parser.add_argument("--model-devices", type=int, default=2,',
        '                        help="with --distribute model: devices along the model axis")',
        '    parser.add_argument("--shard", action="append", default=[], metavar="LAYER:DIM",',
        '                        help="with --distribute model: split this kernel dimension over the model axis")',
        '    parser.add_argument("--multi-host", action="store_true",',
        '                        help="one of several hosts: keras.distribution.initialize() reads "',
        '                             "KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and _PROCESS_ID")',
        '    parser.add_argument("-o", "--output", help="save the trained model to this .keras file")',
        "    args = parser.parse_args(argv)",
        "    if args.multi_host:",
        "        keras.distribution.initialize()",
        "    if args.distribute:",
        "        split = set_distribution(args.distribute, args.model_devices, [parse_shard(s) for s in args.shard],",
        "                                 args.devices)",
        "        if args.batch_size % split:",
        '            raise SystemExit(f"--batch-size {args.batch_size} must be a multiple of the {split} devices "',
        '                             "each batch is split over")',
        *seed,
        "    model = compile_model(build_model(), weighted=bool(args.distribute))",
        "    model.summary()",
        "    if args.data is None:",
        "        return model",
        "    x, y = load_data(args.data)",
        "    if not args.distribute:",
        "        model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_split=VALIDATION_SPLIT)",
        "    else:  # whole batches only: a device cannot take a fraction of the last one",
        "        (x, y), (x_val, y_val) = split_validation(x, y, VALIDATION_SPLIT)",
        "        x, y, weights = pad_to_batches(x, y, args.batch_size)",
        "        val = pad_to_batches(x_val, y_val, args.batch_size) if len(y_val) else None",
        "        model.fit(x, y, sample_weight=weights, batch_size=args.batch_size, epochs=args.epochs,",
        "                  validation_data=val)",
        "    if args.output:",
        "        model.save(args.output)",
        "    return model",
    ]


def _custom_definitions(graph: LayerGraph, strict: bool) -> list:
    """The custom layer classes to define; the live view shows what it can of a conflict, an export refuses."""
    try:
        return definitions_of(graph)
    except ConfigError:
        if strict:
            raise
        return []


DISTRIBUTION = '''def pad_to_batches(x, y, batch_size):
    """x, y and sample weights, padded with zero-weight copies of the first sample to whole batches.

    Every batch then splits evenly over the devices, and every real sample still counts exactly once.
    """
    extra = -len(y) % batch_size
    weights = np.concatenate([np.ones(len(y), "float32"), np.zeros(extra, "float32")])

    def pad(a):
        return np.concatenate([a, np.repeat(a[:1], extra, axis=0)]) if extra else a

    return ({k: pad(v) for k, v in x.items()} if isinstance(x, dict) else pad(x)), pad(y), weights


def split_validation(x, y, fraction):
    """The last ``fraction`` of the samples for validation, where Keras's validation_split takes them."""
    cut = int(np.floor(len(y) * (1.0 - fraction))) if fraction else len(y)

    def part(a, rows):
        return {k: v[rows] for k, v in a.items()} if isinstance(a, dict) else a[rows]

    return (part(x, slice(0, cut)), y[:cut]), (part(x, slice(cut, None)), y[cut:])


def parse_shard(text):
    layer, _, dim = text.rpartition(":")
    try:
        return layer, int(dim)
    except ValueError:
        raise SystemExit(f"--shard {text}: expected LAYER:DIM, for example dense:1") from None


def propose_layout(model_devices, shards=()):
    """Kernel layouts for ModelParallel, by variable path.

    Each kernel's last dimension (its units or filters) is split over the model axis where it divides
    evenly; a kernel whose last dimension does not divide is replicated.  ``shards`` are the user's own
    ``(layer, dimension)`` choices, refused when the dimension does not divide.
    """
    layouts = {path: (None,) * (len(shape) - 1) + ("model" if shape[-1] % model_devices == 0 else None,)
               for path, shape in KERNELS.items()}
    for layer, dim in shards:
        shape = KERNELS.get(f"{layer}/kernel")
        if shape is None:
            raise SystemExit(f"--shard {layer}:{dim}: the model has no layer {layer!r} with a kernel")
        if not -len(shape) <= dim < len(shape) or shape[dim] % model_devices:
            raise SystemExit(f"--shard {layer}:{dim}: layer {layer!r} has a kernel of shape {shape}; its dimension "
                             f"{dim} does not divide over {model_devices} model devices")
        layouts[f"{layer}/kernel"] = tuple("model" if d == dim % len(shape) else None for d in range(len(shape)))
    return layouts


def set_distribution(kind, model_devices=2, shards=(), count=None):
    """Make Keras place the following model on every device (or the first ``count``); returns how many
    parts each batch is split in."""
    devices = keras.distribution.list_devices()
    if count is not None:
        if not 1 <= count <= len(devices):
            raise SystemExit(f"--devices {count}: there are {len(devices)} devices")
        devices = devices[:count]
    if kind == "data":
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        print(f"data parallel over {len(devices)} devices")
        return len(devices)
    if model_devices < 1 or len(devices) % model_devices:
        raise SystemExit(f"--model-devices {model_devices} does not divide the {len(devices)} devices")
    mesh = keras.distribution.DeviceMesh((len(devices) // model_devices, model_devices), ["batch", "model"], devices)
    layout_map = keras.distribution.LayoutMap(mesh)
    for path, dims in propose_layout(model_devices, shards).items():
        layout_map[path] = dims
    keras.distribution.set_distribution(keras.distribution.ModelParallel(layout_map=layout_map,
                                                                         batch_dim_name="batch"))
    print(f"model parallel over {len(devices)} devices: batch x{len(devices) // model_devices}, "
          f"model x{model_devices}")
    return len(devices) // model_devices'''


def _kernels_source(plan: ExportPlan) -> str:
    """``KERNELS``: the shape of every top-level kernel, by the Keras variable path ModelParallel lays out."""
    kn = keras_names(plan)
    rows = [f"    {literal(kn[nid] + '/kernel')}: {tuple(int(d) for d in spec.shape)!r},"
            for nid in plan.order if not isinstance(plan.layer(nid), Group)
            for spec in plan.specs.get(nid, []) if spec.name == "kernel"]
    return "\n".join(["#: Kernel shapes by Keras variable path: what --distribute model splits over the model axis.",
                      "KERNELS = {", *rows, "}"])


def keras_code(graph: LayerGraph, weights_file: str | None = None, training: dict | None = None,
               *, result: ValidationResult | None = None, model_name: str = "model", strict: bool = False) -> str:
    """Source of a Keras 3 module for ``graph``.

    Args:
        weights_file: file name (beside the module) of the ``.weights.npz`` to load, or None.
        training: the document's training settings; when given the module compiles, loads data and fits.
        strict: refuse an invalid graph (export) instead of sketching what is connected (live view).
    """
    try:
        plan = make_plan(graph, result, strict=strict, reserved=custom_names(graph))
    except GraphError:
        if strict:
            raise
        return "# The graph has a cycle; remove one of the connections to see its Keras code.\n"
    settings = training_settings(plan, training) if training is not None else None
    lines = ['"""Keras 3 model exported from layergraph."""', ""]
    stdlib = (["import argparse"] if settings else []) + (["from pathlib import Path"] if weights_file else [])
    lines += stdlib + ([""] if stdlib else []) + ["import keras"]
    lines += ["import numpy as np"] if weights_file or settings else []
    customs = _custom_definitions(graph, strict)
    lines += ["from keras import layers, ops" if customs else "from keras import layers", ""]
    if weights_file:
        lines += [f"WEIGHTS_FILE = Path(__file__).with_name({literal(weights_file)})", ""]
    if not plan.result.ok:
        lines += [f"# The graph has {len(plan.result.problems)} problem(s); this code may not run yet.", ""]
    plan._function_names = {"build_model", "load_weights", "_set_weights", "compile_model", "load_data", "main"} | {
        d.name for d in customs}
    for d in customs:
        lines += ["", *keras_class_source(d), ""]
    groups = _group_sources(plan)
    lines += groups[1:] + ["", ""] if groups else [""]
    lines += _build_model_source(plan, sanitize(model_name, "model"), weights_file)
    if weights_file:
        lines += ["", "", LOAD_NESTED_WEIGHTS if groups else LOAD_WEIGHTS]
    if settings:
        lines += ["", ""] + _training_source(plan, settings)
        lines += ["", "", _kernels_source(plan), "", "", DISTRIBUTION]
        lines += ["", "", 'if __name__ == "__main__":', "    main()"]
    else:
        lines += ["", "", 'if __name__ == "__main__":', "    build_model().summary()"]
    return "\n".join(lines) + "\n"
