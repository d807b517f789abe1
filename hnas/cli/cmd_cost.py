"""``hnas cost``: MACs, parameters, the paper's FLOPs and (optionally) latency of an architecture."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hnas.cli.app import app
from hnas.cli.common import (
    MAX_SCALE,
    MIN_SCALE,
    GlobalSkipChoice,
    PluginOption,
    err_console,
    load_plugins,
    print_json,
    user_errors,
)


@app.command("cost")
@user_errors
def cost_command(
    model: Annotated[str, typer.Argument(help="Preset (hnas-a), genotype file (.json/.toml) or run folder.")],
    scale: Annotated[Optional[int], typer.Option(
        min=MIN_SCALE, max=MAX_SCALE, help="Upscaling factor (default: a run's own, else 2).")] = None,
    channels: Annotated[Optional[int], typer.Option(
        min=1, help="Channels per op (64 retrained, 8 while searching; default: a run's own, else 64).")] = None,
    global_skip: Annotated[Optional[GlobalSkipChoice], typer.Option(
        "--global-skip", help="Bicubic skip: none or bicubic (default: a run's own, else none).")] = None,
    input_size: Annotated[
        str, typer.Option("--input", help="LR input size HxW (Table II uses 480x480).")
    ] = "480x480",
    latency: Annotated[bool, typer.Option("--latency", help="Also time forward passes (median ms).")] = False,
    device: Annotated[str, typer.Option(help="Device for --latency: auto, cpu, cuda, cuda:N.")] = "auto",
    repeats: Annotated[int, typer.Option(min=1, help="Timed forward passes for --latency.")] = 20,
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads for --latency (default: torch's setting).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Count multiply-adds (every convolution, transposed ones and interpolation included) and
    parameters; print the paper's Table II convention beside them. See docs/costs.md."""
    from rich.console import Console
    from rich.table import Table

    from hnas.costs import PAPER_INPUT, CostSettings, measure, parse_input_size
    from hnas.engine.runs import resolve_network
    from hnas.utils.device import resolve_device

    load_plugins(plugin)
    size = parse_input_size(input_size)
    network = resolve_network(model, scale, channels, global_skip.value if global_skip else None)
    scale, channels = network.scale, network.channels
    settings = CostSettings.make(
        input=size, scale=scale, channels=channels, global_skip=network.global_skip, device=device, repeats=repeats,
        threads=threads,
    )
    if latency:
        err_console().print(f"timing {settings.repeats} forward passes on {resolve_device(device)} ...")
    report = measure(network.genotype, settings, latency=latency)
    if as_json:
        print_json(report.summary())
        return
    skip = ", bicubic skip" if network.global_skip != "none" else ""
    table = Table(title=f"{model}  (x{scale}, C={channels}{skip}, LR input {size[0]}x{size[1]})")
    table.add_column("cost")
    table.add_column("value", justify="right")
    table.add_column("meaning", style="dim")
    kinds = report.macs_by_kind
    table.add_row("MACs", f"{report.macs:,}", f"{report.macs / 1e9:.2f} G multiply-adds per image")
    table.add_row("  convolution", f"{kinds['convolution']:,}", "")
    table.add_row("  transposed convolution", f"{kinds['transposed_convolution']:,}", "")
    table.add_row("  interpolation", f"{kinds['interpolation']:,}", "per output: bilinear 4, nearest 0")
    if kinds["matmul"] or kinds["other"]:
        table.add_row("  other", f"{kinds['matmul'] + kinds['other']:,}", "")
    table.add_row("parameters", f"{report.params:,}", "trainable")
    table.add_row(
        "paper FLOPs (G)",
        f"{report.paper_gflops:.1f}" if report.paper_gflops >= 10 else f"{report.paper_gflops:.3g}",
        f"Table II: conv MACs at {PAPER_INPUT[0]}x{PAPER_INPUT[1]} x 1e-8",
    )
    if report.latency is not None:
        info = report.latency
        table.add_row(
            "latency (ms)",
            f"{info.median_ms:.2f}",
            f"median of {info.repeats}, {info.device}, {info.threads} threads",
        )
    Console().print(table)
