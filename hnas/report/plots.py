"""The report's plots (matplotlib, Agg): search curves, Pareto front, policy heatmaps, retraining,
comparison. Each function takes plain records and returns PNG bytes, so the report can inline them
and a script can save them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hnas.report.policy import Policy
from hnas.report.rundata import as_list, number, numeric_columns
from hnas.utils.figures import png_bytes, pyplot
from hnas.utils.pareto import pareto_front

#: Marker styles of the Pareto plot: derivation candidates, and the chosen architecture.
DERIVED_STYLE: dict[str, Any] = {"marker": "D", "s": 40, "facecolor": "none", "edgecolor": "#D55E00", "lw": 1.4}
CHOSEN_STYLE: dict[str, Any] = {"marker": "*", "s": 320, "color": "#E69F00", "edgecolor": "black", "zorder": 5}


def _scaled(values: list[float]) -> tuple[list[float], str]:
    """Large counts (MACs, costs in MACs) in units of 1e9 so the axis reads as GMACs."""
    biggest = max((abs(v) for v in values), default=0.0)
    return ([v / 1e9 for v in values], " (x1e9)") if biggest >= 1e6 else (values, "")


def _series(log: Sequence[dict[str, Any]], column: str) -> list[tuple[float, float]]:
    points = [(number(r.get("epoch", i + 1)), number(r.get(column))) for i, r in enumerate(log)]
    return [(e, v) for e, v in points if e is not None and v is not None]


def search_curves(log: Sequence[dict[str, Any]]) -> bytes | None:
    """One small plot per numeric column of ``search_log.jsonl`` against the epoch.

    Columns are discovered, not listed, so a field the engine adds later is plotted too. Columns
    with identical values share a panel (``cost_mean = macs_mean`` when the cost is MACs), and the
    REINFORCE baseline is drawn over the mean reward it tracks.
    """
    columns = numeric_columns(list(log), skip=("epoch",))
    if not log or not columns:
        return None
    panels: dict[str, list[str]] = {}
    for column in columns:
        twin = next((p for p in panels if _series(log, p) == _series(log, column)), None)
        if twin is not None:
            panels[twin].append(column)
        elif column == "baseline" and "reward_mean" in panels:
            panels["reward_mean"].append(column)
        else:
            panels[column] = [column]
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.3 * nrows), squeeze=False)
    for ax, (first, members) in zip(axes.flat, panels.items()):
        overlay = members[1:] if first == "reward_mean" and "baseline" in members else []
        shown = [first] + [m for m in members[1:] if m not in overlay]
        points = _series(log, first)
        values, unit = _scaled([v for _, v in points])
        ax.plot([e for e, _ in points], values, marker="o", ms=3, lw=1.4, color="#0072B2", label=first)
        for extra in overlay:
            more = _series(log, extra)
            ax.plot([e for e, _ in more], [v for _, v in more], ls="--", lw=1.1, color="#D55E00", label=extra)
            ax.legend(fontsize=7)
        ax.set_title(" = ".join(shown) + unit, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)


def pareto_plot(archive: Sequence[dict[str, Any]], chosen_hash: str | None) -> bytes | None:
    """PSNR (shared weights) against MACs of every evaluated architecture: search samples coloured
    by epoch, derivation candidates as diamonds, the chosen one as a star, the front as a line."""
    key = "macs" if any(number(r.get("macs")) is not None for r in archive) else "cost"
    records = [r for r in archive if number(r.get(key)) is not None and number(r.get("psnr")) is not None]
    if not records:
        return None
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8.5, 5.2), layout="constrained")
    search = [r for r in records if r.get("stage") != "derive"]
    derive = [r for r in records if r.get("stage") == "derive"]
    xs_all, unit = _scaled([float(r[key]) for r in records])
    scale = 1e9 if unit else 1.0
    if search:
        epochs = [number(r.get("epoch")) or 0 for r in search]
        dots = ax.scatter(
            [r[key] / scale for r in search],
            [r["psnr"] for r in search],
            c=epochs,
            cmap="viridis",
            s=16,
            alpha=0.75,
            label=f"search samples ({len(search)})",
        )
        bar = fig.colorbar(dots, ax=ax, pad=0.01)
        bar.set_label("epoch", fontsize=9)
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    if derive:
        ax.scatter([r[key] / scale for r in derive], [r["psnr"] for r in derive], **DERIVED_STYLE,
                   label=f"derivation candidates ({len(derive)})")
    points = [(float(r[key]) / scale, float(r["psnr"])) for r in records]
    front = pareto_front(points)
    if len(front) > 1:
        ax.plot(
            [points[i][0] for i in front],
            [points[i][1] for i in front],
            color="#444444",
            lw=1,
            drawstyle="steps-post",
            label="Pareto front",
        )
    picked = [r for r in derive or records if r.get("hash") == chosen_hash]
    if picked:
        best = max(picked, key=lambda r: number(r.get("reward")) or -math.inf)
        ax.scatter([best[key] / scale], [best["psnr"]], **CHOSEN_STYLE, label=f"chosen {chosen_hash}")
    ax.set_xlabel(f"{key}{unit} of the architecture at search width")
    ax.set_ylabel("PSNR (dB) with shared weights")
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncols=4)  # below the axes: it covers no point
    return png_bytes(fig)


def policy_heatmaps(policy: Policy) -> bytes:
    """Per cell type: input and op probabilities per decision (rows) and choice (columns), greedy
    choices outlined; below, the position distribution."""
    plt = pyplot()
    import matplotlib
    from matplotlib.patches import Rectangle

    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#eeeeee")  # grey: inputs not yet available

    nodes = len(policy.of("normal", "op")) // 2
    fig = plt.figure(figsize=(12, 1.6 + 0.42 * 4 * nodes + 2.4))
    grid = fig.add_gridspec(
        3, 2, height_ratios=(2 * nodes, 2 * nodes, 3.2), width_ratios=(nodes + 2, 7), hspace=0.55, wspace=0.35
    )
    for row, part in enumerate(("normal", "upsampling")):
        for col, kind in enumerate(("input", "op")):
            ax = fig.add_subplot(grid[row, col])
            decisions = policy.of(part, kind)
            names = max((d.choices for d in decisions), key=len)
            matrix = [[math.nan] * len(names) for _ in decisions]
            for i, d in enumerate(decisions):
                matrix[i][: len(d.probs)] = d.probs
            ax.imshow(matrix, cmap=cmap, vmin=0, vmax=1, aspect="auto")
            for i, d in enumerate(decisions):
                for j, p in enumerate(d.probs):
                    ax.text(
                        j,
                        i,
                        f"{p:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if p > 0.6 else "#222222",
                    )
                ax.add_patch(Rectangle((d.choice - 0.5, i - 0.5), 1, 1, fill=False, ec="#D55E00", lw=2))
            ax.set_yticks(range(len(decisions)), [d.label for d in decisions], fontsize=7)
            ax.set_xticks(
                range(len(names)),
                [n.replace("c_{k-2}", "c(k-2)").replace("c_{k-1}", "c(k-1)") for n in names],
                fontsize=7,
                rotation=30,
                ha="right",
            )
            ax.set_title(f"{part} cell: {'inputs' if kind == 'input' else 'ops'}", fontsize=10, loc="left")
    ax = fig.add_subplot(grid[2, :])
    (position,) = policy.of("position")
    colors = ["#D55E00" if i == position.choice else "#56B4E9" for i in range(len(position.probs))]
    ax.bar(range(1, len(position.probs) + 1), position.probs, color=colors)
    ax.axhline(1 / len(position.probs), color="#777777", lw=0.8, ls="--", label="uniform")
    ax.set_xticks(range(1, len(position.probs) + 1))
    ax.set_xlabel("upsampling cell position (layer)", fontsize=9)
    ax.set_ylabel("probability", fontsize=9)
    ax.set_title("network level: position of the upsampling cell", fontsize=10, loc="left")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.subplots_adjust(left=0.1, right=0.98, top=0.96, bottom=0.07)
    return png_bytes(fig)


def retrain_curves(log: Sequence[dict[str, Any]]) -> bytes | None:
    """Training loss and validation PSNR of the retraining (and any other logged number that is
    not all zeros, e.g. skipped updates when there were some), against the step."""
    columns = [
        c
        for c in numeric_columns(list(log), skip=("step", "seconds", "lr"))
        if any(number(r.get(c)) for r in log)
    ]
    if not log or not columns:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 2.8), squeeze=False)
    for ax, column in zip(axes[0], columns):
        points = [(number(r.get("step")), number(r.get(column))) for r in log]
        points = [(s, v) for s, v in points if s is not None and v is not None]
        ax.plot([s for s, _ in points], [v for _, v in points], marker="o", ms=3, lw=1.4, color="#009E73")
        ax.set_title(column, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return png_bytes(fig)


def compare_plot(compare: dict[str, Any]) -> bytes | None:
    """``hnas compare``: PSNR (mean +- std over seeds) against MACs, one panel per evaluation set."""
    members = [
        m
        for m in as_list(compare.get("members"))
        if isinstance(m, dict) and number(m.get("macs")) is not None
    ]
    sets = [s for s in as_list(compare.get("eval_sets")) if isinstance(s, str)]
    if not members or not sets:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(sets), figsize=(5.2 * len(sets), 3.8), squeeze=False)
    markers = {"run": "*", "preset": "s", "genotype": "D", "baseline": "^", "random": "o"}
    for ax, name in zip(axes[0], sets):
        for member in members:
            scores = member.get("sets", {}).get(name, {}) if isinstance(member.get("sets"), dict) else {}
            mean = number(scores.get("psnr_mean")) if isinstance(scores, dict) else None
            if mean is None:
                continue
            std = number(scores.get("psnr_std")) or 0.0
            x = float(member["macs"]) / 1e9
            ax.errorbar(
                [x],
                [mean],
                yerr=[std],
                fmt=markers.get(str(member.get("kind")), "o"),
                ms=8,
                capsize=3,
                label=f"{member.get('name')} ({member.get('kind')})",
            )
            ax.annotate(
                str(member.get("name")), (x, mean), textcoords="offset points", xytext=(5, 5), fontsize=8
            )
        ax.set_title(name, fontsize=10)
        ax.margins(0.15)
        ax.set_xlabel("GMACs")
        ax.set_ylabel("PSNR (dB), mean over seeds")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        axes[0][-1].legend(handles, labels, fontsize=7, loc="lower right")
    fig.tight_layout()
    return png_bytes(fig)
