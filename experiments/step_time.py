"""Measured training-step time of networks at the retraining's batch shape and precision, beside
what a latency table predicts for them: does the table rank networks the way a time-budgeted
retraining pays for them?

Each step is the retraining's own (``hnas.engine.step.train_step``: Adam from the optimizer
registry, L1, bf16 autocast through ``in_precision``) on random batches; the members are timed in
turns, ``--rounds`` times, so that a slow spell of the machine falls on all of them alike.

    python experiments/step_time.py runs/cpu-hour/seed-0 --batch 16 --patch 64 --precision bf16 \
        --table runs/latency-cpu-b16-32-bf16-t2-train.json --out docs/results/step-time.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from hnas.costs.latency_table import LatencyTableError, load_table, predict_latency
from hnas.engine.step import in_precision, train_step
from hnas.models.network import build_model
from hnas.spaces.genotype import Genotype
from hnas.spaces.resolve import resolve_genotype
from hnas.train.optimizers import build_optimizer
from hnas.utils.threads import num_threads


def step_ms(genotype: Genotype, batch: int, patch: int, precision: str, steps: int, seed: int = 0) -> float:
    """Median ms of ``steps`` training steps (after 3 untimed ones) of ``genotype`` at 16 channels, x2."""
    torch.manual_seed(seed)
    model = build_model(genotype, scale=2, channels=16, global_skip="bicubic")
    model.train()
    optimizer = build_optimizer(None, model.parameters(), 1e-3)
    forward = in_precision(model, None if precision == "fp32" else precision, torch.device("cpu"))
    lr_batch = torch.rand(batch, 3, patch // 2, patch // 2) * 255
    hr_batch = torch.rand(batch, 3, patch, patch) * 255
    times = []
    for index in range(steps + 3):
        start = time.perf_counter()
        train_step(optimizer, forward, lr_batch, hr_batch, 1e-3)
        if index >= 3:
            times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def _predicted(table, genotype) -> float | None:
    """The table's train-mode ms, or None for a network with an op the table lacks (HNAS-A's)."""
    try:
        return predict_latency(table, genotype, "bicubic", "train")
    except LatencyTableError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", nargs="+", help="run folders, genotype files or presets")
    parser.add_argument("--against", nargs="*", default=["baseline-plain", "hnas-a"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=64, help="HR patch (the LR input is half of it at x2)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--table", type=Path, nargs="*", default=[], help="latency tables (train mode) to predict by")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    names = [*args.members, *args.against]
    genotypes = {name: resolve_genotype(name) for name in names}
    tables = {str(path): load_table(path) for path in args.table}
    measured: dict[str, list[float]] = {name: [] for name in names}
    with num_threads(args.threads, only_lower=False):
        for _ in range(args.rounds):
            for name in names:
                measured[name].append(step_ms(genotypes[name], args.batch, args.patch, args.precision, args.steps))
    rows = []
    for name in names:
        genotype = genotypes[name]
        row = {"member": name, "hash": genotype.hash(), "step_ms": statistics.median(measured[name]),
               "rounds_ms": [round(t, 2) for t in measured[name]],
               "predicted_ms": {path: _predicted(table, genotype) for path, table in tables.items()}}
        rows.append(row)
    result = {"batch": args.batch, "patch": args.patch, "precision": args.precision, "threads": args.threads,
              "steps": args.steps, "rounds": args.rounds, "torch": torch.__version__, "members": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for row in rows:
        predicted = "  ".join("      -" if v is None else f"{v:7.1f}" for v in row["predicted_ms"].values())
        print(f"{row['member']:>40}  {row['step_ms']:7.1f} ms  predicted {predicted}")


if __name__ == "__main__":
    main()
