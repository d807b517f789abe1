"""Normal ops beyond Table I, for hand-designed baselines: a plain convolution and EDSR's residual block.

They are registered like any op, so baselines are ordinary genotypes (``hnas list presets``), built,
priced and retrained by the same code as searched networks. They are not in the paper's search
space: a spec searches them only when its ``normal_ops`` names them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hnas.registry import NORMAL_OPS

#: The paper's ops (Table I), the default search space of a spec.
TABLE_I_NORMAL = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "up_and_down",
                  "rcab")
TABLE_I_UPSAMPLING = ("sub_pixel", "deconvolution", "bilinear", "nearest", "area")


@NORMAL_OPS.register("conv_3x3")
class Conv3x3(nn.Sequential):
    """ReLU then a plain 3x3 convolution with bias (SRCNN/FSRCNN/ESPCN's building block)."""

    def __init__(self, channels: int, **kw: Any) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(channels, channels, 3, padding=1, bias=True))


@NORMAL_OPS.register("res_block")
class ResBlock(nn.Module):
    """EDSR's residual block (Lim et al., CVPRW 2017): conv 3x3, ReLU, conv 3x3, plus the input
    (no batch norm, no residual scaling) -- the paper's "Residual Block" baseline of Table II."""

    def __init__(self, channels: int, **kw: Any) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
