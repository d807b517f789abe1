"""Validate the latency table (issue #27): predicted against measured latency of whole networks.

Builds a table under the stated conditions (timed: the build itself is a target, <= 10 minutes on
2 cores), then measures random networks of the latency-priced search space
(``examples/cpu-hour-latency.toml``: 6 layers, 4 nodes, Table I plus conv_3x3 and res_block), the
published HNAS-A/B/C and the hand-designed baselines, each as ``hnas cost --latency`` would, and
reports Spearman's rho and the median relative error of the prediction (targets: rho >= 0.9, median
error <= 10 %). The 1-minute load average is recorded before and after every phase: on a shared
machine, say what it was.

    python benchmarks/latency_table_validate.py --backend eager --threads 1 --clock cpu --input 120x120
    python benchmarks/latency_table_validate.py --backend onnxruntime --threads 1 --clock cpu --input 120x120
    python benchmarks/latency_table_validate.py --backend eager --threads 2 --input 120x120 --out eager2.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The latency-priced spec's search space (examples/cpu-hour-latency.toml).
SPACE_NORMAL = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "rcab", "conv_3x3",
                "res_block")
PRESETS = ("hnas-a", "hnas-b", "hnas-c", "baseline-plain", "baseline-resblock", "baseline-rcab")


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="eager", choices=["eager", "onnxruntime"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", default="wall", choices=["wall", "cpu"])
    parser.add_argument("--statistic", default="median", choices=["median", "min"])
    parser.add_argument("--input", default="120x120")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--networks", type=int, default=30, help="random networks of the space")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-per-network", type=float, default=0.5)
    parser.add_argument("--table", type=Path, default=None, help="reuse this table instead of building one")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from hnas.utils.memory import keep_freed_memory

    kept = keep_freed_memory()  # as hnas latency build and hnas upscale run
    from hnas.compare.stats import spearman_rho
    from hnas.costs.latency_table import (
        TableConditions,
        Timer,
        build_table,
        load_table,
        measure_network,
        predict_latency,
        write_table,
    )
    from hnas.costs.settings import parse_input_size
    from hnas.ops import TABLE_I_UPSAMPLING
    from hnas.registry import NORMAL_OPS
    from hnas.spaces.random import random_genotype
    from hnas.spaces.resolve import resolve_genotype

    record: dict = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                    "load": {"start": _load()}}
    if args.table is not None:
        table = load_table(args.table)
    else:
        conditions = TableConditions(device=args.device, backend=args.backend, threads=args.threads,
                                     input=parse_input_size(args.input), channels=args.channels,
                                     normal_ops=tuple(NORMAL_OPS.names()), upsampling_ops=TABLE_I_UPSAMPLING,
                                     clock=args.clock, statistic=args.statistic)
        start = time.perf_counter()
        table = build_table(conditions, kept_freed_memory=kept, progress=lambda d, t, w: print(f"\r{d}/{t} {w[:60]:<60}", end="",
                                                                      file=sys.stderr))
        print(file=sys.stderr)
        record["build_seconds"] = round(time.perf_counter() - start, 1)
        if args.out is not None:
            write_table(table, args.out.with_suffix(".table.json"))
    record["load"]["after_build"] = _load()
    record["table"] = {"conditions": table.conditions.model_dump(mode="json"), "environment": table.environment,
                       "overhead_ms": table.forward_overhead, "network_factor": table.forward_factor,
                       "calibration": table.calibration}

    rng = random.Random(args.seed)
    members = [(f"random-{i}", random_genotype(rng, layers=args.layers, normal_ops=SPACE_NORMAL,
                                               upsampling_ops=TABLE_I_UPSAMPLING)) for i in range(args.networks)]
    members += [(name, resolve_genotype(name)) for name in PRESETS]
    timer = Timer.for_conditions(table.conditions, budget_s=args.time_per_network, min_repeats=5)
    rows = []
    for index, (name, genotype) in enumerate(members):
        predicted = predict_latency(table, genotype)
        measured = measure_network(genotype, table.conditions, timer=timer)
        rows.append({"name": name, "hash": genotype.hash(), "predicted_ms": round(predicted, 4),
                     "measured_ms": round(measured, 4), "error": round(predicted / measured - 1, 4)})
        print(f"\r{index + 1}/{len(members)} {name:<18} predicted {predicted:9.2f} ms  measured {measured:9.2f} ms  "
              f"{predicted / measured - 1:+.1%}", file=sys.stderr)
    record["load"]["end"] = _load()
    predicted = [r["predicted_ms"] for r in rows]
    measured = [r["measured_ms"] for r in rows]
    errors = [abs(r["error"]) for r in rows]
    random_rows = [r for r in rows if r["name"].startswith("random-")]
    record["rows"] = rows
    record["summary"] = {
        "networks": len(rows),
        "spearman_rho": round(spearman_rho(predicted, measured) or float("nan"), 4),
        "median_abs_rel_error": round(statistics.median(errors), 4),
        "max_abs_rel_error": round(max(errors), 4),
        "random_only_spearman_rho": round(spearman_rho([r["predicted_ms"] for r in random_rows],
                                                       [r["measured_ms"] for r in random_rows]) or float("nan"), 4),
        "random_only_median_abs_rel_error": round(statistics.median(abs(r["error"]) for r in random_rows), 4),
    }
    print(json.dumps({"summary": record["summary"], "load": record["load"],
                      "build_seconds": record.get("build_seconds")}, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
