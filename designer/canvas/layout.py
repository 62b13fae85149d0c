"""Layered left-to-right auto-layout (Sugiyama in its simplest useful form).

Columns are networkx topological generations (a node sits one column right of its deepest input);
within a column nodes are ordered by the barycenter of their neighbours in the adjacent column,
sweeping right then left a few times, which removes most crossings in typical networks.  Cycles
(possible while editing) are collapsed into one column through the condensation graph.
"""
from __future__ import annotations

import networkx as nx

from engine.graph import LayerGraph, Position

COLUMN_GAP = 300.0  # 100 px of wire between cards: room for the shape label
ROW_GAP = 150.0
SWEEPS = 4


def layered_positions(graph: LayerGraph, column_gap: float = COLUMN_GAP, row_gap: float = ROW_GAP,
                      heights: dict[str, float] | None = None) -> dict[str, Position]:
    """Positions (top-left corners) for every node of ``graph``, columns left to right.

    ``heights`` (node id -> item height) lets tall nodes (merges with many inputs) take more room.
    """
    columns = _columns(graph)
    preds = {n: [e.source for e in graph.in_edges(n)] for n in graph.nodes}
    succs: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for n, ps in preds.items():
        for p in ps:
            succs[p].append(n)
    for _ in range(SWEEPS):
        _sweep(columns, preds)
        _sweep(columns[::-1], succs)
    heights = heights or {}
    out: dict[str, Position] = {}
    for ci, col in enumerate(columns):
        sizes = [max(row_gap, heights.get(n, 0.0) + 40.0) for n in col]
        y = -sum(sizes) / 2.0
        for n, h in zip(col, sizes):
            out[n] = (ci * column_gap, round(y))
            y += h
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
