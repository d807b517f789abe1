"""PSNR and SSIM the way SR papers report them, batched in torch.

The convention (EDSR, RCAN, HNAS tables; MATLAB evaluation scripts):

* the SR output is clamped to 0..255 and rounded to integers (it is saved as a PNG first);
* both images go to the Y channel of BT.601 as MATLAB's ``rgb2ycbcr``:
  ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` (RGB in 0..255, Y in 16..235);
* a single-channel HR image (Set14 ``bridge``) is its own Y channel. A 3-channel output compared
  with it is reduced to full-range luma ``0.299 R + 0.587 G + 0.114 B`` (the same weights without
  the 16..235 squeeze), so a gray output R = G = B = v scores exactly as the gray image v;
* ``shave`` pixels (the scale) are cut from every border before comparing;
* SSIM is Wang et al. 2004 (``ssim_index.m``): 11 x 11 Gaussian window, sigma 1.5, K1 0.01,
  K2 0.03, L 255, 'valid' filtering, mean of the SSIM map; no downsampling.

Functions take ``(N, C, H, W)`` or ``(C, H, W)`` tensors in 0..255 and return one value per image.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

__all__ = ["PSNR_CAP", "batch_psnr", "capped_psnr", "psnr", "psnr_ssim", "rgb_to_luma", "rgb_to_y", "ssim"]

_Y_WEIGHTS = (65.481, 128.553, 24.966)
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
#: The highest PSNR reported (dB): a perfect reconstruction would be infinite. Means over images
#: stay numbers and JSON stays strict. Only images with a handful of pixels off by one reach it.
PSNR_CAP = 100.0


def _metric_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _weighted_channels(rgb: Tensor, weights: tuple[float, float, float]) -> Tensor:
    w = torch.tensor(weights, dtype=rgb.dtype, device=rgb.device)
    return torch.einsum("...chw,c->...hw", rgb, w).unsqueeze(-3)


def rgb_to_y(rgb: Tensor) -> Tensor:
    """BT.601 studio-range Y (MATLAB ``rgb2ycbcr``) of ``(..., 3, H, W)`` RGB in 0..255."""
    return 16.0 + _weighted_channels(rgb, tuple(v / 255.0 for v in _Y_WEIGHTS))  # type: ignore[arg-type]


def rgb_to_luma(rgb: Tensor) -> Tensor:
    """BT.601 full-range luma (0..255): the gray level an RGB pixel corresponds to."""
    return _weighted_channels(rgb, (0.299, 0.587, 0.114))


def _batched(x: Tensor, name: str) -> Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"{name}: expected (N, C, H, W) or (C, H, W) with C 1 or 3, got {tuple(x.shape)}")
    return x


def _prepare(sr: Tensor, hr: Tensor, shave: int, y_channel: bool) -> tuple[Tensor, Tensor]:
    """Round SR, put both on the compared channel(s), shave borders; float64 ``(N, C, h, w)``."""
    sr, hr = _batched(sr.detach(), "sr"), _batched(hr.detach(), "hr")
    if sr.shape[0] != hr.shape[0] or sr.shape[-2:] != hr.shape[-2:]:
        raise ValueError(f"sr {tuple(sr.shape)} and hr {tuple(hr.shape)} differ in batch or size")
    dtype = _metric_dtype(sr.device)
    sr = torch.floor(sr.to(dtype).clamp(0.0, 255.0) + 0.5)
    hr = hr.to(device=sr.device, dtype=dtype)
    if y_channel:
        if sr.shape[1] == 3 and hr.shape[1] == 3:
            sr, hr = rgb_to_y(sr), rgb_to_y(hr)
        elif sr.shape[1] == 3:
            sr = rgb_to_luma(sr)
        elif hr.shape[1] == 3:
            hr = rgb_to_luma(hr)
    elif sr.shape[1] != hr.shape[1]:
        sr, hr = sr.expand(-1, 3, -1, -1), hr.expand(-1, 3, -1, -1)
    if shave > 0:
        if 2 * shave >= min(sr.shape[-2:]):
            raise ValueError(f"shave {shave} leaves nothing of a {sr.shape[-2]}x{sr.shape[-1]} image")
        sr = sr[..., shave:-shave, shave:-shave]
        hr = hr[..., shave:-shave, shave:-shave]
    return sr, hr


def psnr(sr: Tensor, hr: Tensor, *, shave: int, y_channel: bool = True) -> Tensor:
    """PSNR in dB per image (shape ``(N,)``, or a scalar tensor for one ``C x H x W`` image).

    ``sr`` is rounded to integers first; identical images give ``inf``.
    """
    value = _psnr_of(*_prepare(sr, hr, shave, y_channel))
    return value[0] if sr.dim() == 3 else value


def _gaussian_taps() -> list[float]:
    """1-D factor of the normalised 11 x 11 Gaussian window (the 2-D window is its outer product)."""
    half = (SSIM_WINDOW - 1) / 2
    g = [math.exp(-((i - half) ** 2) / (2 * SSIM_SIGMA**2)) for i in range(SSIM_WINDOW)]
    total = sum(g)
    return [v / total for v in g]


_TAPS = _gaussian_taps()


#: Sides up to this use a banded-matrix matmul for the window (one BLAS call, robust when CPU
#: threads are contended); longer sides use shifted slices (matmul work grows with the side).
BANDED_MAX_SIDE = 1024


@lru_cache(maxsize=16)
def _band(length: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(length - 10) x length matrix whose rows hold the 1-D Gaussian taps: 'valid' filtering."""
    out = length - SSIM_WINDOW + 1
    band = torch.zeros(out, length, dtype=torch.float64)
    taps = torch.tensor(_TAPS, dtype=torch.float64)
    for offset in range(SSIM_WINDOW):
        band.diagonal(offset)[:out] = taps[offset]
    return band.to(device=device, dtype=dtype)


