"""``hnas train MODEL --data DIR --scale S``: train a preset or genotype file (library: hnas.train)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hnas.cli.app import app
from hnas.cli.common import (
    MAX_SCALE,
    MIN_SCALE,
    GlobalSkipChoice,
    LossOption,
    MaxRestartsOption,
    OptimizerOption,
    PluginOption,
    PrecisionOption,
    TensorBoardOption,
    bars,
    checked_loss,
    checked_optimizer,
    err_console,
    load_plugins,
    parse_source,
    print_json,
    resume_after_restart,
    tensorboard,
    user_errors,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from hnas.train.config import TrainConfig


def _default_out(model: str, scale: int) -> Path:
    """``runs/<name>-x<scale>``: a preset's name, a genotype file's stem, a run folder's name."""
    path = Path(model)
    name = path.stem if model.endswith((".json", ".toml")) else path.resolve().name if path.is_dir() else model
    return Path("runs") / f"{name}-x{scale}"


class _Bar:
    """Draws ``Trainer.run``'s progress as one rich bar with the latest loss, lr and PSNR."""

    def __init__(self, progress: Progress, start: int, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task("train", total=total, completed=start, loss="", val="")

    def __call__(self, step: int, total: int, info: dict[str, Any]) -> None:
        fields: dict[str, Any] = {"completed": step, "total": total}  # a time budget's total moves
        if info.get("loss") is not None:
            fields["loss"] = f"loss {info['loss']:.3f}  lr {info['lr']:.2e}"
        record = info.get("record") or {}
        if record.get("val_psnr") is not None:
            fields["val"] = f"val {record['val_psnr']:.2f} dB"
        self.progress.update(self.task, **fields)


@app.command("train")
@user_errors
def train_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(
        help="Preset (hnas-a, hnas-b, hnas-c), genotype file (.json/.toml) or run folder (its network: genotype, "
             "scale, width, global skip).")],
    data: Annotated[str, typer.Option("--data", help="Training HR images: a folder, a DIV2K root, builtin:skimage "
                                                     "or a {type, params} source table.")],
    scale: Annotated[int | None, typer.Option(
        "--scale", min=MIN_SCALE, max=MAX_SCALE, help="Upscaling factor (required unless MODEL is a run folder).")] = None,
    channels: Annotated[int | None, typer.Option(
        min=1, help="Channels per op (default: a run's own, else 64 as retrained in the paper).")] = None,
    iters: Annotated[int | None, typer.Option("--iters", min=1, help="Total iterations.")] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="Total epochs of 1000 iterations (default 300, the paper's).")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option("--minutes", min=0.01, help="Train as many iterations as fit in this wall time, "
                                   "validation and saving included (--iters caps them).")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Patches per batch.")] = 16,
    patch: Annotated[int, typer.Option(min=2, help="HR patch side (LR patch = patch / scale).")] = 96,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Adam learning rate (cosine decay to lr/100).")] = 1e-3,
    loss: LossOption = None,
    optimizer: OptimizerOption = None,
    precision: PrecisionOption = None,
    global_skip: Annotated[
        GlobalSkipChoice | None, typer.Option(
            "--global-skip", help="Add the bicubic upscaled input to the output (default: a run's own, else none).")
    ] = None,
    val: Annotated[str | None, typer.Option("--val", help="Validation HR images (folder or builtin:NAME).")] = None,
    val_every: Annotated[int, typer.Option("--val-every", min=1, help="Iterations between validations.")] = 1000,
    log_every: Annotated[int, typer.Option("--log-every", min=1, help="Iterations per train_log.jsonl line.")] = 100,
    save_every: Annotated[int, typer.Option("--save-every", min=1, help="Iterations between resume checkpoints.")] = 1000,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder (default runs/<model>-x<scale>).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out exactly where it stopped.")] = False,
    stop_at: Annotated[
        int | None, typer.Option("--stop-at", min=1, help="Stop (resumably) after this step, e.g. to split a run.")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N.")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Seed for the weights and the patch sequence.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Data-loading processes (0: in the main one).")] = 0,
    nproc: Annotated[
        int,
        typer.Option("--nproc", min=1, help="Training processes on this machine (torchrun + DDP; --batch is the "
                     "global batch, split evenly); 1 trains in this process."),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    fast: Annotated[
        bool,
        typer.Option("--fast/--no-fast", help="Keep freed memory in the process (large maps reused, not "
                     "page-faulted in every step; results identical; the process keeps its peak memory)."),
    ] = True,
    plugin: PluginOption = None,
    with_tensorboard: TensorBoardOption = False,
    max_restarts: MaxRestartsOption = 0,
) -> None:
    """Train a network with L1 loss (or --loss), Adam and cosine decay; writes OUT/model.safetensors.

    OUT/model.safetensors is the best model by validation PSNR when --val is given, else the last;
    OUT/last.safetensors is always the last. Ctrl-C saves a resume checkpoint: continue with --resume.
    Under torchrun (or with --nproc N) the processes train one model data-parallel; rank 0 writes OUT.
    """
    from hnas.engine import distributed as dist
    from hnas.engine.lock import folder_lock
    from hnas.engine.runs import resolve_network
    from hnas.errors import HnasError
    from hnas.train.config import TrainConfig

    load_plugins(plugin)
    if scale is None and not Path(model).is_dir():
        raise HnasError(f"--scale is required for '{model}' (a run folder gives its own)")
    network = resolve_network(model, scale, channels, global_skip.value if global_skip else None)
    genotype, scale = network.genotype, network.scale
    config = TrainConfig.create(
        data=parse_source(data), scale=scale, channels=network.channels, global_skip=network.global_skip,
        iters=iters, epochs=epochs, minutes=minutes,
        batch=batch, patch=patch, lr=lr, loss=checked_loss(loss), optimizer=checked_optimizer(optimizer),
        precision=precision.value if precision else None, val=val, val_every=val_every, log_every=log_every,
        save_every=save_every, device=device, seed=seed, workers=workers,
    )
    out_dir = out or _default_out(model, scale)
    if nproc > 1:  # settings are checked above, so a mistake is one line before any process starts
        dist.shard(config.batch, nproc)
    with folder_lock(out_dir, main=dist.is_main()):  # one process per run folder (hnas.engine.lock)
        if nproc > 1:
            argv = ["train", *dist.argv_from_click(ctx, skip=("nproc", "max_restarts"))]
            raise typer.Exit(code=dist.launch(nproc, argv, max_restarts))
        resume = resume_after_restart(resume, out_dir)
        with dist.session(config.device), dist.quiet_failures(), tensorboard(with_tensorboard, out_dir):
            _train(genotype, config, out_dir, resume, stop_at, as_json, fast)


