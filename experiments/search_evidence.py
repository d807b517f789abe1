"""Does the search find better networks than chance? Searches, then retrains at equal budget.

For each search (controller x lambda) it runs ``hnas run experiments/evidence.toml`` (search and
derivation, which trains 14 candidates alone for 200 steps: ``[search.proxy]``; no retraining),
then ``hnas compare`` of the searched architecture against random architectures drawn within 15 %
of its MACs (``random:K@searched``), hand-designed baselines and HNAS-A, all retrained with one
recipe over seeds and evaluated on Set5 and Set14 (shipped with hnas, never searched or trained
on), with the run's shared weights scoring every member of its space (Kendall tau). Every step is
the command line a user would type; the summary goes to OUT/evidence.json and a Markdown table.

    python experiments/search_evidence.py --data ../shared/data/T91 --out runs/evidence

Resumable: rerun the same command and finished searches and comparisons are reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SPEC = Path(__file__).with_name("evidence.toml")

EVOLUTION = ["controller.type='evolution'", "controller.params={ population = 8, sample_size = 3 }"]
LSTM = ["controller.type='hierarchical_lstm'", "controller.params={ lr = 5e-3, weight_decay = 0.0 }",
        "search.epochs=30", "search.controller_steps=10"]
#: (name, controller overrides, lambda, full comparison?). The full one: random:8@searched, two
#: hand-designed baselines and HNAS-A over 2 seeds; the others: random:4@searched, one seed.
SEARCHES = {
    "evolution-0.6": (EVOLUTION, 0.6, True),
    "lstm-0.6": (LSTM, 0.6, False),
    "evolution-0.2": (EVOLUTION, 0.2, False),
    "evolution-0.9": (EVOLUTION, 0.9, False),
}


def hnas(*args: str) -> float:
    """Run one hnas command (the CLI, exactly as a user would); returns its wall time."""
    started = time.perf_counter()
    print("$ hnas", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "hnas", *args], check=True)
    return time.perf_counter() - started


def search(name: str, overrides: list[str], lam: float, data: str, out: Path) -> tuple[Path, float]:
    run = out / f"search-{name}"
    args = ["run", str(SPEC), "--out", str(run), "--set", f"data.source='{data}'", "--set", f"reward.lambda={lam}"]
    for item in overrides:
        args += ["--set", item]
    seconds = hnas(*args, *(["--resume"] if (run / "spec.json").exists() else []))
    return run, seconds


def compare(name: str, run: Path, data: str, out: Path, args: argparse.Namespace, full: bool) -> tuple[Path, float]:
    folder = out / f"compare-{name}"
    randoms = args.randoms if full else args.randoms_small
    members = [str(run), f"random:{randoms}@{run}"]
    if full:
        members += ["baseline-plain", "baseline-rcab", "hnas-a"]
    command = ["compare", *members, "--data", data, "--eval", "builtin:set5", "--eval", "builtin:set14",
               "--iters", str(args.iters), "--channels", "16", "--seeds", str(args.seeds if full else args.seeds_small),
               "--batch", str(args.batch), "--patch", str(args.patch), "--shared-weights", str(run),
               "--out", str(folder), "--nproc", str(args.nproc), "--seed", "0"]
    seconds = hnas(*command, *(["--resume"] if (folder / "compare_spec.json").exists() else []))
    return folder, seconds


def summarise(name: str, run: Path, folder: Path, seconds: dict[str, float]) -> dict[str, Any]:
    report = json.loads((folder / "compare.json").read_text())
    rows = {m["name"]: m for m in report["members"]}
    searched = rows[f"run-{run.name}"]
    randoms = [m for m in report["members"] if m["kind"] == "random"]
    out: dict[str, Any] = {"search": name, "seconds": seconds, "searched_macs": searched["macs"],
                           "random_macs": [m["macs"] for m in randoms], "sets": {}}
    for set_name in report["eval_sets"]:
        mine = searched["sets"][set_name]["psnr_mean"]
        others = [m["sets"][set_name]["psnr_mean"] for m in randoms]
        out["sets"][set_name] = {
            "searched": mine,
            "random_median": statistics.median(others),
            "random_all": others,
            "searched_beats_median": mine > statistics.median(others),
            "rank_among_randoms": 1 + sum(o > mine for o in others),
            "baselines": {m["name"]: m["sets"][set_name]["psnr_mean"] for m in report["members"]
                          if m["kind"] in ("baseline", "preset")},
        }
    out["rank_correlation"] = report["rank_correlation"]
    return out


def markdown(summary: list[dict[str, Any]]) -> str:
    lines = ["| search | set | searched | random median (K) | rank | tau | GMACs searched / random |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for item in summary:
        for set_name, s in item["sets"].items():
            tau = (item["rank_correlation"] or {}).get(set_name, {}).get("kendall_tau")
            lines.append(
                f"| {item['search']} | {set_name} | {s['searched']:.3f} | {s['random_median']:.3f} "
                f"({len(s['random_all'])}) | {s['rank_among_randoms']} of {len(s['random_all']) + 1} | "
                f"{'n/a' if tau is None else f'{tau:+.2f}'} | {item['searched_macs'] / 1e9:.2f} / "
                f"{statistics.median(item['random_macs']) / 1e9:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/T91", help="training images (search and retraining)")
    parser.add_argument("--out", type=Path, default=Path("runs/evidence"))
    parser.add_argument("--only", nargs="*", default=list(SEARCHES), help=f"searches to run: {', '.join(SEARCHES)}")
    parser.add_argument("--iters", type=int, default=1000, help="retraining iterations per member and seed")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--randoms", type=int, default=8, help="random:K@searched in the full comparisons")
    parser.add_argument("--randoms-small", type=int, default=4, help="K in the lambda 0.2 / 0.9 comparisons")
    parser.add_argument("--seeds-small", type=int, default=1, help="seeds in the lambda 0.2 / 0.9 comparisons")
    parser.add_argument("--nproc", type=int, default=2, help="processes a comparison spreads members over")
    args = parser.parse_args()
    data = str(Path(args.data).resolve())
    done = args.out / "evidence.json"
    summary = [s for s in (json.loads(done.read_text()) if done.exists() else []) if s["search"] not in args.only]
    for name in args.only:
        overrides, lam, full = SEARCHES[name]
        run, search_s = search(name, overrides, lam, data, args.out)
        folder, compare_s = compare(name, run, data, args.out, args, full)
        summary.append(summarise(name, run, folder, {"search": round(search_s, 1), "compare": round(compare_s, 1)}))
        (args.out / "evidence.json").write_text(json.dumps(summary, indent=2))
    table = markdown(summary)
    (args.out / "evidence.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
