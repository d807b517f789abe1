"""Inference: tiled upscaling matches whole-image upscaling; ``hnas upscale`` handles real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app
from hnas.data.resize import upscale_uint8
from hnas.inference import tile_boxes, upscale_tensor

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


def net(name: str = "hnas-a", scale: int = 2, global_skip: str = "bicubic") -> hnas.HNASNet:
    """A 3-layer network with the preset's cells and a tail that is not zero (so it matters)."""
    g = hnas.resolve_genotype(name)
    genotype = hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3)
    torch.manual_seed(0)
    model = hnas.build_model(genotype, scale=scale, channels=4, global_skip=global_skip)  # type: ignore[arg-type]
    torch.nn.init.normal_(model.tail.weight, std=0.05)
    return model.eval()


def photo(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A smooth image with some edges, 1 x 3 x H x W, integer values in 0..255."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 6 + 2, width // 6 + 2, 3), dtype=np.uint8)
    array = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))
    return torch.from_numpy(array.copy()).permute(2, 0, 1)[None].float()


@pytest.mark.parametrize(("name", "scale", "tile"), [("hnas-a", 2, 16), ("hnas-b", 3, 13), ("hnas-c", 4, 20)])
def test_tiled_output_matches_the_whole_image_within_one_grey_level(name: str, scale: int, tile: int) -> None:
    model = net(name, scale)
    x = photo(45, 53)
    whole = upscale_tensor(model, x)
    calls: list[tuple[int, int]] = []
    tiled = upscale_tensor(model, x, tile=tile, overlap=16, progress=lambda done, total: calls.append((done, total)))
    assert tiled.shape == whole.shape == (1, 3, 45 * scale, 53 * scale)
    assert (tiled.round() - whole.round()).abs().max() <= 1
    seams = upscale_tensor(model, x, tile=tile, overlap=0)  # without context the seams show
    assert (seams.round() - whole.round()).abs().max() > 1
    assert len(calls) == len(tile_boxes(45, 53, tile)) and calls[-1][0] == calls[-1][1]


def test_tiles_cover_the_image_once() -> None:
    boxes = tile_boxes(45, 53, 16)
    cover = torch.zeros(45, 53)
    for top, bottom, left, right in boxes:
        cover[top:bottom, left:right] += 1
    assert torch.equal(cover, torch.ones(45, 53))


def test_output_is_clamped_and_keeps_a_single_image_unbatched() -> None:
    out = upscale_tensor(net(), photo(10, 12)[0], tile=6, overlap=2)
    assert out.shape == (3, 20, 24) and out.min() >= 0 and out.max() <= 255


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint and RGB, grayscale, RGBA and gray+alpha inputs with odd sizes."""
    root = tmp_path_factory.mktemp("upscale")
    hnas.save_model(net(), root / "model.safetensors")
    rgb = photo(21, 17)[0].permute(1, 2, 0).numpy().astype(np.uint8)
    (root / "in").mkdir()
    Image.fromarray(rgb).save(root / "in" / "rgb.png")
    Image.fromarray(rgb[:, :, 1]).save(root / "in" / "gray.png")
    alpha = np.tile(np.linspace(0, 255, 17, dtype=np.uint8), (21, 1))
    Image.fromarray(np.dstack([rgb, alpha])).save(root / "in" / "rgba.png")
    Image.fromarray(np.dstack([rgb[:, :, 0], alpha])).save(root / "in" / "gray_alpha.png")
    return root


def test_upscale_command_writes_exact_size_pngs_keeping_gray_and_alpha(files: Path) -> None:
    out = files / "out"
    result = runner.invoke(app, ["upscale", str(files / "model.safetensors"), str(files / "in"), "--out", str(out),
                                 "--tile", "8", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    modes = {}
    for name in ("rgb", "gray", "rgba", "gray_alpha"):
        with Image.open(out / f"{name}.png") as image:
            assert image.size == (34, 42), name
            modes[name] = image.mode
    assert modes == {"rgb": "RGB", "gray": "L", "rgba": "RGBA", "gray_alpha": "LA"}
    with Image.open(out / "rgba.png") as image:
        alpha = np.asarray(image)[:, :, 3]
    expected = upscale_uint8(np.tile(np.linspace(0, 255, 17, dtype=np.uint8), (21, 1)), 2)
    assert np.array_equal(alpha, expected)  # alpha: MATLAB-compatible bicubic
    assert sorted(result.stdout.split()) == sorted(str(out / f"{n}.png") for n in modes)


def test_tiled_and_untiled_commands_agree(files: Path) -> None:
    for extra, folder in ((["--tile", "8", "--tile-overlap", "16"], "tiled"), ([], "whole")):
        result = runner.invoke(app, ["upscale", str(files / "model.safetensors"), str(files / "in" / "rgb.png"),
                                     "--out", str(files / folder), *extra])
        assert result.exit_code == 0, result.output
    a = np.asarray(Image.open(files / "tiled" / "rgb.png"), dtype=np.int16)
    b = np.asarray(Image.open(files / "whole" / "rgb.png"), dtype=np.int16)
    assert np.abs(a - b).max() <= 1


def test_bicubic_needs_a_scale_and_is_matlab_bicubic(files: Path) -> None:
    missing = runner.invoke(app, ["upscale", "bicubic", str(files / "in" / "rgb.png"), "--out", str(files / "b")])
    assert missing.exit_code == 2 and "needs --scale" in missing.stderr
    done = runner.invoke(app, ["upscale", "bicubic", str(files / "in" / "gray.png"), "--out", str(files / "b"),
                               "--scale", "3"])
    assert done.exit_code == 0, done.output
    gray = np.asarray(Image.open(files / "in" / "gray.png"))
    assert np.array_equal(np.asarray(Image.open(files / "b" / "gray.png")), upscale_uint8(gray, 3))


def test_user_mistakes_are_one_line_errors(files: Path) -> None:
    model = str(files / "model.safetensors")
    cases = [
        (["upscale", model, str(files / "in" / "rgb.png"), "--out", str(files / "x"), "--scale", "3"], "x2 model"),
        (["upscale", model, str(files / "nope.png"), "--out", str(files / "x")], "input not found"),
        (["upscale", str(files / "in" / "rgb.png"), str(files / "in" / "rgb.png"), "--out", str(files / "x")],
         "safetensors"),
        (["upscale", model, str(files / "in" / "rgb.png"), str(files / "in" / "rgb.png"), "--out",
          str(files / "x")], "would both be written"),
    ]
    for args, text in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert text in result.stderr and result.stderr.count("\n") == 1, result.stderr
