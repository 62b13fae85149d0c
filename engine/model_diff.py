"""Compare two models: layers added, removed, renamed, changed (arguments), rewired, and weight change.

**Matching rule.** A layer of model A is paired with at most one layer of model B, in two steps:

1. *By name*: layers with the same name and the same class are the same layer.
2. *By structure*, for the layers left over, in rounds.  A pair of unpaired layers of the same class
   is a candidate when they share an already-paired neighbour (their sources at the same input port,
   or a consumer), or when their arguments are equal and so is their depth (longest path from an
   input) or their height (longest path to an output): a layer inserted near the inputs shifts the
   depths after it, not the heights.  A candidate scores 2 per input port with paired sources, 1 per
   shared paired consumer, 1 for equal depth, 1 for equal height and the fraction of equal arguments.
   A round accepts the pairs with equal arguments if there are any, else the others (so a renamed
   layer whose arguments also changed takes what is left), best score first (ties: the pair closest
   in topological order), each layer once; rounds repeat while they pair something, since a new
   pair gives its neighbours a shared neighbour.  A layer of a new class, or with other arguments in
   a place that shares nothing with the old one, is not guessed.

A layer left unpaired in A was *removed*, in B *added*.  A pair with different names was *renamed*;
with different arguments *changed*; whose input ports are fed by layers that are not the pair of
the other side's sources *rewired*.  With weights on both sides, each weight of a pair reports the
relative change ``||Wb - Wa|| / ||Wa||`` (Frobenius norm; a shape change is reported as such, not as
a number) and the layer reports the same ratio over all its equally-shaped weights together.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import FileFormatError, LayergraphError
from engine.graph import LayerGraph

Weights = dict[str, dict[str, np.ndarray]]
DIFF_FORMAT = "layergraph-diff"
DIFF_VERSION = 1
KERAS_SUFFIXES = (".keras", ".json")


@dataclass(frozen=True)
class ArgumentChange:
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class WeightChange:
    """One weight of a paired layer; ``relative`` is None when the shapes differ or it is new/gone."""

    name: str
    shape_a: tuple[int, ...] | None
    shape_b: tuple[int, ...] | None
    norm_a: float = 0.0
    norm_diff: float = 0.0

    @property
    def shape_changed(self) -> bool:
        return self.shape_a != self.shape_b

    @property
    def relative(self) -> float | None:
        if self.shape_changed:
            return None
        return relative_change(self.norm_diff, self.norm_a)


@dataclass
class LayerPair:
    """A layer of A and the layer of B it was matched with."""

    a_id: str
    b_id: str
    a_name: str
    b_name: str
    class_name: str
    matched_by: str  # "name" | "structure"
    arguments: list[ArgumentChange] = field(default_factory=list)
    inputs_a: list[str] = field(default_factory=list)  # names in A
    inputs_b: list[str] = field(default_factory=list)  # names in B
    rewired: bool = False
    weights: list[WeightChange] = field(default_factory=list)

    @property
    def renamed(self) -> bool:
        return self.a_name != self.b_name

    @property
    def changed(self) -> bool:
        return bool(self.arguments)

    @property
    def relative(self) -> float | None:
        """The layer's relative weight change over its equally-shaped weights (None without any)."""
        same = [w for w in self.weights if not w.shape_changed]
        if not same:
            return None
        return relative_change(math.sqrt(sum(w.norm_diff ** 2 for w in same)),
                               math.sqrt(sum(w.norm_a ** 2 for w in same)))

    @property
    def weight_shape_changed(self) -> bool:
        return any(w.shape_changed for w in self.weights)

    @property
    def weights_changed(self) -> bool:
        return self.weight_shape_changed or any(w.norm_diff > 0 for w in self.weights)

    @property
    def differs(self) -> bool:
        return self.renamed or self.changed or self.rewired or self.weights_changed


