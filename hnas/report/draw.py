"""Genotypes drawn as the paper draws them: cells as DAGs (Fig. 2, Fig. 4) and the network as a strip.

A cell is laid out in layers by the longest path from its inputs, left to right as in Fig. 4:
``c_{k-2}`` and ``c_{k-1}`` on the left, the intermediate nodes in the middle (numbered 2..B-1 as in
genotype files, ``hnas show`` and ``archive.jsonl``; Fig. 4 numbers them 0..B-3), ``c_{k}`` (the
concatenation) on the right. Every edge is labelled with its op; in the upsampling cell the edges
that leave the inputs upsample (solid) and the edges between intermediate nodes are the ops'
stride-1 forms (dashed), as the derived network builds them.

Pure matplotlib, so drawing needs nothing beyond ``pip install hnas``. Each edge's artist has the
SVG id ``{cell}-edge-{i}`` and its label ``{cell}-label-{i}`` (``i`` indexes the cell's canonical
edge list), the concat edges ``{cell}-concat-{node}``, the network strip's boxes
``network-layer-{n}``: tests and scripts can find them in the SVG, and the labels stay ``<text>``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from hnas.errors import HnasError
from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS
from hnas.report.cell_layout import (
    _BOX_H,
    _BOX_W,
    _NODE_RADIUS,
    _bend,
    _bezier,
    _edge_rads,
    _limits,
    cell_layout,
)
from hnas.spaces.genotype import CellGenotype, Genotype
from hnas.utils.figures import pyplot
from hnas.utils.io import atomic_path

#: File formats ``hnas show --draw`` writes, by suffix.
FORMATS = {".svg": "svg", ".png": "png"}

_INPUT_NAMES = ("$c_{k-2}$", "$c_{k-1}$")
_COLORS = {"input": "#cfe3f5", "node": "#fbe3b0", "output": "#d6efc7", "edge_concat": "#9a9a9a"}
# Colour-blind-safe qualitative palette (Okabe & Ito); ops keep their colour across figures.
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8c564b")


def _op_color(op: str, upsampling: bool) -> str:
    names = (UPSAMPLING_OPS if upsampling else NORMAL_OPS).names()
    index = names.index(op) if op in names else len(names)
    return _PALETTE[index % len(_PALETTE)]


def draw_cell(
    ax: Any, cell: CellGenotype, kind: str, title: str | None = None, scale: int | None = None
) -> None:
    """Draw one cell DAG on ``ax``; ``kind`` is ``"normal"`` or ``"upsampling"``."""
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    upsampling = kind == "upsampling"
    pos = cell_layout(cell)
    out_node = cell.nodes + 2
    patches: dict[int, Any] = {}
    for node, (x, y) in pos.items():
        if node < 2 or node == out_node:
            label = _INPUT_NAMES[node] if node < 2 else "$c_{k}$"
            color = _COLORS["input"] if node < 2 else _COLORS["output"]
            patch = FancyBboxPatch(
                (x - _BOX_W / 2, y - _BOX_H / 2),
                _BOX_W,
                _BOX_H,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                fc=color,
                ec="#333333",
                lw=1.1,
            )
        else:
            label = str(node)
            patch = Circle((x, y), _NODE_RADIUS, fc=_COLORS["node"], ec="#333333", lw=1.1)
        patch.set_gid(f"{kind}-node-{node}")
        ax.add_patch(patch)
        patches[node] = patch
        ax.text(x, y, label, ha="center", va="center", fontsize=11, zorder=6)

    for node in range(2, out_node):
        concat = FancyArrowPatch(
            pos[node],
            pos[out_node],
            patchA=patches[node],
            patchB=patches[out_node],
            connectionstyle=f"arc3,rad={_bend(pos, node, out_node)}",
            arrowstyle="-|>",
            mutation_scale=10,
            color=_COLORS["edge_concat"],
            lw=0.9,
            ls=(0, (2, 2)),
            zorder=1,
        )
        concat.set_gid(f"{kind}-concat-{node}")
        ax.add_patch(concat)

    rads = _edge_rads(cell, pos)
    edge_artists = []
    for i, (edge, rad) in enumerate(zip(cell.edges, rads)):
        color = _op_color(edge.op, upsampling)
        stride_one = upsampling and edge.source >= 2
        arrow = FancyArrowPatch(
            pos[edge.source],
            pos[edge.target],
            patchA=patches[edge.source],
            patchB=patches[edge.target],
            connectionstyle=f"arc3,rad={rad}",
            arrowstyle="-|>",
            mutation_scale=13,
            color=color,
            lw=1.6,
            ls=(0, (5, 2)) if stride_one else "-",
            zorder=2,
        )
        arrow.set_gid(f"{kind}-edge-{i}")
        ax.add_patch(arrow)
        edge_artists.append((edge, rad, color))

    x0, x1, y0, y1 = _limits(pos)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_anchor("SW")  # the spare height goes above the cell, under its title
    ax.axis("off")
    ax.apply_aspect()  # the final data-to-pixel mapping, which label placement measures in
    _place_labels(ax, kind, pos, edge_artists, patches)
    if title:
        ax.set_title(title, fontsize=12, loc="left")
    if upsampling:
        factor = f" x{scale}" if scale else ""
        note = f"solid: edges from the inputs, upsample{factor};  dashed: stride-1 form between nodes"
        ax.set_title(note, fontsize=8, color="#555555", loc="right")


def _place_labels(
    ax: Any,
    kind: str,
    pos: dict[int, tuple[float, float]],
    edges: list[tuple[Any, float, str]],
    patches: dict[int, Any],
) -> None:
    """Put each op label on its edge where it overlaps the fewest labels and nodes placed so far."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    placed: list[Any] = []
    node_boxes = [p.get_window_extent(renderer) for p in patches.values()]
    for i, (edge, rad, color) in enumerate(edges):
        p0, p2 = pos[edge.source], pos[edge.target]
        text = ax.text(
            *_bezier(p0, p2, rad, 0.55),
            edge.op,
            ha="center",
            va="center",
            fontsize=8.5,
            zorder=5,
            bbox={"boxstyle": "round,pad=0.18", "fc": "white", "ec": color, "lw": 0.9},
        )
        text.set_gid(f"{kind}-label-{i}")
        best, best_overlap = 0.55, float("inf")
        for t in (0.55, 0.65, 0.45, 0.72, 0.38, 0.3, 0.78):
            text.set_position(_bezier(p0, p2, rad, t))
            box = text.get_window_extent(renderer).expanded(1.08, 1.25)
            overlap = sum(_area(box, other) for other in placed) + 0.5 * sum(
                _area(box, nb) for nb in node_boxes
            )
            if overlap < best_overlap:
                best, best_overlap = t, overlap
            if overlap == 0:
                break
        text.set_position(_bezier(p0, p2, rad, best))
        placed.append(text.get_window_extent(renderer).expanded(1.08, 1.25))


