"""Successive halving against random search at the same step budget, over independent seeds.

Each (seed, strategy) is one complete ``hnas run`` of ``examples/strategy-halving.toml``: the
strategy spends the same ``strategy.budget_steps`` of stand-alone training, its pick is retrained
with the same recipe and evaluated on Set5 (the development set, watched during retraining) and
Set14 (the test set: nothing is selected on it). Random search trains each of its draws for as
many steps as halving's last rung, so the two differ only in how the budget is spent. Seeds give
independent searches: every draw derives from the run's seed.

    python experiments/strategy_evidence.py --seeds 0 1 2 --jobs 2 --out runs/strategy-evidence   # from the repository root
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor
from math import comb
from pathlib import Path
from statistics import mean, median, pstdev
from typing import Any

from _runs import hnas_run

from hnas.compare.stats import kendall_tau

SPEC = Path(__file__).parents[1] / "examples" / "strategy-halving.toml"
STRATEGIES = {
    "halving": [],
    "random": ["--set", "strategy.type=random_search", "--set", "strategy.params={steps = 450}"],
}


def run(seed: int, name: str, out: Path, threads: int) -> Path:
    return hnas_run(SPEC, out / f"{name}-seed{seed}", ["--set", f"seed={seed}", *STRATEGIES[name]], threads)


def _wall(folder: Path) -> float:
    """The run's wall time: as this script timed it, else the run's own total (a run this script
    did not start, or whose start it did not see to the end)."""
    if (folder / "wall.json").exists():
        return float(json.loads((folder / "wall.json").read_text())["seconds"])
    timings = [json.loads(line) for line in (folder / "timings.jsonl").read_text().splitlines()]
    return float(next(t["seconds"] for t in timings if t["stage"] == "total"))


def summary(folder: Path) -> dict[str, Any]:
    results = json.loads((folder / "results.json").read_text())
    plan = json.loads((folder / "strategy.json").read_text())
    records = [json.loads(line) for line in (folder / "strategy.jsonl").read_text().splitlines()]
    return {
        "hash": results["hash"], "gmacs": round(results["macs"] / 1e9, 2), "params": results["params"],
        "set5": results["evaluation"]["Set5"]["psnr"], "set14": results["evaluation"]["Set14"]["psnr"],
        "pick_proxy_psnr": results["search"]["proxy"]["psnr"], "pick_steps": results["search"]["proxy"]["iters"],
        "architectures_scored": len({r["hash"] for r in records}), "steps_spent": records[-1]["spent"],
        "plan": plan, "wall_s": _wall(folder),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def short_against_long(halving: Path, random: Path) -> dict[str, Any]:
    """How well halving's first rung ranks what random search trained to the end: both draw their
    pool from the run's seed, so random search's candidates are the first of halving's pool and
    each has a first-rung score and a full-length one (a fidelity check, not a retrained one)."""
    first = min(json.loads(line)["steps"] for line in (halving / "strategy.jsonl").read_text().splitlines())
    short = {r["hash"]: r["psnr"] for r in map(json.loads, (halving / "strategy.jsonl").read_text().splitlines())
             if r["steps"] == first}
    long = {r["hash"]: r["psnr"] for r in map(json.loads, (random / "strategy.jsonl").read_text().splitlines())}
    shared = [h for h in long if h in short]
    return {"first_rung_steps": first, "architectures": len(shared),
            "tau": _rounded(kendall_tau([short[h] for h in shared], [long[h] for h in shared]))}


def sign_test(margins: list[float]) -> float | None:
    """One-sided sign test: the chance of at least this many wins among the searches that differ,
    if halving and random search were equally good (ties, the same pick, carry no sign)."""
    signed = [m for m in margins if m != 0]
    if not signed:
        return None
    wins = sum(m > 0 for m in signed)
    return round(sum(comb(len(signed), k) for k in range(wins, len(signed) + 1)) / 2 ** len(signed), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (each gets cores/jobs threads)")
    parser.add_argument("--out", type=Path, default=Path("runs/strategy-evidence"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    work = [(seed, name) for seed in args.seeds for name in STRATEGIES]
    with ThreadPoolExecutor(args.jobs) as pool:
        folders = dict(zip(work, pool.map(lambda w: run(w[0], w[1], args.out, threads), work)))
    rows = {f"seed{seed}": {name: summary(folders[(seed, name)]) for name in STRATEGIES} for seed in args.seeds}
    fidelity = {f"seed{seed}": short_against_long(folders[(seed, "halving")], folders[(seed, "random")])
                for seed in args.seeds}
    margins = {key: {s: round(row["halving"][s] - row["random"][s], 4) for s in ("set5", "set14")}
               for key, row in rows.items()}
    set14 = [m["set14"] for m in margins.values()]
    report = {
        "spec": str(SPEC.name), "seeds": args.seeds, "runs": rows, "margins_halving_minus_random": margins,
        "set14": {"halving_wins": sum(m > 0 for m in set14), "searches": len(set14),
                  "mean_margin": round(mean(set14), 4), "median_margin": round(median(set14), 4),
                  "margin_sd": round(pstdev(set14), 4) if len(set14) > 1 else None,
                  "ties": sum(m == 0 for m in set14), "sign_test_p_one_sided": sign_test(set14)},
        "first_rung_against_full_length": fidelity,
        # the mean of the seeds' taus, not one tau over every seed's candidates: each seed scores on
        # patches of its own, so pooled PSNRs would rank the seeds' patches, not the architectures
        "first_rung_against_full_length_mean_tau": _rounded(mean(
            f["tau"] for f in fidelity.values() if f["tau"] is not None)) if fidelity else None,
        "note": "Set5 is the development set; Set14 the test set (nothing selected on it).",
    }
    (args.out / "strategy-evidence.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({"margins": margins, "set14": report["set14"]}, indent=2))


if __name__ == "__main__":
    main()
