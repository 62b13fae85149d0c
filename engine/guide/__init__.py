"""The layer guide: what a catalog layer computes, as Markdown, from its own declaration.

Prose (What, Why, ...) is data under ``resources/guide/``; every other section is computed from the layer's
declaration (fields, shape rule, weight specs, numerics), so the guide cannot drift from the engine.
"""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import LayergraphError, UsageError
from engine.export.keras_config import keras_call_arguments
from engine.guide.keras_proof import KerasCase, KerasResult, run_keras
from engine.guide.picture import picture
from engine.guide.proofs import reference
from engine.guide.prose import PROSE_SECTIONS, prose_for
from engine.layers import LAYERS, REQUIRED, Layer, layer_class, starter_config
from engine.shapes import Shape, fmt_shape

SECTIONS = ("What", "Where it is used", "Why", "When to use it", "How", "Picture", "Arguments",
            "Shapes and parameters", "Pros", "Cons and pitfalls", "Example", "Proof", "Applications",
            "Key points", "Summary")
TOLERANCE = 1e-5
GUIDE_APPLICATIONS = Path(__file__).resolve().parents[2] / "resources" / "guide" / "applications.json"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"
#: Sample shapes (batch excluded) tried in order when no input shape is given; the first the layer accepts wins.
CANDIDATE_SHAPES = ((4,), (6, 3), (6, 6, 2), (4, 4, 4, 2), (3, 32))  # last: GroupNormalization's 32 groups
#: Layers whose first accepted candidate would be a poor illustration.
PREFERRED_SHAPES = {"Flatten": (3, 3, 2), "Embedding": (5,), "CategoryEncoding": (3,), "RepeatVector": (3,),
                    "CenterCrop": (4, 4, 2), "Resizing": (3, 3, 2), "ConvLSTM1D": (3, 5, 2), "ConvLSTM2D": (3, 4, 4, 2),
                    "ConvLSTM3D": (2, 3, 3, 3, 1)}
#: Small values for required arguments the palette's starter config leaves out (proof loops stay quick).
GUIDE_STARTER = {"filters": 4, "units": 3, "output_dim": 4, "input_dim": 10, "scale": 0.5, "height": 2, "width": 2,
                 "bin_boundaries": (0.0, 0.5), "num_tokens": 4}


@dataclass
class Proof:
    lines: list[str]
    reference_passed: bool | None  # None: no independent reference covers this layer with this config
    case: KerasCase | None = None  # what Keras is given when the proof also runs Keras
    keras: KerasResult | None = None
    difference: float | None = None  # max |engine − reference|, when a reference covers the layer

    @property
    def passed(self) -> bool | None:
        """False when the reference or Keras disagrees; None when neither could judge."""
        verdicts = [v for v in (self.reference_passed, self.keras.passed if self.keras else None) if v is not None]
        return None if not verdicts else all(verdicts)

    @property
    def text(self) -> str:
        keras = [f"- Keras: {self.keras.message}"] if self.keras else []
        verdict = [] if self.passed is None else ["", f"**{'PASS' if self.passed else 'FAIL'}**"]
        return "\n".join(self.lines + keras + verdict)


@dataclass
class Guide:
    class_name: str
    markdown: str
    proof: Proof | None


def parse_shape(text: str) -> list[Shape]:
    """``"6,6,2"`` or ``"(6, 6, 2)"`` (batch excluded); ``;`` separates the inputs of a merge layer."""
    shapes = []
    for part in text.split(";"):
        dims = [d.strip() for d in part.strip().strip("()[]").split(",") if d.strip()]
        try:
            sample = tuple(int(d) for d in dims)
        except ValueError:
            raise UsageError(f"--input-shape must be integers separated by commas, e.g. 6,6,2; got {text!r}.") from None
        if not sample or min(sample) < 1 or max(sample) > 4096:
            raise UsageError(f"--input-shape dimensions must be between 1 and 4096, got {text!r}.")
        shapes.append((None, *sample))
    return shapes