def _filter_valid(x: Tensor) -> Tensor:
    """MATLAB ``filter2(window, x, 'valid')`` over the last two dims, as two 1-D passes.

    The 2-D Gaussian window is separable, and the separable form is exact up to float rounding.
    """
    h, w = x.shape[-2] - SSIM_WINDOW + 1, x.shape[-1] - SSIM_WINDOW + 1
    if max(x.shape[-2:]) <= BANDED_MAX_SIDE:
        rows = torch.matmul(_band(x.shape[-2], x.device, x.dtype), x)
        return torch.matmul(rows, _band(x.shape[-1], x.device, x.dtype).T)
    rows = sum(tap * x[..., k : k + h, :] for k, tap in enumerate(_TAPS))
    return sum(tap * rows[..., k : k + w] for k, tap in enumerate(_TAPS))  # type: ignore[index, return-value]


def _psnr_of(a: Tensor, b: Tensor) -> Tensor:
    mse = (a - b).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(255.0**2 / mse)


def _ssim_of(a: Tensor, b: Tensor) -> Tensor:
    if min(a.shape[-2:]) < SSIM_WINDOW:
        height, width = a.shape[-2:]
        raise ValueError(f"ssim needs {SSIM_WINDOW}x{SSIM_WINDOW} pixels after shaving, got {height}x{width}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    # One filtering pass over all five maps: fewer, larger tensor ops.
    mu_a, mu_b, aa, bb, ab = _filter_valid(torch.stack([a, b, a * a, b * b, a * b])).unbind(0)
    mu_aa, mu_bb, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    var_a, var_b, cov = aa - mu_aa, bb - mu_bb, ab - mu_ab
    ssim_map = ((2 * mu_ab + c1) * (2 * cov + c2)) / ((mu_aa + mu_bb + c1) * (var_a + var_b + c2))
    return ssim_map.mean(dim=(-2, -1)).mean(dim=1)


def ssim(sr: Tensor, hr: Tensor, *, shave: int, y_channel: bool = True) -> Tensor:
    """SSIM per image (Wang et al. 2004, MATLAB ``ssim_index``); RGB mode averages the channels."""
    value = _ssim_of(*_prepare(sr, hr, shave, y_channel))
    return value[0] if sr.dim() == 3 else value


def psnr_ssim(sr: Tensor, hr: Tensor, *, shave: int, y_channel: bool = True) -> tuple[Tensor, Tensor]:
    """Both metrics from one preparation (rounding, Y conversion, shave): what evaluation needs."""
    a, b = _prepare(sr, hr, shave, y_channel)
    p, s = _psnr_of(a, b), _ssim_of(a, b)
    return (p[0], s[0]) if sr.dim() == 3 else (p, s)


@torch.no_grad()
def batch_psnr(sr: Tensor, hr: Tensor, shave: int, y_channel: bool = True) -> float:
    """Mean over the batch of per-image PSNR (dB), for scoring inside training and search loops.

    Per-image then mean, as papers average over a test set (pooling the MSE over the batch first
    would weight hard images differently). A perfect image is capped at 100 dB so the mean stays
    finite.
    """
    values = psnr(sr, hr, shave=shave, y_channel=y_channel)
    values = torch.nan_to_num(values.reshape(-1), posinf=PSNR_CAP).clamp(max=PSNR_CAP)
    result = float(values.mean())
    return result if math.isfinite(result) else PSNR_CAP


def capped_psnr(value: float) -> float:
    """One image's PSNR for reports: :data:`PSNR_CAP` instead of ``inf`` for a perfect image.

    NaN (a model that output NaN) stays NaN: it must not pass for a perfect score.
    """
    return min(value, PSNR_CAP)  # min(nan, cap) is nan
