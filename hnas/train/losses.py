"""Training losses, registered in :data:`hnas.registry.LOSSES`: a spec's ``retrain.loss`` names one.

The authors train with L1 (HNAS-REFERENCE.md), as EDSR does; it is the default. L2 (the MSE that
PSNR measures) and Charbonnier (Lai et al., LapSRN, 2017: a differentiable L1, smooth at zero)
are the two others SR papers use. A loss is a module ``loss(sr, hr) -> scalar tensor``; register
your own with ``@LOSSES.register("name")`` on such a class (its keyword params are the node's).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hnas.nodes import build
from hnas.registry import LOSSES

__all__ = ["CharbonnierLoss", "L1Loss", "L2Loss", "build_loss"]


@LOSSES.register("l1", aliases=("mae",))
class L1Loss(nn.Module):
    """Mean absolute error (the authors' and EDSR's training loss)."""

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(sr, hr)


@LOSSES.register("l2", aliases=("mse",))
class L2Loss(nn.Module):
    """Mean squared error: what PSNR measures, but it blurs more than L1 in practice (EDSR, Sec. 4)."""

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(sr, hr)


@LOSSES.register("charbonnier")
class CharbonnierLoss(nn.Module):
    """``mean(sqrt((sr - hr)^2 + eps^2))``: L1 away from zero, quadratic within ``eps`` of it (pixel
    values are 0-255 here, so the default ``eps`` of 1e-3 is far below one grey level)."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        self.eps = float(eps)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((sr - hr) ** 2 + self.eps**2).mean()


def build_loss(node: str | dict[str, Any] | None) -> nn.Module:
    """The loss a spec or training config names (None: L1); a wrong name or param is one line."""
    return build(LOSSES, node or "l1", what="loss")  # type: ignore[no-any-return]
