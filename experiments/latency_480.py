"""Measured forward latency at 480x480 (the size #30's goal names) of a run's network against the
hand designs, on this machine: the networks are timed in turns, ``--rounds`` times each, so that a
slow spell of the machine falls on all of them alike; the median over rounds is reported.

    python experiments/latency_480.py runs/cpu-hour/seed-0 --out docs/results/cpu-hour-r2-latency.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from hnas.costs import CostSettings, measure_latency
from hnas.spaces.resolve import resolve_genotype


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", nargs="+", help="run folders, genotype files or presets")
    parser.add_argument("--against", nargs="*", default=["baseline-plain", "hnas-a"])
    parser.add_argument("--input", default="480x480")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    h, w = (int(v) for v in args.input.split("x"))
    settings = CostSettings.make(input=(h, w), scale=2, channels=16, global_skip="bicubic", device="cpu",
                                 threads=args.threads, repeats=args.repeats, warmup=2)
    names = [*args.members, *args.against]
    genotypes = {name: resolve_genotype(name) for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            times[name].append(measure_latency(genotypes[name], settings).median_ms)
    rows = [{"member": name, "hash": genotypes[name].hash(), "median_ms": statistics.median(t), "rounds_ms": t}
            for name, t in times.items()]
    result = {"input": [h, w], "threads": args.threads, "rounds": args.rounds, "repeats": args.repeats,
              "torch": torch.__version__, "members": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for row in rows:
        print(f"{row['member']:>40}  {row['median_ms']:8.1f} ms  ({', '.join(f'{t:.1f}' for t in row['rounds_ms'])})")


if __name__ == "__main__":
    main()
