"""HNAS in one CPU-hour: ``hnas run examples/cpu-hour.toml`` over seeds, then an equal-time comparison.

Each seed is one complete run (search, derive, retrain, evaluate) timed from the command's start to
its end; the summary gives Set5/Set14 PSNR and SSIM, the network's MACs and the wall time per
stage, and plots Set5 PSNR against wall time from the retraining's validation (``timings.jsonl``).
Then ``hnas compare`` retrains the first seed's network, HNAS-A and a hand-designed baseline with
the same wall time each, one after another so that each has the whole machine, with the spec's
retraining recipe (precision included), and measures each network's latency at 480x480, the size
the goal is stated at: the search's share of the result is then visible.

    python experiments/cpu_hour.py --seeds 0 1 2 --out runs/cpu-hour
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hnas.utils.figures import pyplot, save_png

SPEC = Path(__file__).parents[1] / "examples" / "cpu-hour.toml"


def run_seed(seed: int, out: Path) -> dict[str, Any]:
    folder = out / f"seed-{seed}"
    if not (folder / "results.json").exists():
        started = time.perf_counter()
        resume = ["--resume"] if (folder / "spec.json").exists() else []
        subprocess.run([sys.executable, "-m", "hnas", "run", str(SPEC), "--out", str(folder), "--set",
                        f"seed={seed}", *resume], check=True)
        (folder / "wall.json").write_text(json.dumps({"seconds": time.perf_counter() - started, "resumed": bool(resume)}))
    results = json.loads((folder / "results.json").read_text())
    timings = [json.loads(line) for line in (folder / "timings.jsonl").read_text().splitlines()]
    stages: dict[str, float] = {}
    for record in timings:
        if record["stage"] in ("search", "retrain", "evaluate"):
            stages[record["stage"]] = stages.get(record["stage"], 0.0) + record["seconds"]
    # the retraining keeps its own timings (validation PSNR against seconds since it started)
    retrain_log = folder / "retrain" / "timings.jsonl"
    retrain_timings = [json.loads(line) for line in retrain_log.read_text().splitlines()] if retrain_log.exists() else []
    wall = json.loads((folder / "wall.json").read_text())
    return {
        "seed": seed,
        "hash": results["hash"],
        "macs": results["macs"],
        "params": results["params"],
        "evaluation": results["evaluation"],
        "iterations": results["retrain"]["step"],
        "stage_seconds": {k: round(v, 1) for k, v in stages.items()},
        "wall_seconds": round(wall["seconds"], 1),
        # "elapsed": the retraining's wall time at the pass's end (older runs kept it in "seconds")
        "validation": [(r.get("elapsed", r["seconds"]), r["val_psnr"]) for r in retrain_timings
                       if r["stage"] == "validate"],
    }


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for run in runs:
        if run["validation"]:
            minutes = [s / 60 for s, _ in run["validation"]]
            ax.plot(minutes, [p for _, p in run["validation"]], marker=".", label=f"seed {run['seed']}")
    ax.axhline(37.40, color="black", ls="-.", lw=1, label="goal 37.40")
    ax.axhline(37.00, color="gray", ls="--", lw=1, label="FSRCNN 37.00")
    ax.axhline(33.67, color="gray", ls=":", lw=1, label="bicubic 33.67")
    ax.set_xlabel("minutes of retraining")
    ax.set_ylabel("Set5 x2 PSNR (dB, Y)")
    ax.set_title("cpu-hour: Set5 during retraining (watched, not selected on)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/cpu-hour"))
    parser.add_argument("--compare-minutes", type=float, default=47.0)
    parser.add_argument("--skip-compare", action="store_true")
    # 1: the members train one after another, each with the whole machine (the goal's comparison);
    # 3 trains them at once, each on a third of it, in a third of the wall time
    parser.add_argument("--compare-nproc", type=int, default=1)
    args = parser.parse_args()
    runs = [run_seed(seed, args.out) for seed in args.seeds]
    plot(runs, args.out / "set5_vs_time.png")
    summary: dict[str, Any] = {"runs": runs}
    if not args.skip_compare:
        spec = json.loads((args.out / f"seed-{args.seeds[0]}" / "spec.json").read_text())
        source = spec["data"]["source"]
        retrain = spec["retrain"]
        folder = args.out / "compare"
        command = [sys.executable, "-m", "hnas", "compare", str(args.out / f"seed-{args.seeds[0]}"), "hnas-a",
                   "baseline-plain", "--data", json.dumps(source) if isinstance(source, dict) else source,
                   "--minutes", str(args.compare_minutes), "--iters", "1000000", "--channels", "16", "--seeds", "1",
                   "--batch", str(retrain["batch"]), "--patch", str(retrain["patch"]), "--lr", str(retrain["lr"]),
                   "--latency-input", "480x480", "--out", str(folder), "--nproc", str(args.compare_nproc)]
        if retrain.get("precision"):
            command += ["--precision", retrain["precision"]]
        if (folder / "compare_spec.json").exists():
            command.append("--resume")
        subprocess.run(command, check=True)
        summary["compare"] = json.loads((folder / "compare.json").read_text())
    (args.out / "cpu_hour.json").write_text(json.dumps(summary, indent=2))
    for run in runs:
        ev = run["evaluation"]
        print(f"seed {run['seed']}: Set5 {ev['Set5']['psnr']:.3f}/{ev['Set5']['ssim']:.4f}  Set14 "
              f"{ev['Set14']['psnr']:.3f}/{ev['Set14']['ssim']:.4f}  {run['macs'] / 1e9:.2f} GMACs  "
              f"{run['wall_seconds'] / 60:.1f} min  {run['stage_seconds']}")


if __name__ == "__main__":
    main()
