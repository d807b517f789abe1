"""``hnas latency build|show``: the per-op latency table a hardware-aware search prices networks by."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hnas.cli.app import app
from hnas.cli.common import PluginOption, load_plugins, print_json, user_errors

latency_app = typer.Typer(
    name="latency",
    help="Per-op latency tables: build one for a device, show what one holds (docs/costs.md).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(latency_app, name="latency")


def _ops(text: str | None, registry_name: str) -> tuple[str, ...]:
    from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS

    registry = NORMAL_OPS if registry_name == "normal" else UPSAMPLING_OPS
    if not text:
        return tuple(registry.names())
    names = [part.strip() for part in text.split(",") if part.strip()]
    return tuple(registry.canonical(name) for name in names)


@latency_app.command("build")
@user_errors
def build_command(
    out: Annotated[Path, typer.Option("--out", help="Table file to write (JSON, written atomically).")],
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N (onnxruntime: cpu).")] = "cpu",
    threads: Annotated[int, typer.Option(min=1, help="CPU threads the table holds for (torch / ORT intra-op).")] = 1,
    backend: Annotated[str, typer.Option(help="eager (PyTorch) or onnxruntime (CPU execution provider).")] = "eager",
    input_size: Annotated[str, typer.Option("--input", help="LR input size HxW the network runs on.")] = "480x480",
    channels: Annotated[int, typer.Option(min=1, help="Channels per op (C) of the networks to price.")] = 16,
    scale: Annotated[int, typer.Option(min=1, help="Upscaling factor.")] = 2,
    nodes: Annotated[int, typer.Option(min=1, help="Intermediate nodes per cell.")] = 4,
    normal_ops: Annotated[
        str | None, typer.Option("--normal-ops", help="Comma-separated normal ops (default: every registered one).")
    ] = None,
    upsampling_ops: Annotated[
        str | None, typer.Option("--upsampling-ops", help="Comma-separated upsampling ops (default: all).")
    ] = None,
    train: Annotated[bool, typer.Option("--train", help="Also time forward + backward (eager only).")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Images per timed call: 1 prices inference; the retraining's "
                                                   "batch, with --input its LR patch, prices its training step.")] = 1,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (autocast, eager only: as retrain.precision "
                                                "trains).")] = "fp32",
    clock: Annotated[str, typer.Option(help="wall (latency) or cpu (the thread's CPU time, --threads 1: for a busy machine).")] = "wall",
    statistic: Annotated[str, typer.Option(help="median of the timed calls, or min (least disturbed on a busy "
                                                "machine).")] = "median",
    calibration_cells: Annotated[int, typer.Option(min=1, help="Random cells per slot for the cell overhead.")] = 8,
    calibration_networks: Annotated[
        int, typer.Option(min=0, help="Random whole networks for the network factor (0: none).")
    ] = 4,
    calibration_layers: Annotated[int, typer.Option(min=1, help="Layers of those networks.")] = 6,
    seed: Annotated[int, typer.Option(help="Seed of the weights, inputs and calibration cells.")] = 0,
    time_per_piece: Annotated[
        float, typer.Option(min=0.0, help="Seconds of timed calls per piece (at least 5 calls; the median counts).")
    ] = 0.3,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Time every op of the space at the shapes it runs at, and the per-cell overhead, once.

    Example: hnas latency build --device cpu --threads 2 --input 480x480 --channels 16 --out table.json
    """
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from hnas.cli.common import bars, err_console
    from hnas.costs.latency_table import (
        LatencyTableError,
        TableConditions,
        Timer,
        build_table,
        write_table,
    )
    from hnas.costs.settings import parse_input_size
    from hnas.utils.memory import keep_freed_memory

    load_plugins(plugin)
    # This process is the build's own: reuse freed memory as hnas upscale/eval/train do, so fresh
    # maps do not cost a page fault per 4 KB page in every timed call (hnas.utils.memory).
    kept = keep_freed_memory()
    # the timer checks backend, clock, statistic, precision and thread count, one line each
    timer = Timer(backend, device, threads, budget_s=time_per_piece, clock=clock,  # type: ignore[arg-type]
                  statistic=statistic, precision=precision)
    if backend == "onnxruntime" and train:
        raise LatencyTableError("the onnxruntime backend times inference only; drop --train")
    conditions = TableConditions(
        device=device, backend=backend, threads=threads, input=parse_input_size(input_size), scale=scale,  # type: ignore[arg-type]
        channels=channels, nodes=nodes, normal_ops=_ops(normal_ops, "normal"),
        upsampling_ops=_ops(upsampling_ops, "upsampling"), train=train, clock=clock,  # type: ignore[arg-type]
        statistic=statistic, batch=batch, precision=precision,  # type: ignore[arg-type]
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with bars(*columns, transient=True) as progress:
        task = progress.add_task("latency", total=None)

        def report(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=f"{what[:48]:<48}")

        table = build_table(conditions, calibration_cells=calibration_cells, calibration_networks=calibration_networks,
                            calibration_layers=calibration_layers, seed=seed, progress=report, timer=timer,
                            kept_freed_memory=kept)
    write_table(table, out)
    summary = {
        "out": str(out),
        "conditions": table.conditions.model_dump(mode="json"),
        "entries": len(table.forward),
        "overhead_ms": table.forward_overhead,
        "network_factor": table.forward_factor,
        "build_seconds": table.build_seconds,
        "environment": table.environment,
    }
    if as_json:
        print_json(summary)
        return
    err_console().print(f"wrote {out}: {len(table.forward)} pieces, {table.describe()}, "
                        f"built in {table.build_seconds:.0f} s")


@latency_app.command("show")
@user_errors
def show_command(
    table_path: Annotated[Path, typer.Argument(help="A table written by 'hnas latency build'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole table as JSON.")] = False,
) -> None:
    """Print what a table was measured under and its slowest pieces."""
    from rich.console import Console
    from rich.table import Table

    from hnas.costs.latency_table import load_table

    table = load_table(table_path)
    if as_json:
        print_json(table.model_dump(mode="json"))
        return
    view = Table(title=f"{table_path}: {table.describe()}")
    view.add_column("piece")
    view.add_column("forward ms", justify="right")
    if table.conditions.train:
        view.add_column("fwd+bwd ms", justify="right")
    for key, value in sorted(table.forward.items(), key=lambda item: -item[1]):
        row = [key, f"{value:.3f}"]
        if table.conditions.train:
            row.append(f"{table.train.get(key, float('nan')):.3f}")
        view.add_row(*row)
    for slot, value in table.forward_overhead.items():
        row = [f"overhead/{slot} (per cell)", f"{value:+.3f}"]
        if table.conditions.train:
            row.append(f"{table.train_overhead.get(slot, float('nan')):+.3f}")
        view.add_row(*row)
    factor = f"x {table.forward_factor:.3f}" + (f" / x {table.train_factor:.3f}" if table.conditions.train else "")
    view.caption = f"network factor (measured / pieces + overheads): {factor}; built in {table.build_seconds:.0f} s"
    Console().print(view)