def _train(genotype: Any, config: TrainConfig, out_dir: Path, resume: bool, stop_at: int | None,
           as_json: bool, fast: bool) -> None:
    """The training itself, in this process (one of several under torchrun: only rank 0 talks)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from hnas.engine import distributed as dist
    from hnas.train.trainer import Trainer

    speak = not dist.silent()
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"),
        TextColumn("{task.fields[val]}"), TimeElapsedColumn(), TimeRemainingColumn(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("always" if speak else "ignore", UserWarning)
        warnings.showwarning = lambda message, *args, **kwargs: err_console().print(f"[yellow]warning[/]: {message}")
        trainer = Trainer(genotype, config, out_dir, resume=resume)
        trainer.fast = fast
        started, first = time.perf_counter(), trainer.step
        try:
            if speak:
                with bars(*columns, transient=False) as progress:
                    summary = trainer.run(stop_at=stop_at,
                                          progress=_Bar(progress, trainer.step, trainer.expected_total()))
            else:
                summary = trainer.run(stop_at=stop_at)
        except KeyboardInterrupt:
            if speak:
                err_console().print(
                    f"interrupted at step {trainer.step} of {trainer.expected_total()}; state saved in {out_dir}; "
                    "continue with the same command plus --resume"
                )
            raise typer.Exit(code=130) from None
    if not dist.is_main():
        return
    if as_json:
        print_json(summary)
        return
    done = "finished" if summary["finished"] else f"stopped at step {summary['step']} (continue with --resume)"
    best = f", best val PSNR {summary['best_val_psnr']:.2f} dB at step {summary['best_step']}" if summary[
        "best_val_psnr"] is not None else ""
    seconds = time.perf_counter() - started
    typer.echo(f"{done}: {summary['step']}/{summary['total']} iterations ({summary['step'] - first} in {seconds:.0f} s){best}")
    typer.echo(f"model: {out_dir / summary['model']}")