@dataclass(frozen=True)
class LoneLayer:
    """A layer present in one model only."""

    node_id: str
    name: str
    class_name: str
    inputs: list[str]


@dataclass
class ModelDiff:
    a_label: str
    b_label: str
    a_layers: int
    b_layers: int
    weights_compared: bool
    added: list[LoneLayer]
    removed: list[LoneLayer]
    pairs: list[LayerPair]

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or any(p.differs for p in self.pairs))

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed),
                "renamed": sum(p.renamed for p in self.pairs), "changed": sum(p.changed for p in self.pairs),
                "rewired": sum(p.rewired for p in self.pairs),
                "weights_changed": sum(p.weights_changed for p in self.pairs)}

    def pair_of_a(self, a_id: str) -> LayerPair | None:
        return next((p for p in self.pairs if p.a_id == a_id), None)

    def pair_of_b(self, b_id: str) -> LayerPair | None:
        return next((p for p in self.pairs if p.b_id == b_id), None)

    def to_json(self) -> dict[str, Any]:
        """The stable machine-readable form (``layergraph diff --json``)."""
        def lone(x: LoneLayer) -> dict[str, Any]:
            return {"name": x.name, "class_name": x.class_name, "inputs": list(x.inputs)}

        return {"format": DIFF_FORMAT, "version": DIFF_VERSION, "a": self.a_label, "b": self.b_label,
                "layers_a": self.a_layers, "layers_b": self.b_layers, "weights_compared": self.weights_compared,
                "identical": self.identical, "summary": self.counts(),
                "added": [lone(x) for x in self.added], "removed": [lone(x) for x in self.removed],
                "pairs": [_pair_json(p) for p in self.pairs]}


def _pair_json(p: LayerPair) -> dict[str, Any]:
    return {"a_name": p.a_name, "b_name": p.b_name, "class_name": p.class_name, "matched_by": p.matched_by,
            "renamed": p.renamed, "rewired": p.rewired, "inputs_a": list(p.inputs_a), "inputs_b": list(p.inputs_b),
            "arguments": [{"name": c.name, "old": c.old, "new": c.new} for c in p.arguments],
            "weights_changed": p.weights_changed, "relative_change": _finite(p.relative),
            "weights": [{"name": w.name, "shape_a": _list(w.shape_a), "shape_b": _list(w.shape_b),
                         "shape_changed": w.shape_changed, "relative_change": _finite(w.relative)}
                        for w in p.weights]}


def _list(shape: tuple[int, ...] | None) -> list[int] | None:
    return None if shape is None else list(shape)


def _finite(x: float | None) -> float | None:
    """JSON has no Infinity: a change from all-zero weights is written as null (``relative_change``)."""
    return None if x is None or not math.isfinite(x) else x


def relative_change(norm_diff: float, norm_a: float) -> float:
    """``||Wb - Wa|| / ||Wa||``; from all-zero weights: 0 when unchanged, else infinity."""
    if norm_a > 0:
        return norm_diff / norm_a
    return 0.0 if norm_diff == 0 else math.inf


# ----- loading -----------------------------------------------------------------------------------------
def load_model(path: str | Path):
    """A document (``.lgraph`` with its weights) or a Keras model (``.keras``/``.json``) as a ``Document``.

    Any reason it cannot be read, including a Keras model layergraph cannot represent, is a
    ``FileFormatError`` that names the file (a comparison has two, so the message must say which)."""
    from engine.fileformat import load_document

    try:
        if Path(path).suffix.lower() in KERAS_SUFFIXES:
            from engine.export.keras_import import import_keras_model

            return import_keras_model(path)
        return load_document(path)
    except LayergraphError as exc:
        if isinstance(exc, FileFormatError) and str(exc).startswith(str(path)):
            raise
        raise FileFormatError(f"{path}: {exc}") from None


def diff_files(a: str | Path, b: str | Path) -> ModelDiff:
    da, db = load_model(a), load_model(b)
    return diff_models(da.graph, db.graph, da.weights, db.weights, str(a), str(b))


