"""Upsampling-cell operations (paper Table I, right column): N x C x H x W -> N x C x sH x sW.

Factories take ``(channels, scale, **kw)``. ``scale=1`` is each op's stride-1 form, used on edges
between intermediate nodes of the upsampling cell, which are already at high resolution
(HNAS-REFERENCE.md): sub-pixel and interpolations become identities, deconvolution a 3x3
transposed convolution at stride 1. Every form gives exactly ``scale`` times the input size, odd
sizes included.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hnas.ops.fast import cpu_rewrite
from hnas.registry import UPSAMPLING_OPS


def _check_scale(scale: int) -> int:
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"upsampling scale must be a positive integer, got {scale!r}")
    return scale


def _prime_factors(scale: int) -> list[int]:
    factors, rest = [], scale
    for p in (2, 3):
        while rest % p == 0:
            factors.append(p)
            rest //= p
    if rest > 1:
        factors.append(rest)
    return factors


@UPSAMPLING_OPS.register("sub_pixel")
class SubPixel(nn.Sequential):
    """Sub-pixel convolution (Shi et al., CVPR 2016): 3x3 conv to s^2 C, PixelShuffle(s).

    x4 is two x2 stages (as EDSR/RCAN do); x3 one stage of 9C. Stride-1 form: identity.
    """

    def __init__(self, channels: int, scale: int, **kw: Any) -> None:
        layers: list[nn.Module] = []
        for factor in _prime_factors(_check_scale(scale)):
            layers += [
                nn.Conv2d(channels, factor * factor * channels, 3, padding=1, bias=True),
                nn.PixelShuffle(factor),
            ]
        super().__init__(*layers)


#: Transposed-conv geometry (kernel, padding, output_padding) giving exactly scale x the size.
_DECONV = {1: (3, 1, 0), 2: (3, 1, 1), 3: (3, 0, 0), 4: (5, 1, 1)}


@UPSAMPLING_OPS.register("deconvolution", aliases=("deconv",))
class Deconvolution(nn.ConvTranspose2d):
    """Transposed convolution C -> C with bias (x2: k3 p1 op1; x3: k3 p0; x4: k5 p1 op1).

    The authors' x3 form was two pixels off; here every scale yields exactly s*H x s*W.
    Other scales use kernel s, stride s, no padding.
    """

    def __init__(self, channels: int, scale: int, **kw: Any) -> None:
        scale = _check_scale(scale)
        k, p, op = _DECONV.get(scale, (scale, 0, 0))
        super().__init__(channels, channels, k, stride=scale, padding=p, output_padding=op, bias=True)


class Interpolate(nn.Module):
    """``F.interpolate`` by an integer factor with a parameter-free mode; identity at scale 1."""

    def __init__(self, channels: int, scale: int, mode: str, **kw: Any) -> None:
        super().__init__()
        self.scale = _check_scale(scale)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            return x
        size = (x.shape[-2] * self.scale, x.shape[-1] * self.scale)
        if self.mode == "bilinear":
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if self.mode == "area" and cpu_rewrite(x):
            # Upscaling by an integer factor, every output pixel averages exactly one input pixel:
            # area is nearest, values and gradients bit for bit, and nearest's kernels take half
            # the time forward and backward (benchmarks/README.md, round 6).
            return F.interpolate(x, size=size, mode="nearest")
        return F.interpolate(x, size=size, mode=self.mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, scale={self.scale}"


@UPSAMPLING_OPS.register("bilinear")
def bilinear(channels: int, scale: int, **kw: Any) -> nn.Module:
    """Bilinear interpolation."""
    return Interpolate(channels, scale, "bilinear")


@UPSAMPLING_OPS.register("nearest")
def nearest(channels: int, scale: int, **kw: Any) -> nn.Module:
    """Nearest-neighbour interpolation."""
    return Interpolate(channels, scale, "nearest")


@UPSAMPLING_OPS.register("area")
def area(channels: int, scale: int, **kw: Any) -> nn.Module:
    """Area interpolation (adaptive average pooling; for integer upscaling it equals nearest)."""
    return Interpolate(channels, scale, "area")
