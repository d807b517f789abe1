"""What a strategy run did, read back from its files: the plan, each rung's candidates and the pick."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hnas.strategies.files import PLAN_FILE, STRATEGY_FILE, best_record
from hnas.utils.io import read_jsonl


def is_strategy_run(folder: Path) -> bool:
    return (Path(folder) / PLAN_FILE).is_file()


def strategy_summary(folder: Path) -> dict[str, Any]:
    """``{"plan", "spent", "rungs": [{"steps", "candidates", "best_psnr", "median_psnr", "best"}], "pick"}``."""
    folder = Path(folder)
    plan = json.loads((folder / PLAN_FILE).read_text())
    file = folder / STRATEGY_FILE
    records = read_jsonl(file) if file.exists() else []
    rungs = []
    for steps in sorted({r["steps"] for r in records}):
        at = sorted((r for r in records if r["steps"] == steps), key=lambda r: -r["reward"])
        psnrs = sorted(r["psnr"] for r in at)
        rungs.append({"steps": steps, "candidates": len(at), "best_psnr": at[0]["psnr"],
                      "median_psnr": psnrs[len(psnrs) // 2], "best": at[0]["hash"],
                      "gmacs": [round(min(r["macs"] for r in at) / 1e9, 2), round(max(r["macs"] for r in at) / 1e9, 2)]})
    pick = best_record(records) if records else None
    return {"plan": plan, "spent": records[-1]["spent"] if records else 0, "rungs": rungs,
            "pick": None if pick is None else {k: pick[k] for k in ("hash", "steps", "psnr", "reward", "macs")}}
