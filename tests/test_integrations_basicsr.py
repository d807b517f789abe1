"""BasicSR builds, trains and tests an hnas network from its own options file; checkpoints convert both ways.

The end-to-end test runs BasicSR's own entry points (``basicsr.train.train_pipeline`` and
``basicsr.test.test_pipeline``, through ``python -m hnas.integrations.basicsr``) in fresh
processes, as a BasicSR user would: 20 iterations on four 64 x 64 crops, then Set5 at x2.
The conversion tests need torch only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hnas
from hnas.checkpoint import CONFIG_TENSOR
from hnas.errors import CheckpointError, HnasError
from hnas.integrations.basicsr import from_basicsr, main, to_basicsr

ROOT = Path(__file__).resolve().parents[1]
HAS_BASICSR = importlib.util.find_spec("basicsr") is not None
needs_basicsr = pytest.mark.skipif(
    not HAS_BASICSR, reason="BasicSR is not importable (install: see docs/embedding.md, 'In BasicSR')"
)

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


def tiny(scale: int = 2, global_skip: str = "bicubic") -> hnas.HNASNet:
    g = hnas.resolve_genotype("hnas-b")
    genotype = hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3)
    torch.manual_seed(0)
    net = hnas.build_model(genotype, scale=scale, channels=4, global_skip=global_skip)  # type: ignore[arg-type]
    torch.nn.init.normal_(net.tail.weight, std=0.05)
    return net.eval()


def test_checkpoints_convert_both_ways(tmp_path: Path) -> None:
    net = tiny()
    file = hnas.save_model(net, tmp_path / "net.safetensors")
    pth = to_basicsr(file, tmp_path / "net_g.pth")
    data = torch.load(pth, weights_only=True)
    assert list(data) == ["params"]
    assert set(data["params"]) == {*net.state_dict(), CONFIG_TENSOR}
    back = hnas.load_model(from_basicsr(pth, tmp_path / "back.safetensors"))
    assert back.config() == net.config()
    x = torch.rand(1, 3, 7, 9) * 255
    assert torch.equal(back(x), net(x))


def test_a_checkpoint_without_its_architecture_needs_network_g(tmp_path: Path) -> None:
    net = tiny(scale=3)
    state = {f"module.{k}": v for k, v in net.state_dict().items()}  # as saved from DataParallel
    torch.save({"params": {k: v * 0 for k, v in state.items()}, "params_ema": state}, tmp_path / "bare.pth")
    with pytest.raises(CheckpointError, match="pass network_g"):
        from_basicsr(tmp_path / "bare.pth", tmp_path / "x.safetensors")
    genotype = net.genotype.to_dict()
    options = {"type": "HNASNet", "genotype": genotype, "upscale": 3, "num_feat": 4, "global_skip": "bicubic"}
    back = hnas.load_model(from_basicsr(tmp_path / "bare.pth", tmp_path / "x.safetensors", network_g=options))
    x = torch.rand(1, 3, 6, 5) * 255
    assert torch.equal(back(x), net(x))  # params_ema, the averaged weights, is preferred over params
    zeros = hnas.load_model(
        from_basicsr(tmp_path / "bare.pth", tmp_path / "z.safetensors", network_g=options, param_key="params")
    )
    assert not torch.equal(zeros(x), net(x))
    with pytest.raises(CheckpointError, match=r"missing|shape"):
        from_basicsr(tmp_path / "bare.pth", tmp_path / "y.safetensors", network_g={**options, "num_feat": 8})
    to_basicsr(net, tmp_path / "net_g.pth")
    with pytest.raises(CheckpointError, match="another network"):
        from_basicsr(tmp_path / "net_g.pth", tmp_path / "w.safetensors", network_g={**options, "upscale": 2})
    with pytest.raises(HnasError, match="RGB"):
        from_basicsr(tmp_path / "net_g.pth", tmp_path / "w.safetensors", network_g={**options, "num_in_ch": 1})
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        from_basicsr(tmp_path / "junk.pth", tmp_path / "w.safetensors")


def test_convert_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = hnas.save_model(tiny(), tmp_path / "net.safetensors")
    assert main(["convert", str(file), str(tmp_path / "net_g.pth")]) == 0
    assert main(["convert", str(tmp_path / "net_g.pth"), str(tmp_path / "back.safetensors")]) == 0
    assert hnas.load_model(tmp_path / "back.safetensors").config() == tiny().config()
    capsys.readouterr()
    assert main(["convert", str(tmp_path / "nope.pth"), str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: checkpoint not found") and err.count("\n") == 1


@needs_basicsr
def test_basicsr_builds_the_network_from_options() -> None:
    from basicsr.archs import build_network

    net = tiny()
    options = {"type": "HNASNet", "genotype": net.genotype.to_dict(), "upscale": 2, "num_feat": 4,
               "global_skip": "bicubic"}
    built = build_network(options).eval()
    built.load_state_dict({**net.state_dict(), CONFIG_TENSOR: torch.zeros(3, dtype=torch.uint8)}, strict=True)
    x = torch.rand(1, 3, 8, 10)
    with torch.no_grad():
        torch.testing.assert_close(built(x), net(x * 255) / 255, rtol=0, atol=1e-6)  # BasicSR's 0..1 range
    preset = build_network({"type": "HNASNet", "genotype": "hnas-a", "upscale": 4, "num_feat": 2})
    assert preset.scale == 4 and preset.channels == 2


@needs_basicsr
def test_the_documented_options_build_the_network() -> None:
    import yaml
    from basicsr.archs import build_network

    doc = (ROOT / "docs" / "embedding.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(.*?)```", doc, flags=re.DOTALL)
    net = build_network(yaml.safe_load(block)["network_g"])
    assert (net.scale, net.channels, net.global_skip) == (2, 64, "bicubic")
    assert net.genotype == hnas.resolve_genotype("hnas-a")


def _run_basicsr(verb: str, options: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "hnas.integrations.basicsr", verb, "-opt", str(options)],
                          cwd=options.parent, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


#: The network both options files build.
NETWORK_G = """\
network_g:
  type: HNASNet
  genotype: hnas-a
  upscale: 2
  num_feat: 8
  global_skip: bicubic
