"""Where a cell's nodes and edges go on the page: layers by the longest path from the inputs, the
arrangement with the fewest crossings, and edges bent clear of the nodes they pass."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from hnas.spaces.genotype import CellGenotype

# In figure units: the node radius, the output box, the spacing of layers (x) and of nodes in a layer (y).
_NODE_RADIUS = 0.36
_BOX_W, _BOX_H = 1.25, 0.62
_DX, _DY = 3.4, 1.5


def cell_layout(cell: CellGenotype) -> dict[int, tuple[float, float]]:
    """``node -> (x, y)``: inputs in column 0 (``c_{k-2}`` above ``c_{k-1}``, as in Fig. 2), node
    ``t`` in column ``1 +`` the longest path to it, the output one column after the last.

    Within the columns, the order with the fewest edge crossings and edges running through nodes
    wins (every order is tried while there are at most 720; beyond that, sources' mean height).
    """
    rank = {0: 0, 1: 0}
    last = cell.nodes + 1
    for node in range(2, last + 1):
        rank[node] = 1 + max(rank[e.source] for e in cell.node_edges(node))
    width = max(rank.values())
    columns = [[n for n in range(2, last + 1) if rank[n] == c] for c in range(1, width + 1)]
    base: dict[int, tuple[float, float]] = {
        0: (0.0, _DY * 0.85),
        1: (0.0, -_DY * 0.85),
        last + 1: ((width + 1) * _DX, 0.0),
    }

    def place(orders: Sequence[Sequence[int]]) -> dict[int, tuple[float, float]]:
        pos = dict(base)
        for column, members in enumerate(orders, start=1):
            top = (len(members) - 1) * _DY / 2
            for i, node in enumerate(members):
                pos[node] = (column * _DX, top - i * _DY)
        return pos

    if math.prod(math.factorial(len(c)) for c in columns) <= 720:
        candidates = itertools.product(*(itertools.permutations(c) for c in columns))
        return min((place(orders) for orders in candidates), key=lambda pos: _clutter(cell, pos))
    pos = dict(base)
    orders = []
    for column, members in enumerate(columns, start=1):
        members = sorted(members, key=lambda n: (-sum(pos[e.source][1] for e in cell.node_edges(n)), n))
        orders.append(members)
        pos = place(orders)
    return pos


def _segments(cell: CellGenotype, pos: dict[int, tuple[float, float]]) -> list[tuple[int, int]]:
    out = cell.nodes + 2
    return [(e.source, e.target) for e in cell.edges] + [(n, out) for n in range(2, out)]


def _clutter(cell: CellGenotype, pos: dict[int, tuple[float, float]]) -> float:
    """Crossings between straight edges, plus a heavier penalty per edge running through a node."""
    segments = _segments(cell, pos)
    score = 0.0
    for i, (a, b) in enumerate(segments):
        for c, d in segments[i + 1 :]:
            if len({a, b, c, d}) == 4 and _cross(pos[a], pos[b], pos[c], pos[d]):
                score += 1.0
        for node, xy in pos.items():
            if node not in (a, b) and _distance_to_segment(xy, pos[a], pos[b]) < _NODE_RADIUS * 1.5:
                score += 3.0
    return score


def _cross(
    p: tuple[float, float], q: tuple[float, float], r: tuple[float, float], s: tuple[float, float]
) -> bool:
    def side(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    return side(p, q, r) * side(p, q, s) < 0 and side(r, s, p) * side(r, s, q) < 0


def _distance_to_segment(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    (px, py), (ax_, ay), (bx, by) = p, a, b
    dx, dy = bx - ax_, by - ay
    t = max(0.0, min(1.0, ((px - ax_) * dx + (py - ay) * dy) / (dx * dx + dy * dy or 1.0)))
    return math.hypot(px - ax_ - t * dx, py - ay - t * dy)


def _bezier(p0: tuple[float, float], p2: tuple[float, float], rad: float, t: float) -> tuple[float, float]:
    """A point of matplotlib's ``arc3`` curve (a quadratic Bezier whose control point sits ``rad``
    times the chord length off the midpoint); exact in data space because the axes are equal."""
    (x0, y0), (x2, y2) = p0, p2
    cx, cy = (x0 + x2) / 2 + rad * (y2 - y0), (y0 + y2) / 2 - rad * (x2 - x0)
    a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t**2
    return a * x0 + b * cx + c * x2, a * y0 + b * cy + c * y2


def _clear_of_nodes(
    p0: tuple[float, float], p2: tuple[float, float], rad: float, others: Sequence[tuple[float, float]]
) -> float:
    """Smallest distance from the curve's inner part to the centre of a node it does not join."""
    best = float("inf")
    for k in range(1, 20):
        x, y = _bezier(p0, p2, rad, k / 20)
        for ox, oy in others:
            best = min(best, ((x - ox) ** 2 + (y - oy) ** 2) ** 0.5)
    return best


def _bend(pos: dict[int, tuple[float, float]], source: int, target: int) -> float:
    """The smallest curvature that keeps the edge ``source -> target`` clear of the other nodes."""
    p0, p2 = pos[source], pos[target]
    others = [xy for node, xy in pos.items() if node not in (source, target)]
    for candidate in (0.0, 0.15, -0.15, 0.28, -0.28, 0.4, -0.4):
        if _clear_of_nodes(p0, p2, candidate, others) > _NODE_RADIUS * 1.6:
            return candidate
    return 0.0


def _edge_rads(cell: CellGenotype, pos: dict[int, tuple[float, float]]) -> list[float]:
    """A curvature per edge: twin edges (same source and target) bend apart, the others as
    :func:`_bend` says."""
    rads = []
    for i, edge in enumerate(cell.edges):
        twins = [j for j, e in enumerate(cell.edges) if (e.source, e.target) == (edge.source, edge.target)]
        if len(twins) == 2:
            rads.append(0.3 if i == twins[0] else -0.3)
        else:
            rads.append(_bend(pos, edge.source, edge.target))
    return rads


def _limits(pos: dict[int, tuple[float, float]]) -> tuple[float, float, float, float]:
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    return min(xs) - _BOX_W * 0.7, max(xs) + _BOX_W * 0.7, min(ys) - _DY * 0.7, max(ys) + _DY * 0.7
