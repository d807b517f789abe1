"""``hnas list`` and ``hnas show``: look at the registries and at an architecture."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from hnas.cli.app import app
from hnas.cli.common import print_json, user_errors
from hnas.registry import ALL_REGISTRIES

Kind = Enum("Kind", {name: name for name in ALL_REGISTRIES}, type=str)  # type: ignore[misc]


@app.command("list")
@user_errors
def list_command(
    kind: Annotated[Kind, typer.Argument(help="Which registry to list.")] = Kind["ops"],  # type: ignore[assignment]
    pattern: Annotated[str, typer.Option("--pattern", "-p", help="Shell wildcard, e.g. '*conv*'.")] = "*",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of names.")] = False,
) -> None:
    """List what a registry holds (ops, upsampling, cells, controllers, rewards, costs, presets)."""
    from rich.console import Console
    from rich.table import Table

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
    model: Annotated[str, typer.Argument(help="Preset name (hnas-a) or genotype file (.json/.toml).")],
    scale: Annotated[int, typer.Option(min=1, help="Upscaling factor for the layer table.")] = 2,
    channels: Annotated[int, typer.Option(min=1, help="Channels per op for the layer table.")] = 64,
    as_json: Annotated[bool, typer.Option("--json", help="Print the canonical genotype JSON only.")] = False,
) -> None:
    """Show a genotype and the derived network layer by layer."""
    from rich.console import Console
    from rich.table import Table

    from hnas.models.network import build_model
    from hnas.spaces.resolve import resolve_genotype

    genotype = resolve_genotype(model)
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

    net = build_model(genotype, scale=scale, channels=channels)
    layers = Table(title=f"derived network (x{scale}, {channels} channels)")
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
