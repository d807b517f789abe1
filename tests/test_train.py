"""Training: exact resume, run-folder files, validation, NaN handling, the ``hnas train`` command."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app
from hnas.train import RunFolderError, TrainConfig, Trainer, TrainingDivergedError, train
from hnas.train.config import TrainConfigError
from hnas.train.patches import StepPatchSampler
from hnas.utils.io import read_jsonl

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


def tiny_genotype() -> hnas.Genotype:
    g = hnas.resolve_genotype("hnas-a")
    return hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, training_folder) -> Path:  # type: ignore[no-untyped-def]
    """Three smooth synthetic photos, a genotype file, and one uninterrupted 6-step run."""
    root = training_folder(tmp_path_factory.mktemp("train"))
    result = runner.invoke(app, cli(root, "--out", str(root / "straight")))
    assert result.exit_code == 0, result.output
    return root


ARGS = ("--data", "DATA", "--scale", "2", "--channels", "4", "--iters", "6", "--batch", "2", "--patch", "24",
        "--log-every", "1", "--save-every", "2", "--device", "cpu", "--seed", "3")


def cli(workdir: Path, *extra: str) -> list[str]:
    """``hnas train`` arguments for the tiny 6-step run on the synthetic images."""
    args = [str(workdir / "data") if a == "DATA" else a for a in ARGS]
    return ["train", str(workdir / "tiny.json"), *args, *extra]


def losses(folder: Path) -> list[float]:
    return [r["loss"] for r in read_jsonl(folder / "train_log.jsonl")]


def config(workdir: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = {"data": str(workdir / "data"), "scale": 2, "channels": 4, "iters": 6, "batch": 2,
                               "patch": 24, "log_every": 1, "save_every": 2, "device": "cpu", "seed": 3}
    base.update(kw)
    return TrainConfig.create(**base)


def test_uninterrupted_run_writes_the_documented_files(workdir: Path) -> None:
    folder = workdir / "straight"
    for name in ("model.safetensors", "last.safetensors", "resume.safetensors", "train_log.jsonl",
                 "config.json", "genotype.json", "summary.json"):
        assert (folder / name).is_file(), name
    log = read_jsonl(folder / "train_log.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]
    assert set(log[0]) == {"step", "loss", "lr", "val_psnr", "skipped"}  # wall times go to timings.jsonl
    assert read_jsonl(folder / "timings.jsonl")[-1]["steps"] == 6
    assert log[0]["lr"] == pytest.approx(1e-3) and log[-1]["lr"] < log[0]["lr"]  # cosine decay
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["finished"] and summary["step"] == 6
    assert hnas.load_model(folder).genotype == tiny_genotype()


def test_stop_and_resume_gives_the_same_loss_curve_and_weights(workdir: Path) -> None:
    out = workdir / "split"
    first = runner.invoke(app, cli(workdir, "--out", str(out), "--stop-at", "3"))
    assert first.exit_code == 0, first.output
    assert "stopped at step 3" in first.stdout
    assert len(losses(out)) == 3
    second = runner.invoke(app, cli(workdir, "--out", str(out), "--resume"))
    assert second.exit_code == 0, second.output
    assert losses(out) == losses(workdir / "straight")  # exactly, not approximately
    for name in ("train_log.jsonl", "last.safetensors", "model.safetensors", "summary.json", "train.json"):
        assert (out / name).read_bytes() == (workdir / "straight" / name).read_bytes() or name == "summary.json", name


def test_ctrl_c_saves_a_resume_checkpoint_and_resume_continues_exactly(workdir: Path) -> None:
    out = workdir / "interrupted"

    def press_ctrl_c(step: int, info: dict) -> None:
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C: the step finishes, state is saved

    with pytest.raises(KeyboardInterrupt):
        train(tiny_genotype(), config(workdir), out, on_step=press_ctrl_c)
    assert len(losses(out)) == 4
    _, summary = train(tiny_genotype(), config(workdir), out, resume=True)
    assert summary["finished"] and summary["step"] == 6
    assert losses(out) == losses(workdir / "straight")


def test_a_killed_run_resumes_from_its_last_checkpoint_and_trims_the_log(workdir: Path) -> None:
    out = workdir / "killed"

    def die(step: int, info: dict) -> None:
        if step == 5:  # like SIGKILL: no chance to save; the last resume state is from step 4
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        train(tiny_genotype(), config(workdir), out, on_step=die)
    assert [r["step"] for r in read_jsonl(out / "train_log.jsonl")] == [1, 2, 3, 4, 5]
    train(tiny_genotype(), config(workdir), out, resume=True)
    assert losses(out) == losses(workdir / "straight")


def test_data_workers_do_not_change_the_run(workdir: Path) -> None:
    _, summary = train(tiny_genotype(), config(workdir, workers=1), workdir / "workers")
    assert summary["finished"]
    assert losses(workdir / "workers") == losses(workdir / "straight")


def test_batches_depend_only_on_seed_and_step(workdir: Path) -> None:
    a = StepPatchSampler(str(workdir / "data"), 2, 24, 3, seed=1)
    b = StepPatchSampler(str(workdir / "data"), 2, 24, 3, seed=1)
    lr5, hr5 = a.batch_at(5)
    b.batch_at(0)
    assert all(torch.equal(x, y) for x, y in zip(b.batch_at(5), (lr5, hr5)))
    assert lr5.shape == (3, 3, 12, 12) and hr5.shape == (3, 3, 24, 24)
    assert not torch.equal(a.batch_at(6)[0], lr5)


def test_a_used_folder_needs_resume_and_the_same_settings(workdir: Path) -> None:
    again = runner.invoke(app, cli(workdir, "--out", str(workdir / "straight")))
    assert again.exit_code == 2
    assert "already holds a training run" in again.stderr and "--resume" in again.stderr
    changed = runner.invoke(app, cli(workdir, "--out", str(workdir / "straight"), "--resume", "--lr", "0.01"))
    assert changed.exit_code == 2 and "'lr' differs" in changed.stderr


def test_validation_keeps_the_best_model(workdir: Path) -> None:
    cfg = config(workdir, iters=4, val=str(workdir / "data"), val_every=2, log_every=2, lr=5e-3)
    model, summary = train(tiny_genotype(), cfg, workdir / "val")
    log = read_jsonl(workdir / "val" / "train_log.jsonl")
    assert [r["step"] for r in log] == [2, 4] and all(r["val_psnr"] > 0 for r in log)
    assert summary["best_val_psnr"] == max(r["val_psnr"] for r in log)
    best = hnas.load_model(workdir / "val")
    assert all(torch.equal(x, y) for x, y in zip(best.state_dict().values(), model.state_dict().values()))


def _nan_after(trainer: Trainer, steps: set[int]) -> None:
    calls = {"n": 0}

    def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if module.training:
            calls["n"] += 1
            if calls["n"] in steps:
                return output * float("nan")
        return None

    trainer.model.register_forward_hook(hook)


def test_a_nan_loss_skips_the_step_with_a_warning(workdir: Path) -> None:
    trainer = Trainer(tiny_genotype(), config(workdir, iters=3), workdir / "one_nan")
    _nan_after(trainer, {2})
    with pytest.warns(UserWarning, match="step 2: non-finite loss"):
        summary = trainer.run()
    assert summary["finished"]
    log = read_jsonl(workdir / "one_nan" / "train_log.jsonl")
    assert log[1]["skipped"] == 1 and log[1]["loss"] is None and log[2]["loss"] is not None


def test_repeated_nan_stops_and_keeps_the_last_good_checkpoint(workdir: Path) -> None:
    out = workdir / "diverged"
    trainer = Trainer(tiny_genotype(), config(workdir, iters=20, max_bad_steps=3), out)
    _nan_after(trainer, set(range(3, 100)))
    with pytest.warns(UserWarning), pytest.raises(TrainingDivergedError, match="3 non-finite losses in a row"):
        trainer.run()
    log = read_jsonl(out / "train_log.jsonl")
    assert [r["step"] for r in log if r["loss"] is not None] == [1, 2]
    assert [r["skipped"] for r in log] == [0, 0, 1, 1, 1]
    saved = hnas.load_model(out / "last.safetensors")  # written at step 2, before the NaNs
    assert all(torch.isfinite(t).all() for t in saved.state_dict().values())


def test_settings_are_checked_with_one_line_errors(workdir: Path) -> None:
    with pytest.raises(TrainConfigError, match="not both"):
        config(workdir, epochs=2)
    with pytest.raises(TrainConfigError, match="patch 25 is not a multiple of scale 2"):
        config(workdir, patch=25)
    assert config(workdir, iters=None, epochs=2).total_iters == 2000
    assert config(workdir, iters=None).total_iters == 300_000  # the authors' 300 epochs of 1000
    result = runner.invoke(app, cli(workdir, "--out", str(workdir / "bad"), "--patch", "25"))
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    with pytest.raises(RunFolderError):
        Trainer(tiny_genotype(), config(workdir), workdir / "straight")


def at_the_floor(lr: float, cfg: TrainConfig) -> bool:
    """Within 0.5 % of the schedule's range above its floor (where the cosine is flat)."""
    return cfg.lr_floor <= lr <= cfg.lr_floor + 0.005 * (cfg.lr - cfg.lr_floor)


