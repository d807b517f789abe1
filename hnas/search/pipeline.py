"""``hnas run``: search -> derive -> retrain -> evaluate, one stage after another, resumable.

Before anything is written, the spec's components are built (:func:`hnas.search.spec_loader.check_spec`)
and its data checked (:func:`hnas.search.checks.check_data`: splits that cannot leak, evaluation
images nobody trained on), so a user mistake is one line and the corrected command just works.
Then each stage writes its files through the run folder (:class:`hnas.engine.folder.RunFolder`)
and records itself in ``state.json``; ``--resume`` skips finished stages and continues an
unfinished one from its last saved state. Under torchrun every rank runs this same sequence, so
the collectives line up; the folder is rank 0's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from hnas import __version__
from hnas.data import evaluate_sets
from hnas.engine.folder import RunFolder
from hnas.engine.processes import Processes
from hnas.engine.runfiles import ARCHIVE_FILE, PLAN_FILE, STRATEGY_FILE
from hnas.report.html import write_report
from hnas.search.algorithm import LOG_FILE, Search, deciding_reward
from hnas.search.checks import check_data, source_name
from hnas.search.components import build_components, build_strategy
from hnas.search.data import SearchData
from hnas.search.report import plot_pareto
from hnas.search.scoring import Scorer
from hnas.search.spec import Spec
from hnas.search.supernet import SuperNet
from hnas.spaces.genotype import Genotype

STAGES = ("search", "derive", "retrain", "evaluate", "done")

Progress = Callable[[str, float, float, str], None]
"""progress(stage, completed, total, message) - the CLI draws it as a rich progress bar."""


def _quiet(stage: str, completed: float, total: float, message: str) -> None:
    return None


def run_folder(out: Path) -> RunFolder:
    return RunFolder(out, "spec.json", STAGES)


def build_search(spec: Spec, folder: RunFolder, device: torch.device) -> Search:
    """Assemble data, scorer, supernet and controller from a spec (also used by the benchmarks)."""
    parts = build_components(spec)
    data = SearchData(spec)
    scorer = Scorer(data.score_lr, data.score_hr, spec.space.scale, parts.cost, parts.cost_settings, parts.reward,
                    device)
    space = spec.space
    with torch.random.fork_rng(devices=[]):  # initialise from the seed without touching the caller's generator
        torch.manual_seed(spec.seed)
        supernet = SuperNet(
            parts.normal_ops, parts.upsampling_ops, layers=space.layers, nodes=space.nodes,
            channels=space.channels, scale=space.scale, global_skip=space.global_skip,
            normal_cell=parts.normal_cell, upsampling_cell=parts.upsampling_cell, op_params=parts.op_params,
        )
        controller = parts.new_controller(spec)
    return Search(spec, folder, device, data, scorer, supernet, controller)


def run_search(spec: Spec, folder: RunFolder, device: torch.device, progress: Progress) -> dict[str, Any]:
    """Search and derive; returns the derivation record of the chosen genotype."""
    if folder.done("derive"):
        return folder.read_json("derived.json")  # type: ignore[no-any-return]
    if spec.strategy is not None:
        return run_strategy(spec, folder, device, progress)
    search = build_search(spec, folder, device)
    search.resume()
    # a damaged last search state falls back to the one before (RunFolder.load_state): the
    # epochs after it are searched again, even if the folder says the search was done
    if not folder.done("search") or search.epoch < spec.search.epochs:
        started = time.perf_counter()
        total = spec.search.epochs
        progress("search", search.epoch, total, "")

        def on_epoch(summary: dict[str, Any]) -> None:
            if summary["phase"] == "warmup":
                message = f"warm-up  loss {summary['loss'] or float('nan'):.3f}"
            else:
                message = f"reward {summary['reward_mean']:.3f}  gain {summary['psnr_gain_mean']:+.3f} dB"
                if summary["entropy"] is not None:  # None: a controller without a policy (evolution)
                    message += f"  entropy {summary['entropy']:.1f}"
            progress("search", summary["epoch"], total, message)

        search.run(on_epoch)
        folder.timing("search", time.perf_counter() - started)
        folder.mark("derive")
    progress("derive", 0, 1, "scoring candidates")
    began = time.perf_counter()
    best = _derive(search, folder, progress)  # every rank scores its share of the candidates
    folder.timing("derive", time.perf_counter() - began)
    progress("derive", 1, 1, f"chose {best['hash']} (reward {deciding_reward(best):.3f})")
    folder.mark("retrain")
    return best


def run_strategy(spec: Spec, folder: RunFolder, device: torch.device, progress: Progress) -> dict[str, Any]:
    """``[strategy]``: ask/tell over stand-alone trainings (:mod:`hnas.strategies`) in place of
    Algorithm 1 and derivation; the pick is written as derivation's would be. Every rank trains its
    share of each round's candidates; rank 0 writes the files."""
    from hnas.search.proxy import ProxyTrainer
    from hnas.strategies.loop import StrategyRun

    assert spec.strategy is not None
    parts = build_components(spec)
    data = SearchData(spec)
    scorer = Scorer(data.score_lr, data.score_hr, spec.space.scale, parts.cost, parts.cost_settings, parts.reward,
                    device)
    strategy = build_strategy(spec, parts)
    folder.write_json(PLAN_FILE, {"type": spec.strategy.type, "budget_steps": spec.strategy.budget_steps,
                                  "band": spec.strategy.band, "horizon": strategy.horizon,
                                  "processes": Processes.current().world, "threads": spec.strategy.threads,
                                  **strategy.describe()})
    runner = StrategyRun(strategy, ProxyTrainer(spec, data.proxy, scorer, device), scorer, folder,
                         threads=spec.strategy.threads)
    budget = spec.strategy.budget_steps
    progress("search", 0, budget, spec.strategy.type)
    began = time.perf_counter()
    pick = runner.run(lambda spent, total, message: progress("search", spent, total, message))
    best = {**pick, "stage": "derive", "how": spec.strategy.type,
            "proxy": {k: pick[k] for k in ("psnr", "psnr_gain", "cost", "macs", "reward")} | {"iters": pick["steps"]},
            "scored_on": scorer.describe()}
    folder.by_writer(lambda: Genotype.from_data(best["genotype"]).save(folder / "genotype.json"))
    folder.write_json("derived.json", best)
    folder.timing("search", time.perf_counter() - began)
    progress("search", budget, budget, f"chose {best['hash']} (reward {best['reward']:.3f}, {best['steps']} steps)")
    folder.mark("retrain")
    return best


