"""Read Keras 3 models (``.keras`` archives or ``model.to_json()`` configs) into a ``LayerGraph``.

Nothing from the file is executed: the config is JSON, the weights are HDF5 datasets read with h5py,
class names are looked up in the catalog only.  Every Keras argument goes through an explicit rule:
an engine field (converted), a Keras-only key that can be dropped (with the values that are safe to
drop), or a refusal naming the layer, its class and the argument.
"""
from __future__ import annotations

import json
import math
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.optimizers import OPTIMIZERS
from engine.errors import ConfigError, FileFormatError, GraphError, shown
from engine.graph import EdgesError, LayerGraph, check_name
from engine.initializers import INITIALIZERS
from engine.export.keras_config import LAYER_MODULES, h5_layer_paths, to_snake_case
from engine.keras_objects import check_keras_object, object_kind
from engine.layers import LAYERS, Layer
from engine.layers.sequence import CELLS
from engine.layers.group import Group, inner_weight_name
from engine.layout import layered_positions
from engine.memory import array_bytes, check_allocation
from engine.validation import infer_shapes

MAX_CONFIG_BYTES = 64 * 1024 * 1024
MAX_WEIGHTS_BYTES = 2 * 1024 ** 3
MAX_MEMBERS = 10_000
MAX_CLASS_NAME = 80
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"  # at offset 0: Keras writes no user block
ANY = object()

#: Keras-only keys and the values that may be dropped because they never change the layer's results.
KERAS_ONLY: dict[str, Any] = {
    "dtype": ANY,  # checked separately: only a float32 policy is accepted
    "seed": ANY,
    "sparse": (False,), "ragged": (False,), "optional": (False,),
    "quantization_config": (None,), "lora_rank": (None,), "lora_alpha": (None,),
    "synchronized": (False,), "renorm": (False,), "renorm_clipping": (None,), "renorm_momentum": ANY,
    "return_state": (False,), "stateful": (False,), "unroll": ANY, "zero_output_for_mask": ANY,
    "time_major": (False,), "implementation": ANY, "use_cudnn": ANY, "autocast": ANY,
    "data_format": ("channels_last", None), "noise_shape": (None,), "input_length": ANY,
    "dropout": ANY, "recurrent_dropout": ANY, "rms_scaling": (False,), "mask_zero": (False,),
    "use_gate": (False,), "sliding_window": (None,), "flash_attention": (None, False),
}
_DROPPABLE_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_FLOAT_POLICIES = ("float32",)
_MODEL_CLASSES = ("Sequential", "Functional", "Model")
#: Element-wise operations a functional model may call as ``keras.ops.add(a, b)`` (ConvNeXt's residuals):
#: saved as operations of this module, read as the catalog's merge layer of the same name.
_OPS_MODULE = "keras.src.ops.numpy"
_OPS = ("Add", "Subtract", "Multiply")
#: Operations Keras writes into a functional model to compute masks (Embedding: NotEqual; Masking: NotEqual and
#: Any; merges: LogicalOr; Concatenate: ExpandDims, ZerosLike, OnesLike, Concatenate, Any; Attention's output:
#: ConvertToTensor, of ``keras.src.ops.core``); they may feed only ``mask=`` arguments and each other, and the
#: engine infers the masks itself.
_MASK_OPS = ("NotEqual", "Any", "LogicalOr", "ExpandDims", "ZerosLike", "OnesLike", "Concatenate")
_CORE_OPS_MODULE = "keras.src.ops.core"
_CORE_MASK_OPS = ("ConvertToTensor",)
_INITIALIZER_MODULE = "keras.initializers"
#: Keras classes a file may name by their Python class (``GroupedQueryAttention``) rather than their export name.
_ALIASES = {cls.keras_python_name: name for name, cls in LAYERS.items() if cls.keras_python_name}


@dataclass
class ImportedModel:
    graph: LayerGraph
    weights: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def import_keras_model(path: str | Path):
    """The designer's entry point: an imported model as a ``fileformat.Document`` (graph, weights, training)."""
    from engine.fileformat import Document

    imported = import_model(path)
    return Document(imported.graph, imported.weights or None, imported.training)