def make_layer(class_name: str, config: dict | None) -> Layer:
    if class_name not in LAYERS:
        raise UsageError(f"unknown layer {class_name!r}; 'layergraph layers' lists the catalog.")
    cls = layer_class(class_name)
    if cls.composite:
        raise UsageError(f"{class_name} is a group of other layers; explain the layers inside it.")
    if cls.max_inputs == 0:
        raise UsageError(f"{class_name} has no computation to explain; it only declares a graph input.")
    if cls.gradient == "automatic":
        raise UsageError(f"{class_name} computes what its own call code says; read that code in the designer's "
                         "inspector or in the Keras export.")
    starter = {**starter_config(class_name),
               **{f.name: GUIDE_STARTER[f.name] for f in cls.all_fields() if f.required and f.name in GUIDE_STARTER}}
    return cls({**starter, **(config or {})})


def default_input_shapes(layer: Layer) -> list[Shape]:
    """The first small sample shape the layer accepts (as many inputs as it needs)."""
    n = max(layer.min_inputs, 1)
    preferred = PREFERRED_SHAPES.get(layer.class_name)
    for sample in ((preferred,) if preferred else ()) + CANDIDATE_SHAPES:
        shapes = [(None, *sample)] * n
        try:
            layer.output_shape(shapes)
            return shapes
        except LayergraphError:
            continue
    raise UsageError(f"{layer.class_name}: give --input-shape (no default shape fits this config).")


# ----- computed sections ---------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(v) -> str:
    if v is REQUIRED:
        return "required"
    return "None" if v is None else repr(tuple(v) if isinstance(v, list) else v)


def arguments_table(layer: Layer) -> str:
    rows = ["| argument | kind | default | allowed | this guide | doc |", "|---|---|---|---|---|---|"]
    for f in layer.all_fields():
        allowed = ", ".join(repr(c) for c in f.choices) if f.choices else ""
        if f.min is not None or f.max is not None:
            allowed = f"{'' if f.min is None else f'>= {f.min:g}'} {'' if f.max is None else f'<= {f.max:g}'}".strip()
        value = layer.config.get(f.name)
        given = _value(value)
        if f.default is REQUIRED or value != f.default:
            given = f"**{given}**"
        rows.append(f"| `{f.name}` | {f.kind} | {_cell(_value(f.default))} | {_cell(allowed)} | {_cell(given)} "
                    f"| {_cell(f.doc)} |")
    return "\n".join(rows) + "\n\nArguments in **bold** differ from the default (or are required)."


def shapes_section(layer: Layer, shapes: list[Shape]) -> str:
    out = layer.output_shape(shapes)
    specs = layer.weight_specs(shapes)
    lines = [f"- input: {', '.join(fmt_shape(s) for s in shapes)}", f"- output: {fmt_shape(out)}", ""]
    if not specs:
        lines.append("No weights: 0 parameters.")
        return "\n".join(lines)
    lines += ["| weight | shape | count | trainable | initializer |", "|---|---|---|---|---|"]
    for s in specs:
        lines.append(f"| `{s.name}` | {fmt_shape(s.shape)} | {' × '.join(map(str, s.shape))} = {s.size:,} "
                     f"| {'yes' if s.trainable else 'no'} | {s.initializer} |")
    formula = " + ".join(f"{s.name} {s.size:,}" for s in specs)
    trainable = sum(s.size for s in specs if s.trainable)
    lines += ["", f"Parameters: {formula} = **{layer.param_count(shapes):,}** ({trainable:,} trainable)."]
    return "\n".join(lines)


def keras_call(layer: Layer) -> str:
    from engine.export.keras_code import layer_arguments

    return f"layers.{layer.class_name}({', '.join(layer_arguments(layer))})"


