"""spandrel, the loader of ComfyUI and chaiNNer, detects and loads hnas files as it finds them.

A network briefly trained by ``hnas train`` is opened with ``spandrel.ModelLoader().load_from_file``
as a ``.safetensors`` file under another name and as a ``.pth`` (BasicSR's layout, what apps
usually download); its output equals ``hnas upscale``'s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import hnas
from hnas.checkpoint import CONFIG_TENSOR
from hnas.cli.app import app
from hnas.data.io import image_to_tensor, read_image, tensor_to_image
from hnas.errors import CheckpointError
from hnas.inference import upscale_tensor
from hnas.integrations.basicsr import to_basicsr

spandrel = pytest.importorskip("spandrel", reason="spandrel is not installed (pip install 'hnas[spandrel]')")

from hnas.integrations.spandrel import HNAS_SUPPORT, register  # (after the skip: needs spandrel)

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hnas train`` for a few steps: a model file as the command line writes it."""
    out = tmp_path_factory.mktemp("spandrel") / "run"
    result = CliRunner().invoke(app, [
        "train", "hnas-c", "--data", "builtin:skimage", "--scale", "3", "--channels", "4", "--iters", "3",
        "--batch", "2", "--patch", "24", "--global-skip", "bicubic", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    return out / "model.safetensors"


@pytest.fixture(scope="module")
def loader() -> object:
    """A loader with its own copy of spandrel's registry plus hnas (the app's one global registry
    is what ``register()`` extends; tests keep it untouched)."""
    registry = spandrel.MAIN_REGISTRY.copy()
    register(registry)
    return spandrel.ModelLoader(registry=registry)


def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(coarse).resize((29, 23), Image.BICUBIC).save(path)
    return path


def test_spandrel_loads_a_renamed_file_and_matches_hnas_upscale(trained: Path, loader: object,
                                                                 tmp_path: Path) -> None:
    renamed = tmp_path / "4x-MyFavouriteUpscaler.safetensors"
    shutil.copy(trained, renamed)
    as_pth = to_basicsr(trained, tmp_path / "MyFavouriteUpscaler.pth")
    image = photo(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "hnas", "upscale", str(trained), str(image), "--out",
                           str(tmp_path / "sr")], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    png = read_image(tmp_path / "sr" / "photo.png")
    x = image_to_tensor(read_image(image)).unsqueeze(0)
    reference = upscale_tensor(hnas.load_model(trained), x) / 255  # the float output under the PNG

    for file in (renamed, as_pth):
        model = loader.load_from_file(file)  # type: ignore[attr-defined]
        assert isinstance(model, spandrel.ImageModelDescriptor)
        assert model.architecture.id == "HNAS" and model.purpose == "SR"
        assert (model.scale, model.input_channels, model.output_channels) == (3, 3, 3)
        assert model.size_requirements.none and "4nf" in model.tags
        sr = model(x / 255)
        assert sr.shape == (1, 3, 69, 87)
        assert float((sr - reference).abs().max()) <= 1e-5, file.name
        assert np.array_equal(tensor_to_image(sr * 255), png), file.name


def test_spandrel_leaves_other_files_to_other_architectures(loader: object, tmp_path: Path) -> None:
    assert not HNAS_SUPPORT.detect({"conv_first.weight": torch.zeros(64, 3, 3, 3)})
    assert not HNAS_SUPPORT.detect({CONFIG_TENSOR: torch.zeros(4)})  # a float tensor of that name is not ours
    net = hnas.build_model("hnas-a", scale=2, channels=2)
    damaged = {**net.state_dict(), CONFIG_TENSOR: torch.tensor(list(b"{}"), dtype=torch.uint8)}
    with pytest.raises(spandrel.UnsupportedModelError):
        loader.load_from_state_dict(damaged)  # type: ignore[attr-defined]


def test_a_file_whose_weights_do_not_fit_is_one_line(loader: object, tmp_path: Path) -> None:
    file = hnas.save_model(hnas.build_model("hnas-a", scale=2, channels=2), tmp_path / "a.safetensors")
    state = loader.load_state_dict_from_file(file)  # type: ignore[attr-defined]
    del state["tail.bias"]
    with pytest.raises(CheckpointError, match=r"missing 1 tensor\(s\): tail\.bias"):
        loader.load_from_state_dict(state)  # type: ignore[attr-defined]


def test_register_adds_hnas_once() -> None:
    registry = spandrel.ArchRegistry()
    register(registry)
    register(registry)
    assert [support.architecture.id for support in registry] == ["HNAS"]
