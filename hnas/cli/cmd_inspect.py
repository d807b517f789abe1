"""``hnas list`` and ``hnas show``: look at the registries and at an architecture."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from hnas.cli.app import app
from hnas.cli.common import MAX_SCALE, MIN_SCALE, PluginOption, load_plugins, print_json, user_errors
from hnas.registry import ALL_REGISTRIES

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