def _derive(search: Search, folder: RunFolder, progress: Progress) -> dict[str, Any]:
    """Derivation and its files: candidates to the archive, the best to genotype.json/derived.json
    (rank 0 writes them)."""
    derived = search.derive(lambda done, total: progress("derive", done, total, f"candidate {done} of {total}"))
    for record in derived["candidates"]:
        folder.append(ARCHIVE_FILE, record)
    best: dict[str, Any] = derived["best"]
    best["scored_on"] = search.scorer.describe()
    folder.by_writer(lambda: Genotype.from_data(best["genotype"]).save(folder / "genotype.json"))
    folder.write_json("derived.json", best)
    return best


def run_evaluate(spec: Spec, folder: RunFolder, device: torch.device, progress: Progress) -> dict[str, Any]:
    """Score the retrained model on the spec's evaluation sets (checked: never trained on)."""
    from hnas.checkpoint import load_model

    model = load_model(folder / "model.safetensors", device=device)
    scores = evaluate_sets(model, spec.evaluate.data, spec.space.scale, device,
                           lambda done, total, label: progress("evaluate", done, total, label))
    # the shape `hnas eval --json` prints: the means and every image's own scores
    results = {label: {"psnr": s["psnr"], "ssim": s["ssim"], "images": s["images"]} for label, s in scores.items()}
    progress("evaluate", len(spec.evaluate.data), len(spec.evaluate.data), "")
    return results


def write_results(spec: Spec, folder: RunFolder, derived: dict[str, Any], evaluation: dict[str, Any],
                  trained: dict[str, Any]) -> dict[str, Any]:
    """``results.json`` (every number names its images) and ``pareto.png``."""
    from hnas.costs import measure

    genotype = Genotype.from_data(derived["genotype"])
    width = spec.retrain.channels
    # the network that was retrained, its global skip included, so the figure matches `hnas cost`
    # and `hnas compare` on the same genotype and recipe
    report = measure(genotype, scale=spec.space.scale, channels=width, input=spec.cost.input,
                     global_skip=spec.retrain.global_skip or spec.space.global_skip, op_params=spec.space.op_params())
    results = {
        "hnas_version": __version__,
        "name": spec.name,
        "lambda": spec.reward.resolved_params().get("lambda"),
        "genotype": genotype.to_dict(),
        "hash": genotype.hash(),
        "position": genotype.position,
        "search": {
            "reward": derived["reward"],
            "psnr": derived["psnr"],
            "psnr_gain": derived["psnr_gain"],
            "cost": derived["cost"],
            **({"proxy": derived["proxy"]} if "proxy" in derived else {}),
            "scored_on": {"images": f"{source_name(spec.data.source)} theta split {list(spec.data.theta_split)}",
                          **derived.get("scored_on", {})},
        },
        "macs": report.macs,
        "params": report.params,
        "paper_gflops": report.paper_gflops,
        "cost_input": list(spec.cost.input),
        "channels": width,
        "scale": spec.space.scale,
        "evaluation": evaluation,
        "retrain": trained,
    }
    folder.write_json("results.json", results)
    archive = folder.records(STRATEGY_FILE if spec.strategy is not None else ARCHIVE_FILE)
    if folder.is_writer:
        label = f"lambda={results['lambda']}" if results["lambda"] is not None else spec.reward.type
        plot_pareto(folder / "pareto.png", {label: archive}, {label: derived})
    return results


