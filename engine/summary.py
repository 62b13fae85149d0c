"""The Keras-style model summary (layer, type, output shape, params, connections; totals)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.graph import LayerGraph
from engine.shapes import fmt_shape
from engine.validation import ValidationResult, infer_shapes


@dataclass(frozen=True)
class SummaryRow:
    node_id: str
    name: str
    class_name: str
    output_shape: str
    params: int
    connected_to: str


@dataclass(frozen=True)
class Summary:
    rows: list[SummaryRow]
    total: int
    trainable: int
    non_trainable: int
    problems: int


def summarize(graph: LayerGraph, result: ValidationResult | None = None) -> Summary:
    result = result or infer_shapes(graph)
    try:
        order = graph.topological_order()
    except Exception:  # a cycle: list in insertion order, the problem is reported separately
        order = list(graph.nodes)
    rows, trainable, frozen = [], 0, 0
    for nid in order:
        node = graph.node(nid)
        shape = result.node_shapes.get(nid)
        params = result.param_counts.get(nid, 0)
        if shape is not None and params:
            layer = graph.layer(nid)
            in_shapes = [result.node_shapes[s] for s in graph.inputs_of(nid)]
            for spec in layer.weight_specs(in_shapes):
                if spec.trainable and layer.config.get("trainable", True):
                    trainable += spec.size
                else:
                    frozen += spec.size
        conn = ", ".join(graph.node(s).name for s in graph.inputs_of(nid))
        rows.append(SummaryRow(nid, node.name, node.class_name, "?" if shape is None else fmt_shape(shape),
                               params, conn))
    return Summary(rows, trainable + frozen, trainable, frozen, len(result.problems))


def human_bytes(n_params: int) -> str:
    b = n_params * 4
    for unit in ("B", "KB", "MB", "GB"):
        if b < 1024 or unit == "GB":
            return f"{b:.2f} {unit}" if unit != "B" else f"{b} B"
        b /= 1024
    return f"{b:.2f} GB"


def format_summary(graph: LayerGraph, title: str = "model", result: ValidationResult | None = None) -> str:
    """A plain-text table in the layout of Keras's ``model.summary()``."""
    s = summarize(graph, result)
    head = ("Layer (type)", "Output Shape", "Param #", "Connected to")
    body = [(f"{r.name} ({r.class_name})", r.output_shape, f"{r.params:,}", r.connected_to or "-") for r in s.rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    sep = "  "

    def line(cells):
        return sep.join([cells[0].ljust(widths[0]), cells[1].ljust(widths[1]), cells[2].rjust(widths[2]),
                         cells[3].ljust(widths[3])]).rstrip()

    rule = "─" * (sum(widths) + len(sep) * 3)
    out = [f'Model: "{title}"', rule, line(head), rule]
    out += [line(b) for b in body]
    out += [rule,
            f" Total params: {s.total:,} ({human_bytes(s.total)})",
            f" Trainable params: {s.trainable:,} ({human_bytes(s.trainable)})",
            f" Non-trainable params: {s.non_trainable:,} ({human_bytes(s.non_trainable)})"]
    if s.problems:
        out.append(f" {s.problems} problem(s): run 'layergraph validate' to see them; shapes marked ? are unknown.")
    return "\n".join(out)