# ----- comparing ---------------------------------------------------------------------------------------
def diff_models(ga: LayerGraph, gb: LayerGraph, wa: Weights | None = None, wb: Weights | None = None,
                a_label: str = "A", b_label: str = "B") -> ModelDiff:
    """Compare model A with model B (see the module docstring for the matching rule)."""
    matching = match_layers(ga, gb)
    inverse = {b: a for a, b in matching.items()}
    pairs = []
    for b_id in gb.topological_order():
        a_id = inverse.get(b_id)
        if a_id is not None:
            pairs.append(_pair(ga, gb, a_id, b_id, matching, wa, wb))
    added = [_lone(gb, n) for n in gb.topological_order() if n not in inverse]
    removed = [_lone(ga, n) for n in ga.topological_order() if n not in matching]
    return ModelDiff(a_label, b_label, len(ga), len(gb), bool(wa) and bool(wb), added, removed, pairs)


def _lone(g: LayerGraph, nid: str) -> LoneLayer:
    node = g.node(nid)
    return LoneLayer(nid, node.name, node.class_name, [g.node(s).name for s in g.inputs_of(nid)])


def _pair(ga: LayerGraph, gb: LayerGraph, a_id: str, b_id: str, matching: dict[str, str],
          wa: Weights | None, wb: Weights | None) -> LayerPair:
    na, nb = ga.node(a_id), gb.node(b_id)
    src_a, src_b = ga.inputs_of(a_id), gb.inputs_of(b_id)
    pair = LayerPair(a_id, b_id, na.name, nb.name, na.class_name, "name" if na.name == nb.name else "structure",
                     arguments=argument_changes(na.config, nb.config),
                     inputs_a=[ga.node(s).name for s in src_a], inputs_b=[gb.node(s).name for s in src_b],
                     rewired=[matching.get(s) for s in src_a] != list(src_b))
    if wa and wb:
        pair.weights = weight_changes(wa.get(a_id, {}), wb.get(b_id, {}))
    return pair


