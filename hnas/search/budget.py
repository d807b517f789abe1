"""The end-to-end time budget of ``hnas run`` (``budget_minutes``): how the stages share it.

The search and the derivation take what they take (their length is set in epochs and candidates,
so that a search is repeatable). The retraining gets what is left, less the time the evaluation
will need; that time is measured, not guessed, by evaluating the untrained network of the chosen
architecture on the evaluation sets and writing the report of the run so far, which is the work
the evaluation stage repeats at the end. The plan is made once, when the retraining first starts,
and kept in ``budget.json``: a resumed run goes on with it (the retraining's own clock is in its
resume state).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from hnas.engine.folder import RunFolder
from hnas.errors import HnasError
from hnas.search.spec import Spec
from hnas.spaces.genotype import Genotype

BUDGET_FILE = "budget.json"


class BudgetSpentError(HnasError, RuntimeError):
    """The end-to-end budget leaves no time to retrain."""


def plan_retraining(spec: Spec, folder: RunFolder, genotype: Genotype, device: torch.device,
                    started: float) -> dict[str, Any]:
    """The budget's split (seconds), made now or read back from a resumed run's folder. Rank 0's
    work: the caller broadcasts it."""
    plan: dict[str, Any] | None = folder.read_json(BUDGET_FILE)
    if plan is not None:
        return plan
    assert spec.budget_minutes is not None
    total = spec.budget_minutes * 60.0
    evaluate = evaluation_seconds(spec, folder, genotype, device)
    before = time.time() - started  # the measurement just made included: it took its time too
    retrain = total - before - evaluate
    caps = [spec.retrain.minutes * 60.0] if spec.retrain.minutes is not None else []
    if retrain <= 0:
        raise BudgetSpentError(
            f"budget_minutes = {spec.budget_minutes:g} leaves no time to retrain: {before / 60:.1f} min went to the "
            f"search and derivation and the evaluation needs {evaluate:.0f} s; raise budget_minutes or shorten the "
            f"search (search.epochs), then run again with --resume")
    plan = {
        "budget_s": round(total, 3),
        "before_retrain_s": round(before, 3),
        "evaluate_s": round(evaluate, 3),
        "retrain_s": round(min([retrain, *caps]), 3),
    }
    folder.write_json(BUDGET_FILE, plan)
    return plan


def evaluation_seconds(spec: Spec, folder: RunFolder, genotype: Genotype, device: torch.device) -> float:
    """Time the evaluation stage's work on the untrained network: every evaluation set, the
    network's cost, and the report (written to a temporary file; the run's own is written at the
    end)."""
    from hnas.costs import measure
    from hnas.data import evaluate_sets
    from hnas.models.network import HNASNet
    from hnas.report.html import write_report

    began = time.perf_counter()
    skip = spec.retrain.global_skip or spec.space.global_skip
    with torch.random.fork_rng(devices=[]):
        model = HNASNet(genotype, scale=spec.space.scale, channels=spec.retrain.channels, global_skip=skip,
                        op_params=spec.space.op_params()).to(device).eval()
    evaluate_sets(model, spec.evaluate.data, spec.space.scale, device)
    measure(genotype, scale=spec.space.scale, channels=spec.retrain.channels, input=spec.cost.input,
            global_skip=skip, op_params=spec.space.op_params())
    with tempfile.TemporaryDirectory() as scratch:
        write_report(folder.path, Path(scratch) / "report.html")
    return time.perf_counter() - began