"""

TRAIN_OPTIONS = """\
name: hnas_a_x2_tiny
model_type: SRModel
scale: 2
num_gpu: 0
manual_seed: 0
datasets:
  train:
    name: crops
    type: PairedImageDataset
    dataroot_gt: train/gt
    dataroot_lq: train/lq
    filename_tmpl: '{}'
    io_backend: {type: disk}
    gt_size: 32
    use_hflip: true
    use_rot: true
    num_worker_per_gpu: 0
    batch_size_per_gpu: 2
    dataset_enlarge_ratio: 1
    prefetch_mode: ~
""" + NETWORK_G + """\
path:
  pretrain_network_g: ~
  strict_load_g: true
  resume_state: ~
train:
  ema_decay: 0
  optim_g: {type: Adam, lr: !!float 1e-3, weight_decay: 0, betas: [0.9, 0.99]}
  scheduler: {type: MultiStepLR, milestones: [20], gamma: 0.5}
  total_iter: 20
  warmup_iter: -1
  pixel_opt: {type: L1Loss, loss_weight: 1.0, reduction: mean}
logger:
  print_freq: 10
  save_checkpoint_freq: 20
  use_tb_logger: false
  wandb: ~
"""

TEST_OPTIONS = """\
name: hnas_a_x2_set5
model_type: SRModel
scale: 2
num_gpu: 0
manual_seed: 0
datasets:
  test_1:
    name: Set5
    type: PairedImageDataset
    dataroot_gt: {set5}
    dataroot_lq: set5_lr
    io_backend: {{type: disk}}
""" + NETWORK_G + """\
path:
  pretrain_network_g: converted.pth
  strict_load_g: true
val:
  save_img: false
  metrics:
    psnr: {{type: calculate_psnr, crop_border: 2, test_y_channel: true}}
"""


@needs_basicsr
def test_basicsr_trains_and_tests_an_hnas_network(tmp_path: Path, shared_data: Path) -> None:
    from hnas.cli.app import app
    from hnas.data.io import read_image, write_image
    from hnas.data.resize import downscale_uint8, mod_crop

    for folder in ("train/gt", "train/lq", "set5_lr"):
        (tmp_path / folder).mkdir(parents=True)
    for path in sorted((shared_data / "T91").glob("*.png"))[:4]:
        hr = read_image(path)[:64, :64]
        write_image(tmp_path / "train/gt" / path.name, hr)
        write_image(tmp_path / "train/lq" / path.name, downscale_uint8(hr, 2))  # MATLAB bicubic, as hnas
    for path in sorted((shared_data / "Set5").glob("*.png")):
        write_image(tmp_path / "set5_lr" / path.name, downscale_uint8(mod_crop(read_image(path), 2), 2))
    (tmp_path / "train.yml").write_text(TRAIN_OPTIONS)
    (tmp_path / "test.yml").write_text(TEST_OPTIONS.format(set5=shared_data / "Set5"))

    _run_basicsr("train", tmp_path / "train.yml")
    trained = tmp_path / "experiments/hnas_a_x2_tiny/models/net_g_20.pth"
    assert trained.is_file()
    # BasicSR's .pth -> an hnas model file (its architecture read from the file) -> a .pth again
    model = from_basicsr(trained, tmp_path / "trained.safetensors")
    to_basicsr(model, tmp_path / "converted.pth")
    tested = _run_basicsr("test", tmp_path / "test.yml")
    log = next((tmp_path / "results/hnas_a_x2_set5").glob("test_*.log")).read_text()
    assert "Loading HNASNet model from converted.pth" in log, tested.stderr[-2000:]
    basicsr_psnr = float(re.search(r"# psnr: ([0-9.]+)", log).group(1))  # type: ignore[union-attr]

    # hnas's own evaluation of the converted file (the same protocol: Y channel, border 2) agrees
    result = CliRunner().invoke(app, ["eval", str(model), "--data", str(shared_data / "Set5"), "--json"])
    assert result.exit_code == 0, result.output
    hnas_psnr = json.loads(result.stdout)["Set5"]["psnr"]
    assert abs(basicsr_psnr - hnas_psnr) < 2e-4
    assert basicsr_psnr > 33.0  # the bicubic skip starts it at bicubic quality (33.66 dB)
