"""Evidence for the search (issue: lambda trade-off, entropy, controller vs random).

Runs the quickstart spec's search (no retraining) with the same seed for
  - lambda = 0.2 and lambda = 0.9 with the hierarchical LSTM controller,
  - lambda = 0.6 with the hierarchical LSTM and with the random controller (equal budget),
and prints/writes: the MACs of each chosen architecture, the controller's entropy per epoch, and
the mean reward of the last epoch's samples for each controller.

    python experiments/search_evidence.py [--epochs 8] [--out runs/evidence]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hnas.search.pipeline import run_spec
from hnas.search.spec import load_spec
from hnas.utils.io import atomic_write_json, read_jsonl

SPEC = Path(__file__).parents[1] / "examples" / "quickstart.toml"


def search(out: Path, overrides: list[str]) -> dict:
    spec = load_spec(SPEC, ["retrain.enabled=false", *overrides])
    started = time.perf_counter()
    results = run_spec(spec, out, resume=(out / "spec.json").exists())
    log = read_jsonl(out / "search_log.jsonl")
    archive = [r for r in read_jsonl(out / "archive.jsonl") if r["stage"] == "search"]
    last = [r for r in archive if r["epoch"] == log[-1]["epoch"]]
    return {
        "overrides": overrides,
        "seconds": round(time.perf_counter() - started, 1),
        "chosen_hash": results["hash"],
        "chosen_position": results["position"],
        "chosen_search_macs": results["search_cost"],
        "chosen_macs_at_retrain_width": results["macs"],
        "entropy_per_epoch": [round(r["entropy"], 3) for r in log],
        "reward_mean_per_epoch": [round(r["reward_mean"], 4) for r in log],
        "last_epoch_reward_mean": sum(r["reward"] for r in last) / len(last),
        "last_epoch_psnr_mean": sum(r["psnr"] for r in last) / len(last),
        "last_epoch_macs_mean": sum(r["macs"] for r in last) / len(last),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/evidence"))
    args = parser.parse_args()
    common = [f"search.epochs={args.epochs}", f"seed={args.seed}"]
    runs = {
        "lambda0.2": search(args.out / "lambda0.2", [*common, "reward.lambda=0.2"]),
        "lambda0.9": search(args.out / "lambda0.9", [*common, "reward.lambda=0.9"]),
        "lstm0.6": search(args.out / "lstm0.6", [*common, "reward.lambda=0.6"]),
        "random0.6": search(args.out / "random0.6", [*common, "reward.lambda=0.6", "controller.type='random'"]),
    }
    summary = {
        "runs": runs,
        "lambda_0.2_fewer_macs_than_0.9": runs["lambda0.2"]["chosen_search_macs"] < runs["lambda0.9"]["chosen_search_macs"],
        "entropy_fell": runs["lstm0.6"]["entropy_per_epoch"][-1] < runs["lstm0.6"]["entropy_per_epoch"][0],
        "lstm_minus_random_last_epoch_reward": runs["lstm0.6"]["last_epoch_reward_mean"]
        - runs["random0.6"]["last_epoch_reward_mean"],
    }
    atomic_write_json(args.out / "evidence.json", summary)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
