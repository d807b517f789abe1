"""``hnas run``: search -> derive -> retrain -> evaluate, one stage after another, resumable.

Each stage writes its artefacts atomically into the run directory and records itself in
``state.json``; ``--resume`` skips finished stages and continues an unfinished one from its last
checkpoint (the search from its last epoch, the retraining from its last resume file).

Multi-process (torchrun): every rank runs this same sequence, so the collectives line up; rank 0
alone reads and writes the run directory and broadcasts what the others need (the stage in
``state.json``, the derived architecture). The search's weight steps and the retraining are
data-parallel; the controller phase, the derivation and the final evaluation run on rank 0 while
the others wait.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from hnas import __version__
from hnas import distributed as dist
from hnas.data import PatchDataset, batch_psnr, evaluate, make_loader, open_images, select_split
from hnas.errors import HnasError
from hnas.search.algorithm import ARCHIVE_FILE, LOG_FILE, Scorer, Search, infinite, seed_everything
from hnas.search.report import plot_pareto
from hnas.search.scoring import make_cost_fn, make_macs_fn, make_reward_fn
from hnas.search.spec import Spec
from hnas.spaces.genotype import Genotype
from hnas.utils.io import append_jsonl, atomic_write_json, read_jsonl

STATE = "state.json"
STAGES = ("search", "derive", "retrain", "evaluate", "done")

Progress = Callable[[str, float, float, str], None]
"""progress(stage, completed, total, message) - the CLI draws it as a rich progress bar."""


def _quiet(stage: str, completed: float, total: float, message: str) -> None:
    return None


class RunDir:
    """The run directory and its ``state.json`` (which stage is done)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def stage(self) -> str | None:
        """The stage to run next (rank 0 reads it; every rank gets its answer)."""
        return dist.on_main(self._read_stage)

    def _read_stage(self) -> str | None:
        file = self.path / STATE
        if not file.exists():
            return None
        return json.loads(file.read_text())["stage"]  # type: ignore[no-any-return]

    def mark(self, stage: str, **extra: Any) -> None:
        if dist.is_main():
            atomic_write_json(self.path / STATE, {"stage": stage, "updated": time.time(), **extra})

    def done(self, stage: str) -> bool:
        current = self.stage()
        return current is not None and STAGES.index(current) > STAGES.index(stage)


