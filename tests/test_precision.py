"""bf16 training is a spec line (``retrain.precision``) or ``--precision``: the forward runs under
autocast, while the loss, the saved weights and validation stay fp32; the default is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from hnas.cli.app import app
from hnas.engine.step import in_precision
from hnas.errors import SpecError
from hnas.search.spec_loader import load_spec
from hnas.train import TrainConfig, Trainer, train
from hnas.utils.io import read_jsonl

QUICKSTART = Path(__file__).parents[1] / "examples" / "quickstart.toml"
runner = CliRunner()


def config(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"data": "builtin:set5", "scale": 2, "channels": 4, "iters": 4, "batch": 2,
                               "patch": 24, "seed": 0, "device": "cpu", "log_every": 1, "save_every": 2}
    return TrainConfig.create(**{**base, **kw})


def test_fp32_is_the_forward_itself_and_bf16_computes_in_bf16_but_returns_fp32() -> None:
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    assert in_precision(conv, None, torch.device("cpu")) is conv
    assert in_precision(conv, "fp32", torch.device("cpu")) is conv
    seen: list[torch.dtype] = []
    conv.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    out = in_precision(conv, "bf16", torch.device("cpu"))(torch.rand(1, 3, 8, 8))
    assert seen == [torch.bfloat16] and out.dtype == torch.float32


def test_bf16_trains_a_different_path_keeps_fp32_weights_and_resumes_exactly(tmp_path: Path) -> None:
    train("hnas-a", config(precision="bf16"), tmp_path / "bf16")
    train("hnas-a", config(), tmp_path / "fp32")
    bf16 = read_jsonl(tmp_path / "bf16" / "train_log.jsonl")
    assert [line["loss"] for line in bf16] != [line["loss"] for line in read_jsonl(tmp_path / "fp32" / "train_log.jsonl")]
    weights = load_file(tmp_path / "bf16" / "model.safetensors").values()
    assert all(t.dtype == torch.float32 for t in weights if t.is_floating_point())
    Trainer("hnas-a", config(precision="bf16"), tmp_path / "resumed").run(stop_at=2)
    train("hnas-a", config(precision="bf16"), tmp_path / "resumed", resume=True)
    assert read_jsonl(tmp_path / "resumed" / "train_log.jsonl") == bf16
    with pytest.raises(Exception, match="precision"):
        train("hnas-a", config(iters=6), tmp_path / "bf16", resume=True)
    train("hnas-a", config(precision="fp32", iters=6), tmp_path / "fp32", resume=True)  # fp32 is the default


def test_a_wrong_precision_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"retrain\.precision.*'fp32' or 'bf16'"):
        load_spec(QUICKSTART, ["retrain.precision='fp16'"])
    bad = runner.invoke(app, ["train", "hnas-a", "--data", "builtin:set5", "--scale", "2", "--precision", "fp16",
                              "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "fp16" in bad.stderr and not (tmp_path / "bad").exists()
