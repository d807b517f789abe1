"""How well each fidelity ranks architectures by their retrained PSNR (Kendall tau, >= 20 networks).

The architectures are the first ``--count`` of successive halving's pool at seed 0 in
``examples/strategy-halving.toml`` (uniform draws within its MACs band, as every strategy draws
them). Each is scored by:

* stand-alone training (the strategies' proxy) at 50, 150 and 450 steps: one training of 450
  steps per network under the halving's schedule, scored on the fixed scoring patches after 50,
  150 and 450 steps, i.e. what the first, second and last rung of halving would see;
* the shared weights of a finished ``hnas run`` of the same space (the paper's supernet, e.g. a
  run of ``experiments/lstm_row.py``), through ``hnas compare --shared-weights``;

and then retrained from scratch with the strategies' recipe (``hnas compare``: 2000 iterations,
batch 16, patch 48) and evaluated on Set5 (the development set) and Set14 (the test set: only
reported, nothing is selected on it). Tau is against the retrained Set5 PSNR; Set14's is given too.

    python experiments/fidelity_tau.py --count 20 --supernet runs/lstm-row/lstm-seed0 --out runs/fidelity
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from _runs import machine

ROOT = Path(__file__).parents[1]
SPEC = ROOT / "examples" / "strategy-halving.toml"
RUNGS = (50, 150, 450)


def proxy_scores(count: int, out: Path) -> dict[str, dict[str, Any]]:
    """The pool's first ``count`` networks, each trained alone once and scored at every rung;
    one line per network in ``proxy.jsonl``, so an interrupted run picks up where it stopped."""
    from hnas.search.components import build_components, build_strategy
    from hnas.search.data import SearchData
    from hnas.search.proxy import ProxyTrainer
    from hnas.search.scoring import Scorer
    from hnas.search.spec_loader import load_spec

    spec = load_spec(SPEC, ["seed=0"])
    parts = build_components(spec)
    data = SearchData(spec)
    device = torch.device("cpu")
    scorer = Scorer(data.score_lr, data.score_hr, spec.space.scale, parts.cost, parts.cost_settings, parts.reward,
                    device)
    pool = build_strategy(spec, parts).ready()[:count]
    if len(pool) < count:
        raise SystemExit(f"the pool holds {len(pool)} networks, fewer than --count {count}")
    proxy = ProxyTrainer(spec, data.proxy, scorer, device)
    path = out / "proxy.jsonl"
    done = {json.loads(line)["hash"]: json.loads(line) for line in path.read_text().splitlines()} if path.exists() else {}
    genotypes = out / "genotypes"
    genotypes.mkdir(exist_ok=True)
    for index, proposal in enumerate(pool):
        proposal.genotype.save(genotypes / f"{index:02d}-{proposal.key}.json")
        if proposal.key in done:
            continue
        trial = proxy.start(proposal.genotype)
        line: dict[str, Any] = {"hash": proposal.key, "index": index}
        for steps in RUNGS:
            proxy.advance(trial, steps, RUNGS[-1])
            with torch.no_grad():
                line[f"proxy_{steps}"] = round(float(scorer.score(trial.model, proposal.genotype)["psnr"]), 6)
        with open(path, "a") as handle:
            handle.write(json.dumps(line) + "\n")
        done[proposal.key] = line
        print(json.dumps(line), flush=True)
    return done


def retrain(out: Path, supernet: Path | None, nproc: int) -> dict[str, Any]:
    """Every network retrained with the strategies' recipe, by ``hnas compare``."""
    folder = out / "compare"
    if not (folder / "compare.json").exists():
        files = sorted(str(p) for p in (out / "genotypes").glob("*.json"))
        resume = ["--resume"] if folder.exists() else []
        shared = ["--shared-weights", str(supernet)] if supernet else []
        subprocess.run([sys.executable, "-m", "hnas", "compare", *files, "--data",
                        '{type = "union", params = {sources = ["../shared/data/T91", "builtin:skimage"]}}',
                        "--iters", "2000", "--batch", "16", "--patch", "48", "--lr", "1e-3", "--channels", "16",
                        "--seeds", "1", "--nproc", str(nproc), "--out", str(folder), *shared, *resume],
                       check=True, cwd=ROOT)
    return json.loads((folder / "compare.json").read_text())



def main() -> None:
    from hnas.compare.stats import kendall_tau

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--supernet", type=Path, default=None, help="a finished hnas run of the same space")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--only-proxy", action="store_true", help="score the proxies and stop")
    parser.add_argument("--out", type=Path, default=Path("runs/fidelity"))
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    proxies = proxy_scores(args.count, args.out)
    if args.only_proxy:
        return
    compare = retrain(args.out, args.supernet, args.nproc)
    rows = []
    for member in compare["members"]:
        key = member["hash"]
        if key not in proxies:
            continue
        sets = member["sets"]
        rows.append({"hash": key, "gmacs": round(member["macs"] / 1e9, 2), "set5": sets["Set5"]["psnr_mean"],
                     "set14": sets["Set14"]["psnr_mean"], "shared": member["shared_weight_score"],
                     **{f"proxy_{s}": proxies[key][f"proxy_{s}"] for s in RUNGS}})
    fidelities = [f"proxy_{s}" for s in RUNGS] + (["shared"] if all(r["shared"] is not None for r in rows) else [])
    taus = {f: {s: round(kendall_tau([r[f] for r in rows], [r[s] for r in rows]), 3) for s in ("set5", "set14")}
            for f in fidelities}
    taus["gmacs"] = {s: round(kendall_tau([r["gmacs"] for r in rows], [r[s] for r in rows]), 3)
                     for s in ("set5", "set14")}
    report = {"spec": SPEC.name, "architectures": len(rows), "supernet": str(args.supernet) if args.supernet else None,
              "recipe": compare.get("recipe"), "kendall_tau": taus, "rows": rows,
              "machine": machine(),
              "note": "tau against retrained PSNR (1 seed, 2000 iterations); Set5 is the development set, "
                      "Set14 the test set (only reported)"}
    (args.out / "fidelity-tau.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({"architectures": len(rows), "kendall_tau": taus}, indent=2))


if __name__ == "__main__":
    main()
