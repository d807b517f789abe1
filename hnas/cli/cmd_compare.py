"""``hnas compare MEMBER... --data TRAIN``: retrain architectures at equal budget and compare them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hnas.cli.app import app
from hnas.cli.common import (
    MAX_SCALE,
    MIN_SCALE,
    LossOption,
    MaxRestartsOption,
    OptimizerOption,
    PluginOption,
    PrecisionOption,
    StageBars,
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


def _parse_size(text: str) -> tuple[int, int]:
    from hnas.costs import parse_input_size

    return parse_input_size(text)


@app.command("compare")
@user_errors
def compare_command(
    ctx: typer.Context,
    members: Annotated[list[str], typer.Argument(
        metavar="MEMBER...",
        help="Run folders, genotype files, presets (hnas-a, baseline-plain...), PRESET:layers=N, "
             "PRESET@MEMBER (a baseline sized to MEMBER's MACs), random:K, random:K@MEMBER.")],
    data: Annotated[str, typer.Option("--data", help="Training HR images: a folder, a DIV2K root or builtin:NAME.")],
    eval_sets: Annotated[list[str] | None, typer.Option(
        "--eval", help="Evaluation set (repeatable; default builtin:set5 and builtin:set14).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Comparison folder.")] = Path("runs/compare"),
    iters: Annotated[int, typer.Option("--iters", min=1, help="Training iterations per member and seed.")] = 1000,
    minutes: Annotated[float | None, typer.Option(
        "--minutes", min=0.01, help="Equal wall time instead: each member trains as many iterations as fit in "
                                    "this many minutes (--iters caps them).")] = None,
    channels: Annotated[int, typer.Option("--channels", min=1, help="Channels per op.")] = 16,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds per member (F..F+S-1).")] = 2,
    first_seed: Annotated[int, typer.Option(
        "--first-seed", min=0, help="F: the first seed, so that more seeds can be added to members trained "
                                    "before (another --out, the same recipe).")] = 0,
    scale: Annotated[int, typer.Option("--scale", min=MIN_SCALE, max=MAX_SCALE, help="Upscaling factor.")] = 2,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Patches per batch.")] = 16,
    patch: Annotated[int, typer.Option("--patch", min=8, help="HR patch side.")] = 64,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Adam learning rate (cosine to lr/100).")] = 1e-3,
    loss: LossOption = None,
    optimizer: OptimizerOption = None,
    precision: PrecisionOption = None,
    global_skip: Annotated[str, typer.Option("--global-skip", help="none or bicubic.")] = "bicubic",
    space: Annotated[Path | None, typer.Option("--space", help="Spec whose search space random: members "
                                                                "are drawn from (default: the first run member's).")] = None,
    shared_weights: Annotated[Path | None, typer.Option(
        "--shared-weights", help="A finished hnas run: score every member with its supernet too and report "
                                 "Kendall tau / Spearman rho against the retrained PSNR.")] = None,
    cost_input: Annotated[str, typer.Option("--cost-input", help="LR size MACs are counted at.")] = "480x480",
    latency_input: Annotated[str, typer.Option("--latency-input", help="LR size latency is measured at.")] = "120x120",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random: members' draws.")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N.")] = "auto",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the comparison in --out.")] = False,
    nproc: Annotated[int, typer.Option("--nproc", min=1, help="Processes on this machine; whole members are "
                                                                "spread over them.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print compare.json on stdout when done.")] = False,
    plugin: PluginOption = None,
    with_tensorboard: TensorBoardOption = False,
    max_restarts: MaxRestartsOption = 0,
) -> None:
    """Retrain every member with one recipe (iterations, width, batch, seeds) and compare PSNR/SSIM
    on the evaluation sets, MACs, parameters and latency: a table, OUT/compare.json, OUT/compare.png
    (PSNR against MACs) and OUT/compare-latency.png (against measured latency).

    Under torchrun (or with --nproc N) whole members are spread over the processes.
    """
    from hnas.compare import Recipe, resolve_members, run_compare
    from hnas.compare.members import Space, is_run_folder, space_of_run
    from hnas.engine import distributed as dist
    from hnas.engine.lock import folder_lock
    from hnas.search.spec_loader import load_spec
    from hnas.utils.memory import keep_freed_memory

    load_plugins(plugin)
    recipe = Recipe(
        data=parse_source(data), eval=eval_sets or ["builtin:set5", "builtin:set14"], scale=scale, channels=channels, iters=iters,
        minutes=minutes,
        batch=batch, patch=patch, lr=lr, loss=checked_loss(loss), optimizer=checked_optimizer(optimizer),
        precision=precision.value if precision else None, global_skip=global_skip, seeds=list(range(first_seed, first_seed + seeds)),
        cost_input=_parse_size(cost_input), latency_input=_parse_size(latency_input), device=device,
    )
    search_space = None
    if space is not None:
        spec = load_spec(space, plugins=plugin)
        search_space = Space.from_spec(spec)
        recipe = recipe.model_copy(update={"op_params": spec.space.op_params()})
    else:
        runs = [Path(m) for m in members if is_run_folder(Path(m))]
        if runs:
            search_space = space_of_run(runs[0])
    resolved = resolve_members(members, space=search_space, seed=seed, cost_settings=recipe.cost_settings())
    with folder_lock(out, main=dist.is_main()):  # one process per run folder (hnas.engine.lock)
        if nproc > 1:
            argv = ["compare", *dist.argv_from_click(ctx, skip=("nproc", "max_restarts"))]
            raise typer.Exit(code=dist.launch(nproc, argv, max_restarts))
        resume = resume_after_restart(resume, out)
        keep_freed_memory()  # this process is the comparison's own: reuse freed memory (hnas.utils.memory)
        with dist.session(recipe.device), dist.quiet_failures(), tensorboard(with_tensorboard, out):
            if dist.silent():
                report = run_compare(recipe, resolved, out, resume=resume, shared_weights=shared_weights)
            else:
                from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

                columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
                with bars(*columns, transient=True) as progress:
                    report = run_compare(recipe, resolved, out, resume=resume, shared_weights=shared_weights,
                                         progress=StageBars(progress))
    if not dist.is_main():
        return
    if as_json:
        print_json(report)
        return
    print_table(report)
    err_console().print(f"[bold]done[/bold]: {out}/compare.json, {out}/compare.png, {out}/compare-latency.png")


def print_table(report: dict[str, Any]) -> None:
    """The comparison for people: one row per member, mean +- spread over seeds per set."""
    from rich.console import Console
    from rich.table import Table

    from hnas.compare.plot import budget

    several = len(report["seeds"]) > 1  # one seed has no spread to show
    shared = any(row["shared_weight_score"] is not None for row in report["members"])
    table = Table(title=f"retrained {budget(report['recipe'])} at {report['recipe']['channels']} "
                        f"channels, seed{'s' if several else ''} {', '.join(map(str, report['seeds']))}")
    longest = max(len(row["name"]) for row in report["members"])
    table.add_column("member", no_wrap=True, min_width=longest)  # a cut name could be another member's
    table.add_column("kind", overflow="fold")
    for column in ("GMACs", "params", "latency ms"):  # in a narrow terminal numbers wrap, never end in "..."
        table.add_column(column, justify="right", overflow="fold")
    for name in report["eval_sets"]:
        table.add_column(f"{name} PSNR{' ± sd' if several else ''} / SSIM", justify="right", overflow="fold")
    if shared:
        table.add_column("shared score", justify="right", overflow="fold")
    for row in report["members"]:
        sets = []
        for name in report["eval_sets"]:
            stats = row["sets"][name]
            spread = f" ± {stats['psnr_std']:.3f}" if several else ""
            sets.append(f"{stats['psnr_mean']:.3f}{spread} / {stats['ssim_mean']:.4f}")
        score = [] if not shared else ["" if row["shared_weight_score"] is None else f"{row['shared_weight_score']:.3f}"]
        table.add_row(row["name"], row["kind"], f"{row['macs'] / 1e9:.2f}", f"{row['params']:,}",
                      f"{row['latency_ms']:.1f}", *sets, *score)
    Console().print(table)
    for name, corr in (report.get("rank_correlation") or {}).items():
        tau = "n/a" if corr["kendall_tau"] is None else f"{corr['kendall_tau']:+.3f}"
        rho = "n/a" if corr["spearman_rho"] is None else f"{corr['spearman_rho']:+.3f}"
        typer.echo(f"{name}: Kendall tau {tau}, Spearman rho {rho} between shared-weight scores and retrained "
                   f"PSNR ({corr['n']} members)")
