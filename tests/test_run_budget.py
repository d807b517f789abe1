"""``budget_minutes``: the whole ``hnas run`` in a stated wall time, the stages sharing it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hnas.cli import app
from hnas.search import budget as budget_module
from hnas.utils.io import read_jsonl

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture()
def spec_file(tmp_path: Path, small_images: Path, tiny_spec) -> Path:  # type: ignore[no-untyped-def]
    return tiny_spec(tmp_path, small_images)


def test_the_retraining_gets_what_the_search_leaves_less_the_evaluation(
        spec_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The split is written to ``budget.json`` and each stage's plan beside its time in
    ``timings.jsonl``; the report shows them side by side."""
    monkeypatch.setattr(budget_module, "evaluation_seconds", lambda *a: 1.5)
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(spec_file), "--out", str(out), "--set", "budget_minutes=0.5"])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "budget.json").read_text())
    assert plan["budget_s"] == 30.0 and plan["evaluate_s"] == 1.5
    assert plan["retrain_s"] == pytest.approx(30.0 - plan["before_retrain_s"] - 1.5, abs=2e-3)
    timings = {r["stage"]: r for r in read_jsonl(out / "timings.jsonl")}
    assert timings["retrain"]["planned"] == plan["retrain_s"] and timings["evaluate"]["planned"] == 1.5
    assert timings["total"]["planned"] == 30.0
    config = json.loads((out / "retrain" / "config.json").read_text())
    assert config["minutes"] == pytest.approx(plan["retrain_s"] / 60)
    assert "planned" in (out / "report.html").read_text()


def test_a_budget_the_search_used_up_is_one_line(spec_file: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget_module, "evaluation_seconds", lambda *a: 60.0)
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(spec_file), "--out", str(out), "--set", "budget_minutes=0.5"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert "leaves no time to retrain" in result.stderr and "budget_minutes" in result.stderr
    assert not (out / "budget.json").exists() and not (out / "retrain").exists()


def test_a_budget_with_a_sweep_is_refused(spec_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(spec_file), "--out", str(tmp_path / "run"), "--set", "budget_minutes=1",
                                 "--set", "reward.lambdas=[0.2, 0.8]"])
    assert result.exit_code == 2 and "lambda sweep" in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "T91").is_dir(), reason="needs ../shared/data/T91")
def test_the_cpu_hour_spec_scaled_to_two_minutes_ends_within_five_percent(tmp_path: Path) -> None:
    """``examples/cpu-hour.toml`` with its budget scaled to 2 minutes (and its search and widths to
    fit), run as a user runs it: the command's wall time is within 5 % of the budget."""
    scaled = ["budget_minutes=2", "search.epochs=2", "search.warmup_epochs=1", "search.w_steps=4",
              "search.derive_samples=2", "data.score_patches=4", "space.channels=8", "retrain.channels=8",
              'evaluate.data=["builtin:set5"]']
    command = [sys.executable, "-m", "hnas", "run", str(REPO / "examples" / "cpu-hour.toml"),
               "--out", str(tmp_path / "run")]
    for item in scaled:
        command += ["--set", item]
    began = time.time()
    done = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=600)
    wall = time.time() - began
    assert done.returncode == 0, done.stderr[-2000:]
    assert abs(wall - 120.0) <= 0.05 * 120.0, (wall, (tmp_path / "run" / "timings.jsonl").read_text())