# ----- reading the file --------------------------------------------------------------------------------
def import_model(path: str | Path) -> ImportedModel:
    """Read a ``.keras`` archive or a Keras JSON config.  ``FileFormatError`` for unreadable files,
    ``ConfigError``/``GraphError`` for models layergraph cannot represent."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file.")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        config, h5, backing = _read_archive(path)
    elif magic[:1] in (b"{", b" ", b"\n", b"\r", b"\t") or path.suffix == ".json":
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise FileFormatError(f"{path}: the config is too large for a Keras model config.")
        config, h5, backing = _parse_json(path.read_bytes(), str(path)), None, None
    else:
        raise FileFormatError(f"{path}: not a Keras 3 model; expected a .keras archive or a JSON config "
                              "(model.to_json()).")
    try:
        return _Importer(config, h5, str(path)).run()
    finally:
        if h5 is not None:
            h5.close()
        if backing is not None:
            backing.close()


def _parse_json(raw: bytes, where: str) -> Any:
    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not allowed")

    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"the number {shown(text)} is out of range")
        return value

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=reject, parse_float=finite)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FileFormatError(f"{where}: the model config is not valid JSON ({exc}).") from None
    except RecursionError:
        raise FileFormatError(f"{where}: the model config is nested too deeply to be a Keras model.") from None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, where: str) -> bytes:
    """The member's bytes, refused from its declared size before anything is decompressed (compression
    bombs), and read no further than it declares."""
    if info.file_size > limit:
        raise FileFormatError(f"{where}: archive member '{info.filename}' declares {info.file_size:,} bytes, "
                              f"more than the {limit:,} allowed; the file is damaged or not a real model.")
    check_allocation(info.file_size, f"{where}: archive member '{info.filename}'", FileFormatError)
    with zf.open(info) as fh:
        data = fh.read(info.file_size + 1)  # never more than declared (plus one byte to notice a lie)
    if len(data) > info.file_size:
        raise FileFormatError(f"{where}: archive member '{info.filename}' is larger than it declares.")
    return data


def _read_archive(path: Path):
    where = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise FileFormatError(f"{where}: the archive has {len(infos):,} members; not a Keras model.")
            by_name = {i.filename: i for i in infos}
            if "config.json" not in by_name:
                raise FileFormatError(f"{where}: the archive has no config.json; not a Keras 3 .keras file.")
            config = _parse_json(_read_member(zf, by_name["config.json"], MAX_CONFIG_BYTES, where), where)
            weights = None
            if "model.weights.h5" in by_name:
                weights = _extract_member(zf, by_name["model.weights.h5"], MAX_WEIGHTS_BYTES, where, HDF5_SIGNATURE)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, zlib.error) as exc:
        raise FileFormatError(f"{where}: the archive is damaged or truncated ({shown(str(exc))}).") from None
    except (OSError, NotImplementedError, RuntimeError) as exc:
        raise FileFormatError(f"{where}: the archive cannot be read ({shown(str(exc))}).") from None
    if weights is None:
        return config, None, None
    try:
        import h5py

        return config, h5py.File(weights, "r"), weights
    except OSError as exc:
        weights.close()
        raise FileFormatError(f"{where}: model.weights.h5 is damaged ({exc}).") from None


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, where: str, signature: bytes):
    """The member in an anonymous temporary file, copied in small chunks: h5py then reads only the datasets
    it is asked for, so the member never sits in memory whole.  Refused from its declared size first, and
    from its first bytes (``signature``) before the rest is decompressed."""
    if info.file_size > limit:
        raise FileFormatError(f"{where}: archive member '{info.filename}' declares {info.file_size:,} bytes, "
                              f"more than the {limit:,} allowed; the file is damaged or not a real model.")
    check_allocation(info.file_size, f"{where}: archive member '{info.filename}'", FileFormatError)
    out = tempfile.TemporaryFile()
    try:
        with zf.open(info) as fh:
            left = info.file_size
            while chunk := fh.read(min(left + 1, 1 << 20)):
                if left == info.file_size and not chunk.startswith(signature):
                    raise FileFormatError(f"{where}: archive member '{info.filename}' is not an HDF5 file.")
                left -= len(chunk)
                if left < 0:
                    raise FileFormatError(f"{where}: archive member '{info.filename}' is larger than it declares.")
                out.write(chunk)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out


# ----- converting the config ---------------------------------------------------------------------------
class _Importer:
    def __init__(self, config: Any, h5, where: str) -> None:
        self.config, self.h5, self.where = config, h5, where
        self.notes: list[str] = []
        self.groups: dict[str, tuple[_Importer, list[tuple[str, str]]]] = {}  # nested model name -> its import
        self.mask_ops: set[str] = set()            # names of Keras's mask operations (not imported as layers)
        self.mask_uses: dict[str, set[str]] = {}   # name -> the layers or mask operations reading it as a mask
        self.masked_calls: set[str] = set()        # layers Keras calls with a mask argument

    def fail(self, msg: str) -> ConfigError:
        return ConfigError(msg)

    def run(self) -> ImportedModel:
        cfg = self.config
        if not isinstance(cfg, dict) or not isinstance(cfg.get("config"), dict):
            raise FileFormatError(f"{self.where}: not a Keras model config (no 'class_name'/'config' object).")
        kind = cfg.get("class_name")
        body = cfg["config"]
        layers = body.get("layers")
        if not isinstance(layers, list):
            raise FileFormatError(f"{self.where}: the model config has no 'layers' list.")
        if kind == "Sequential":
            nodes, edges, h5_layers = self._sequential(body, layers)
        elif kind in ("Functional", "Model"):
            nodes, edges, h5_layers = self._functional(body, layers)
        else:
            raise self.fail(f"the file holds a {shown(kind)}, not a Sequential or Functional model; subclassed "
                            "models carry Python code, which layergraph never runs.")
        graph = self._build_graph(nodes, edges)
        weights = self._read_weights(graph, h5_layers) if self.h5 is not None else {}
        return ImportedModel(graph, weights, _training(cfg.get("compile_config")), self.notes)

    # --- model structure
    def _sequential(self, body: dict, layers: list) -> tuple[list, list, list]:
        nodes, edges, h5_layers = [], [], []
        entries = [self._entry(e, i) for i, e in enumerate(layers)]
        if entries and entries[0][0] == "InputLayer":
            first = entries.pop(0)
            nodes.append(self._input_node(first[1], first[2]))
        else:
            shape = body.get("build_input_shape") or (entries[0][2].get("batch_input_shape") if entries else None)
            if entries and not shape:
                shape = (entries[0][2].get("build_config") or {}).get("input_shape")
            if not shape:
                raise self.fail("the Sequential model has no input shape; build it (or add keras.Input) "
                                "before saving.")
            nodes.append(self._input_node("input_layer", {"batch_shape": shape}))
        prev = nodes[0]["name"]
        for cname, name, lcfg, _raw in entries:
            nodes.append(self._layer_node(cname, name, lcfg))
            edges.append((prev, name, 0))
            h5_layers.append((name, cname))
            prev = name
        return nodes, edges, h5_layers

    def _functional(self, body: dict, layers: list) -> tuple[list, list, list]:
        nodes, edges, h5_layers = [], [], []
        for i, raw in enumerate(layers):
            cname, name, lcfg, raw = self._entry(raw, i)
            op = raw.get("module") == _OPS_MODULE
            if (op and cname in _MASK_OPS) or (raw.get("module") == _CORE_OPS_MODULE and cname in _CORE_MASK_OPS):
                self._mask_op(name, raw.get("inbound_nodes") or [])
                continue
            if not op:  # an operation (keras.ops.add) is no layer: it has no weights entry in the file
                h5_layers.append((name, cname))
            if cname == "InputLayer":
                nodes.append(self._input_node(name, lcfg))
                continue
            srcs, call_args = self._inbound(name, cname, raw.get("inbound_nodes") or [], op)
            node = self._layer_node(cname, name, lcfg)
            node["config"].update(call_args)
            nodes.append(node)
            for k, src in enumerate(srcs):
                edges.append((src, name, k))
        outputs = [t[0] for t in _tensor_list(body.get("output_layers"))]
        inputs = [t[0] for t in _tensor_list(body.get("input_layers"))]
        self._check_mask_ops(outputs)
        for src, dst, _k in edges:
            if src in self.mask_ops:
                raise self.fail(f"the operation {shown(src)} feeds layer {shown(dst)}; layergraph reads it only as "
                                "part of a mask.")
        fed = {e[0] for e in edges}
        for out in outputs:
            if out in fed:
                raise self.fail(f"layer '{out}' is a model output and also feeds other layers; layergraph takes "
                                "the layers that feed nothing as the outputs. Add an Activation('linear') after "
                                "it in Keras and make that the output.")
        rank = {n: i for i, n in enumerate(inputs)}
        rank.update({n: len(layers) + 1 + i for i, n in enumerate(outputs)})
        order = sorted(range(len(nodes)), key=lambda i: (rank.get(nodes[i]["name"], len(inputs) + i / len(nodes))))
        return [nodes[i] for i in order], edges, h5_layers

    def _entry(self, raw: Any, index: int) -> tuple[str, str, dict, dict]:
        if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
            raise FileFormatError(f"{self.where}: layers[{index}] is not a layer config.")
        cname = raw.get("class_name")
        lcfg = raw["config"]
        name = lcfg.get("name") or raw.get("name")
        if not isinstance(cname, str) or not isinstance(name, str) or not name:
            raise FileFormatError(f"{self.where}: layers[{index}] has no class name or layer name.")
        try:
            check_name(name)
            if len(cname) > MAX_CLASS_NAME:
                raise ConfigError(f"its class name {shown(cname)} is {len(cname):,} characters long; not a Keras layer")
        except ConfigError as exc:
            raise FileFormatError(f"{self.where}: layers[{index}]: {exc}.") from None
        cname = _ALIASES.get(cname, cname)
        module, registered = raw.get("module"), raw.get("registered_name")
        if module == _OPS_MODULE and cname not in _OPS + _MASK_OPS:
            raise self.fail(f"layer {shown(name)} is the operation keras.ops.{to_snake_case(cname)}; layergraph reads "
                            f"only {', '.join(f'keras.ops.{o.lower()}' for o in _OPS)} among operations.")
        own_module = getattr(LAYERS.get(cname), "keras_module", None)
        core_mask_op = module == _CORE_OPS_MODULE and cname in _CORE_MASK_OPS
        if registered not in (None, cname) or (module not in LAYER_MODULES + (_OPS_MODULE,)
                                               and module != own_module and not core_mask_op):
            raise self.fail(f"layer {shown(name)} is a custom class {shown(registered or cname)} (module "
                            f"{shown(module)}); "
                            "layergraph only reads the built-in Keras layers of its catalog.")
        return cname, name, lcfg, raw

    def _inbound(self, name: str, cname: str, inbound: list, op: bool = False) -> tuple[list[str], dict]:
        """Names of the layers feeding this call (an operation such as ``keras.ops.add`` and a layer called with
        separate inputs such as ``mha(query, value, key)`` take them as separate arguments, other layers as one
        tensor or one list), and the call arguments the layer declares (``use_causal_mask``)."""
        if len(inbound) > 1:
            raise self.fail(f"{cname} '{name}' is called {len(inbound)} times (shared weights); a layergraph "
                            "node is one call of one layer. Use separate layers.")
        if not inbound:
            raise self.fail(f"{cname} '{name}' is not connected to anything in the model.")
        node = inbound[0]
        call_args: dict[str, Any] = {}
        if isinstance(node, dict):  # Keras 3: {"args": [tensor or [tensors]], "kwargs": {...}}
            args, kwargs = node.get("args") or [], node.get("kwargs") or {}
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise FileFormatError(f"{self.where}: {cname} '{name}' has an unreadable call (its args or kwargs).")
            cls = LAYERS.get(cname)
            extra = {k: v for k, v in kwargs.items() if v is not None and k != "training"}
            states = extra.pop("initial_state", None) if _takes_initial_state(cname) else None
            extra = self._mask_kwargs(name, cname, extra)
            call_args, separate = self._call_arguments(name, cname, extra)
            if separate and args and all(isinstance(a, dict) for a in args) and isinstance(extra.get("key"), dict):
                args = [*args, extra.pop("key")]  # mha(query, value, key=k)
            if (op or separate) and not extra and args and all(isinstance(a, dict) for a in args):
                args = [args]
            if extra or len(args) != 1:
                raise self.fail(f"{cname} '{name}' is called with extra arguments ({', '.join(extra) or 'several'}); "
                                "layergraph layers take only their input tensors"
                                + (f" and {', '.join(f.name for f in cls.call_fields())}." if cls and cls.call_fields()
                                   else "."))
            tensors = args[0] if isinstance(args[0], list) else [args[0]]
            if states is not None:     # a recurrent layer's initial_state: its state inputs, after the sequence
                tensors = tensors + (states if isinstance(states, list) else [states])
            hist = [_keras_history(t) for t in tensors]
        else:  # Keras 2 style: [[name, node_index, tensor_index, kwargs], ...]
            hist = [t[:3] if isinstance(t, list) else None for t in node]
        out = []
        for h in hist:
            if not isinstance(h, list) or len(h) < 3 or not isinstance(h[0], str):
                raise FileFormatError(f"{self.where}: {cname} '{name}' has an unreadable input reference.")
            if h[1] != 0 or h[2] != 0:
                raise self.fail(f"{cname} '{name}' uses output {h[2]} of call {h[1]} of {shown(h[0])}; layergraph "
                                "supports single-output layers called once.")
            out.append(h[0])
        return out, call_args

    def _call_arguments(self, name: str, cname: str, extra: dict) -> tuple[dict, bool]:
        """Take the declared call arguments out of ``extra`` (a call's kwargs); whether the layer takes its inputs
        as separate arguments.  ``return_attention_scores=True`` is refused: it makes a second output."""
        cls = LAYERS.get(_ALIASES.get(cname, cname))
        if cls is None:
            return {}, False
        if extra.get("return_attention_scores") is True:
            raise self.fail(f"{cname} '{name}' is called with return_attention_scores=True, which gives it a second "
                            "output; a layergraph node has one output, so call it without that argument.")
        if extra.get("return_attention_scores") is False:
            extra.pop("return_attention_scores")
        return {f.name: extra.pop(f.name) for f in cls.call_fields() if f.name in extra}, \
            cls.keras_inputs_as_arguments

    # --- masks (Keras's functional form: explicit mask operations and ``mask=`` arguments)
    def _mask_op(self, name: str, inbound: list) -> None:
        self.mask_ops.add(name)
        node = inbound[0] if len(inbound) == 1 and isinstance(inbound[0], dict) else {}
        for hist in _histories(node.get("args") or []):
            self.mask_uses.setdefault(hist, set()).add(name)

    def _mask_kwargs(self, name: str, cname: str, kwargs: dict) -> dict:
        """``kwargs`` without the mask arguments of the layer (``Layer.mask_args``), which must come from
        Keras's mask operations: the engine computes those masks itself."""
        cls = LAYERS.get(_ALIASES.get(cname, cname))
        # a saved mask argument of a layer whose masks Keras fills itself is the user's own: left in, refused
        allowed = set() if cls is None or cls.keras_masks_implicit else set(cls.mask_args) - {None}
        rest = {}
        for key, value in kwargs.items():
            hist = _histories([value])
            if key in allowed and len(hist) == 1:
                self.mask_uses.setdefault(hist[0], set()).add(name)
                self.masked_calls.add(name)
            else:
                rest[key] = value
        return rest

    def _check_mask_ops(self, outputs: list[str]) -> None:
        """Keras's mask operations may only compute masks; anything else they feed is a computation."""
        for op in sorted(self.mask_ops):
            used = self.mask_uses.get(op, set())
            if op in outputs or not used:
                raise self.fail(f"the operation {shown(op)} is a model output; layergraph reads it only as part of "
                                "a mask.")
        for src, users in self.mask_uses.items():
            if src not in self.mask_ops and not users <= self.mask_ops:
                raise self.fail(f"layer {shown(src)} is passed as a mask; layergraph infers masks from Masking and "
                                "Embedding(mask_zero=True) only.")

    def _check_masks(self, graph: LayerGraph, ids: dict[str, str], result) -> None:
        """The masks the engine infers must be those Keras passes (functional models state every one)."""
        if not self.mask_ops and not self.masked_calls:
            return
        for name, nid in ids.items():
            layer = graph.layer(nid)
            if not layer.mask_args or layer.keras_masks_implicit:   # Keras gives it its inputs' masks
                continue
            inferred = any(result.mask_sources.get(s) for s in graph.inputs_of(nid))
            if inferred != (name in self.masked_calls):
                said = "passes a mask to" if name in self.masked_calls else "passes no mask to"
                raise self.fail(f"the Keras model {said} {layer.owner}, which layergraph infers differently; "
                                "save the model without a custom mask argument.")

    # --- one layer
    def _input_node(self, name: str, lcfg: dict) -> dict:
        shape = lcfg.get("batch_shape") or lcfg.get("batch_input_shape")
        if not isinstance(shape, list) or len(shape) < 2:
            raise self.fail(f"InputLayer '{name}' has no batch shape; give keras.Input a shape.")
        for key, value in lcfg.items():
            if key not in ("batch_shape", "batch_input_shape", "dtype", "name") and not _droppable(key, value):
                raise self.fail(f"InputLayer '{name}': argument {shown(key)}={shown(value)} is not supported by "
                                "layergraph.")
        dtype = _dtype_name(lcfg.get("dtype")) or "float32"
        if dtype.startswith(("int", "uint")):
            dtype = "int32"
        elif dtype != "float32":
            self.notes.append(f"Input '{name}' had dtype {dtype}; layergraph computes in float32.")
            dtype = "float32"
        return {"class_name": "Input", "name": name, "config": {"shape": list(shape[1:]), "dtype": dtype}}

    def _layer_node(self, cname: str, name: str, lcfg: dict) -> dict:
        config = self._convert(cname, name, lcfg)
        return {"class_name": "Group" if cname in _MODEL_CLASSES else cname, "name": name, "config": config}

    def _convert(self, cname: str, name: str, lcfg: dict) -> dict:
        owner = f"{cname} '{name}'"
        if cname == "Lambda":
            raise self.fail(f"{owner} holds Python code, which layergraph never runs from a file; replace it with "
                            "catalog layers before importing.")
        if cname in _MODEL_CLASSES:
            return self._group_config(cname, name, lcfg)
        cls = LAYERS.get(cname) or CELLS.get(cname)
        if cls is None or cls.max_inputs == 0 or cls is Group:  # (a Keras group is a model, read above)
            raise self.fail(f"{owner}: layergraph has no {cname} layer; its catalog has "
                            f"{', '.join(sorted(c for c in LAYERS if c not in ('Input', 'Group')))}.")
        fields = {f.name: f for f in cls.all_fields()}
        out: dict[str, Any] = {}
        for key, value in lcfg.items():
            if key == "name":
                continue
            if key == "dtype":
                self._check_dtype(owner, value)
                if key not in fields:
                    continue
            f = fields.get(key)
            if f is not None:
                out[key] = self._value(owner, key, f.kind, f.default, value)
            elif not _droppable(key, value):
                if key in KERAS_ONLY:
                    raise self.fail(f"{owner}: argument {shown(key)}={shown(value)} changes the layer's results and "
                                    "layergraph does not support it; set it to its default in Keras before saving.")
                raise self.fail(f"{owner}: layergraph does not support the Keras argument {shown(key)} "
                                f"(value {shown(value)}).")
            elif value is not None and object_kind(key):
                check_keras_object(object_kind(key), value, f"{owner}: argument '{key}'")
                raise self.fail(f"{owner}: argument {key} would change training and layergraph's {cname} does not "
                                "apply it; remove it in Keras before saving.")
        return out

    def _group_config(self, cname: str, name: str, lcfg: dict) -> dict:
        """A model used as a layer becomes a ``Group`` whose graph is that model, imported the same way."""
        if "layers" not in lcfg:
            raise self.fail(f"{cname} '{name}' has no layers in its config; save the model it belongs to again.")
        sub = _Importer({"class_name": cname, "config": lcfg}, None, f"{self.where} → {name}")
        sub.notes = self.notes
        body = lcfg
        nodes, edges, h5_layers = (sub._sequential if cname == "Sequential" else sub._functional)(body, lcfg["layers"])
        inner = sub._build_graph(nodes, edges)
        if len(inner.output_nodes()) != 1:
            raise self.fail(f"{cname} '{name}' has {len(inner.output_nodes())} outputs; a group has exactly one.")
        self.groups[name] = (sub, h5_layers)
        for key, value in lcfg.items():
            if key not in ("name", "layers", "input_layers", "output_layers", "build_input_shape", "trainable",
                           "dtype") and not _droppable(key, value):
                raise self.fail(f"{cname} '{name}': layergraph does not support the argument {shown(key)}.")
        self._check_dtype(f"{cname} '{name}'", lcfg.get("dtype"))
        return {"graph": inner.to_dict(), "trainable": bool(lcfg.get("trainable", True))}

    def _check_dtype(self, owner: str, value: Any) -> None:
        name = _dtype_name(value)
        if name is not None and name not in _FLOAT_POLICIES:
            raise self.fail(f"{owner} computes in {name}; layergraph computes in float32. Set the layer's dtype "
                            "to float32 in Keras before saving.")

    def _value(self, owner: str, key: str, kind: str, default: Any, value: Any) -> Any:
        if kind == "initializer":
            return self._initializer(owner, key, default, value)
        if kind == "activation":
            if isinstance(value, dict):
                inner = value.get("config")
                if value.get("class_name") == "function" and isinstance(inner, str):
                    return inner
                raise self.fail(f"{owner}: argument {key} is a custom activation; use a built-in activation name.")
            return value
        if kind == "layer" and value is not None:
            return self._nested(owner, key, value)
        if key == "cells" and isinstance(value, list):            # StackedRNNCells
            return [self._nested(owner, key, v) for v in value]
        return value

    def _initializer(self, owner: str, key: str, default: Any, value: Any) -> Any:
        if value is None or isinstance(value, str):
            name = value
        elif isinstance(value, dict):
            module, cname = value.get("module", _INITIALIZER_MODULE), value.get("class_name")
            if module != _INITIALIZER_MODULE or value.get("registered_name") not in (None, cname):
                raise self.fail(f"{owner}: {key} is {shown(cname)} from module {shown(module)}, not one of Keras's "
                                "own initializers; layergraph reads only those.")
            name = _initializer_name(value)
        else:
            name = None
        if name in INITIALIZERS:
            return name
        label = value.get("class_name") if isinstance(value, dict) else value
        self.notes.append(f"{owner}: {key} {shown(label)} is not one of layergraph's initializers; kept the trained "
                          f"weights and set {default!r} for re-initialisation.")
        return default

    def _nested(self, owner: str, key: str, value: Any) -> dict:
        if not isinstance(value, dict) or not isinstance(value.get("config"), dict):
            raise self.fail(f"{owner}: argument {key} is not a layer config.")
        cname = value.get("class_name")
        if not isinstance(cname, str):
            raise self.fail(f"{owner}: argument {key} has no class name.")
        inner = self._convert(cname, f"{owner} → {key}", value["config"])
        return {"class_name": cname, "config": inner}

    # --- graph and weights
    def _build_graph(self, nodes: list[dict], edges: list[tuple[str, str, int]]) -> LayerGraph:
        _drop_default_backward(nodes)
        graph = LayerGraph()
        ids: dict[str, str] = {}
        for nd in nodes:
            try:
                ids[nd["name"]] = graph.add_node(nd["class_name"], nd["config"], name=nd["name"])
            except (ConfigError, GraphError) as exc:
                owner = f"{nd['class_name']} '{nd['name']}'"
                msg = str(exc)
                raise self.fail(msg if owner in msg else f"{owner}: {msg}") from None
        for src, dst, k in edges:
            if src not in ids:
                raise FileFormatError(f"{self.where}: layer {shown(dst)} refers to a layer {shown(src)} that is "
                                      "not in the model.")
        try:
            graph.connect_many((ids[src], ids[dst], k) for src, dst, k in edges)
        except EdgesError as exc:
            where = "" if exc.index is None else "cannot connect {} to {}: ".format(*map(shown, edges[exc.index][:2]))
            raise self.fail(f"{where}{exc}") from None
        result = infer_shapes(graph)
        if not result.ok:
            p = result.problems[0]
            raise self.fail(f"the imported graph is not valid: {p.message}")
        self._check_masks(graph, ids, result)
        self.result = result
        for nid, position in layered_positions(graph).items():
            graph.move(nid, position)
        return graph

    def _read_weights(self, graph: LayerGraph, h5_layers: list[tuple[str, str]]):
        """``_weights``, with whatever a damaged HDF5 file makes h5py raise turned into one clear error."""
        try:
            return self._weights(graph, h5_layers)
        except (ConfigError, FileFormatError):
            raise
        except (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError, UnicodeError) as exc:
            raise FileFormatError(f"{self.where}: model.weights.h5 is damaged ({type(exc).__name__}: "
                                  f"{shown(str(exc))}).") from None

    def _weights(self, graph: LayerGraph, h5_layers: list[tuple[str, str]]):
        """Every layer's arrays, checked against the layer's shapes and the memory limit before any is read."""
        found = self._weight_datasets(graph, h5_layers)
        need = sum(array_bytes(ds.shape, 4) for _, pairs in found for _, ds in pairs)
        largest = max((array_bytes(ds.shape, ds.dtype.itemsize) for _, pairs in found for _, ds in pairs), default=0)
        # float32 arrays, the largest one as stored before conversion, and the .npz a save writes of them
        check_allocation(2 * need + largest, f"{self.where}: the model's weights", FileFormatError)
        out = {nid: {spec.name: np.asarray(ds[()], dtype=np.float32) for spec, ds in pairs} for nid, pairs in found}
        for nid, arrays in out.items():  # a document with such weights could never be opened again
            for wname, arr in arrays.items():
                if not np.isfinite(arr).all():
                    raise FileFormatError(f"{self.where}: layer {shown(graph.node(nid).name)}'s weight "
                                          f"{shown(wname)} holds NaN or Inf (or a value beyond float32).")
        return out

    def _weight_datasets(self, graph: LayerGraph, h5_layers: list[tuple[str, str]], root: Any = False) -> list:
        """``[(node id, [(spec, dataset), ...]), ...]`` with every declared shape checked; nothing read yet.

        ``root`` is the ``layers`` group the paths are under: a nested model's own for a group's layers."""
        if root is False:
            root = self._hard(self.h5, "layers", "the weights file")
        out = []
        paths = h5_layer_paths([cname for _name, cname in h5_layers])
        for (name, cname), path in zip(h5_layers, paths):
            node = graph.node_by_name(name)
            if node is None or cname == "InputLayer":
                continue
            layer = graph.layer(node.id)
            specs = layer.weight_specs([self.result.node_shapes[s] for s in graph.inputs_of(node.id)])
            if not specs:
                continue
            group = self._hard(root, path, layer.owner) if root is not None else None
            if group is None:
                raise self.fail(f"{layer.owner}: its weights are missing from model.weights.h5 (no 'layers/{path}').")
            if isinstance(layer, Group):
                sub, sub_layers = self.groups[name]
                sub.result = infer_shapes(layer.inner)
                inner = sub._weight_datasets(layer.inner, sub_layers, self._hard(group, "layers", layer.owner))
                out.append((node.id, [(replace(spec, name=inner_weight_name(nid, spec.name)), ds)
                                      for nid, pairs in inner for spec, ds in pairs]))
                continue
            groups = layer.keras_weight_groups([self.result.node_shapes[s] for s in graph.inputs_of(node.id)])
            subs = tuple(dict.fromkeys(sub.split("/")[0] for sub, _n in groups if sub))  # top-level sub-groups
            arrays = self._collect(group, layer, subs)
            if len(arrays) != len(specs):
                raise self.fail(f"{layer.owner}: the file holds {len(arrays)} weight arrays but the layer needs "
                                f"{len(specs)} ({', '.join(s.name for s in specs)}).")
            for spec, arr in zip(specs, arrays):
                if tuple(arr.shape) != tuple(spec.shape):
                    raise self.fail(f"{layer.owner}: weight '{spec.name}' has shape {tuple(arr.shape)} in the file "
                                    f"but the layer needs {tuple(spec.shape)}.")
            out.append((node.id, list(zip(specs, arrays))))
        return out

    def _hard(self, group, name: str, owner: str):
        """``group[name]`` if it is a plain member of this file, None if absent; links elsewhere are refused."""
        import h5py

        link = group.get(name, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise self.fail(f"{owner}: weight entry '{name}' links outside the file; refusing it.")
        return group[name]

    def _collect(self, group, layer: Layer, subs: tuple[str, ...] = ()) -> list:
        """Datasets of a layer group in ``get_weights()`` order: own vars, then nested layers (``subs``: the
        sub-layer groups the layer declares, such as MultiHeadAttention's ``query_dense``; Keras's weightless
        sub-layers, such as its ``_softmax``, may be present and hold nothing).

        Only plain datasets inside this file are accepted (no external or soft links, no virtual or
        external-storage datasets), and nothing is read until the shapes were checked.
        """
        import h5py

        def child(g, name):
            return self._hard(g, name, layer.owner)

        found = []
        vars_ = child(group, "vars") if "vars" in group else None
        if vars_ is not None:
            for k in sorted(vars_.keys(), key=lambda k: int(k) if k.isdigit() else -1):
                ds = child(vars_, k)
                if (not k.isdigit() or not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "fiu"
                        or ds.is_virtual or ds.external):
                    raise self.fail(f"{layer.owner}: weight '{k}' in the file is not a plain numeric array.")
                found.append(ds)
        for sub in group.keys():
            if sub.startswith("seed_generator"):
                continue  # random-number state, not a weight
            known = ("vars", "forward_layer", "backward_layer", "cell", "layer", "cells") + subs
            if sub not in known and _holds_weights(group, sub):
                raise self.fail(f"{layer.owner}: unexpected weight group '{sub}' in the file.")
        for sub in dict.fromkeys(("forward_layer", "backward_layer", "cell", "layer") + subs):  # each once, in order
            if sub in group:
                found += self._collect(child(group, sub), layer)
        if "cells" in group:                      # StackedRNNCells: in the order of the cells, not by name
            cells = child(group, "cells")
            names = layer.keras_cell_groups() if hasattr(layer, "keras_cell_groups") else []
            if sorted(cells.keys()) != sorted(names):
                raise self.fail(f"{layer.owner}: the file's cell weights {sorted(cells.keys())} do not match "
                                "the layer's cells.")
            for name in names:
                found += self._collect(child(cells, name), layer)
        return found


# ----- helpers -------------------------------------------------------------------------------------------
def _takes_initial_state(cname: str) -> bool:
    cls = LAYERS.get(cname)
    return cls is not None and cls.takes_initial_state


def _holds_weights(parent, name: str) -> bool:
    """Whether ``parent[name]`` holds any dataset outside random-number state (``seed_generator``); a link
    (which could lead outside the file) counts as holding weights, so it is refused, never followed."""
    import h5py

    if not isinstance(parent.get(name, getlink=True), h5py.HardLink):
        return True
    member = parent[name]
    if isinstance(member, h5py.Dataset):
        return True
    return any(not sub.startswith("seed_generator") and _holds_weights(member, sub) for sub in member.keys())


def _droppable(key: str, value: Any) -> bool:
    if key.endswith(_DROPPABLE_SUFFIXES):
        return True
    allowed = KERAS_ONLY.get(key)
    if allowed is None:
        return False
    return allowed is ANY or value in allowed


def _dtype_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
    return None


_VS_NAMES = {("fan_avg", "uniform", 1.0): "glorot_uniform", ("fan_avg", "truncated_normal", 1.0): "glorot_normal",
             ("fan_in", "uniform", 2.0): "he_uniform", ("fan_in", "truncated_normal", 2.0): "he_normal",
             ("fan_in", "uniform", 1.0): "lecun_uniform", ("fan_in", "truncated_normal", 1.0): "lecun_normal"}


def _initializer_name(env: dict) -> str | None:
    cname = env.get("class_name")
    cfg = env.get("config") if isinstance(env.get("config"), dict) else {}
    if not isinstance(cname, str):
        return None
    if cname == "VarianceScaling":
        return _VS_NAMES.get((cfg.get("mode"), cfg.get("distribution"), _number(cfg.get("scale", 1.0))))
    name = to_snake_case(cname)
    defaults = {"random_normal": {"mean": 0.0, "stddev": 0.05}, "random_uniform": {"minval": -0.05, "maxval": 0.05},
                "orthogonal": {"gain": 1.0}}
    for k, v in defaults.get(name, {}).items():
        if k in cfg and _number(cfg[k]) != v:
            return None
    return name


def _number(value: Any) -> float | None:
    """A config number as float; None for anything else (text, lists, huge integers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _histories(args: list) -> list[str]:
    """The names of the layers whose tensors appear in a call's arguments (nested lists included)."""
    out = []
    for a in args:
        if isinstance(a, list):
            out.extend(_histories(a))
        elif isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
            hist = (a.get("config") or {}).get("keras_history")
            if isinstance(hist, list) and hist and isinstance(hist[0], str):
                out.append(hist[0])
    return out


def _tensor_list(value: Any) -> list[list]:
    """``input_layers``/``output_layers``: ``[name, 0, 0]`` or a list of those."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, list) and v and isinstance(v[0], str)]
    if isinstance(value, dict):
        return _tensor_list(list(value.values()))
    return []


def _drop_default_backward(nodes: list[dict]) -> None:
    """Keras writes Bidirectional's backward layer even when it is the default reversed copy; drop it then."""
    skip = ("name", "go_backwards")
    for nd in nodes:
        cfg = nd["config"]
        if nd["class_name"] != "Bidirectional":
            continue
        fwd, bwd = cfg.get("layer") or {}, cfg.get("backward_layer")
        if isinstance(fwd.get("config"), dict):
            fwd["config"].pop("name", None)
        if not isinstance(bwd, dict):
            continue
        same = (bwd.get("class_name") == fwd.get("class_name")
                and {k: v for k, v in bwd["config"].items() if k not in skip}
                == {k: v for k, v in fwd["config"].items() if k not in skip})
        if same:
            cfg.pop("backward_layer")
        else:
            bwd["config"].pop("name", None)


def _training(compile_config: Any) -> dict[str, Any]:
    """Loss, optimizer and learning rate from a ``.keras`` compile config, when they are plain names."""
    if not isinstance(compile_config, dict):
        return {}
    out: dict[str, Any] = {}
    loss = compile_config.get("loss")
    if isinstance(loss, str):
        out["loss"] = loss
    opt = compile_config.get("optimizer")
    if isinstance(opt, dict) and isinstance(opt.get("config"), dict):
        # the class, not the instance name: Keras names a second Adam in one process "adam_1"
        name = opt.get("class_name")
        if isinstance(name, str) and name.lower() in OPTIMIZERS:
            out["optimizer"] = name.lower()
        lr = opt["config"].get("learning_rate")
        if isinstance(lr, (int, float)) and not isinstance(lr, bool):
            if not (isinstance(lr, float) or abs(lr) < 2**53) or not math.isfinite(lr):
                raise ConfigError(f"the optimizer's learning_rate {shown(lr)} is not a usable number.")
            out["learning_rate"] = float(f"{lr:.7g}")  # float32 in the file: 0.05, not 0.0500000007
    elif isinstance(opt, str) and opt.lower() in OPTIMIZERS:
        out["optimizer"] = opt.lower()
    return out


__all__ = ["ImportedModel", "import_keras_model", "import_model"]


def _keras_history(tensor: Any) -> Any:
    """The ``[layer name, node index, tensor index]`` a serialized Keras tensor points at (None when unreadable)."""
    config = tensor.get("config") if isinstance(tensor, dict) else None
    return config.get("keras_history") if isinstance(config, dict) else None
