"""`kill -9` at any moment of `hnas run`, then `--resume`: byte for byte the files of an
uninterrupted run with the same seed -- the model and the logs included, and with a kill landing in
the middle of a checkpoint write among the kill points."""

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

PLUGINS = str(Path(__file__).parent / "plugin_pkg")
#: Every file of a finished run except wall times (timings.jsonl) and the report page that shows them.
RUN_FILES = ("spec.json", "state.json", "search_log.jsonl", "archive.jsonl", "derived.json", "genotype.json",
             "retrain.json", "results.json", "model.safetensors", "search_state.safetensors",
             "retrain/train.json", "retrain/config.json", "retrain/train_log.jsonl", "retrain/model.safetensors",
             "retrain/last.safetensors", "retrain/resume.safetensors", "retrain/summary.json", "retrain/genotype.json")


def _archive_lines(out: Path) -> int:
    path = out / "archive.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _stage(out: Path) -> str | None:
    try:
        return json.loads((out / "state.json").read_text())["stage"]
    except (OSError, ValueError, KeyError):
        return None


#: Where to kill: the first archive line (mid epoch 1), mid epoch 2 (after a checkpoint), as soon as
#: the search is done (during derivation), during the retraining; and (by the test plugin) in the
#: middle of the second write of the search state and of the retraining's resume state.
KILL_POINTS: dict[str, Callable[[Path], bool] | str] = {
    "epoch1": lambda out: _archive_lines(out) >= 1,
    "epoch2": lambda out: _archive_lines(out) >= 4,
    "after-search": lambda out: _stage(out) in ("derive", "retrain", "evaluate"),
    "retrain": lambda out: (out / "retrain" / "train_log.jsonl").exists(),
    "writing-search-state": "search_state.safetensors:2",
    "writing-retrain-state": "resume.safetensors:2",
}


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PLUGINS, os.environ.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="module")
def spec_and_reference(tmp_path_factory, small_images, tiny_spec) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("spec")
    spec = tiny_spec(folder, small_images, epochs=3, iters=30)
    spec.write_text('plugins = ["hnas_test_kill"]\n' + spec.read_text())
    reference = tmp_path_factory.mktemp("reference") / "run"
    done = subprocess.run([sys.executable, "-m", "hnas", "run", str(spec), "--out", str(reference)],
                          capture_output=True, text=True, env=_env(), timeout=600)
    assert done.returncode == 0, done.stderr
    return spec, reference


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_then_resume_gives_the_uninterrupted_files(spec_and_reference, tmp_path, point):
    spec, reference = spec_and_reference
    out = tmp_path / "run"
    command = [sys.executable, "-m", "hnas", "run", str(spec), "--out", str(out)]
    when = KILL_POINTS[point]
    if isinstance(when, str):  # the plugin kills the process itself, mid-write
        proc = subprocess.run(command, capture_output=True, env=_env(HNAS_TEST_KILL_DURING=when), timeout=600)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    else:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
        deadline = time.monotonic() + 300
        try:
            while not when(out):
                assert proc.poll() is None, "the run ended before the kill point"
                assert time.monotonic() < deadline, "kill point never reached"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.json").exists()
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=_env(), timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    for name in RUN_FILES:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert not list(out.rglob("*.tmp")), "a killed write's temporary file is cleaned up on resume"
