"""An image that becomes unreadable in the middle of a run: one line naming it, the run's state
saved, and ``--resume`` (the file fixed) finishes with the files of an uninterrupted run.

Training images are decoded when the run starts (a missing one is then a one-line error before
anything is written); validation images are read at the first validation, so that is where a file
damaged or removed after the start is met.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app
from hnas.engine.state import load_state
from hnas.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

runner = CliRunner()

TRAIN_FILES = ("train.json", "config.json", "genotype.json", "train_log.jsonl", "model.safetensors",
               "last.safetensors", "resume.safetensors", "summary.json")


def train_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(root / "tiny.json"), "--data", str(root / "train"), "--scale", "2", "--channels", "4",
            "--iters", "6", "--batch", "2", "--patch", "24", "--log-every", "1", "--save-every", "2",
            "--val", str(root / "val"), "--val-every", "3", "--device", "cpu", "--seed", "2", "--out", str(out), *extra]


@pytest.mark.parametrize("damage", ["truncated", "removed"])
def test_a_validation_image_damaged_mid_run(tmp_path: Path, small_images: Path, monkeypatch: pytest.MonkeyPatch,
                                            damage: str) -> None:
    images = sorted(small_images.iterdir())
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    for image in images[:4]:
        shutil.copy(image, tmp_path / "train" / image.name)
    for image in images[4:]:
        shutil.copy(image, tmp_path / "val" / image.name)
    g = hnas.resolve_genotype("hnas-a")
    hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3).save(tmp_path / "tiny.json")
    reference = tmp_path / "reference"
    assert runner.invoke(app, train_args(tmp_path, reference)).exit_code == 0

    victim = tmp_path / "val" / images[-1].name
    good = victim.read_bytes()
    step = Trainer._train_step

    def damaging_step(self: Trainer, lr_batch, hr_batch):  # type: ignore[no-untyped-def]
        if self.step == 1:  # after the run started, before the first validation (step 3)
            if damage == "truncated":
                victim.write_bytes(good[:40])
            else:
                victim.unlink()
        return step(self, lr_batch, hr_batch)

    out = tmp_path / "run"
    with monkeypatch.context() as m:
        m.setattr(Trainer, "_train_step", damaging_step)
        failed = runner.invoke(app, train_args(tmp_path, out))
    assert failed.exit_code == 2, failed.output
    line = failed.stderr.strip()
    assert "\n" not in line and line.startswith("error: ") and str(victim) in line, failed.output
    assert "saved at step 3" in line and "--resume" in line
    assert load_state(out / "resume.safetensors").info["step"] == 3

    victim.write_bytes(good)
    resumed = runner.invoke(app, train_args(tmp_path, out, "--resume"))
    assert resumed.exit_code == 0, resumed.output
    for name in TRAIN_FILES:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