def prepare_run_dir(out: Path, spec: Spec, resume: bool) -> RunDir:
    """Create ``out``; refuse to overwrite a different run; on resume, require the same spec."""
    run = RunDir(out)
    spec_file = out / "spec.json"
    if spec_file.exists():
        if not resume:
            raise HnasError(f"{out} already holds a run; pass --resume to continue it, or --out for a new one")
        saved = json.loads(spec_file.read_text())
        if saved != json.loads(spec.to_json()):
            raise HnasError(f"--resume with a spec that differs from the one in {spec_file}; use a new --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise HnasError(f"cannot write the run directory {out}: {exc.strerror or exc}") from None
    if not spec_file.exists():
        atomic_write_json(spec_file, json.loads(spec.to_json()))
    return run


def _batches(spec: Spec, split: Any, batch: int, steps: int, what: str) -> Iterator[Any]:
    """Endless batches; one pass of the loader is exactly one epoch's worth.

    The loader takes its shuffle order and patches from torch's global generator, which the
    search reseeds at every epoch, so a run resumed at an epoch boundary sees the same batches.
    """
    records = select_split(open_images(spec.data.source), split, where=f"{spec.data.source} ({what})")
    dataset = PatchDataset(records, spec.space.scale, spec.data.patch, samples_per_epoch=batch * steps)
    loader = make_loader(dataset, batch, num_workers=spec.data.workers)
    return infinite(loader)


def build_search(spec: Spec, out: Path, device: torch.device) -> Search:
    """Assemble data, scorer and the search from a spec (also used by the benchmarks)."""
    seed_everything(spec.seed, 3)
    scale = spec.space.scale
    w_batches = _batches(spec, spec.data.w_split, spec.data.batch, spec.search.w_steps, "w split")
    theta = _batches(spec, spec.data.theta_split, spec.data.val_batch, spec.search.controller_steps, "theta split")
    derive_source = _batches(spec, spec.data.theta_split, spec.data.val_batch, spec.search.derive_batches,
                             "theta split")
    derive_batches = [next(derive_source) for _ in range(spec.search.derive_batches)]
    scorer = Scorer(
        psnr_fn=lambda sr, hr: batch_psnr(sr, hr, shave=scale),
        cost_fn=make_cost_fn(spec),
        reward_fn=make_reward_fn(spec),
        macs_fn=make_macs_fn(spec),
    )
    return Search(spec, out, device, scorer, w_batches, theta, derive_batches)


def run_search(spec: Spec, out: Path, device: torch.device, resume: bool, progress: Progress) -> dict[str, Any]:
    """Search and derive; returns the derivation record of the chosen genotype."""
    run = RunDir(out)
    if run.done("derive"):
        return dist.on_main(_read_json, out / "derived.json")
    search = build_search(spec, out, device)
    if not run.done("search"):
        if resume:
            search.load()
        elif dist.is_main():
            for name in (ARCHIVE_FILE, LOG_FILE):
                (out / name).unlink(missing_ok=True)
        total = spec.search.epochs
        progress("search", search.epoch, total, "")

        def on_epoch(summary: dict[str, Any]) -> None:
            progress(
                "search", summary["epoch"], total,
                f"reward {summary['reward_mean']:.3f}  psnr {summary['psnr_mean']:.2f}  "
                f"entropy {summary['entropy']:.2f}",
            )

        search.run(on_epoch)
        run.mark("derive")
    else:
        search.load()  # the searched weights and policy; drops a killed derivation's lines
    progress("derive", 0, 1, "scoring candidates")
    best = dist.on_main(_derive, search, out)  # rank 0 scores the candidates; the others wait
    progress("derive", 1, 1, f"chose {best['hash']} (reward {best['reward']:.3f})")
    run.mark("retrain")
    return dist.on_main(_read_json, out / "derived.json")


def _derive(search: Search, out: Path) -> dict[str, Any]:
    """Derivation and its files: candidates to the archive, the best to genotype.json/derived.json."""
    derived = search.derive()
    for record in derived["candidates"]:
        append_jsonl(out / ARCHIVE_FILE, record)
    best: dict[str, Any] = derived["best"]
    Genotype.from_data(best["genotype"]).save(out / "genotype.json")
    atomic_write_json(out / "derived.json", best)
    return best


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def run_retrain(spec: Spec, out: Path, device: torch.device, resume: bool, progress: Progress) -> dict[str, Any]:
    from hnas.search.retrain import retrain

    return retrain(spec, Genotype.load(out / "genotype.json"), out, device, resume, progress)


def run_evaluate(spec: Spec, out: Path, device: torch.device, progress: Progress) -> dict[str, Any]:
    """Score the retrained model on the spec's benchmark folders (or the held-out images)."""
    from hnas.checkpoint import load_model

    model = load_model(out / "model.safetensors", device=device)
    sources = spec.evaluate.data or [spec.data.source]
    results = {}
    for index, source in enumerate(sources):
        progress("evaluate", index, len(sources), str(source))
        data: Any = source
        if not spec.evaluate.data:
            from hnas.data import BenchmarkSet

            records = select_split(open_images(source), spec.data.theta_split, where=str(source))
            data = BenchmarkSet(records, spec.space.scale)
        label = Path(str(source)).name if not str(source).startswith("builtin:") else f"{source} (theta split)"
        results[label] = evaluate(model, data, spec.space.scale, device)
    progress("evaluate", len(sources), len(sources), "")
    return results


def write_results(spec: Spec, out: Path, derived: dict[str, Any], evaluation: dict[str, Any],
                  trained: dict[str, Any]) -> dict[str, Any]:
    from hnas.costs import measure

    genotype = Genotype.from_data(derived["genotype"])
    width = spec.retrain.channels
    report = measure(genotype, scale=spec.space.scale, channels=width, input=spec.reward.cost_input)
    first = next(iter(evaluation.values())) if evaluation else {}
    results = {
        "hnas_version": __version__,
        "name": spec.name,
        "lambda": spec.reward.lambda_,
        "genotype": genotype.to_dict(),
        "hash": genotype.hash(),
        "position": genotype.position,
        "reward": derived["reward"],
        "search_psnr": derived["psnr"],
        "search_cost": derived["cost"],
        "psnr": first.get("psnr"),
        "ssim": first.get("ssim"),
        "macs": report.macs,
        "params": report.params,
        "paper_gflops": report.paper_gflops,
        "cost_input": list(spec.reward.cost_input),
        "channels": width,
        "scale": spec.space.scale,
        "evaluation": {k: {"psnr": v["psnr"], "ssim": v["ssim"]} for k, v in evaluation.items()},
        # Timings stay in retrain.json: results.json is identical for identical runs.
        "retrain": {k: trained[k] for k in ("step", "total", "parameters", "best_val_psnr") if k in trained},
    }
    atomic_write_json(out / "results.json", results)
    archive = [r for r in read_jsonl(out / ARCHIVE_FILE)]
    plot_pareto(out / "pareto.png", {f"lambda={spec.reward.lambda_}": archive},
                {f"lambda={spec.reward.lambda_}": derived})
    return results


def run_one(spec: Spec, out: Path, device: torch.device, resume: bool, progress: Progress = _quiet) -> dict[str, Any]:
    """One search (one lambda) from spec to ``results.json``."""
    run = dist.on_main(prepare_run_dir, out, spec, resume)
    seed_everything(spec.seed, 0)
    derived = run_search(spec, out, device, resume, progress)
    trained: dict[str, Any] = {}
    if not spec.retrain.enabled:
        results = dist.on_main(write_results, spec, out, derived, {}, trained)
        run.mark("done")
        return results
    if not run.done("retrain"):
        trained = run_retrain(spec, out, device, resume, progress)
        if dist.is_main():
            atomic_write_json(out / "retrain.json", trained)
        run.mark("evaluate")
    else:
        trained = dist.on_main(_read_json_if_present, out / "retrain.json")
    if not run.done("evaluate"):
        results = dist.on_main(_evaluate_and_report, spec, out, device, progress, derived, trained)
        run.mark("done")
        return results
    return dist.on_main(_read_json, out / "results.json")


def _evaluate_and_report(spec: Spec, out: Path, device: torch.device, progress: Progress,
                         derived: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
    evaluation = run_evaluate(spec, out, device, progress)
    return write_results(spec, out, derived, evaluation, trained)


def _read_json_if_present(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def run_spec(spec: Spec, out: Path, device_name: str | None = None, resume: bool = False,
             progress: Progress = _quiet) -> dict[str, Any]:
    """Run a spec: one search, or one per lambda of a sweep with a combined Pareto report.

    Under torchrun every process calls this (the CLI does); it joins the process group if needed.
    """
    device = dist.init(device_name or spec.device)
    dist.shard(spec.data.batch)  # uneven splits of the global batches fail now, not after the search
    if spec.retrain.enabled:
        dist.shard(spec.retrain.batch)
    lambdas = spec.lambdas()
    if len(lambdas) == 1 and not spec.reward.lambdas:
        return run_one(spec, out, device, resume, progress)
    dist.on_main(prepare_run_dir, out, spec, resume)
    runs: dict[str, dict[str, Any]] = {}
    for value in lambdas:
        runs[f"lambda={value}"] = run_one(spec.for_lambda(value), out / f"lambda-{value}", device, resume, progress)
    return dist.on_main(_sweep_report, spec, out, lambdas, runs)


def _sweep_report(spec: Spec, out: Path, lambdas: list[float], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The sweep's combined Pareto plot and summary (``pareto.json``, ``results.json``)."""
    series = {label: read_jsonl(out / f"lambda-{spec_l}" / ARCHIVE_FILE)
              for label, spec_l in zip(runs, lambdas)}
    chosen = {label: json.loads((out / f"lambda-{value}" / "derived.json").read_text())
              for label, value in zip(runs, lambdas)}
    plot_pareto(out / "pareto.png", series, chosen, title="HNAS lambda sweep: PSNR vs MACs")
    summary = {
        "lambdas": lambdas,
        "runs": {label: {k: r[k] for k in ("hash", "position", "psnr", "ssim", "macs", "params", "reward", "lambda")}
                 for label, r in runs.items()},
    }
    atomic_write_json(out / "pareto.json", summary)
    atomic_write_json(out / "results.json", summary)
    return summary