def how_section(layer: Layer) -> str:
    num = layer.numerics() if type(layer).numerics is not Layer.numerics else None
    parts = ["In Keras 3:", "", "```python", "from keras import layers", "", f"layer = {keras_call(layer)}",
             "```", ""]
    if num is None:
        parts.append("The engine computes this layer in its own `forward` method.")
        return "\n".join(parts)
    fn = num.forward
    args = ", ".join(f"{k}={getattr(v, 'forward', v)!r}" if not hasattr(v, "forward") else
                     f"{k}={getattr(v.forward, '__name__', v.forward)}" for k, v in num.args.items())
    parts += [f"layergraph computes it with `{fn.__module__}.{fn.__name__}` (weights passed in the order "
              f"{', '.join(num.weights) or 'none'}{'; ' + args if args else ''}). Its source, read from the engine:",
              "", "```python", inspect.getsource(fn).rstrip(), "```"]
    return "\n".join(parts)


def example_section(layer: Layer, shapes: list[Shape]) -> str:
    inputs = [f"keras.Input(shape={tuple(s[1:])!r}" + (", dtype='int32')" if layer.integer_inputs else ")")
              for s in shapes]
    lines = ["```python", "import keras", "from keras import layers", ""]
    for i, src in enumerate(inputs):
        lines.append(f"x{i} = {src}")
    arg = f"[{', '.join(f'x{i}' for i in range(len(inputs)))}]" if len(inputs) > 1 else "x0"
    stated = f"{layer.param_count(shapes):,} parameters, output {fmt_shape(layer.output_shape(shapes))}"
    call_inputs = ", ".join(f"x{i}" for i in range(len(inputs))) if layer.keras_inputs_as_arguments else arg
    call_inputs += "".join(f", {k}={v!r}" for k, v in keras_call_arguments(layer).items())
    lines += [f"y = {keras_call(layer)}({call_inputs})", f"model = keras.Model({arg}, y)",
              f"model.summary()  # {stated}", "```"]
    return "\n".join(lines)


def example_graph(layer: Layer, shapes: list[Shape]) -> dict:
    """The Example section's model as layergraph ``to_dict`` data: its inputs wired into the layer, left to right."""
    dtype = "int32" if layer.integer_inputs else "float32"
    nodes = [{"id": f"x{i}", "name": f"x{i}", "class_name": "Input",
              "config": {"shape": list(s[1:]), "dtype": dtype}, "position": (0.0, 160.0 * i)}
             for i, s in enumerate(shapes)]
    config = {k: v for k, v in layer.get_config().items() if k != "name"}
    nodes.append({"id": "y", "name": layer.base_name(), "class_name": layer.class_name, "config": config,
                  "position": (300.0, 80.0 * (len(shapes) - 1))})
    edges = [{"source": f"x{i}", "target": "y", "index": i} for i in range(len(shapes))]
    return {"nodes": nodes, "edges": edges}


def applications_section(class_name: str) -> str:
    users = []
    for path in sorted(EXAMPLES_DIR.glob("*.lgraph")):
        try:
            nodes = json.loads(path.read_text(encoding="utf-8")).get("nodes", [])
        except (OSError, ValueError):
            continue
        if any(isinstance(n, dict) and n.get("class_name") == class_name for n in nodes):
            users.append(f"`{path.name}`")
    found = ("Bundled examples that use it: " + ", ".join(users) + ".") if users else \
        "No bundled example uses it yet."
    known = keras_applications_using(class_name)
    if known is None:
        return found + "\n\nWhich `keras.applications` architectures use it is not known (no applications.json)."
    version, apps = known
    listed = ", ".join(f"`{a}`" for a in apps) if apps else "none"
    return found + f"\n\n`keras.applications` modules that construct it (Keras {version}): {listed}."


