"""The retraining loss is a spec line: L1 (the authors'), L2, Charbonnier, or a plugin's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hnas.errors import SpecError
from hnas.registry import LOSSES
from hnas.search.spec_loader import load_spec
from hnas.train import TrainConfig, train
from hnas.train.losses import CharbonnierLoss, build_loss
from hnas.utils.io import read_jsonl

QUICKSTART = Path(__file__).parents[1] / "examples" / "quickstart.toml"


def test_the_builtin_losses_compute_what_their_names_say() -> None:
    sr, hr = torch.tensor([[1.0, 4.0]]), torch.tensor([[0.0, 0.0]])
    assert build_loss(None)(sr, hr).item() == 2.5  # L1 when nothing is named
    assert build_loss("mse")(sr, hr).item() == 8.5
    charbonnier = build_loss({"type": "charbonnier", "params": {"eps": 3.0}})
    assert charbonnier(sr, hr).item() == pytest.approx((10**0.5 + 5.0) / 2)
    assert isinstance(charbonnier, CharbonnierLoss) and sorted(LOSSES.names()) == ["charbonnier", "l1", "l2"]


@pytest.mark.parametrize(("value", "message"), [
    ("'huber'", r"retrain\.loss: unknown loss 'huber'.*registered losses: l1, l2, charbonnier"),
    ("{type = 'charbonnier', params = {epsilon = 1.0}}",
     r"loss 'charbonnier' has no param 'epsilon' \(did you mean 'eps'\?\); it takes eps"),
    ("{type = 'charbonnier', params = {eps = -1.0}}", r"loss 'charbonnier': eps must be > 0, got -1\.0"),
    ("{params = {eps = 1.0}}", r"loss: type: Field required; a loss is a registered name or \{type = "),
])
def test_a_wrong_loss_is_one_line_before_anything_runs(value: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(QUICKSTART, [f"retrain.loss={value}"])


def test_a_spec_line_picks_the_loss_the_retraining_minimises(tmp_path: Path) -> None:
    spec = load_spec(QUICKSTART, ["retrain.loss='l2'"])
    assert spec.retrain.loss == "l2"

    def run(loss: str | None, out: str) -> float:
        config = TrainConfig.create(data="builtin:set5", scale=2, channels=4, iters=4, batch=2, patch=24, seed=0,
                                    device="cpu", log_every=1, loss=loss)
        train("hnas-a", config, tmp_path / out)
        return float(read_jsonl(tmp_path / out / "train_log.jsonl")[0]["loss"])

    l1, l2 = run(None, "l1"), run("l2", "l2")
    # the first step's loss is measured on the same batch from the same weights: L2 of 0-255
    # pixel errors is far above their L1
    assert l2 > 10 * l1 > 0


def test_resuming_with_another_loss_is_refused(tmp_path: Path) -> None:
    config = TrainConfig.create(data="builtin:set5", scale=2, channels=4, iters=2, batch=2, patch=24, seed=0,
                                device="cpu", log_every=1)
    train("hnas-a", config, tmp_path / "run", stop_at=1)
    from hnas.engine.folder import RunFolderError

    with pytest.raises(RunFolderError, match="'loss' differs"):
        train("hnas-a", config.model_copy(update={"loss": "charbonnier"}), tmp_path / "run", resume=True)


def test_the_commands_take_a_loss_and_refuse_a_wrong_one_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hnas.cli.app import app

    runner = CliRunner()
    args = ["train", "hnas-a", "--data", "builtin:set5", "--scale", "2", "--channels", "4", "--iters", "2",
            "--batch", "2", "--patch", "24", "--device", "cpu", "--out", str(tmp_path / "t")]
    done = runner.invoke(app, [*args, "--loss", "{type = 'charbonnier', params = {eps = 0.5}}", "--json"])
    assert done.exit_code == 0, done.output
    identity = json.loads((tmp_path / "t" / "train.json").read_text())
    assert identity["loss"] == {"type": "charbonnier", "params": {"eps": 0.5}}
    for command in (args, ["compare", "hnas-a", "--data", "builtin:set5", "--out", str(tmp_path / "c")]):
        bad = runner.invoke(app, [*command[:-2], "--out", str(tmp_path / "bad"), "--loss", "huber"])
        assert bad.exit_code == 2 and bad.output.strip() == (
            "error: unknown loss 'huber'; registered losses: l1, l2, charbonnier"), bad.output
        assert not (tmp_path / "bad").exists()
