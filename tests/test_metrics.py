"""PSNR/SSIM under the SR convention: rounding, Y channel, shave, gray images, batching."""

from __future__ import annotations

import math

import pytest
import torch
from skimage.metrics import structural_similarity

from hnas.data.metrics import batch_psnr, psnr, psnr_ssim, rgb_to_y, ssim


def _pair(seed: int = 0, n: int = 2, size: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hr = torch.randint(0, 256, (n, 3, size, size), generator=g).float()
    sr = (hr + torch.randn(hr.shape, generator=g) * 8).clamp(0, 255)
    return sr, hr


def test_y_channel_matches_matlab_rgb2ycbcr() -> None:
    white, black = torch.full((3, 1, 1), 255.0), torch.zeros(3, 1, 1)
    assert rgb_to_y(white).item() == pytest.approx(235.0)
    assert rgb_to_y(black).item() == pytest.approx(16.0)


def test_psnr_known_value_and_identity() -> None:
    hr = torch.zeros(1, 3, 8, 8)
    assert psnr(hr + 1, hr, shave=0, y_channel=False).item() == pytest.approx(10 * math.log10(255**2))
    assert math.isinf(psnr(hr, hr, shave=0).item())


def test_sr_is_clamped_and_rounded_first() -> None:
    hr = torch.zeros(3, 8, 8)
    assert math.isinf(psnr(hr + 0.4, hr, shave=0).item())
    assert math.isinf(psnr(hr - 30, hr, shave=0).item())
    assert psnr(hr + 0.6, hr, shave=0, y_channel=False).item() == pytest.approx(48.1308036)


def test_shave_ignores_borders() -> None:
    hr = torch.full((1, 3, 20, 20), 100.0)
    sr = hr.clone()
    sr[..., :2, :] = 0
    sr[..., :, -2:] = 255
    assert math.isinf(psnr(sr, hr, shave=2).item())
    assert ssim(sr, hr, shave=2).item() == pytest.approx(1.0)
    assert psnr(sr, hr, shave=1).item() < 20


def test_ssim_matches_skimage_gaussian_reference() -> None:
    """skimage with Gaussian weights, sigma 1.5 and population covariance is Wang's ssim_index."""
    sr, hr = _pair(size=48)
    ours = ssim(sr, hr, shave=0, y_channel=False)
    for i in range(2):
        expected = (
            sum(
                structural_similarity(
                    sr[i, c].round().double().numpy(),
                    hr[i, c].double().numpy(),
                    data_range=255,
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                )
                for c in range(3)
            )
            / 3
        )
        assert ours[i].item() == pytest.approx(expected, abs=1e-9)


def test_gray_hr_is_its_own_y() -> None:
    gray_hr = torch.randint(0, 256, (1, 1, 24, 24)).float()
    gray_sr = (gray_hr + 5).clamp(0, 255)
    rgb_sr = gray_sr.expand(-1, 3, -1, -1)
    assert psnr(rgb_sr, gray_hr, shave=2).item() == pytest.approx(
        psnr(gray_sr, gray_hr, shave=2).item(), abs=1e-6
    )
    assert ssim(rgb_sr, gray_hr, shave=2).item() == pytest.approx(
        ssim(gray_sr, gray_hr, shave=2).item(), abs=1e-9
    )
    # Going through RGB -> Y squeezes the range and flatters the score (README: +0.09 dB on bridge).
    assert (
        psnr(rgb_sr, gray_hr.expand(-1, 3, -1, -1), shave=2).item() > psnr(gray_sr, gray_hr, shave=2).item()
    )


def test_batch_is_per_image() -> None:
    sr, hr = _pair(n=3)
    values = psnr(sr, hr, shave=2)
    assert values.shape == (3,)
    for i in range(3):
        assert psnr(sr[i], hr[i], shave=2).item() == pytest.approx(values[i].item())
    both = psnr_ssim(sr, hr, shave=2)
    torch.testing.assert_close(both[0], values)
    torch.testing.assert_close(both[1], ssim(sr, hr, shave=2))


def test_batch_psnr_is_mean_of_per_image_values() -> None:
    sr, hr = _pair(n=3)
    sr[0] = hr[0] + 40  # one bad image: pooled MSE would weigh it differently
    per_image = psnr(sr, hr, shave=2)
    assert batch_psnr(sr.requires_grad_(), hr, shave=2) == pytest.approx(per_image.mean().item())
    assert batch_psnr(hr, hr, shave=2) == 100.0


def test_rgb_option_and_shape_errors() -> None:
    sr, hr = _pair()
    assert psnr(sr, hr, shave=2, y_channel=False).shape == (2,)
    with pytest.raises(ValueError):
        psnr(sr[:, :, :20], hr, shave=2)
    with pytest.raises(ValueError):
        ssim(sr[..., :20, :20], hr[..., :20, :20], shave=5)