def _area(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)


def draw_network(ax: Any, genotype: Genotype, scale: int = 2, global_skip: bool = False) -> None:
    """The network level (Fig. 1(a)): stem, ``layers`` cells with the upsampling cell at its
    position, tail; the cells before it run at LR, those after at HR."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    boxes = ["stem"] + [str(n) for n in range(1, genotype.layers + 1)] + ["tail"]
    width, gap, height = 0.9, 0.35, 0.8
    xs = [i * (width + gap) for i in range(len(boxes))]
    up_index = genotype.position  # boxes[0] is the stem, so cell n is boxes[n]
    for i, (label, x) in enumerate(zip(boxes, xs)):
        if i == up_index:
            color, text = "#f4a259", f"U\n{label}"
        elif label in ("stem", "tail"):
            color, text = "#e6e6e6", label
        else:
            color, text = ("#cfe3f5" if i < up_index else "#a9cdef"), f"N\n{label}"
        box = FancyBboxPatch(
            (x, 0),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            fc=color,
            ec="#333333",
            lw=1.0,
        )
        box.set_gid(f"network-layer-{label}")
        ax.add_patch(box)
        ax.text(x + width / 2, height / 2, text, ha="center", va="center", fontsize=9, linespacing=1.1)
        if i:
            ax.add_patch(
                FancyArrowPatch(
                    (xs[i - 1] + width, height / 2),
                    (x, height / 2),
                    arrowstyle="-|>",
                    mutation_scale=9,
                    color="#555555",
                    lw=0.9,
                    shrinkA=0,
                    shrinkB=0,
                )
            )
    lr_end = xs[up_index] + width / 2
    for start, end, label in ((xs[0], lr_end, "LR"), (lr_end, xs[-1] + width, f"HR (x{scale})")):
        ax.annotate(
            "",
            (start, height + 0.25),
            (end, height + 0.25),
            arrowprops={"arrowstyle": "<->", "color": "#777777", "lw": 0.8},
        )
        ax.text(
            (start + end) / 2, height + 0.32, label, ha="center", va="bottom", fontsize=9, color="#444444"
        )
    n_before, n_after = genotype.position - 1, genotype.layers - genotype.position
    caption = (
        f"upsampling cell U at layer {genotype.position} of {genotype.layers}: "
        f"N = {n_before} normal cells before it, M = {n_after} after"
    )
    if global_skip:
        caption += "; plus a bicubic skip from input to output"
    ax.text(xs[0], -0.3, caption, ha="left", va="top", fontsize=9, color="#333333")
    ax.set_xlim(xs[0] - 0.2, xs[-1] + width + 0.2)
    ax.set_ylim(-0.75, height + 0.75)
    ax.set_aspect("equal")
    ax.set_anchor("W")
    ax.axis("off")


def draw_genotype(
    genotype: Genotype,
    title: str | None = None,
    scale: int = 2,
    global_skip: bool = False,
    width: float = 13.0,
) -> Any:
    """A figure with the normal cell above the upsampling cell and the network strip below them.

    At most ``width`` inches wide (13 in is a browser window at 96 dpi, so the labels show at their
    font size in the report); a cell with a long chain of nodes is drawn smaller rather than wider.
    """
    plt = pyplot()
    extents = []
    for cell in (genotype.normal, genotype.upsampling):
        x0, x1, y0, y1 = _limits(cell_layout(cell))
        extents.append((x1 - x0, y1 - y0))
    inch = min(0.8, width / max(w for w, _ in extents))  # inches per layout unit, shared by both cells
    fig_w = max(w for w, _ in extents) * inch
    strip_units = (genotype.layers + 2) * 1.25 + 0.05
    strip_inch = min(0.6, fig_w / strip_units)
    heights = [h * inch + 0.35 for _, h in extents] + [2.3 * strip_inch + 0.3]
    top = 0.75 if title else 0.1
    fig = plt.figure(figsize=(fig_w, sum(heights) + top), dpi=100)
    grid = fig.add_gridspec(
        3,
        1,
        height_ratios=heights,
        hspace=0.0,
        left=0.01,
        right=0.99,
        top=1 - top / (sum(heights) + top),
        bottom=0.0,
    )
    draw_cell(fig.add_subplot(grid[0]), genotype.normal, "normal", "normal cell")
    draw_cell(fig.add_subplot(grid[1]), genotype.upsampling, "upsampling", "upsampling cell", scale=scale)
    draw_network(fig.add_subplot(grid[2]), genotype, scale=scale, global_skip=global_skip)
    if title:
        fig.suptitle(title, fontsize=13, x=0.01, y=1 - 0.08 / (sum(heights) + top), ha="left", va="top")
    return fig


def figure_bytes(fig: Any, fmt: str) -> bytes:
    """Render ``fig`` as SVG (labels kept as text, stable ids) or PNG, then close it."""
    import matplotlib

    plt = pyplot()
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "hnas"}):
        metadata = {"Date": None} if fmt == "svg" else {}
        fig.savefig(buffer, format=fmt, metadata=metadata, dpi=fig.dpi if fmt == "svg" else 110)
    plt.close(fig)
    return buffer.getvalue()


def save_drawing(
    genotype: Genotype, path: str | Path, title: str | None = None, scale: int = 2, global_skip: bool = False
) -> Path:
    """Write the drawing to ``path`` (``.svg`` or ``.png``, by suffix), atomically."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise HnasError(f"--draw writes .svg or .png files, got '{path.name}' (name the file e.g. cells.svg)")
    data = figure_bytes(draw_genotype(genotype, title=title, scale=scale, global_skip=global_skip), fmt)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
