"""``compare.png`` and ``compare-latency.png``: retrained PSNR against MACs and against measured
latency, one panel per evaluation set, error bars over seeds. MACs are what the paper prices; the
latency is what a person waits for, and on a CPU the two rank networks differently (README, "Pricing
by latency on your hardware")."""

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


#: What the x axis can show: the member's field, its scale, and the axis label (given the recipe).
AXES = {
    "macs": ("macs", 1e-9, lambda r: f"GMACs at {r['cost_input'][0]}x{r['cost_input'][1]} LR input"),
    "latency": ("latency_ms", 1.0, lambda r: f"measured latency (ms) at {r['latency_input'][0]}x{r['latency_input'][1]} "
                "LR input, this machine"),
}


def plot_compare(path: str | Path, report: dict[str, Any], against: str = "macs") -> Path:
    """Draw the comparison against ``against`` (``macs`` or ``latency``; matplotlib's Agg backend:
    no display needed); written atomically."""
    field, factor, label = AXES[against]
    plt = pyplot()
    sets = report["eval_sets"]
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4.2), dpi=120, squeeze=False)
    for ax, name in zip(axes[0], sets):
        labelled: set[str] = set()
        for row in report["members"]:
            stats = row["sets"][name]
            kind = row["kind"]
            ax.errorbar(row[field] * factor, stats["psnr_mean"], yerr=stats["psnr_std"], fmt="o", ms=5, capsize=3,
                        color=KIND_COLOURS.get(kind, "black"), label=None if kind in labelled else kind,
                        alpha=0.6 if kind == "random" else 0.95)
            labelled.add(kind)
            if kind != "random":
                ax.annotate(row["name"], (row[field] * factor, stats["psnr_mean"]), fontsize=7,
                            xytext=(4, 3), textcoords="offset points")
        ax.set_xlabel(label(report["recipe"]))
        ax.set_ylabel(f"{name} PSNR (dB, Y), mean over {len(report['seeds'])} seed(s)")
        ax.set_title(f"{name}: retrained at equal budget ({budget(report['recipe'])})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)
