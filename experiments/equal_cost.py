"""Each search's pick against random networks of its own MACs, trained once in a shared pool.

The issue's protocol compares every search with random networks within 15 % of its pick's MACs.
Training 8 of them per search is 40 retrainings; the pool does it once: the random networks of
``experiments/fidelity_tau.py`` (uniform draws within ``examples/strategy-halving.toml``'s 15-30
GMAC band, retrained with the strategies' recipe, ``fidelity-compare.json``) are the controls,
and each pick is compared with those of the pool that lie within 15 % of its MACs.

What this script trains, with the same recipe (``hnas compare``, 2000 iterations, batch 16,
patch 48, 2 seeds) on this machine, so that picks and pool share the CPU's instruction set:

* the picks of successive halving and of random search at seeds 0-4, read from the committed
  search logs (``docs/results/strategy-*-seed*.jsonl``, by the hash in ``strategy-evidence.json``);
* ``baseline-plain`` at the two depths whose MACs bracket the picks (the equal-MACs control).

The pool was first trained with seed 0 alone; ``pool_with_second_seed`` adds seed 1 (the issue
asks for two), so ranks and margins use every network's mean over 2 seeds, and the seed sd is the
mean spread of all retrained networks over their two seeds. Set5 is the development set; Set14
the test set (nothing is selected on it, it is only reported).

    python experiments/equal_cost.py --nproc 2 --out runs/equal-cost   # from the repository root
    # the picks as retrained before, only the pool's seed 1 trained here:
    python experiments/equal_cost.py --picks-from docs/results/equal-cost-compare.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from math import comb
from pathlib import Path
from statistics import mean, median, stdev
from typing import Any

from _runs import machine

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "docs" / "results"
SEEDS = range(5)
STRATEGIES = ("halving", "random")
BASELINES = ("baseline-plain:layers=4", "baseline-plain:layers=5")
WITHIN = 0.15


def picks() -> dict[str, dict[str, Any]]:
    """``{"halving-seed0": {"hash", "genotype"}, ...}`` from the committed search logs."""
    evidence = json.loads((RESULTS / "strategy-evidence.json").read_text())
    found = {}
    for seed in SEEDS:
        for strategy in STRATEGIES:
            key = evidence["runs"][f"seed{seed}"][strategy]["hash"]
            log = RESULTS / f"strategy-{strategy}-seed{seed}.jsonl"
            record = next(r for r in map(json.loads, log.read_text().splitlines()) if r["hash"] == key)
            found[f"{strategy}-seed{seed}"] = {"hash": key, "genotype": record["genotype"]}
    return found


RECIPE = ["--data", '{type = "union", params = {sources = ["../shared/data/T91", "builtin:skimage"]}}',
          "--iters", "2000", "--batch", "16", "--patch", "48", "--lr", "1e-3", "--channels", "16"]


def compare(genotypes: dict[str, dict[str, Any]], extra: list[str], folder: Path, nproc: int) -> dict[str, Any]:
    """``hnas compare`` of ``genotypes`` (file stem -> genotype) and ``extra`` members with the
    strategies' recipe in ``folder`` (resumed when a run was killed); its ``compare.json``."""
    if not (folder / "compare.json").exists():
        files = folder.parent / f"{folder.name}-genotypes"
        files.mkdir(parents=True, exist_ok=True)
        for stem, genotype in genotypes.items():
            (files / f"{stem}.json").write_text(json.dumps(genotype))
        resume = ["--resume"] if folder.exists() else []
        subprocess.run([sys.executable, "-m", "hnas", "compare", *sorted(str(p) for p in files.glob("*.json")), *extra,
                        *RECIPE, "--nproc", str(nproc), "--out", str(folder), *resume], check=True, cwd=ROOT)
    return json.loads((folder / "compare.json").read_text())


def retrain(found: dict[str, dict[str, Any]], out: Path, nproc: int) -> dict[str, Any]:
    """The picks and the sized baselines, 2 seeds."""
    genotypes = {v["hash"]: v["genotype"] for v in found.values()}
    return compare(genotypes, [*BASELINES, "--seeds", "2"], out / "compare", nproc)


