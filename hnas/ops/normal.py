"""Normal-cell operations (paper Table I, left column): each keeps N x C x H x W.

Built as HNAS-REFERENCE.md describes the published genotypes. Factories take ``(channels, **kw)``;
``search=True`` adds the BatchNorm(affine=False) the authors used inside the weight-sharing
supernet, which a derived network never has. Unknown keyword arguments are ignored so that a
factory can be called uniformly with the options meant for other ops.
"""

from __future__ import annotations

from typing import Any

import torch
from timm.layers import SEModule
from torch import nn

from hnas.registry import NORMAL_OPS


def _maybe_bn(channels: int, search: bool) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels, affine=False, track_running_stats=False)] if search else []


@NORMAL_OPS.register("skip_connect", aliases=("identity",))
class Identity(nn.Identity):
    """Identity mapping (skip connection)."""

    def __init__(self, channels: int, **kw: Any) -> None:
        super().__init__()


class SepConv(nn.Sequential):
    """Separable convolution applied twice: (ReLU, depthwise kxk, pointwise 1x1) x 2, no bias."""

    def __init__(self, channels: int, kernel_size: int, *, search: bool = False, **kw: Any) -> None:
        pad = kernel_size // 2
        layers: list[nn.Module] = []
        for _ in range(2):
            layers += [
                nn.ReLU(inplace=False),
                nn.Conv2d(channels, channels, kernel_size, padding=pad, groups=channels, bias=False),
                nn.Conv2d(channels, channels, 1, bias=False),
                *_maybe_bn(channels, search),
            ]
        super().__init__(*layers)


class DilConv(nn.Sequential):
    """Dilated separable convolution: ReLU, depthwise kxk with dilation 2, pointwise 1x1, no bias."""

    def __init__(self, channels: int, kernel_size: int, *, search: bool = False, **kw: Any) -> None:
        pad = 2 * (kernel_size // 2)
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                channels, channels, kernel_size, padding=pad, dilation=2, groups=channels, bias=False
            ),
            nn.Conv2d(channels, channels, 1, bias=False),
            *_maybe_bn(channels, search),
        )


@NORMAL_OPS.register("sep_conv_3x3")
def sep_conv_3x3(channels: int, **kw: Any) -> nn.Module:
    """3x3 separable convolution (twice)."""
    return SepConv(channels, 3, **kw)


@NORMAL_OPS.register("sep_conv_5x5")
def sep_conv_5x5(channels: int, **kw: Any) -> nn.Module:
    """5x5 separable convolution (twice)."""
    return SepConv(channels, 5, **kw)


@NORMAL_OPS.register("dil_conv_3x3")
def dil_conv_3x3(channels: int, **kw: Any) -> nn.Module:
    """3x3 dilated separable convolution (dilation 2)."""
    return DilConv(channels, 3, **kw)


@NORMAL_OPS.register("dil_conv_5x5")
def dil_conv_5x5(channels: int, **kw: Any) -> nn.Module:
    """5x5 dilated separable convolution (dilation 2)."""
    return DilConv(channels, 5, **kw)


#: D-DBPN projection geometry (kernel, stride, padding) per internal factor; all keep sizes exact.
_PROJECTION = {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}


class _Projection:
    """Builds the conv/deconv layers of the D-DBPN projection units (Haris et al., CVPR 2018)."""

    def __init__(self, channels: int, factor: int) -> None:
        if factor not in _PROJECTION:
            raise ValueError(f"up_and_down supports factors {sorted(_PROJECTION)}, got {factor}")
        k, s, p = _PROJECTION[factor]
        self.k, self.s, self.p = k, s, p
        self.channels = channels

    def up(self) -> nn.Sequential:
        return nn.Sequential(
            nn.ConvTranspose2d(self.channels, self.channels, self.k, self.s, self.p), nn.PReLU()
        )

    def down(self) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(self.channels, self.channels, self.k, self.s, self.p), nn.PReLU())


@NORMAL_OPS.register("up_and_down", aliases=("udpb",))
class UpAndDownProjection(nn.Module):
    """D-DBPN up-projection then down-projection unit: back-projects the error at both scales.

    The pair returns to the input size, so it is a normal op; ``factor`` is the internal
    projection factor (2 by default, as D-DBPN's x2 model).
    """

    def __init__(self, channels: int, factor: int = 2, **kw: Any) -> None:
        super().__init__()
        geo = _Projection(channels, factor)
        self.up_h0, self.up_l0, self.up_h1 = geo.up(), geo.down(), geo.up()
        self.down_l0, self.down_h0, self.down_l1 = geo.down(), geo.up(), geo.down()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = self.up_h0(x)
        h = h0 + self.up_h1(self.up_l0(h0) - x)
        l0 = self.down_l0(h)
        return l0 + self.down_l1(self.down_h0(l0) - h)


@NORMAL_OPS.register("rcab")
class RCAB(nn.Module):
    """RCAN's residual channel attention block (Zhang et al., ECCV 2018).

    ``reduction`` defaults to 3, the value the published HNAS genotypes were trained with (RCAN
    itself uses 16).
    """

    def __init__(self, channels: int, reduction: int = 3, **kw: Any) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=True),
            SEModule(channels, rd_channels=max(1, channels // reduction), bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
