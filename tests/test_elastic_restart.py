"""A worker lost in a 2-process run (SIGKILL: the OOM killer, a preempted node): under
``--max-restarts 1`` torchrun starts the processes again, they resume from the last checkpoint by
themselves, and the run finishes with the files of an uninterrupted 2-process run, byte for byte.

Kill points (the test plugin ``hnas_test_kill`` kills only the first attempt):

* retraining (``hnas train --nproc 2``): rank 1 after 1 step (before any checkpoint), rank 0 after
  3 steps (one checkpoint behind), rank 0 in the middle of the second write of its resume state;
* search and retraining (``hnas run --nproc 2``): rank 1 at the start of the second search epoch,
  rank 0 as derivation starts, rank 1 after 2 retraining steps.

Each case starts 2 + 2 processes on the 2-core machine (about 20-60 s each), so they are slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

PLUGINS = str(Path(__file__).parent / "plugin_pkg")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch build has no gloo backend",
)]

TRAIN_FILES = ("train.json", "config.json", "genotype.json", "train_log.jsonl", "model.safetensors",
               "last.safetensors", "resume.safetensors", "summary.json")
RUN_FILES = ("spec.json", "state.json", "search_log.jsonl", "archive.jsonl", "derived.json", "genotype.json",
             "retrain.json", "results.json", "model.safetensors", "search_state.safetensors",
             *(f"retrain/{name}" for name in TRAIN_FILES))


def hnas_cli(*args: str, kill: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PLUGINS, os.environ.get("PYTHONPATH", "")) if p)
    env.pop("HNAS_TEST_KILL_AT", None)
    if kill is not None:
        env["HNAS_TEST_KILL_AT" if kill.count(":") == 2 else "HNAS_TEST_KILL_DURING"] = kill
    result = subprocess.run([sys.executable, "-m", "hnas", *args, "--nproc", "2", "--max-restarts", "1"],
                            capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, training_folder) -> Path:  # type: ignore[no-untyped-def]
    root = training_folder(tmp_path_factory.mktemp("elastic"))
    hnas_cli(*train_args(root, "reference"))
    return root


def train_args(root: Path, out: str) -> list[str]:
    return ["train", str(root / "tiny.json"), "--data", str(root / "data"), "--scale", "2", "--channels", "4",
            "--iters", "6", "--batch", "4", "--patch", "24", "--log-every", "1", "--save-every", "2",
            "--val", str(root / "data"), "--val-every", "3", "--device", "cpu", "--seed", "3",
            "--plugin", "hnas_test_kill", "--out", str(root / out)]


@pytest.mark.parametrize("kill", ["1:step:1", "0:step:3", "resume.safetensors:2"])
def test_a_retraining_with_a_lost_worker_finishes_by_itself(root: Path, kill: str) -> None:
    out = f"killed-{kill.replace(':', '-')}"
    result = hnas_cli(*train_args(root, out), kill=kill)
    assert "restart 1: resuming" in result.stderr, result.stderr
    for name in TRAIN_FILES:
        assert (root / out / name).read_bytes() == (root / "reference" / name).read_bytes(), name


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory, small_images: Path, tiny_spec) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("elastic_search")
    spec = tiny_spec(root, small_images, epochs=3, iters=4)
    spec.write_text('plugins = ["hnas_test_kill"]\n' + spec.read_text())
    hnas_cli("run", str(spec), "--out", str(root / "reference"))
    return root


@pytest.mark.parametrize("kill", ["1:epoch:1", "0:derive:0", "1:step:2"])
def test_a_search_with_a_lost_worker_finishes_by_itself(search: Path, kill: str) -> None:
    out = search / f"killed-{kill.replace(':', '-')}"
    result = hnas_cli("run", str(search / "tiny.toml"), "--out", str(out), kill=kill)
    assert "restart 1: resuming" in result.stderr, result.stderr
    for name in RUN_FILES:
        assert (out / name).read_bytes() == (search / "reference" / name).read_bytes(), name
