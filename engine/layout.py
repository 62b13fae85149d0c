"""Layered flow layout: a graph drawn left to right in columns, long chains wrapped into bands.

Columns are longest-path generations (a node sits one column right of its deepest input; cycles,
possible while editing, collapse into one column through the condensation graph).  Within a column
nodes are ordered by the barycenter of their neighbours in the adjacent column, sweeping right then
left a few times (Sugiyama in its simplest useful form), so parallel branches sit one above the other.
A graph deeper than ``BAND_COLUMNS`` columns is wrapped into bands placed one below the other and read
like text, the way the bundled examples are; each band ends where the fewest wires cross (after a
residual ``Add``, not inside its block).  Within a band a node keeps the row of its median input when
that row is free, so a chain runs straight and a residual skip stays on its own row or detours above.
Qt-free and deterministic (it depends only on the graph, never on a window): the Keras importer and
the designer's auto-layout share it.
"""
from __future__ import annotations

import networkx as nx

from engine.graph import LayerGraph, Position

COLUMN_GAP = 300.0  # 100 px of wire between cards: room for the shape label
ROW_GAP = 150.0
BAND_GAP = 110.0  # between two bands: room for the wires that wrap to the next band and for detours
BAND_COLUMNS = 5  # the widest band (it fits a 1366-px screen at the Fit floor); deeper graphs wrap
SWEEPS = 4
CUT_COST = 0.6  # a band one column narrower must save this many crossing wires


def card_height(n_inputs: int) -> float:
    """The designer's card height for a node with ``n_inputs`` input wires (``NodeItem``'s rule)."""
    return max(100.0, 24.0 + 20.0 * (n_inputs + 1))


def layered_positions(graph: LayerGraph, column_gap: float = COLUMN_GAP, row_gap: float = ROW_GAP,
                      heights: dict[str, float] | None = None,
                      band_columns: int = BAND_COLUMNS) -> dict[str, Position]:
    """Positions (top-left corners) for every node of ``graph``: columns left to right, wrapped into bands.

    ``heights`` (node id -> card height) lets tall nodes (merges with many inputs) take more room; by
    default the height follows from the number of inputs.
    """
    if not len(graph):
        return {}
    columns = _columns(graph)
    preds = {n: [e.source for e in graph.in_edges(n)] for n in graph.nodes}
    succs: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for n, ps in preds.items():
        for p in ps:
            succs[p].append(n)
    for _ in range(SWEEPS):
        _sweep(columns, preds)
        _sweep(columns[::-1], succs)
    sizes = {n: max(row_gap, (heights or {}).get(n, card_height(len(preds[n]))) + 40.0) for n in graph.nodes}
    out: dict[str, Position] = {}
    top = 0.0
    for band in _bands(columns, preds, band_columns):
        ys = _band_rows(band, preds, sizes)
        for ci, col in enumerate(band):
            for n in col:
                out[n] = (ci * column_gap, round(top + ys[n]))
        top += max(ys[n] + sizes[n] for col in band for n in col) + BAND_GAP
    return out


def _columns(graph: LayerGraph) -> list[list[str]]:
    g = nx.DiGraph()
    g.add_nodes_from(graph.nodes)
    g.add_edges_from((e.source, e.target) for e in graph.edges)
    order = {n: i for i, n in enumerate(graph.nodes)}
    cond = nx.condensation(g)
    members = cond.graph["mapping"]  # node -> component
    comp_nodes: dict[int, list[str]] = {}
    for n, c in members.items():
        comp_nodes.setdefault(c, []).append(n)
    depth: dict[int, int] = {}
    for c in nx.topological_sort(cond):
        depth[c] = max((depth[p] + 1 for p in cond.predecessors(c)), default=0)
    for c in reversed(list(nx.topological_sort(cond))):  # pull sources (a second Input) next to their use
        if cond.in_degree(c) == 0 and cond.out_degree(c) > 0:
            depth[c] = min(depth[s] for s in cond.successors(c)) - 1
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for c, d in depth.items():
        columns[d].extend(comp_nodes[c])
    for col in columns:
        col.sort(key=order.__getitem__)
    return columns


def _sweep(columns: list[list[str]], neighbours: dict[str, list[str]]) -> None:
    """Reorder each column by the mean rank of its neighbours in the previous column (stable)."""
    for prev, col in zip(columns, columns[1:]):
        rank = {n: i for i, n in enumerate(prev)}
        current = {n: i for i, n in enumerate(col)}

        def key(n: str, rank=rank, current=current) -> float:
            rs = [rank[m] for m in neighbours[n] if m in rank]
            return sum(rs) / len(rs) if rs else float(current[n])

        col.sort(key=key)


def _bands(columns: list[list[str]], preds: dict[str, list[str]], width: int) -> list[list[list[str]]]:
    """Split the columns into bands of at most ``width``, each ending where the fewest wires cross."""
    if len(columns) <= width:
        return [columns]
    col = {n: i for i, c in enumerate(columns) for n in c}
    crossing = [0] * (len(columns) + 1)  # crossing[b]: wires from a column before b to one at b or later
    for n, ps in preds.items():
        for p in ps:
            if col[p] < col[n]:
                crossing[col[p] + 1] += 1
                crossing[col[n] + 1] -= 1
    for b in range(1, len(crossing)):
        crossing[b] += crossing[b - 1]
    bands, start = [], 0
    while len(columns) - start > width:
        # fewer crossing wires, but not at any price: each column a band gives up costs CUT_COST wires
        end = min(range(start + max(1, width // 2), start + width + 1),
                  key=lambda b: (crossing[b] + CUT_COST * (start + width - b), -b))
        bands.append(columns[start:end])
        start = end
    bands.append(columns[start:])
    return bands


def _band_rows(band: list[list[str]], preds: dict[str, list[str]], sizes: dict[str, float]) -> dict[str, float]:
    """Heights within a band: each node on the row of its median input in the band when that row is free."""
    ys: dict[str, float] = {}
    for col in band:
        cursor = 0.0
        for n in col:
            inside = sorted(ys[p] for p in preds[n] if p in ys)
            want = inside[(len(inside) - 1) // 2] if inside else cursor
            ys[n] = max(want, cursor)
            cursor = ys[n] + sizes[n]
    return ys
