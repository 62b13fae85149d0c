"""The layered flow layout: deep graphs wrap into bands read like text, branches stack, nothing overlaps."""
from __future__ import annotations

import itertools

from engine.graph import LayerGraph
from engine.layout import BAND_COLUMNS, COLUMN_GAP, ROW_GAP, card_height, layered_positions

CARD_WIDTH = 200.0


def dense(g: LayerGraph, after: str, units: int = 8) -> str:
    nid = g.add_node("Dense", {"units": units})
    g.connect(after, nid)
    return nid


def residual_graph(blocks: int = 16) -> LayerGraph:
    """A ResNet-like graph: a stem, then blocks of an 8-layer branch added to the block's input
    (through a 2-layer projection in each stage's first block), each followed by an activation."""
    g = LayerGraph()
    x = g.add_node("Input", {"shape": [8]})
    for _ in range(8):
        x = dense(g, x)
    for b in range(blocks):
        y = x
        for _ in range(8):
            y = dense(g, y)
        skip = dense(g, dense(g, x)) if b % 4 == 0 else x
        add = g.add_node("Add")
        g.connect(y, add)
        g.connect(skip, add)
        x = g.add_node("Activation", {"activation": "relu"})
        g.connect(add, x)
    return g


def cards(g: LayerGraph, pos) -> dict[str, tuple[float, float, float, float]]:
    return {n: (x, y, x + CARD_WIDTH, y + card_height(len(g.in_edges(n)))) for n, (x, y) in pos.items()}


def bands(g: LayerGraph, pos) -> dict[str, int]:
    """Lines of reading: rows of cards less than a row gap apart belong to one band."""
    band, bottom, out = -1, None, {}
    for n in sorted(pos, key=lambda n: pos[n][1]):
        y = pos[n][1]
        if bottom is None or y > bottom:
            band += 1
        bottom = max(bottom or y, y + ROW_GAP)
        out[n] = band
    return out


def test_the_residual_graph_is_as_deep_as_resnet50():
    assert len(residual_graph().nodes) >= 177


def test_no_two_cards_overlap():
    g = residual_graph()
    boxes = cards(g, layered_positions(g))
    for (a, ra), (b, rb) in itertools.combinations(boxes.items(), 2):
        overlap = ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]
        assert not overlap, (a, ra, b, rb)


def test_every_wire_goes_forward_in_reading_order():
    g = residual_graph()
    pos = layered_positions(g)
    band = bands(g, pos)
    for e in g.edges:
        s, t = (band[e.source], pos[e.source][0]), (band[e.target], pos[e.target][0])
        assert s < t, (e, s, t)


def test_a_long_chain_wraps_into_bands():
    g = LayerGraph()
    x = g.add_node("Input", {"shape": [8]})
    for _ in range(39):
        x = dense(g, x)
    pos = layered_positions(g)
    xs = {p[0] for p in pos.values()}
    assert len(xs) == BAND_COLUMNS and max(xs) == (BAND_COLUMNS - 1) * COLUMN_GAP
    assert len(set(bands(g, pos).values())) == 40 // BAND_COLUMNS


def test_a_deep_residual_graph_is_compact():
    """Not one row of 177 cards: a page of bands, each at most BAND_COLUMNS wide and at most a few rows."""
    g = residual_graph()
    pos = layered_positions(g)
    width = max(x for x, _ in pos.values()) + CARD_WIDTH
    height = max(y for _, y in pos.values()) + 100
    assert width <= BAND_COLUMNS * COLUMN_GAP
    rows_per_band: dict[int, set] = {}
    for n, b in bands(g, pos).items():
        rows_per_band.setdefault(b, set()).add(pos[n][1])
    assert max(len(r) for r in rows_per_band.values()) <= 2
    assert len(g.nodes) * CARD_WIDTH * 100 / (width * height) > 0.15  # cards fill a fair part of the page


def test_parallel_branches_stack_side_by_side():
    g = LayerGraph()
    x = g.add_node("Input", {"shape": [8]})
    ends, branches = [], []
    for _ in range(3):
        branch = [dense(g, x)]
        branch.append(dense(g, branch[-1]))
        branches.append(branch)
        ends.append(branch[-1])
    cat = g.add_node("Concatenate")
    for e in ends:
        g.connect(e, cat)
    pos = layered_positions(g)
    for step in range(2):
        column = [pos[b[step]] for b in branches]
        assert len({p[0] for p in column}) == 1  # one column ...
        ys = sorted(p[1] for p in column)
        assert all(b - a >= ROW_GAP for a, b in zip(ys, ys[1:]))  # ... one above the other
    assert pos[cat][0] > pos[ends[0]][0]


def test_the_projection_shortcut_runs_beside_its_block():
    g = residual_graph(blocks=1)
    pos = layered_positions(g)
    add = next(n for n, node in g.nodes.items() if node.class_name == "Add")
    branch, skip = (e.source for e in g.in_edges(add))
    assert pos[branch][1] != pos[skip][1]  # the skip has its own row, so its wire runs clear of the branch
    assert pos[add][1] in (pos[branch][1], pos[skip][1])


def test_the_layout_is_deterministic():
    assert layered_positions(residual_graph()) == layered_positions(residual_graph())


def test_an_empty_graph_has_no_positions():
    """Ctrl+L on an empty canvas raised ValueError (max of nothing) before the empty case was handled."""
    assert layered_positions(LayerGraph()) == {}