def argument_changes(old: dict[str, Any], new: dict[str, Any]) -> list[ArgumentChange]:
    """The arguments whose values differ, in sorted order (a missing argument is None)."""
    return [ArgumentChange(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if _canonical(old.get(k)) != _canonical(new.get(k))]


def _canonical(value: Any) -> Any:
    """Tuples and lists compare equal (a config read from JSON has lists where a built one has tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    return value


def weight_changes(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[WeightChange]:
    """One entry per weight name of either side, in A's order then B's new names."""
    names = list(a) + [n for n in b if n not in a]
    out = []
    for name in names:
        xa, xb = a.get(name), b.get(name)
        sa = None if xa is None else tuple(int(d) for d in np.shape(xa))
        sb = None if xb is None else tuple(int(d) for d in np.shape(xb))
        if sa is None or sa != sb:
            out.append(WeightChange(name, sa, sb))
            continue
        fa, fb = np.asarray(xa, np.float64), np.asarray(xb, np.float64)
        out.append(WeightChange(name, sa, sb, float(np.linalg.norm(fa)), float(np.linalg.norm(fb - fa))))
    return out


# ----- matching ----------------------------------------------------------------------------------------
def match_layers(ga: LayerGraph, gb: LayerGraph) -> dict[str, str]:
    """A's node id -> B's node id for every layer judged the same (by name, then by structure)."""
    matching: dict[str, str] = {}
    for a_id, node in ga.nodes.items():
        b = gb.node_by_name(node.name)
        if b is not None and b.class_name == node.class_name:
            matching[a_id] = b.id
    sa, sb = _Structure(ga), _Structure(gb)
    candidates = _twins(matching, sa, sb) | _neighbours(matching, matching, sa, sb)
    while candidates:
        new = _structure_round(candidates, matching, sa, sb)
        if not new:
            break
        paired_b = set(matching.values())
        candidates = {(a, b) for a, b in candidates if a not in matching and b not in paired_b}
        candidates |= _neighbours(new, matching, sa, sb)
    return matching


class _Structure:
    """Per-graph facts the structural score reads: class, canonical arguments, depth (longest path from
    an input), height (longest path to an output), topological index, sources and consumers."""

    def __init__(self, g: LayerGraph) -> None:
        order = g.topological_order()
        self.order = {nid: i for i, nid in enumerate(order)}
        self.cls = {nid: n.class_name for nid, n in g.nodes.items()}
        self.config = {nid: {k: _canonical(v) for k, v in n.config.items()} for nid, n in g.nodes.items()}
        self.sources = {nid: g.inputs_of(nid) for nid in g.nodes}
        self.consumers = {nid: {e.target for e in g.out_edges(nid)} for nid in g.nodes}
        self.depth: dict[str, int] = {}
        for nid in order:
            self.depth[nid] = 1 + max((self.depth[s] for s in self.sources[nid]), default=-1)
        self.height: dict[str, int] = {}
        for nid in reversed(order):
            self.height[nid] = 1 + max((self.height[c] for c in self.consumers[nid]), default=-1)

    def twin_keys(self, nid: str) -> tuple[tuple, tuple]:
        """Layers sharing a key may pair without a shared neighbour: same class and arguments, and the
        same depth or the same height."""
        same = (self.cls[nid], tuple(sorted(self.config[nid].items(), key=lambda kv: kv[0])))
        return ("depth", self.depth[nid], *same), ("height", self.height[nid], *same)


def _twins(matching: dict[str, str], sa: _Structure, sb: _Structure) -> set[tuple[str, str]]:
    paired_b = set(matching.values())
    buckets: dict[tuple, list[str]] = {}
    for b in sb.order:
        if b not in paired_b:
            for key in sb.twin_keys(b):
                buckets.setdefault(key, []).append(b)
    return {(a, b) for a in sa.order if a not in matching for key in sa.twin_keys(a) for b in buckets.get(key, ())}


def _neighbours(new: dict[str, str], matching: dict[str, str], sa: _Structure,
                sb: _Structure) -> set[tuple[str, str]]:
    """Unpaired (a, b) of the same class next to a pair in ``new`` (both consumers or both sources)."""
    paired_b = set(matching.values())
    out: set[tuple[str, str]] = set()
    for x, y in new.items():
        for near_a, near_b in ((sa.consumers[x], sb.consumers[y]), (sa.sources[x], sb.sources[y])):
            free_b = [b for b in near_b if b not in paired_b]
            out.update((a, b) for a in near_a if a not in matching for b in free_b if sa.cls[a] == sb.cls[b])
    return out


def _structure_round(candidates: set[tuple[str, str]], matching: dict[str, str], sa: _Structure,
                     sb: _Structure) -> dict[str, str]:
    """Pair what the current matching supports, layers with equal arguments first; returns the new pairs."""
    ranked = []
    for a, b in candidates:
        scored = _score(a, b, matching, sa, sb)
        if scored is not None:
            ranked.append((not scored[1], -scored[0], abs(sa.order[a] - sb.order[b]), sa.order[a], sb.order[b],
                           a, b))
    ranked.sort()
    exact_only = bool(ranked) and not ranked[0][0]
    new: dict[str, str] = {}
    taken_b: set[str] = set()
    for inexact, *_key, a, b in ranked:
        if inexact and exact_only:
            break
        if a not in new and b not in taken_b:
            new[a] = b
            taken_b.add(b)
    matching.update(new)
    return new


def _score(a: str, b: str, matching: dict[str, str], sa: _Structure,
           sb: _Structure) -> tuple[float, bool] | None:
    """The structural score of pairing ``a`` with ``b`` and whether their arguments are equal, or None
    when the pair is not supported."""
    inputs = sum(1 for x, y in zip(sa.sources[a], sb.sources[b]) if matching.get(x) == y)
    consumers = len({matching.get(x) for x in sa.consumers[a]} & sb.consumers[b])
    same_depth, same_height = sa.depth[a] == sb.depth[b], sa.height[a] == sb.height[b]
    ca, cb = sa.config[a], sb.config[b]
    keys = set(ca) | set(cb)
    similarity = sum(ca.get(k) == cb.get(k) for k in keys) / len(keys) if keys else 1.0
    exact = similarity == 1.0
    if not (inputs or consumers or (exact and (same_depth or same_height))):
        return None
    return 2 * inputs + consumers + same_depth + same_height + similarity, exact


# ----- the readable table ------------------------------------------------------------------------------
def format_diff(diff: ModelDiff) -> str:
    """``layergraph diff``'s table: one row per difference, then the weight change of every paired layer."""
    c = diff.counts()
    lines = [f"A: {diff.a_label} ({diff.a_layers} layers)", f"B: {diff.b_label} ({diff.b_layers} layers)"]
    if diff.identical:
        lines.append("identical: same layers, arguments, wiring" + (" and weights" if diff.weights_compared else ""))
        return "\n".join(lines)
    lines.append(", ".join(f"{n} {k.replace('_', ' ')}" for k, n in c.items()))
    rows = [(("added", x.name, x.class_name, _inputs_text(x.inputs))) for x in diff.added]
    rows += [("removed", x.name, x.class_name, "") for x in diff.removed]
    for p in diff.pairs:
        if p.renamed:
            rows.append(("renamed", f"{p.a_name} -> {p.b_name}", p.class_name, ""))
        for a in p.arguments:
            rows.append(("changed", p.b_name, p.class_name, f"{a.name}: {_value(a.old)} -> {_value(a.new)}"))
        if p.rewired:
            rows.append(("rewired", p.b_name, p.class_name,
                         f"inputs: {', '.join(p.inputs_a) or '-'} -> {', '.join(p.inputs_b) or '-'}"))
    if rows:
        lines += ["", *_table(("change", "layer", "class", "details"), rows)]
    weighted = [p for p in diff.pairs if p.weights]
    if weighted:
        wrows = [(_pair_name(p), p.class_name, _ratio(p.relative, p.weight_shape_changed),
                  ", ".join(_weight_text(w) for w in p.weights)) for p in weighted]
        lines += ["", *_table(("layer", "class", "relative change", "per weight"), wrows)]
    elif not diff.weights_compared:
        lines += ["", "weights: not compared (one model or both has no saved weights)"]
    return "\n".join(lines)


def _pair_name(p: LayerPair) -> str:
    return f"{p.a_name} -> {p.b_name}" if p.renamed else p.b_name


def _inputs_text(names: list[str]) -> str:
    return f"inputs: {', '.join(names)}" if names else ""


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    text = repr(v) if isinstance(v, str) else str(v)
    return text if len(text) <= 60 else text[:59] + "…"


def _ratio(x: float | None, shape_changed: bool = False) -> str:
    if x is None:
        return "shape changed" if shape_changed else "-"
    text = "from zero" if math.isinf(x) else f"{x:.4g}"
    return text + (" (some shapes changed)" if shape_changed else "")


def _weight_text(w: WeightChange) -> str:
    if w.shape_a is None:
        return f"{w.name} new {_value(w.shape_b)}"
    if w.shape_b is None:
        return f"{w.name} gone"
    if w.shape_changed:
        return f"{w.name} {_value(w.shape_a)} -> {_value(w.shape_b)}"
    return f"{w.name} {_ratio(w.relative)}"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header) - 1)]
    out = []
    for r in (header, *rows):
        cells = [str(x).ljust(w) for x, w in zip(r, widths)] + [str(r[-1])]
        out.append("  ".join(cells).rstrip())
    return out
