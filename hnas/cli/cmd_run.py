"""``hnas run SPEC.toml``: the whole HNAS experiment (search, derive, retrain, evaluate)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hnas.cli.app import app
from hnas.cli.common import err_console, print_json, user_errors

if TYPE_CHECKING:
    from rich.progress import Progress

    from hnas.search.spec import Spec


class StageBars:
    """One rich progress bar per stage, on stderr; ``__call__`` matches ``pipeline.Progress``."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, completed: float, total: float, message: str) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=completed, total=total,
                             description=f"{stage:<8} {message}")


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
) -> None:
    """Search an architecture, retrain it and evaluate it, as the spec says.

    Under torchrun (or with --nproc N) the processes share the work; rank 0 writes the run directory.
    """
    from hnas import distributed as dist
    from hnas.search.spec import load_spec

    spec = load_spec(spec_path, overrides or [])
    out_dir = out or Path("runs") / spec.name
    if nproc > 1:  # the spec is checked above, so a mistake is one line before any process starts
        dist.shard(spec.data.batch, nproc)
        if spec.retrain.enabled:
            dist.shard(spec.retrain.batch, nproc)
        raise typer.Exit(code=dist.launch(nproc, ["run", *dist.argv_from_click(ctx, skip=("nproc",))]))
    with dist.session(device or spec.device), dist.quiet_failures():
        _run(spec, out_dir, device, resume, as_json)


def _run(spec: Spec, out_dir: Path, device: str | None, resume: bool, as_json: bool) -> None:
    """The experiment in this process (one of several under torchrun: only rank 0 talks)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hnas import distributed as dist
    from hnas.search.pipeline import run_spec

    if dist.silent():
        results = run_spec(spec, out_dir, device, resume)
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err_console, transient=False) as progress:
            results = run_spec(spec, out_dir, device, resume, StageBars(progress))
    if not dist.is_main():
        return
    if as_json:
        print_json(results)
        return
    err_console.print(f"[bold]done[/bold]: results in {out_dir}/results.json")
    if "runs" not in results:
        quality = (f"PSNR {results['psnr']:.2f} dB, SSIM {results['ssim']:.4f}" if results["psnr"] is not None
                   else f"search PSNR {results['search_psnr']:.2f} dB (not retrained)")
        typer.echo(
            f"genotype {results['hash']} (upsampling at layer {results['position']}): {quality}, "
            f"{results['macs'] / 1e9:.2f} GMACs, {results['params']:,} parameters"
        )
    else:
        for label, item in results["runs"].items():
            psnr = "not retrained" if item["psnr"] is None else f"PSNR {item['psnr']:.2f} dB"
            typer.echo(f"{label}: {item['hash']} {psnr}, {item['macs'] / 1e9:.2f} GMACs")
