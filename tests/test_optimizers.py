"""The retraining optimizer is a spec line (or --optimizer): Adam (the authors'), AdamW, SGD, or a plugin's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hnas.cli.app import app
from hnas.errors import SpecError
from hnas.registry import OPTIMIZERS
from hnas.search.spec_loader import load_spec
from hnas.train import TrainConfig, Trainer, train
from hnas.train.optimizers import build_optimizer
from hnas.utils.io import read_jsonl

QUICKSTART = Path(__file__).parents[1] / "examples" / "quickstart.toml"
runner = CliRunner()


def test_the_builtin_optimizers_are_what_their_names_say() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    default = build_optimizer(None, params, 1e-3)
    assert isinstance(default, torch.optim.Adam) and default.defaults["betas"] == (0.9, 0.999)
    sgd = build_optimizer({"type": "sgd", "params": {"momentum": 0.5, "nesterov": True}}, params, 0.1)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.5 and sgd.defaults["lr"] == 0.1
    assert isinstance(build_optimizer("adamw", params, 1e-3), torch.optim.AdamW)
    assert sorted(OPTIMIZERS.names()) == ["adam", "adamw", "sgd"]


@pytest.mark.parametrize(("value", "message"), [
    ("'lion'", r"retrain\.optimizer: unknown optimizer 'lion'.*registered optimizers: adam, adamw, sgd"),
    ("{type = 'sgd', params = {momentun = 0.9}}", r"optimizer 'sgd' has no param 'momentun' \(did you mean 'momentum'\?\)"),
    ("{type = 'adamw', params = {weight_decay = -1.0}}", r"optimizer 'adamw': weight_decay must be >= 0, got -1\.0"),
    ("{type = 'sgd', params = {lr = 0.1}}", r"optimizer 'sgd'.*lr"),
])
def test_a_wrong_optimizer_is_one_line_before_anything_runs(value: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(QUICKSTART, [f"retrain.optimizer={value}"])


def config(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"data": "builtin:set5", "scale": 2, "channels": 4, "iters": 6, "batch": 2,
                               "patch": 24, "seed": 0, "device": "cpu", "log_every": 1, "save_every": 2}
    return TrainConfig.create(**{**base, **kw})


def test_sgd_trains_differently_and_resumes_exactly(tmp_path: Path) -> None:
    sgd = {"type": "sgd", "params": {"momentum": 0.9}}
    train("hnas-a", config(optimizer=sgd, lr=1e-4), tmp_path / "straight")
    trainer = Trainer("hnas-a", config(optimizer=sgd, lr=1e-4), tmp_path / "resumed")
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    trainer.run(stop_at=3)
    train("hnas-a", config(optimizer=sgd, lr=1e-4), tmp_path / "resumed", resume=True)
    straight = read_jsonl(tmp_path / "straight" / "train_log.jsonl")
    assert read_jsonl(tmp_path / "resumed" / "train_log.jsonl") == straight
    train("hnas-a", config(lr=1e-4), tmp_path / "adam")
    assert read_jsonl(tmp_path / "adam" / "train_log.jsonl")[1]["loss"] != straight[1]["loss"]


def test_resuming_with_another_optimizer_is_refused(tmp_path: Path) -> None:
    train("hnas-a", config(iters=2), tmp_path / "run")
    with pytest.raises(Exception, match="optimizer"):
        train("hnas-a", config(iters=4, optimizer="sgd"), tmp_path / "run", resume=True)


def test_the_commands_take_an_optimizer_and_refuse_a_wrong_one_in_one_line(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["train", "hnas-a", "--data", "builtin:set5", "--scale", "2", "--optimizer", "lion", "--out",
                              str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "unknown optimizer 'lion'" in bad.stderr and "\n" not in bad.stderr.strip()
    assert not (tmp_path / "bad").exists()
    ok = runner.invoke(app, ["train", "hnas-a", "--data", "builtin:set5", "--scale", "2", "--channels", "4",
                             "--iters", "2", "--batch", "2", "--patch", "24", "--device", "cpu", "--optimizer",
                             "{type = 'adamw', params = {weight_decay = 0.05}}", "--out", str(tmp_path / "ok")])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "ok" / "model.safetensors").exists()
