"""Pareto reports: PSNR against MACs of every evaluated architecture, the chosen one marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnas.utils.figures import pyplot, save_png
from hnas.utils.pareto import pareto_front


def plot_pareto(
    path: str | Path,
    series: dict[str, list[dict[str, Any]]],
    chosen: dict[str, dict[str, Any]] | None = None,
    title: str = "HNAS search: PSNR vs MACs",
) -> Path:
    """Scatter each series' archive records (``cost`` in MACs, ``psnr``) and mark the chosen ones.

    Uses matplotlib's Agg backend, so it works with no display; written atomically.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120, layout="constrained")
    for label, records in series.items():
        xs = [r["macs"] / 1e9 for r in records]
        ys = [r["psnr"] for r in records]
        points = ax.scatter(xs, ys, s=12, alpha=0.45, label=f"{label} ({len(records)} evaluated)")
        front = pareto_front(list(zip(xs, ys)))
        if len(front) > 1:
            ax.plot([xs[i] for i in front], [ys[i] for i in front], lw=1, color=points.get_facecolor()[0])
        if chosen and label in chosen:
            pick = chosen[label]
            ax.scatter([pick["macs"] / 1e9], [pick["psnr"]], marker="*", s=220, edgecolor="black",
                       color=points.get_facecolor()[0], zorder=5, label=f"{label}: chosen")
    ax.set_xlabel("GMACs of the architecture (search width, cost input size)")
    ax.set_ylabel("PSNR (dB, Y channel) with shared weights")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncols=2)  # below the axes: it covers no point
    return save_png(fig, path)
