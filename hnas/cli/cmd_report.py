"""``hnas report`` and ``hnas inspect``: look at a run folder in a browser or in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from hnas.cli.app import app
from hnas.cli.common import PluginOption, err_console, load_plugins, print_json, user_errors

if TYPE_CHECKING:
    from rich.table import Table


@app.command("report")
@user_errors
def report_command(
    run: Annotated[
        Path, typer.Argument(help="A run folder (what 'hnas run --out' wrote) or a compare folder.")
    ],
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Where to write the page (default RUN/report.html).")
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open the page in the default web browser.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Write one self-contained report.html: spec, timings, search curves, policy, Pareto front,
    candidates, the chosen cells, retraining, evaluation (and the comparison when there is one)."""
    load_plugins(plugin)
    from hnas.report.html import write_report

    with err_console().status(f"writing the report of {run}"):
        path = write_report(run, out)
    typer.echo(str(path))
    if open_:
        import webbrowser

        try:
            opened = webbrowser.open(path.resolve().as_uri())
        except webbrowser.Error:
            opened = False
        if not opened:
            err_console().print(f"no web browser to open here; open {path} yourself")


def _bar(p: float, width: int = 10) -> str:
    filled = round(p * width)
    return "█" * filled + "·" * (width - filled)


def _decision_table(decisions: list, title: str, entropy: bool = True) -> Table:
    """Choices as rows, decisions as columns (``2.1`` = node 2, edge 1): fits 80 columns for 4
    nodes and keeps op names whole; the greedy choice of each decision is highlighted (``entropy``:
    add each decision's entropy as a last row)."""
    from rich.table import Table
    from rich.text import Text

    names = max((d.choices for d in decisions), key=len)
    table = Table(title=f"{title} (column n.e = node n, edge e)", title_justify="left")
    table.add_column("choice", style="bold")
    for d in decisions:
        table.add_column(f"{d.target}.{d.slot}", justify="right")
    for j, name in enumerate(names):
        cells: list[Text | str] = []
        for d in decisions:
            if j >= len(d.probs):
                cells.append("")  # an input node that does not exist yet for this decision
            else:
                style = "bold reverse" if j == d.choice else ("" if d.probs[j] >= 0.05 else "dim")
                cells.append(Text(f"{d.probs[j]:.2f}", style=style))
        table.add_row(name, *cells)
    if entropy:
        table.add_row(Text("entropy", style="dim"), *(Text(f"{d.entropy:.2f}", style="dim") for d in decisions))
    return table


def _inspect_strategy(run: Path, as_json: bool) -> None:
    """A ``[strategy]`` run has no policy: its rungs (steps, candidates, scores) and its pick."""
    from rich.console import Console
    from rich.table import Table

    from hnas.strategies.summary import strategy_summary

    summary = strategy_summary(run)
    if as_json:
        print_json(summary)
        return
    plan = summary["plan"]
    table = Table(title=f"strategy '{plan['type']}': {summary['spent']} of {plan['budget_steps']} steps spent",
                  title_justify="left")
    for column in ("steps", "candidates", "GMACs", "median PSNR", "best's PSNR", "best (by reward)"):
        table.add_column(column, justify="left" if column.startswith("best (") else "right")
    for rung in summary["rungs"]:
        table.add_row(str(rung["steps"]), str(rung["candidates"]), f"{rung['gmacs'][0]}-{rung['gmacs'][1]}",
                      f"{rung['median_psnr']:.3f}", f"{rung['best_psnr']:.3f}", rung["best"])
    console = Console()
    console.print(table)
    pick = summary["pick"]
    if pick is not None:
        console.print(f"[bold]pick[/bold] {pick['hash']}: {pick['psnr']:.3f} dB after {pick['steps']} steps, "
                      f"{pick['macs'] / 1e9:.2f} GMACs (scored on the theta split's patches)")


@app.command("inspect")
@user_errors
def inspect_command(
    run: Annotated[
        Path, typer.Argument(help="A run folder with search_state.safetensors (written during the search).")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every decision's distribution as JSON.")
    ] = False,
    plugin: PluginOption = None,
) -> None:
    """The controller's learned policy: for every decision the op/input probabilities on the greedy
    path, the position distribution, the greedy genotype and its entropy. For evolution: the
    population's share of each choice and the best architecture so far."""
    load_plugins(plugin)
    from hnas.report.policy import run_policy
    from hnas.strategies.summary import is_strategy_run

    if is_strategy_run(run):
        _inspect_strategy(run, as_json)
        return
    policy = run_policy(run)
    if as_json:
        print_json(policy.to_dict())
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    population = policy.population is not None
    if population:
        console.print(f"controller '{policy.controller}' holds a population of {policy.population}: each table "
                      "gives the share of its members taking each choice; the best architecture so far is outlined")
    for part in ("normal", "upsampling"):
        for kind in ("input", "op"):
            console.print(_decision_table(policy.of(part, kind), f"{part} cell: {kind}s", entropy=not population))
    (position,) = policy.of("position")
    table = Table(title="network level: position", title_justify="left")
    for column in ("layer", "share of the population" if population else "probability", ""):
        table.add_column(column, justify="right" if column != "" else "left")
    for j, p in enumerate(position.probs):
        style = "bold reverse" if j == position.choice else ""
        table.add_row(Text(position.choices[j], style=style), f"{p:.3f}", _bar(p))
    console.print(table)
    genotype = policy.genotype
    if population:
        best = "no architecture scored yet" if policy.best_reward is None else f"reward {policy.best_reward:.4f}"
        title = f"[bold]best so far[/bold] {genotype.hash()} ({best})"
    else:
        title = f"[bold]greedy genotype[/bold] {genotype.hash()}"
    console.print(f"{title}  upsampling at layer {genotype.position} of {genotype.layers}")
    for part in ("normal", "upsampling"):
        edges = ", ".join(f"{e.op} ({e.source}->{e.target})" for e in getattr(genotype, part).edges)
        console.print(f"  {part}: {edges}")
    if policy.entropy is not None:
        parts = ", ".join(f"{part} {value:.2f}" for part, value in policy.part_entropy.items())
        console.print(
            f"[bold]entropy[/bold] {policy.entropy:.2f} nats of at most {policy.max_entropy:.2f} ({parts})"
        )
    if policy.uniform:
        console.print(f"controller '{policy.controller}' is uniform: the greedy genotype is a random draw")
