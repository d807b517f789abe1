"""The first hour's command line: ``--version``, ``-h`` everywhere, and no warning lines.

``upscale`` and ``eval`` run in fresh interpreters with Python's default warning filters, as a user
starts them: a warning printed once per process would hide in a shared test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app
from hnas.export import export_torchscript

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"hnas {hnas.__version__}"


def test_dash_h_is_help_on_the_app_and_on_every_command() -> None:
    assert runner.invoke(app, ["-h"]).stdout == runner.invoke(app, ["--help"]).stdout
    commands = [command.name for command in app.registered_commands]
    assert {"upscale", "eval", "train", "run", "export"} <= set(commands)
    for name in commands:
        short, long = runner.invoke(app, [name, "-h"]), runner.invoke(app, [name, "--help"])
        assert short.exit_code == long.exit_code == 0, (name, short.stdout)
        assert short.stdout == long.stdout and "-h, --help" in short.stdout, name


def _fresh_hnas(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "hnas", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("polish")
    torch.manual_seed(0)
    return hnas.save_model(hnas.build_model("hnas-a", scale=2, channels=4), folder / "tiny.safetensors")


def test_upscale_and_eval_print_no_warning(tiny_model: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(images / "a.png")
    upscaled = _fresh_hnas("upscale", str(tiny_model), str(images / "a.png"), "--out", str(tmp_path / "sr"))
    assert upscaled.returncode == 0, upscaled.stderr
    assert "Warning" not in upscaled.stderr and "warning" not in upscaled.stderr, upscaled.stderr
    scored = _fresh_hnas("eval", str(tiny_model), "--data", str(images), "--json")
    assert scored.returncode == 0, scored.stderr
    assert "Warning" not in scored.stderr and "warning" not in scored.stderr, scored.stderr
    # and an error is one line, not a warning and then the error
    missing = _fresh_hnas("upscale", str(tiny_model), str(images / "nope.png"), "--out", str(tmp_path / "sr"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr


@pytest.mark.parametrize(("name", "scale"), [("hnas-a", 2), ("hnas-b", 3), ("hnas-c", 4)])
def test_torchscript_export_raises_no_tracer_warning(name: str, scale: int, tmp_path: Path) -> None:
    g = hnas.resolve_genotype(name)  # the preset's cells (every op the warnings came from) in 3 layers
    genotype = hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3)
    torch.manual_seed(0)
    net = hnas.build_model(genotype, scale=scale, channels=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_torchscript(net, tmp_path / "model.pt")
    tracer = [str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    assert tracer == []
