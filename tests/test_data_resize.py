"""MATLAB-compatible bicubic resize: against a slow NumPy reference and real MATLAB output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hnas.data import downscale_uint8, imresize, mod_crop, read_image, upscale_uint8
from hnas.data import resize as resize_module

FIXTURES = Path(__file__).with_name("fixtures") / "resize_reference.npz"


def _cases() -> list[str]:
    with np.load(FIXTURES) as data:
        return sorted({key.split("/")[0] for key in data.files})


def _call_args(data: np.lib.npyio.NpzFile, case: str) -> dict[str, object]:
    size = tuple(int(v) for v in data[f"{case}/size"])
    return {"size": size} if size[0] > 0 else {"scale": float(data[f"{case}/scale"])}


@pytest.fixture(params=["dense", "taps"])
def method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through both ways of applying a pass (dense matmul, loop over taps)."""
    monkeypatch.setattr(resize_module, "DENSE_RATIO", 10**9 if request.param == "dense" else 0)
    return str(request.param)


@pytest.mark.parametrize("case", _cases())
def test_matches_numpy_reference(case: str, method: str) -> None:
    """Fixtures come from tests/fixtures/make_resize_fixtures.py (independent loop code)."""
    with np.load(FIXTURES) as data:
        image = torch.from_numpy(data[f"{case}/input"])
        kwargs = _call_args(data, case)
        as_uint8 = imresize(image, **kwargs)
        as_float = imresize(image.double(), **kwargs)
        assert as_uint8.dtype == torch.uint8
        np.testing.assert_array_equal(as_uint8.numpy(), data[f"{case}/uint8"])
        np.testing.assert_allclose(as_float.numpy(), data[f"{case}/float"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bit_exact_with_matlab_lr_images(shared_data: Path, scale: int, method: str) -> None:
    for hr_path in sorted((shared_data / "Set5").glob("*.png")):
        expected = read_image(shared_data / "Set5_LR_MATLAB" / f"x{scale}" / hr_path.name)
        made = downscale_uint8(mod_crop(read_image(hr_path), scale), scale)
        np.testing.assert_array_equal(made, expected, err_msg=f"{hr_path.name} x{scale}")


def test_batch_matches_single_images_and_keeps_float_dtype() -> None:
    batch = torch.rand(3, 3, 20, 14, dtype=torch.float32) * 255
    out = imresize(batch, 0.5)
    assert out.shape == (3, 3, 10, 7) and out.dtype == torch.float32
    for i in range(3):
        torch.testing.assert_close(out[i], imresize(batch[i], 0.5))


def test_output_size_is_ceil_of_scale_times_size() -> None:
    image = torch.zeros(1, 1, 10, 7)
    assert imresize(image, 0.5).shape[-2:] == (5, 4)
    assert imresize(image, 1 / 3).shape[-2:] == (4, 3)
    assert imresize(torch.zeros(1, 510, 255), 1 / 3).shape[-2:] == (170, 85)
    assert imresize(image, size=(3, 21)).shape[-2:] == (3, 21)


def test_quantize_defaults_to_input_type() -> None:
    image = torch.randint(0, 256, (3, 9, 9), dtype=torch.uint8)
    smooth = imresize(image.float(), 2.0)
    rounded = imresize(image.float(), 2.0, quantize=True)
    assert not torch.equal(smooth, smooth.round())
    assert torch.equal(rounded, rounded.round()) and rounded.min() >= 0 and rounded.max() <= 255
    assert torch.equal(rounded.to(torch.uint8), imresize(image, 2.0))


def test_constant_image_stays_constant() -> None:
    image = torch.full((2, 3, 13, 17), 77.0, dtype=torch.float64)
    for scale in (0.25, 0.5, 1 / 3, 1.5, 4.0):
        torch.testing.assert_close(imresize(image, scale), torch.full_like(imresize(image, scale), 77.0))


def test_scale_one_is_identity() -> None:
    image = torch.randint(0, 256, (3, 8, 5), dtype=torch.uint8)
    assert torch.equal(imresize(image, 1.0), image)


def test_upscale_uint8_and_gray_arrays() -> None:
    gray = np.random.default_rng(0).integers(0, 256, size=(12, 10), dtype=np.uint8)
    assert downscale_uint8(gray, 2).shape == (6, 5)
    assert downscale_uint8(gray[:, :, None], 2).shape == (6, 5, 1)
    assert upscale_uint8(gray, 3).shape == (36, 30)


def test_mod_crop() -> None:
    assert mod_crop(np.zeros((13, 10, 3)), 4).shape == (12, 8, 3)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"scale": 0.5, "size": (2, 2)}, {"scale": 0.0}, {"scale": -1.0}, {"size": (0, 3)}],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        imresize(torch.zeros(1, 4, 4), **kwargs)  # type: ignore[arg-type]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    image = torch.randint(0, 256, (2, 3, 31, 22), dtype=torch.uint8)
    for scale in (0.5, 0.25, 3.0):
        assert torch.equal(imresize(image.cuda(), scale).cpu(), imresize(image, scale))
