"""`kill -9` at any moment of `hnas run`, then `--resume`: the same archive and results as an
uninterrupted run with the same seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hnas.cli import app


def _archive_lines(out: Path) -> int:
    path = out / "archive.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _stage(out: Path) -> str | None:
    try:
        return json.loads((out / "state.json").read_text())["stage"]
    except (OSError, ValueError, KeyError):
        return None


#: Where to kill: the first archive line (mid epoch 1), mid epoch 2 (after a checkpoint),
#: as soon as the search is done (during derivation), and during the retraining.
KILL_POINTS: dict[str, Callable[[Path], bool]] = {
    "epoch1": lambda out: _archive_lines(out) >= 1,
    "epoch2": lambda out: _archive_lines(out) >= 4,
    "after-search": lambda out: _stage(out) in ("derive", "retrain", "evaluate"),
    "retrain": lambda out: (out / "retrain" / "train_log.jsonl").exists(),
}


@pytest.fixture(scope="module")
def spec_and_reference(tmp_path_factory, small_images, tiny_spec) -> tuple[Path, Path]:
    spec = tiny_spec(tmp_path_factory.mktemp("spec"), small_images, epochs=3, iters=30)
    reference = tmp_path_factory.mktemp("reference") / "run"
    result = CliRunner().invoke(app, ["run", str(spec), "--out", str(reference)])
    assert result.exit_code == 0, result.output
    return spec, reference


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_then_resume_gives_the_uninterrupted_result(spec_and_reference, tmp_path, point):
    spec, reference = spec_and_reference
    out = tmp_path / "run"
    command = [sys.executable, "-m", "hnas", "run", str(spec), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    try:
        while not KILL_POINTS[point](out):
            assert proc.poll() is None, "the run ended before the kill point"
            assert time.monotonic() < deadline, "kill point never reached"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.json").exists()
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("archive.jsonl", "results.json", "genotype.json"):
        assert (out / name).read_text() == (reference / name).read_text(), name