def slowed(monkeypatch: pytest.MonkeyPatch, seconds: Callable[[float], float]) -> None:
    """Make every training step take ``seconds(t)`` longer, ``t`` the seconds since the first step."""
    step = Trainer._train_step
    clock: list[float] = []

    def slow_step(self: Trainer, *args: object) -> float | None:
        now = time.perf_counter()
        clock[:] = clock or [now]
        time.sleep(seconds(now - clock[0]))
        return step(self, *args)

    monkeypatch.setattr(Trainer, "_train_step", slow_step)


def test_a_time_budget_ends_by_the_clock_at_the_minimum_learning_rate(workdir: Path) -> None:
    """``minutes``: as many iterations as fit; the cosine runs over the budget's time, so the last
    step is at the floor; a resumed run that the clock ended stays ended."""
    cfg = config(workdir, iters=None, minutes=0.05, log_every=5, save_every=5)
    out = workdir / "budget"
    began = time.perf_counter()
    trainer = Trainer(tiny_genotype(), cfg, out)
    summary = trainer.run()
    wall = time.perf_counter() - began
    assert summary["finished"] and summary["step"] == summary["total"] >= 5
    step = trainer.budget.step_seconds  # type: ignore[union-attr]
    assert 3.0 - 3 * step - 0.2 <= wall <= 3.0 + 0.2, (wall, step)  # within a step or so (a loaded machine)
    log = read_jsonl(out / "train_log.jsonl")
    assert log[-1]["step"] == summary["total"] and at_the_floor(log[-1]["lr"], cfg)
    rates = [r["lr"] for r in log]
    assert rates == sorted(rates, reverse=True) and rates[0] > 2e-4  # the decay is spread over the run
    again = Trainer(tiny_genotype(), cfg, out, resume=True)
    assert again.run()["step"] == summary["step"]


