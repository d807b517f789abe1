"""``hnas compare``: retrain every member with one recipe and budget, evaluate, price, rank.

A claim that a search helps is a comparison at equal budget, over seeds, on images nothing trained
on (Li & Talwalkar, UAI 2019; Yang et al., ICLR 2020). So every member x seed is trained by the
same trainer with the same :class:`Recipe` (only the genotype and the seed differ), evaluated on
the evaluation sets (checked to share no picture with the training images), and priced (MACs,
parameters, measured latency). With ``shared_weights`` (a finished ``hnas run`` folder) every
member of that run's search space is also scored with the run's supernet, and the report gives
Kendall's tau and Spearman's rho between those scores and the retrained PSNR.

Each member x seed is a training run in ``OUT/members/NAME/seed-S/`` (resumable like any, kill -9
safe) whose evaluation lands in ``eval.json`` there; a resumed comparison skips finished ones.
Under torchrun whole runs are spread over the ranks (run ``i`` on rank ``i mod N``, each alone),
which is how a comparison scales out; rank 0 then writes ``compare.json``, the table and the plot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import ConfigDict, Field

from hnas.compare.members import Member
from hnas.compare.stats import kendall_tau, mean_std, spearman_rho
from hnas.costs import CostSettings, measure, measure_latency
from hnas.data import evaluate_sets, open_images
from hnas.data.overlap import check_disjoint
from hnas.engine.folder import RunFolder
from hnas.engine.processes import Processes
from hnas.engine.runfiles import SEARCH_STATE_FILE
from hnas.search.checks import source_name
from hnas.train import TrainConfig, train
from hnas.train.config import TrainingKnobs
from hnas.train.trainer import training_images

COMPARE_FILE = "compare.json"
IDENTITY_FILE = "compare_spec.json"

Progress = Callable[[str, float, float, str], None]


class Recipe(TrainingKnobs):
    """The one training and evaluation protocol every member gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str | dict[str, Any]
    data_split: tuple[int, int] | tuple[float, float] | None = None
    eval: list[str | dict[str, Any]] = Field(default_factory=lambda: ["builtin:set5", "builtin:set14"])
    scale: int = Field(2, ge=2, le=8)
    channels: int = Field(16, ge=1)
    iters: int = Field(1000, ge=1)
    patch: int = Field(64, ge=8)
    global_skip: Literal["none", "bicubic"] = "bicubic"
    seeds: list[int] = Field(default_factory=lambda: [0, 1])
    cost_input: tuple[int, int] = (480, 480)
    latency_input: tuple[int, int] = (120, 120)
    op_params: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    device: str = "auto"

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig.create(
            data=self.data, data_split=self.data_split, scale=self.scale, channels=self.channels,
            global_skip=self.global_skip, op_params=self.op_params, iters=self.iters, minutes=self.minutes,
            batch=self.batch,
            patch=self.patch, lr=self.lr, loss=self.loss, optimizer=self.optimizer, precision=self.precision,
            log_every=max(1, min(100, self.iters // 10)),
            save_every=max(1, min(500, self.iters // 4)), device=self.device, seed=seed,
        )

    def cost_settings(self) -> CostSettings:
        return CostSettings.make(input=self.cost_input, scale=self.scale, channels=self.channels,
                                 global_skip=self.global_skip, op_params=self.op_params)


def _quiet(stage: str, completed: float, total: float, message: str) -> None:
    return None


def check_recipe_data(recipe: Recipe) -> None:
    """The evaluation sets share no picture with the training images (checked by content)."""
    training = training_images(recipe.train_config(recipe.seeds[0]))
    for source in recipe.eval:
        check_disjoint(open_images(source), training, f"evaluation ({source_name(source)})",
                       "training", fix="evaluate on images the members never train on")


def _job_folder(out: Path, member: Member, seed: int) -> Path:
    return out / "members" / member.name / f"seed-{seed}"


def _run_job(recipe: Recipe, member: Member, seed: int, out: Path, progress: Progress) -> dict[str, Any]:
    """Train one member with one seed (resuming a killed run) and evaluate it; cached in eval.json."""
    folder = RunFolder(_job_folder(out, member, seed), "train.json")
    done = folder.read_json("eval.json")
    if done is not None:
        return done  # type: ignore[no-any-return]
    label = f"{member.name} seed {seed}"
    started = time.perf_counter()
    model, summary = train(member.genotype, recipe.train_config(seed), folder.path, resume=True,
                           progress=lambda step, total, info: progress("train", step, total, label))
    device = next(model.parameters()).device
    sets = {label: {"psnr": scores["psnr"], "ssim": scores["ssim"]}
            for label, scores in evaluate_sets(model, recipe.eval, recipe.scale, device).items()}
    result = {"member": member.name, "seed": seed, "hash": member.genotype.hash(), "sets": sets,
              "checkpoint": summary["checkpoint"], "iterations": summary["step"]}
    folder.write_json("eval.json", result)
    folder.timing("compare-job", time.perf_counter() - started, member=member.name, seed=seed)
    return result


def shared_weight_scores(run: Path, members: list[Member], device: torch.device) -> dict[str, float | None]:
    """Each member's score (PSNR on the run's fixed scoring patches) with the run's shared weights;
    None for members outside the run's search space."""
    from hnas.search.pipeline import build_search, run_folder
    from hnas.search.spec_loader import load_run_spec

    spec = load_run_spec(run)
    folder = run_folder(run)
    search = build_search(spec, folder, device)
    if folder.load_state(SEARCH_STATE_FILE) is None:
        from hnas.errors import HnasError

        raise HnasError(f"--shared-weights {run}: no search state in it ({SEARCH_STATE_FILE}); finish the search")
    search.load()
    scores: dict[str, float | None] = {}
    for member in members:
        try:
            search.supernet.check(member.genotype)
        except ValueError:
            scores[member.name] = None
            continue
        scores[member.name] = search.score(member.genotype)["psnr"]
    return scores


def _aggregate(recipe: Recipe, members: list[Member], results: list[dict[str, Any]],
               shared: dict[str, float | None] | None, device: torch.device) -> dict[str, Any]:
    settings = recipe.cost_settings()
    latency_settings = CostSettings.make(settings, input=recipe.latency_input, device=str(device), repeats=5, warmup=1)
    rows = []
    for member in members:
        mine = [r for r in results if r["member"] == member.name]
        report = measure(member.genotype, settings)
        sets = {}
        for name in mine[0]["sets"]:
            psnrs = [r["sets"][name]["psnr"] for r in mine]
            ssims = [r["sets"][name]["ssim"] for r in mine]
            (pm, ps), (sm, ss) = mean_std(psnrs), mean_std(ssims)
            sets[name] = {"psnr_mean": pm, "psnr_std": ps, "ssim_mean": sm, "ssim_std": ss, "psnr": psnrs, "ssim": ssims}
        rows.append({
            "name": member.name, "kind": member.kind, "source": member.source, "hash": member.genotype.hash(),
            "genotype": member.genotype.to_dict(), "macs": report.macs, "params": report.params,
            "latency_ms": measure_latency(member.genotype, latency_settings).median_ms,
            "shared_weight_score": None if shared is None else shared.get(member.name),
            "iterations": [r.get("iterations") for r in mine],
            "sets": sets,
        })
    names = [source_name(s) for s in recipe.eval]
    correlation = None
    if shared is not None:
        correlation = {}
        for name in names:
            paired = [(r["shared_weight_score"], r["sets"][name]["psnr_mean"]) for r in rows
                      if r["shared_weight_score"] is not None]
            xs, ys = [p[0] for p in paired], [p[1] for p in paired]
            correlation[name] = {"kendall_tau": kendall_tau(xs, ys), "spearman_rho": spearman_rho(xs, ys),
                                 "n": len(paired)}
    return {
        "eval_sets": names,
        "seeds": list(recipe.seeds),
        "recipe": recipe.model_dump(mode="json"),
        "members": rows,
        "rank_correlation": correlation,
    }


def run_compare(recipe: Recipe, members: list[Member], out: Path, *, resume: bool = False,
                shared_weights: Path | None = None, progress: Progress = _quiet) -> dict[str, Any]:
    """Retrain, evaluate and price every member x seed; write ``compare.json``, ``compare.png`` (PSNR
    against MACs) and ``compare-latency.png`` (against measured latency)."""
    folder = RunFolder(out, IDENTITY_FILE)
    folder.by_writer(check_recipe_data, recipe)
    identity = {"recipe": recipe.model_dump(mode="json"),
                "members": [{"name": m.name, "hash": m.genotype.hash()} for m in members],
                "shared_weights": None if shared_weights is None else str(shared_weights)}
    folder.open(identity, resume, what="comparison")
    jobs = [(member, seed) for member in members for seed in recipe.seeds]
    started = time.perf_counter()

    def job(index: int, item: tuple[Member, int]) -> dict[str, Any]:
        member, seed = item
        progress("members", index, len(jobs), f"{member.name} seed {seed}")
        return _run_job(recipe, member, seed, out, progress)

    # whole members dealt over the processes, each training alone; every job's eval.json on every rank
    processes = Processes.current()
    results = processes.spread(jobs, job)
    progress("members", len(jobs), len(jobs), "")
    device = processes.device(recipe.device)
    report = folder.by_writer(_finish, recipe, members, results, out, shared_weights, device, progress)
    folder.timing("compare", time.perf_counter() - started)
    return report  # type: ignore[no-any-return]


def _finish(recipe: Recipe, members: list[Member], results: list[dict[str, Any]], out: Path,
            shared_weights: Path | None, device: torch.device, progress: Progress) -> dict[str, Any]:
    from hnas.compare.plot import plot_compare
    from hnas.report.html import write_report

    progress("report", 0, 1, "shared-weight scores" if shared_weights else "costs")
    shared = shared_weight_scores(shared_weights, members, device) if shared_weights is not None else None
    report = _aggregate(recipe, members, results, shared, device)
    folder = RunFolder(out)
    folder.write_json(COMPARE_FILE, report)
    plot_compare(out / "compare.png", report)
    plot_compare(out / "compare-latency.png", report, against="latency")
    write_report(out)
    progress("report", 1, 1, "")
    return report
