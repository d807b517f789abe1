"""``hnas cost``: MACs, parameters, the paper's FLOPs and (optionally) latency of an architecture."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    scale: Annotated[int | None, typer.Option(
        min=MIN_SCALE, max=MAX_SCALE, help="Upscaling factor (default: a run's own, else 2).")] = None,
    channels: Annotated[int | None, typer.Option(
        min=1, help="Channels per op (64 retrained, 8 while searching; default: a run's own, the "
                    "--latency-table's, else 64).")] = None,
    global_skip: Annotated[GlobalSkipChoice | None, typer.Option(
        "--global-skip", help="Bicubic skip: none or bicubic (default: a run's own, else none).")] = None,
    input_size: Annotated[
        str | None, typer.Option("--input", help="LR input size HxW (default: Table II's 480x480, or the "
                                                 "--latency-table's).")
    ] = None,
    latency: Annotated[bool, typer.Option("--latency", help="Also time forward passes (median ms).")] = False,
    latency_table: Annotated[
        Path | None, typer.Option("--latency-table", help="Also predict latency from this table (hnas latency "
                                                          "build); with --latency, the measured one beside it.")
    ] = None,
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
    table = None
    if latency_table is not None:
        from hnas.costs.latency_table import check_conditions, load_table

        table = load_table(latency_table)
        conditions = table.conditions
        input_size = input_size or f"{conditions.input[0]}x{conditions.input[1]}"
        if channels is None and not Path(model).is_dir():  # a run folder's own width comes first
            channels = conditions.channels
    network = resolve_network(model, scale, channels, global_skip.value if global_skip else None)
    scale, channels = network.scale, network.channels
    if table is not None:
        # What the user states must be what the table holds (one line naming the difference).
        check_conditions(table, f"latency table '{latency_table}'", input=parse_input_size(input_size or ""),
                         channels=channels, scale=scale, device=None if device == "auto" else device,
                         threads=threads)
    size = parse_input_size(input_size or "480x480")
    settings = CostSettings.make(
        input=size, scale=scale, channels=channels, global_skip=network.global_skip, device=device, repeats=repeats,
        threads=threads,
    )
    if latency and table is None:
        err_console().print(f"timing {settings.repeats} forward passes on {resolve_device(device)} ...")
    report = measure(network.genotype, settings, latency=latency and table is None)
    predicted = measured = None
    if table is not None:
        from hnas.costs.latency_table import measure_network, predict_latency
        genotype = network.genotype
        predicted = predict_latency(table, genotype)
        if latency:
            from hnas.utils.memory import keep_freed_memory

            keep_freed_memory()  # as the table was built (hnas.utils.memory)
            err_console().print(f"timing the network under the table's conditions ({table.describe()}) ...")
            measured = measure_network(genotype, table.conditions)
    if as_json:
        summary = report.summary()
        if table is not None:
            summary.update(predicted_latency_ms=predicted, latency_ms=measured, latency_table=str(latency_table),
                           latency_backend=table.conditions.backend, latency_threads=table.conditions.threads,
                           latency_clock=table.conditions.clock)
        print_json(summary)
        return
    skip = ", bicubic skip" if network.global_skip != "none" else ""
    view = Table(title=f"{model}  (x{scale}, C={channels}{skip}, LR input {size[0]}x{size[1]})")
    view.add_column("cost")
    view.add_column("value", justify="right")
    view.add_column("meaning", style="dim")
    kinds = report.macs_by_kind
    view.add_row("MACs", f"{report.macs:,}", f"{report.macs / 1e9:.2f} G multiply-adds per image")
    view.add_row("  convolution", f"{kinds['convolution']:,}", "")
    view.add_row("  transposed convolution", f"{kinds['transposed_convolution']:,}", "")
    view.add_row("  interpolation", f"{kinds['interpolation']:,}", "per output: bilinear 4, nearest 0")
    if kinds["matmul"] or kinds["other"]:
        view.add_row("  other", f"{kinds['matmul'] + kinds['other']:,}", "")
    view.add_row("parameters", f"{report.params:,}", "trainable")
    view.add_row(
        "paper FLOPs (G)",
        f"{report.paper_gflops:.1f}" if report.paper_gflops >= 10 else f"{report.paper_gflops:.3g}",
        f"Table II: conv MACs at {PAPER_INPUT[0]}x{PAPER_INPUT[1]} x 1e-8",
    )
    if report.latency is not None:
        info = report.latency
        view.add_row(
            "latency (ms)",
            f"{info.median_ms:.2f}",
            f"median of {info.repeats}, {info.device}, {info.threads} threads",
        )
    if predicted is not None and table is not None:
        c = table.conditions
        where = f"{c.backend}, {c.device}, {c.threads} threads, {c.clock} clock"
        view.add_row("latency, predicted (ms)", f"{predicted:.2f}", f"from {latency_table} ({where})")
        if measured is not None:
            error = predicted / measured - 1.0
            view.add_row("latency, measured (ms)", f"{measured:.2f}", f"median, same conditions; prediction {error:+.1%}")
    Console().print(view)