def test_a_machine_that_slows_down_mid_run_still_ends_within_two_percent(workdir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate halves half-way through: a plan made from the first steps would overshoot by a
    third; watching the clock ends within 2 % of the budget, at the learning rate's floor."""
    slowed(monkeypatch, lambda t: 0.05 if t < 5.5 else 0.11)
    cfg = config(workdir, iters=None, minutes=0.2, log_every=5, save_every=20)
    out = workdir / "budget-slowed"
    began = time.perf_counter()
    summary = Trainer(tiny_genotype(), cfg, out).run()
    wall = time.perf_counter() - began
    assert summary["finished"]
    assert abs(wall - 12.0) <= 0.02 * 12.0, wall
    log = read_jsonl(out / "train_log.jsonl")
    assert log[-1]["step"] == summary["step"] and at_the_floor(log[-1]["lr"], cfg)
    train_time = [r for r in read_jsonl(out / "timings.jsonl") if r["stage"] == "train"][-1]
    assert train_time["planned"] == pytest.approx(12.0) and train_time["seconds"] <= 12.0 * 1.02


def test_a_time_budget_counts_validation_passes_and_saves(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation passes (here 0.4 s each, every 10 steps) and the final one are inside the
    budget; ``timings.jsonl`` gets each pass's own time and the run's time at its end."""
    def slow_validation(self: Trainer) -> float:
        time.sleep(0.4)
        return 20.0

    monkeypatch.setattr(Trainer, "_validation_psnr", slow_validation)
    slowed(monkeypatch, lambda t: 0.02)
    cfg = config(workdir, iters=None, minutes=0.08, log_every=10, save_every=10, val=str(workdir / "data"),
                 val_every=10)
    out = workdir / "budget-val"
    began = time.perf_counter()
    summary = Trainer(tiny_genotype(), cfg, out).run()
    wall = time.perf_counter() - began
    assert summary["finished"] and 0.85 * 4.8 <= wall <= 1.02 * 4.8, wall
    passes = [r for r in read_jsonl(out / "timings.jsonl") if r["stage"] == "validate"]
    assert passes and all(r["seconds"] == pytest.approx(0.4, abs=0.1) for r in passes)
    assert [r["elapsed"] for r in passes] == sorted(r["elapsed"] for r in passes)
    assert passes[-1]["step"] == summary["step"]  # the last step was validated, inside the budget


def test_the_train_command_takes_a_time_budget(workdir: Path) -> None:
    out = workdir / "budget-cli"
    args = [a for a in cli(workdir, "--out", str(out), "--minutes", "0.03", "--json") if a not in ("--iters", "6")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["finished"] and summary["step"] == summary["total"] >= 1
    assert json.loads((out / "config.json").read_text())["minutes"] == 0.03


def test_an_iteration_cap_ends_a_budgeted_run_first(workdir: Path) -> None:
    cfg = config(workdir, iters=4, minutes=5.0)
    summary = Trainer(tiny_genotype(), cfg, workdir / "budget-capped").run()
    assert summary["finished"] and summary["total"] == 4


@pytest.mark.parametrize(("flag", "kept"), [((), True), (("--no-fast",), False), (("--fast",), True)])
def test_the_train_command_keeps_freed_memory_unless_told_not_to(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  flag: tuple[str, ...], kept: bool) -> None:
    """``hnas train`` owns its process, so it keeps freed memory by default (as ``run``, ``upscale``
    and ``eval`` do): same losses, the large maps reused instead of page-faulted in every step."""
    calls: list[int] = []
    monkeypatch.setattr("hnas.train.trainer.keep_freed_memory", lambda: calls.append(1) or True)
    out = workdir / f"fast-{'-'.join(flag) or 'default'}"
    result = runner.invoke(app, cli(workdir, "--out", str(out), "--iters", "2", *flag))
    assert result.exit_code == 0, result.output
    assert bool(calls) is kept
    assert losses(out) == losses(workdir / "straight")[:2]
