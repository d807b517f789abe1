"""``compare.png``: retrained PSNR against MACs, one panel per evaluation set, error bars over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnas.utils.figures import pyplot, save_png

#: Colour per member kind, so searched, random and hand-designed members read apart at a glance.
KIND_COLOURS = {"run": "tab:red", "random": "tab:gray", "baseline": "tab:blue", "preset": "tab:green",
                "genotype": "tab:purple"}


def budget(recipe: dict[str, Any]) -> str:
    """The budget every member got: minutes of wall time when the recipe sets them (the iteration
    count is then only a ceiling), otherwise iterations."""
    minutes = recipe.get("minutes")
    return f"{minutes:g} minutes each" if minutes else f"{recipe['iters']} iterations"


def plot_compare(path: str | Path, report: dict[str, Any]) -> Path:
    """Draw the comparison (matplotlib's Agg backend: no display needed); written atomically."""
    plt = pyplot()
    sets = report["eval_sets"]
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4.2), dpi=120, squeeze=False)
    for ax, name in zip(axes[0], sets):
        labelled: set[str] = set()
        for row in report["members"]:
            stats = row["sets"][name]
            kind = row["kind"]
            ax.errorbar(row["macs"] / 1e9, stats["psnr_mean"], yerr=stats["psnr_std"], fmt="o", ms=5, capsize=3,
                        color=KIND_COLOURS.get(kind, "black"), label=None if kind in labelled else kind,
                        alpha=0.6 if kind == "random" else 0.95)
            labelled.add(kind)
            if kind != "random":
                ax.annotate(row["name"], (row["macs"] / 1e9, stats["psnr_mean"]), fontsize=7,
                            xytext=(4, 3), textcoords="offset points")
        ax.set_xlabel(f"GMACs at {report['recipe']['cost_input'][0]}x{report['recipe']['cost_input'][1]} LR input")
        ax.set_ylabel(f"{name} PSNR (dB, Y), mean over {len(report['seeds'])} seed(s)")
        ax.set_title(f"{name}: retrained at equal budget ({budget(report['recipe'])})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)
