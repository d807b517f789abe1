"""``hnas eval`` and the evaluation loop: the bicubic baselines of the SR literature, and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from hnas.cli.app import app
from hnas.data import BicubicUpscaler, evaluate, read_image, write_image

runner = CliRunner()

#: Published bicubic PSNR / SSIM (x: {set: (psnr, ssim)}), as in the EDSR/RCAN/HNAS tables.
PUBLISHED = {
    2: {"Set5": (33.66, 0.9299), "Set14": (30.24, 0.8688)},
    3: {"Set5": (30.39, 0.8682), "Set14": (27.55, 0.7742)},
    4: {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027)},
}


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _folder(root: Path, sizes: dict[str, tuple[int, ...]]) -> Path:
    rng = np.random.default_rng(5)
    root.mkdir(parents=True, exist_ok=True)
    for name, shape in sizes.items():
        base = rng.integers(0, 256, size=(shape[0] // 4 + 1, shape[1] // 4 + 1, *shape[2:]), dtype=np.uint8)
        image = np.kron(base, np.ones((4, 4) + (1,) * (len(shape) - 2), np.uint8))[: shape[0], : shape[1]]
        write_image(root / name, image)
    return root


#: What hnas measures on the packaged sets (the README's table); a change here is a protocol change.
MEASURED = {
    2: {"Set5": (33.674, 0.9303), "Set14": (30.232, 0.8691)},
    3: {"Set5": (30.405, 0.8689), "Set14": (27.539, 0.7745)},
    4: {"Set5": (28.430, 0.8111), "Set14": (25.997, 0.7029)},
}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_on_the_builtin_sets_reproduces_the_baselines(scale: int) -> None:
    code, out, err = _run(
        "eval", "bicubic", "-d", "builtin:set5", "-d", "builtin:set14", "--scale", str(scale), "--json"
    )
    assert code == 0, err
    results = json.loads(out)
    assert list(results) == ["Set5", "Set14"]
    for name, (paper_psnr, paper_ssim) in PUBLISHED[scale].items():
        result = results[name]
        assert set(result) == {"psnr", "ssim", "images"}
        assert len(result["images"]) == (5 if name == "Set5" else 14)
        assert all(set(v) == {"psnr", "ssim"} for v in result["images"].values())
        assert abs(result["psnr"] - paper_psnr) <= 0.02, (name, result["psnr"])
        assert abs(result["ssim"] - paper_ssim) <= 0.001, (name, result["ssim"])
        ours_psnr, ours_ssim = MEASURED[scale][name]
        assert abs(result["psnr"] - ours_psnr) <= 0.001, (name, result["psnr"])
        assert abs(result["ssim"] - ours_ssim) <= 0.0001, (name, result["ssim"])


def _strict(constant: str) -> None:
    raise ValueError(f"not JSON: {constant}")


def test_perfect_reconstruction_is_strict_json(tmp_path: Path) -> None:
    """A flat image survives bicubic down- and upscaling exactly: PSNR would be infinite."""
    data = tmp_path / "flat"
    write_image(data / "gray.png", np.full((40, 40, 3), 128, np.uint8))
    code, out, err = _run("eval", "bicubic", "--data", str(data), "--scale", "2", "--json")
    assert code == 0, err
    result = json.loads(out, parse_constant=_strict)["flat"]
    assert result["psnr"] == result["images"]["gray.png"]["psnr"] == 100.0
    assert result["images"]["gray.png"]["ssim"] == pytest.approx(1.0)


def test_print_json_never_writes_nan_or_infinity(capsys: pytest.CaptureFixture[str]) -> None:
    from hnas.cli.common import print_json

    print_json({"psnr": float("inf"), "runs": [float("nan"), 1.5, -float("inf")], "name": "x"})
    assert json.loads(capsys.readouterr().out, parse_constant=_strict) == {
        "psnr": None, "runs": [None, 1.5, None], "name": "x"
    }


def test_table_output_and_save(tmp_path: Path) -> None:
    data = _folder(tmp_path / "mini", {"a.png": (40, 44, 3), "g.png": (36, 36)})
    code, out, err = _run(
        "eval", "bicubic", "--data", str(data), "--scale", "2", "--save", str(tmp_path / "sr")
    )
    assert code == 0, err
    assert "mini" in out and "PSNR" in out
    saved = sorted((tmp_path / "sr" / "mini").iterdir())
    assert [p.name for p in saved] == ["a.png", "g.png"]
    assert read_image(saved[0]).shape == (40, 44, 3) and read_image(saved[1]).shape == (36, 36, 1)


def test_builtin_data_and_tiny_image_error(tmp_path: Path) -> None:
    data = _folder(tmp_path / "small", {"ok.png": (40, 40, 3), "tiny.png": (14, 40, 3)})
    code, out, err = _run("eval", "bicubic", "--data", str(data), "--scale", "2", "--json")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "tiny.png" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "bicubic", "--data", "/no/such/folder", "--scale", "2"], "does not exist"),
        (["eval", "bicubic", "--data", "builtin:skimage"], "--scale is required"),
        (["eval", "hnas-a", "--data", "builtin:skimage", "--scale", "2"], "needs --weights"),
        (
            ["eval", "no-such-preset", "--data", "builtin:skimage", "--scale", "2", "--weights", "w.st"],
            "preset",
        ),
    ],
)
def test_user_errors_are_one_line(args: list[str], message: str) -> None:
    code, out, err = _run(*args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_preset_with_weights(tmp_path: Path) -> None:
    from safetensors.torch import save_model

    from hnas import build_model

    data = _folder(tmp_path / "mini", {"a.png": (24, 24, 3), "g.png": (20, 24)})
    save_model(build_model("hnas-a", scale=2, channels=4), str(tmp_path / "w.safetensors"))
    common = [
        "eval",
        "hnas-a",
        "--data",
        str(data),
        "--scale",
        "2",
        "--weights",
        str(tmp_path / "w.safetensors"),
    ]
    code, out, err = _run(*common, "--channels", "4", "--json")
    assert code == 0, err
    assert set(json.loads(out)["mini"]["images"]) == {"a.png", "g.png"}
    code, _, err = _run(*common, "--channels", "8")
    assert code == 2 and "do not fit hnas-a" in err and err.count("\n") == 1
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    code, _, err = _run(*common[:-1], str(tmp_path / "junk.safetensors"), "--channels", "4")
    assert code == 2 and "junk.safetensors" in err and err.count("\n") == 1


def test_preset_with_an_hnas_model_file_as_weights(tmp_path: Path) -> None:
    from hnas import build_model, save_model

    data = _folder(tmp_path / "mini", {"a.png": (24, 24, 3)})
    file = save_model(build_model("hnas-a", scale=2, channels=4), tmp_path / "m.safetensors")
    code, out, err = _run("eval", "hnas-a", "--data", str(data), "--scale", "2", "--channels", "4",
                          "--weights", str(file), "--json")
    assert code == 0, err
    assert "a.png" in json.loads(out)["mini"]["images"]


def test_checkpoint_model(tmp_path: Path) -> None:
    checkpoint = pytest.importorskip("hnas.checkpoint")
    from hnas import build_model

    data = _folder(tmp_path / "mini", {"a.png": (24, 24, 3)})
    file = checkpoint.save_model(build_model("hnas-a", scale=2, channels=4), tmp_path / "m.safetensors")
    code, out, err = _run("eval", str(file), "--data", str(data), "--json")
    assert code == 0, err
    assert "a.png" in json.loads(out)["mini"]["images"]
    code, _, err = _run("eval", str(file), "--data", str(data), "--scale", "3")
    assert code == 2 and "x2 model" in err


class _RGBBicubic(nn.Module):
    """A 3-channel 'model' (identity 1x1 conv, then bicubic) to check the gray-image handling."""

    scale = 2

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1, bias=False)
        nn.init.dirac_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return BicubicUpscaler(2)(self.conv(x))


def test_gray_image_through_rgb_model_scores_like_gray(tmp_path: Path) -> None:
    data = _folder(tmp_path / "gray", {"g.png": (40, 32)})
    model = _RGBBicubic().train()
    rgb = evaluate(model, data, 2)
    gray = evaluate(BicubicUpscaler(2), data, 2)
    assert model.training  # evaluate restores the mode it found
    assert rgb["psnr"] == pytest.approx(gray["psnr"], abs=1e-6)
    assert rgb["ssim"] == pytest.approx(gray["ssim"], abs=1e-9)


def test_wrong_scale_model_is_a_clear_error(tmp_path: Path) -> None:
    from hnas.errors import HnasError

    data = _folder(tmp_path / "d", {"a.png": (40, 40, 3)})
    with pytest.raises(HnasError, match="made for x3"):
        evaluate(BicubicUpscaler(2), data, 3)
