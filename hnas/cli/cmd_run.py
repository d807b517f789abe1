"""``hnas run SPEC.toml``: the whole HNAS experiment (search, derive, retrain, evaluate)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hnas.cli.app import app
from hnas.cli.common import (
    MaxRestartsOption,
    PluginOption,
    StageBars,
    TensorBoardOption,
    bars,
    err_console,
    print_json,
    resume_after_restart,
    tensorboard,
    user_errors,
)

if TYPE_CHECKING:
    from hnas.search.spec import Spec


@app.command("run")
@user_errors
def run_command(
    ctx: typer.Context,
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="Experiment spec (TOML).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default runs/<name>).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out where it stopped.")] = False,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:N (default: the spec's).")] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a spec key, e.g. --set reward.lambda=0.2.")
    ] = None,
    nproc: Annotated[
        int,
        typer.Option("--nproc", min=1, help="Processes on this machine (torchrun + DDP: data-parallel weight "
                     "steps and retraining); 1 runs in this process."),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print results.json on stdout when done.")] = False,
    plugin: PluginOption = None,
    with_tensorboard: TensorBoardOption = False,
    max_restarts: MaxRestartsOption = 0,
) -> None:
    """Search an architecture, retrain it and evaluate it, as the spec says; writes OUT/report.html.

    The spec, its components and its data are checked before the run directory is created. Under
    torchrun (or with --nproc N) the processes share the work; rank 0 writes the run directory.
    """
    from hnas.engine import distributed as dist
    from hnas.engine.lock import folder_lock
    from hnas.search.spec_loader import load_spec

    spec = load_spec(spec_path, overrides or [], plugins=plugin)
    out_dir = out or Path("runs") / spec.name
    if nproc > 1:  # the spec is checked above, so a mistake is one line before any process starts
        dist.shard(spec.data.batch, nproc)
        if spec.retrain.enabled:
            dist.shard(spec.retrain.batch, nproc)
    processes = nproc if nproc > 1 else int(os.environ.get("WORLD_SIZE", "1"))
    if spec.strategy is not None and processes > 1:
        _check_strategy_processes(spec, processes)
    with folder_lock(out_dir, main=dist.is_main()):  # one process per run folder (hnas.engine.lock)
        if nproc > 1:
            argv = ["run", *dist.argv_from_click(ctx, skip=("nproc", "max_restarts"))]
            raise typer.Exit(code=dist.launch(nproc, argv, max_restarts))
        resume = resume_after_restart(resume, out_dir)
        with dist.session(device or spec.device), dist.quiet_failures(), tensorboard(with_tensorboard, out_dir):
            _run(spec, out_dir, device, resume, as_json)


def _check_strategy_processes(spec: Spec, processes: int) -> None:
    """A strategy run cannot use more processes than candidates it trains at once: one line."""
    from hnas.search.components import build_components, build_strategy
    from hnas.strategies.base import check_processes

    assert spec.strategy is not None
    check_processes(build_strategy(spec, build_components(spec)), spec.strategy.type, processes)


def _run(spec: Spec, out_dir: Path, device: str | None, resume: bool, as_json: bool) -> None:
    """The experiment in this process (one of several under torchrun: only rank 0 talks)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from hnas.engine import distributed as dist
    from hnas.engine.budget import command_started
    from hnas.search.checks import check_data
    from hnas.search.pipeline import run_spec
    from hnas.utils.memory import keep_freed_memory

    started = command_started()  # budget_minutes counts from here (the typed command's start)
    keep_freed_memory()  # this process is the run's own: reuse freed memory (hnas.utils.memory)

    dist.on_main(check_data, spec)  # before any progress bar: a data mistake is one line, nothing written
    if dist.silent():
        results = run_spec(spec, out_dir, device, resume, started=started, data_checked=True)
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with bars(*columns, transient=False) as progress:
            results = run_spec(spec, out_dir, device, resume, StageBars(progress), started, data_checked=True)
    if not dist.is_main():
        return
    if as_json:
        print_json(results)
        return
    err_console().print(f"[bold]done[/bold]: results in {out_dir}/results.json")
    if "runs" not in results:
        typer.echo(
            f"genotype {results['hash']} (upsampling at layer {results['position']}): "
            f"{quality(results)}, {results['macs'] / 1e9:.2f} GMACs, {results['params']:,} parameters"
        )
    else:
        for label, item in results["runs"].items():
            typer.echo(f"{label}: {item['hash']} {quality(item)}, {item['macs'] / 1e9:.2f} GMACs")


def quality(results: dict[str, Any]) -> str:
    """``Set5 37.12 dB / 0.9551, Set14 ...``, or the search score when nothing was retrained."""
    evaluation = results.get("evaluation") or {}
    if not evaluation:
        search = results.get("search") or {}
        text = f"search score {search.get('psnr', float('nan')):.2f} dB"
        if "proxy" in search:
            text += f", {search['proxy']['psnr']:.2f} dB after {search['proxy']['iters']} stand-alone steps"
        return text + " (not retrained)"
    return ", ".join(f"{name} {v['psnr']:.2f} dB / {v['ssim']:.4f}" for name, v in evaluation.items())
