"""The paper's method at the strategies' budget: the LSTM row of the search evidence.

``examples/strategy-halving.toml`` with its ``[strategy]`` taken out, so ``hnas run`` runs the
paper's search instead: the shared-weight supernet trained for as many steps as the strategies
spend on stand-alone training (``strategy.budget_steps``'s 2700 planned steps: 27 epochs of 100
weight steps), the hierarchical LSTM at the paper's settings (lr 3e-4, entropy bonus, baseline
decay 0.95, 50 controller steps per epoch), and the paper's derivation (10 samples plus the
controller's picks, the best on the shared weights). The reward, space, data, retraining and
evaluation are the strategies' own, so the row differs only in how the architecture is found.
Set5 is the development set (watched during retraining); Set14 the test set.

    python experiments/lstm_row.py --seeds 0 1 2 3 4 --jobs 1 --out runs/lstm-row   # from the repository root
"""

from __future__ import annotations

import argparse
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

from _runs import hnas_run, machine

ROOT = Path(__file__).parents[1]
SPEC = ROOT / "examples" / "strategy-halving.toml"
EVIDENCE = ROOT / "docs" / "results" / "strategy-evidence.json"
BUDGET_EPOCHS, W_STEPS = 27, 100  # 2700 shared-weight steps: what halving and random search spend
PAPER = f"""
[controller]              # the paper's hierarchical LSTM and its settings (supplementary B)
type = "hierarchical_lstm"
params = {{ lr = 3e-4, weight_decay = 5e-4, entropy_weight = 1.0, entropy_mode = "reward", baseline_decay = 0.95 }}

[search]                  # Algorithm 1 at the strategies' step budget
epochs = {BUDGET_EPOCHS}
w_steps = {W_STEPS}
controller_steps = 50
derive_samples = 10
"""


def paper_spec(out: Path) -> Path:
    """The halving spec without its strategy section, with the paper's controller and search."""
    text = SPEC.read_text()
    without = re.sub(r"(?ms)^\[strategy\]\n.*?(?=^\[)", "", text)
    if without == text:
        raise SystemExit(f"{SPEC} has no [strategy] section to take out")
    path = out / "lstm-paper.toml"
    path.write_text(f"# written by experiments/lstm_row.py from {SPEC.name}\n{without}{PAPER}")
    return path


def run(seed: int, spec: Path, out: Path, threads: int) -> Path:
    return hnas_run(spec, out / f"lstm-seed{seed}", ["--set", f"seed={seed}"], threads)


def summary(folder: Path) -> dict[str, Any]:
    results = json.loads((folder / "results.json").read_text())
    return {"hash": results["hash"], "gmacs": round(results["macs"] / 1e9, 2), "params": results["params"],
            "set5": results["evaluation"]["Set5"]["psnr"], "set14": results["evaluation"]["Set14"]["psnr"],
            "wall_s": json.loads((folder / "wall.json").read_text())["seconds"]}



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each gets cores/jobs threads)")
    parser.add_argument("--out", type=Path, default=Path("runs/lstm-row"))
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    spec = paper_spec(args.out)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    with ThreadPoolExecutor(args.jobs) as pool:
        folders = list(pool.map(lambda seed: run(seed, spec, args.out, threads), args.seeds))
    rows = {f"seed{seed}": summary(folder) for seed, folder in zip(args.seeds, folders)}
    others = json.loads(EVIDENCE.read_text())["runs"] if EVIDENCE.exists() else {}
    margins = {key: {name: round(row["set14"] - others[key][name]["set14"], 4) for name in ("halving", "random")}
               for key, row in rows.items() if key in others}
    report: dict[str, Any] = {"spec": spec.name, "from": SPEC.name, "seeds": args.seeds, "runs": rows,
                              "set14_lstm_minus": margins,
                              "machine": machine(),
                              "note": "Set5 is the development set; Set14 the test set (nothing selected on it)."}
    for name in ("halving", "random"):
        values = [m[name] for m in margins.values()]
        if values:
            report[f"set14_mean_minus_{name}"] = round(mean(values), 4)
            report[f"set14_sd_minus_{name}"] = round(pstdev(values), 4)
    (args.out / "lstm-row.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
