"""The README's first command: the quick start runs end to end and says where its numbers come from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[1] / "examples"


def test_the_quickstart_runs_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, "-m", "hnas", "run", str(EXAMPLES / "quickstart.toml"), "--out", "run"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=2400)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "run"
    results = json.loads((out / "results.json").read_text())
    # evaluated on sets nothing searched or trained on, named, with the retrained checkpoint named too
    assert set(results["evaluation"]) == {"Set5", "Set14"}
    assert len(results["evaluation"]["Set5"]["images"]) == 5 and len(results["evaluation"]["Set14"]["images"]) == 14
    assert results["evaluation"]["Set5"]["psnr"] > 33.0
    assert "best validation PSNR" in results["retrain"]["checkpoint"]
    archive = [json.loads(line) for line in (out / "archive.jsonl").read_text().splitlines()]
    scores = {r["hash"]: r["psnr"] for r in archive if r["stage"] == "search"}
    assert len(set(scores.values())) > 1, "architectures are told apart"
    for name in ("report.html", "pareto.png", "model.safetensors", "genotype.json"):
        assert (out / name).is_file(), name