def run_one(spec: Spec, out: Path, device: torch.device, resume: bool, progress: Progress = _quiet,
            started: float | None = None) -> dict[str, Any]:
    """One search (one lambda) from spec to ``results.json``; ``started`` (``time.time()``) is when
    the command began, which ``budget_minutes`` counts from (default: now)."""
    from hnas.search.budget import plan_retraining
    from hnas.search.retrain import retrain

    started = time.time() if started is None else started
    folder = run_folder(out)
    folder.open(spec.to_dict(), resume)
    derived = run_search(spec, folder, device, progress)
    trained: dict[str, Any] = {}
    plan: dict[str, Any] = {}
    if spec.retrain.enabled:
        genotype = Genotype.from_data(derived["genotype"])
        if spec.budget_minutes is not None:
            progress("retrain", 0, 1, "timing the evaluation (the budget keeps room for it)")
            plan = folder.by_writer(plan_retraining, spec, folder, genotype, device, started)
        if not folder.done("retrain"):
            began = time.perf_counter()
            minutes = plan["retrain_s"] / 60.0 if plan else None
            trained = retrain(spec, genotype, folder, device, progress, minutes=minutes)
            folder.write_json("retrain.json", trained)
            folder.timing("retrain", time.perf_counter() - began, **_planned(plan, "retrain_s"))
            folder.mark("evaluate")
        trained = folder.read_json("retrain.json", {})
    if folder.done("evaluate"):
        return folder.read_json("results.json")  # type: ignore[no-any-return]
    began = time.perf_counter()
    evaluation = folder.by_writer(run_evaluate, spec, folder, device, progress) if spec.retrain.enabled else {}
    results = folder.by_writer(write_results, spec, folder, derived, evaluation, trained)
    folder.mark("done")
    folder.by_writer(write_report, folder.path)
    # the report is the evaluation stage's last piece of work (the plan measured it too); these two
    # lines land after it, so the report written here shows them only when written again
    folder.timing("evaluate", time.perf_counter() - began, **_planned(plan, "evaluate_s"))
    folder.timing("total", time.time() - started, **_planned(plan, "budget_s"))
    return results  # type: ignore[no-any-return]


def _planned(plan: dict[str, Any], key: str) -> dict[str, Any]:
    """``planned=`` for a timing line, where an end-to-end budget planned the stage."""
    return {"planned": plan[key]} if key in plan else {}


def run_spec(spec: Spec, out: Path, device_name: str | None = None, resume: bool = False,
             progress: Progress = _quiet, started: float | None = None, *, data_checked: bool = False
             ) -> dict[str, Any]:
    """Run a spec: one search, or one per lambda of a sweep with a combined Pareto report.

    The data are checked before any folder is created (``data_checked``: the caller has just
    checked them, as ``hnas run`` does before its progress bars). Under torchrun every process calls this
    (the CLI does), inside the process group the entry point started (:func:`hnas.engine.distributed.session`).
    """
    processes = Processes.current()
    if not data_checked:
        processes.on_writer(check_data, spec)
    device = processes.device(device_name or spec.device)
    processes.check_batch(spec.data.batch)
    if spec.retrain.enabled:
        processes.check_batch(spec.retrain.batch)
    if not spec.reward.lambdas:
        return run_one(spec, out, device, resume, progress, started)
    sweep = RunFolder(out, "spec.json")
    sweep.open(spec.to_dict(), resume)
    runs = {f"lambda={value}": run_one(spec.for_lambda(value), out / f"lambda-{value}", device, resume, progress)
            for value in spec.reward.lambdas}
    return sweep.by_writer(_sweep_report, spec, sweep, runs)  # type: ignore[no-any-return]


def _sweep_report(spec: Spec, folder: RunFolder, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The sweep's combined Pareto plot and summary (``pareto.json``, ``results.json``)."""
    lambdas = list(spec.reward.lambdas or [])
    series = {label: RunFolder(folder / f"lambda-{value}").records(ARCHIVE_FILE) for label, value in zip(runs, lambdas)}
    chosen = {label: RunFolder(folder / f"lambda-{value}").read_json("derived.json")
              for label, value in zip(runs, lambdas)}
    plot_pareto(folder / "pareto.png", series, chosen, title="HNAS lambda sweep: PSNR vs MACs")
    write_report(folder.path)
    keys = ("hash", "position", "macs", "params", "lambda", "evaluation")
    summary = {"lambdas": lambdas, "runs": {label: {k: r.get(k) for k in keys} for label, r in runs.items()}}
    folder.write_json("pareto.json", summary)
    folder.write_json("results.json", summary)
    return summary


__all__ = ["LOG_FILE", "STAGES", "build_search", "run_folder", "run_one", "run_spec"]