def pool_with_second_seed(out: Path, nproc: int) -> list[dict[str, Any]]:
    """The pool's members with seed 1 added (the issue asks for 2 retraining seeds; the pool was
    trained with seed 0 alone): the same recipe, ``--first-seed 1``; each member's ``psnr`` lists
    then hold seed 0 and seed 1."""
    pool = json.loads((RESULTS / "fidelity-compare.json").read_text())["members"]
    added = compare({m["name"]: m["genotype"] for m in pool}, ["--seeds", "1", "--first-seed", "1"],
                    out / "pool-seed1", nproc)
    second = {m["hash"]: m for m in added["members"]}
    for member in pool:
        for name, stats in member["sets"].items():
            for field in ("psnr", "ssim"):
                stats[field] = [*stats[field], *second[member["hash"]]["sets"][name][field]]
    return pool


def hnas_a(out: Path, nproc: int) -> dict[str, Any]:
    """The paper's published network (HNAS-A, at the recipe's 16 channels), 2 seeds."""
    return compare({}, ["hnas-a", "--seeds", "2"], out / "hnas-a", nproc)["members"][0]


#: The space's nearest thing to a plain stack: every normal cell a chain of four conv_3x3 (each
#: node also reads the node two back, as the cell wiring asks two inputs), upsampling in the last
#: layer by sub-pixel convolutions; 25.39 GMACs, between baseline-plain's 4 and 5 layers. Where it
#: lands against those says whether the cell's own structure (input 1x1s, concatenation and its
#: 1x1 reduction) costs PSNR at equal MACs: a price no choice of ops can avoid.
PLAIN_CELLS = {
    "normal": [["conv_3x3", 1, 2], ["skip_connect", 0, 2], ["conv_3x3", 2, 3], ["skip_connect", 1, 3],
               ["conv_3x3", 3, 4], ["skip_connect", 2, 4], ["conv_3x3", 4, 5], ["skip_connect", 3, 5]],
    "upsampling": [["sub_pixel", 1, 2], ["nearest", 0, 2], ["sub_pixel", 2, 3], ["nearest", 1, 3],
                   ["sub_pixel", 3, 4], ["nearest", 2, 4], ["sub_pixel", 4, 5], ["nearest", 3, 5]],
    "position": 5, "layers": 6,
}


def plain_cells(out: Path, nproc: int) -> dict[str, Any]:
    """:data:`PLAIN_CELLS` retrained with the recipe, 2 seeds."""
    return compare({"plain-cells": PLAIN_CELLS}, ["--seeds", "2"], out / "plain-cells", nproc)["members"][0]


def standing(own: float, controls: list[float], suffix: str = "") -> dict[str, Any]:
    """``own``'s rank among ``controls`` (1 = best), their median and ``own``'s margin over it; the
    keys end in ``suffix``."""
    middle = median(controls)
    return {f"rank{suffix}": 1 + sum(c > own for c in controls), f"random_median{suffix}": middle,
            f"margin_over_random_median{suffix}": own - middle}


