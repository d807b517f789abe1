"""``hnas list``, ``hnas show`` and ``hnas inspect``: the registries, an architecture, and what a
run's controller or strategy has learned, in the terminal."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from hnas.cli.app import app
from hnas.cli.common import MAX_SCALE, MIN_SCALE, PluginOption, load_plugins, print_json, user_errors
from hnas.registry import ALL_REGISTRIES

if TYPE_CHECKING:
    from rich.table import Table

Kind = Enum("Kind", {name: name for name in ALL_REGISTRIES}, type=str)  # type: ignore[misc]


@app.command("list")
@user_errors
def list_command(
    kind: Annotated[Kind, typer.Argument(help="Which registry to list.")] = Kind["ops"],  # type: ignore[assignment]
    pattern: Annotated[str, typer.Option("--pattern", "-p", help="Shell wildcard, e.g. '*conv*'.")] = "*",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of names.")] = False,
    plugin: PluginOption = None,
) -> None:
    """List what a registry holds (ops, upsampling, cells, controllers, rewards, costs, presets)."""
    from rich.console import Console
    from rich.table import Table

    load_plugins(plugin)
    registry = ALL_REGISTRIES[kind.value]
    entries = registry.entries(pattern)
    if as_json:
        print_json([entry.name for entry in entries])
        return
    table = Table(title=f"{registry.kind} ({len(entries)})")
    table.add_column("name", style="bold")
    table.add_column("aliases")
    table.add_column("description")
    table.add_column("defined in", style="dim")
    for entry in entries:
        table.add_row(entry.name, ", ".join(entry.aliases), entry.help, entry.origin)
    Console().print(table)


@app.command("show")
@user_errors
def show_command(
    model: Annotated[str, typer.Argument(help="Preset (hnas-a), genotype file (.json/.toml) or run folder.")],
    scale: Annotated[Optional[int], typer.Option(
        min=MIN_SCALE, max=MAX_SCALE, help="Upscaling factor for the layer table (default: a run's own, else 2).")] = None,
    channels: Annotated[Optional[int], typer.Option(
        min=1, help="Channels per op for the layer table (default: a run's own, else 64).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the canonical genotype JSON only.")] = False,
    draw: Annotated[
        Optional[Path],
        typer.Option("--draw", help="Also draw the cells and the network (Fig. 4) to FILE.svg or .png."),
    ] = None,
    plugin: PluginOption = None,
) -> None:
    """Show a genotype and the derived network layer by layer; --draw draws it."""
    from rich.console import Console
    from rich.table import Table

    from hnas.engine.runs import resolve_network
    from hnas.models.network import build_model

    load_plugins(plugin)
    network = resolve_network(model, scale, channels)
    genotype, scale, channels = network.genotype, network.scale, network.channels
    if draw is not None:
        from hnas.report.draw import save_drawing

        save_drawing(genotype, draw, title=f"{model}  (hash {genotype.hash()})", scale=scale)
        typer.echo(f"drew {model} to {draw}", err=True)
    if as_json:
        print_json(genotype.to_dict())
        return
    console = Console()
    console.print(f"[bold]{model}[/bold]  hash {genotype.hash()}  upsampling cell at layer "
                  f"{genotype.position} of {genotype.layers}")
    for cell_name, cell in (("normal", genotype.normal), ("upsampling", genotype.upsampling)):
        edges = Table(title=f"{cell_name} cell", show_lines=False)
        edges.add_column("node", justify="right")
        edges.add_column("edges (op <- from)")
        for node in range(2, cell.nodes + 2):
            edges.add_row(str(node), ",  ".join(f"{e.op} <- {e.source}" for e in cell.node_edges(node)))
        console.print(edges)

    net = build_model(genotype, scale=scale, channels=channels, global_skip=network.global_skip)  # type: ignore[arg-type]
    skip = ", bicubic skip" if network.global_skip != "none" else ""
    layers = Table(title=f"derived network (x{scale}, {channels} channels{skip})")
    for column in ("layer", "cell", "resolution", "out channels", "parameters"):
        layers.add_column(column, justify="right" if column != "cell" else "left")

    def count(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    layers.add_row("stem", "conv 3x3", "LR", str(net.stem.out_channels), f"{count(net.stem):,}")
    resolution = "LR"
    for index, cell in enumerate(net.cells):
        kind = "upsampling" if index == net.upsample_index else "normal"
        if kind == "upsampling":
            resolution = f"HR (x{scale})"
        layers.add_row(str(index + 1), kind, resolution, str(cell.out_channels), f"{count(cell):,}")
    layers.add_row("tail", "conv 3x3", resolution, "3", f"{count(net.tail):,}")
    layers.add_row("total", "", "", "", f"{count(net):,}", style="bold")
    console.print(layers)


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