def keras_applications_using(class_name: str) -> tuple[str, list[str]] | None:
    """``(keras version, modules)`` from ``applications.json`` (written by ``tools/make_guide_applications.py``)."""
    try:
        data = json.loads(GUIDE_APPLICATIONS.read_text(encoding="utf-8"))
        return str(data["keras_version"]), [str(a) for a in data["layers"].get(class_name, [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# ----- proof ---------------------------------------------------------------------------------------------------
def proof_weights(layer: Layer, shapes: list[Shape], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Small seeded float64 weights; variances kept positive."""
    weights = {}
    for s in layer.weight_specs(shapes):
        w = rng.uniform(-0.5, 0.5, s.shape)
        weights[s.name] = np.abs(w) + 0.5 if "variance" in s.name else w
    return weights


def proof_inputs(layer: Layer, shapes: list[Shape], rng: np.random.Generator) -> list[np.ndarray]:
    batch = 2
    if layer.integer_inputs:
        high = layer.config.get("input_dim", layer.config.get("num_tokens", 4))
        return [rng.integers(0, high, (batch, *s[1:])) for s in shapes]
    return [rng.uniform(-1.0, 1.0, (batch, *s[1:])) for s in shapes]


def _array(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a).ravel()[:8], precision=6, suppress_small=True) + \
        (" …" if np.asarray(a).size > 8 else "")


def given_weights(layer: Layer, shapes: list[Shape], weights: dict) -> dict[str, np.ndarray]:
    """``weights`` (a node's trained ones) as float64, refused in one line unless they are exactly the layer's."""
    specs = {s.name: tuple(s.shape) for s in layer.weight_specs(shapes)}
    found = {k: tuple(np.shape(v)) for k, v in weights.items()}
    if found != specs:
        raise UsageError(f"the trained weights of this {layer.class_name} ({found}) do not match its weights "
                         f"for these shapes ({specs})")
    return {k: np.asarray(weights[k], dtype=np.float64) for k in specs}


def run_proof(layer: Layer, shapes: list[Shape], seed: int = 0, weights: dict | None = None) -> Proof:
    """The engine's forward pass on seeded weights (or ``weights``, e.g. trained ones) and seeded inputs,
    compared with the layer's NumPy reference."""
    if any(d is None for s in shapes for d in s[1:]):
        raise UsageError(f"the proof needs every input dimension but the batch known, not {fmt_shape(shapes[0])}")
    rng = np.random.default_rng(seed)
    seeded = proof_weights(layer, shapes, rng)
    weights = seeded if weights is None else given_weights(layer, shapes, weights)
    xs = proof_inputs(layer, shapes, rng)
    engine_out = np.asarray(layer.forward(xs, weights, training=False)[0], dtype=np.float64)
    case = KerasCase(layer, xs, weights, engine_out)
    source = f"Seeded weights (numpy `default_rng({seed})`, uniform in [-0.5, 0.5])" if weights is seeded else \
        "The node's trained weights"
    head = [f"{source} and a batch of 2 inputs of shape {fmt_shape((2, *shapes[0][1:]))}."]
    found = [f"- weights: {', '.join(f'{k} {fmt_shape(v.shape)}' for k, v in weights.items()) or 'none'}",
             f"- engine output {fmt_shape(engine_out.shape)}: {_array(engine_out)}"]
    ref = reference(layer)
    if ref is None:
        return Proof(head + ["", f"No independent reference for {layer.class_name} with this config is written yet, "
                             "so the engine is not checked against a formula here (Keras is, with `--proof`).",
                             "", *found], None, case)
    fn, cfg = ref
    expected = fn(xs[0], weights, cfg) if len(xs) == 1 else fn(*xs, w=weights, cfg=cfg)
    same_shape = engine_out.shape == np.shape(expected)
    diff = float(np.max(np.abs(engine_out - expected))) if same_shape else float("inf")
    source = inspect.getsource(getattr(fn, "source_of", fn)).rstrip()
    lines = head + ["The engine's forward pass is compared with this plain-NumPy reference, written for the guide "
                    "without any engine code:", "", "```python", source, "```", "", *found,
                    f"- reference output {fmt_shape(np.shape(expected))}: {_array(expected)}",
                    f"- max |engine − reference| = {diff:.3g} (tolerance {TOLERANCE:g})"]
    return Proof(lines, bool(same_shape and diff <= TOLERANCE), case, difference=diff)


def check_with_keras(proofs: list[Proof]) -> None:
    """Run Keras on every proof's case (one child process for all) and record its difference in the proof."""
    todo = [p for p in proofs if p.case is not None]
    for proof, result in zip(todo, run_keras([p.case for p in todo])):
        proof.keras = result


# ----- the whole guide -----------------------------------------------------------------------------------------
def guide_inputs(class_name: str, config: dict | None = None,
                 input_shapes: list[Shape] | None = None) -> tuple[Layer, list[Shape]]:
    """The layer with the given config and the input shapes its guide uses (a small sample when none given)."""
    layer = make_layer(class_name, config)
    shapes = input_shapes or default_input_shapes(layer)
    if len(shapes) < layer.min_inputs:
        shapes = shapes * layer.min_inputs
    layer.output_shape(shapes)  # a shape the layer refuses is reported before anything is written
    return layer, shapes


def explain(class_name: str, config: dict | None = None, input_shapes: list[Shape] | None = None,
            proof: bool = False, keras: bool = False) -> Guide:
    """The guide for one catalog layer; ``proof`` runs the Proof section (else it says how to run it), and
    ``keras`` also runs Keras 3 on the proof's weights and inputs, in a child process."""
    layer, shapes = guide_inputs(class_name, config, input_shapes)
    proof_result = run_proof(layer, shapes) if proof else None
    if keras and proof_result is not None:
        check_with_keras([proof_result])
    return render_guide(layer, shapes, proof_result)


def render_guide(layer: Layer, shapes: list[Shape], proof_result: Proof | None) -> Guide:
    class_name = layer.class_name
    prose = prose_for(class_name)
    computed = {
        "How": how_section(layer), "Picture": picture(layer, shapes), "Arguments": arguments_table(layer),
        "Shapes and parameters": shapes_section(layer, shapes), "Example": example_section(layer, shapes),
        "Proof": proof_result.text if proof_result else "Run `layergraph explain "
                 f"{class_name} --proof` to check the engine against an independent NumPy computation.",
        "Applications": applications_section(class_name),
    }
    out = [f"# {class_name}", "", f"_{layer.doc().strip()}_", ""]
    for section in SECTIONS:
        body = computed.get(section) or prose.get(section) or \
            f"_Not written yet: the {section!r} prose for {class_name} has not been written._"
        out += [f"## {section}", "", body, ""]
    return Guide(class_name, "\n".join(out), proof_result)


def write_reference(directory: Path, proof: bool = False, keras: bool = False) -> list[str]:
    """Every layer's guide as ``<Layer>.md`` plus ``index.md`` by family; returns the layers whose proof failed.
    With ``keras``, one Keras process checks every layer's proof."""
    from engine.errors import FileFormatError
    from engine.layers import FAMILIES

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileFormatError(f"{directory}: cannot create the directory ({exc.strerror}).") from None
    names = [n for family in FAMILIES for n in explainable_layers() if LAYERS[n].family == family]
    prepared = {n: guide_inputs(n) for n in names}
    proofs = {n: run_proof(*prepared[n]) for n in names} if proof else {}
    if keras:
        check_with_keras(list(proofs.values()))
    failed, index, family = [], ["# layergraph layer guide", ""], None
    for name in names:
        if LAYERS[name].family != family:
            family = LAYERS[name].family
            index += ([""] if len(index) > 2 else []) + [f"## {family}", ""]
        guide = render_guide(*prepared[name], proofs.get(name))
        (directory / f"{name}.md").write_text(guide.markdown, encoding="utf-8")
        if guide.proof is not None and guide.proof.passed is False:
            failed.append(name)
        todo = missing_prose(name)
        note = f" (prose not written yet: {len(todo)} of {len(PROSE_SECTIONS)} sections)" if todo else ""
        index.append(f"- [{name}]({name}.md): {LAYERS[name].doc().strip().splitlines()[0]}{note}")
    (directory / "index.md").write_text("\n".join(index + [""]), encoding="utf-8")
    return failed


def missing_prose(class_name: str) -> list[str]:
    prose = prose_for(class_name)
    return [s for s in PROSE_SECTIONS if not prose.get(s)]


def explainable_layers() -> list[str]:
    return [name for name, cls in LAYERS.items() if cls.max_inputs != 0 and not cls.composite
            and cls.gradient != "automatic"]