def sign_test(wins: int, n: int) -> float:
    """One-sided P(at least ``wins`` of ``n``) under a fair coin."""
    return sum(comb(n, k) for k in range(wins, n + 1)) / 2 ** n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/equal-cost"))
    parser.add_argument("--picks-from", type=Path, default=None,
                        help="a compare.json of the picks trained before (docs/results/equal-cost-compare.json) "
                             "instead of retraining them")
    args = parser.parse_args()
    args.out = args.out.resolve()
    found = picks()
    picked = json.loads(args.picks_from.read_text()) if args.picks_from else retrain(found, args.out, args.nproc)
    members = {m["hash"]: m for m in picked["members"]}
    baselines = [m for m in picked["members"] if m["kind"] == "baseline"]
    pool = pool_with_second_seed(args.out, args.nproc)
    chain = plain_cells(args.out, args.nproc)
    paper = hnas_a(args.out, args.nproc)

    def psnr(member: dict[str, Any], name: str, seed: int | None = None) -> float:
        values = member["sets"][name]["psnr"]
        return values[seed] if seed is not None else mean(values)

    rows: dict[str, Any] = {}
    for seed in SEEDS:
        pick = members[found[f"halving-seed{seed}"]["hash"]]
        rival = members[found[f"random-seed{seed}"]["hash"]]
        near = [m for m in pool if m["hash"] != pick["hash"] and abs(m["macs"] - pick["macs"]) <= WITHIN * pick["macs"]]
        sized = min(baselines, key=lambda b: abs(b["macs"] - pick["macs"]))
        row: dict[str, Any] = {"hash": pick["hash"], "gmacs": round(pick["macs"] / 1e9, 2), "random_controls": len(near)}
        for name in ("Set5", "Set14"):
            own, own_mean = psnr(pick, name, 0), psnr(pick, name)
            row[name] = {
                "psnr_seed0": own, "psnr_mean": own_mean, "of": len(near) + 1,
                **standing(own, [psnr(m, name, 0) for m in near], "_seed0"),
                **standing(own_mean, [psnr(m, name) for m in near]),
                "random_search_pick": rival["hash"], "margin_over_random_search": own_mean - psnr(rival, name),
                "baseline": sized["name"], "margin_over_baseline": own_mean - psnr(sized, name),
            }
        rows[f"seed{seed}"] = row
    retrained = [*picked["members"], *pool]
    seed_sd = {name: mean(stdev(m["sets"][name]["psnr"]) for m in retrained) for name in ("Set5", "Set14")}
    summary = {}
    for name in ("Set5", "Set14"):
        margins = [r[name]["margin_over_random_median"] for r in rows.values()]
        wins = sum(m > 0 for m in margins)
        summary[name] = {
            "beats_random_median": f"{wins} of {len(margins)}", "sign_test_p": sign_test(wins, len(margins)),
            "mean_margin_over_random_median": mean(margins), "retraining_seed_sd": seed_sd[name],
            "beats_random_median_seed0": f"{sum(r[name]['margin_over_random_median_seed0'] > 0 for r in rows.values())}"
                                         f" of {len(rows)}",
            "mean_margin_over_random_median_seed0": mean(r[name]["margin_over_random_median_seed0"]
                                                         for r in rows.values()),
            "mean_margin_over_random_search": mean(r[name]["margin_over_random_search"] for r in rows.values()),
            "mean_margin_over_baseline": mean(r[name]["margin_over_baseline"] for r in rows.values()),
            "plain_cells": {"gmacs": round(chain["macs"] / 1e9, 2), "psnr_mean": psnr(chain, name),
                            "minus_baselines": {b["name"]: psnr(chain, name) - psnr(b, name) for b in baselines}},
            "hnas_a": {"gmacs": round(paper["macs"] / 1e9, 2), "psnr_mean": psnr(paper, name),
                       "mean_margin_of_picks": mean(r[name]["psnr_mean"] for r in rows.values()) - psnr(paper, name)},
        }
    # The paper's LSTM (experiments/lstm_row.py) against the same pool, where the pool reaches its
    # MACs: its picks were retrained by their own runs (at the run's seed), on this CPU's ISA.
    lstm = {}
    for key, run in json.loads((RESULTS / "lstm-row.json").read_text())["runs"].items():
        macs = run["gmacs"] * 1e9
        near = [m for m in pool if abs(m["macs"] - macs) <= WITHIN * macs]
        entry: dict[str, Any] = {"hash": run["hash"], "gmacs": run["gmacs"], "random_controls": len(near)}
        if near:
            for name, field in (("Set5", "set5"), ("Set14", "set14")):
                entry[name] = {"psnr": run[field], "of": len(near) + 1,
                               **standing(run[field], [psnr(m, name) for m in near])}
        lstm[key] = entry
    # The fidelities of experiments/fidelity_tau.py (its 24 networks are the pool) against the
    # pool's 2-seed means, where that script had seed 0 alone.
    from hnas.compare.stats import kendall_tau

    scored = {r["hash"]: r for r in json.loads((RESULTS / "fidelity-tau.json").read_text())["rows"]}
    by_hash = {m["hash"]: m for m in pool}
    keys = sorted(scored)
    fidelity_tau = {
        fidelity: {name: round(kendall_tau([scored[k][fidelity] for k in keys], [psnr(by_hash[k], name) for k in keys]), 3)
                   for name in ("Set5", "Set14")}
        for fidelity in ("proxy_50", "proxy_150", "proxy_450", "shared", "gmacs")
    }
    report = {"searches": rows, "fidelity_tau_two_seeds": {"architectures": len(keys), "kendall_tau": fidelity_tau},
              "summary": summary, "lstm": lstm, "within": WITHIN, "pool": "fidelity-compare.json",
              "recipe": picked.get("recipe"), "machine": machine(),
              "note": "rank and margins on the mean of 2 retraining seeds (seed 0 alone: the *_seed0 fields, "
                      "as reported before the pool's seed 1 was trained); seed sd: mean over every retrained network "
                      "(picks, baselines, pool) of the sd of its 2 seeds; the LSTM picks (one seed, their run's) "
                      "against the pool's 2-seed means. Set5 is the development set, Set14 the test set (only reported)."}
    (args.out / "equal-cost.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
