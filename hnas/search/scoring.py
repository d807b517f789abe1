"""How the search scores an architecture: PSNR on one fixed set of images, cost, reward.

Every architecture -- each controller sample, each derivation candidate -- is scored on the *same*
fixed patches from the theta split (drawn once from the run's seed), so a score never depends on
which batch an architecture happened to draw: with a reward taken on a fresh batch per sample, the
batch's difficulty (several dB from easy to hard patches) drowns the differences between
architectures (tenths of a dB), and the controller learns the batches' luck. The same architecture
at the same weights gets the same score.

The PSNR is the mean over the patches of the Y-channel PSNR with ``scale`` pixels shaved (the SR
protocol); ``psnr_gain`` is that minus bicubic's on the same patches, the number that says whether
the shared weights learned anything. Eq. 1's reward takes the PSNR (the gain differs by a constant,
which the REINFORCE baseline absorbs). Costs are priced on the architecture being scored (the
authors priced another one; HNAS-REFERENCE.md) and cached by genotype hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from hnas.costs import Cost, CostSettings, get_cost
from hnas.data.metrics import psnr as psnr_per_image
from hnas.data.resize import imresize
from hnas.rewards.base import Reward
from hnas.spaces.genotype import Genotype

#: Patches per forward while scoring (bounds memory; the result does not depend on it).
CHUNK = 16


def mean_psnr(sr: Tensor, hr: Tensor, shave: int) -> float:
    """Mean over images of the Y-channel PSNR, each capped at 100 dB (a perfect patch stays finite)."""
    values = torch.nan_to_num(psnr_per_image(sr, hr, shave=shave), posinf=100.0).clamp(max=100.0)
    return float(values.mean())


class Scorer:
    """PSNR, gain over bicubic, cost, MACs and reward of an architecture on the fixed scoring set."""

    def __init__(
        self,
        lr: Tensor,
        hr: Tensor,
        scale: int,
        cost: Cost,
        cost_settings: CostSettings,
        reward: Reward,
        device: torch.device,
    ) -> None:
        self.lr, self.hr, self.scale = lr, hr, scale
        self.cost, self.cost_settings, self.reward = cost, cost_settings, reward
        self.device = device
        self.macs = get_cost("macs")
        self.bicubic_psnr = self.bicubic_psnr_of(slice(None))

    def bicubic_psnr_of(self, patches: slice) -> float:
        """MATLAB bicubic's mean PSNR on some of the scoring patches (all: the reference of ``psnr_gain``)."""
        return mean_psnr(imresize(self.lr[patches], float(self.scale), quantize=True), self.hr[patches], self.scale)

    @torch.no_grad()
    def psnr(self, forward: Callable[[Tensor], Tensor]) -> float:
        """Mean PSNR of ``forward`` (LR batch -> SR batch) over the scoring set."""
        outputs = [forward(self.lr[i : i + CHUNK].to(self.device)).cpu() for i in range(0, len(self.lr), CHUNK)]
        return mean_psnr(torch.cat(outputs), self.hr, self.scale)

    def score(self, forward: Callable[[Tensor], Tensor], genotype: Genotype) -> dict[str, float]:
        psnr = self.psnr(forward)
        cost = float(self.cost(genotype, self.cost_settings))
        return {
            "psnr": psnr,
            "psnr_gain": psnr - self.bicubic_psnr,
            "cost": cost,
            "macs": float(self.macs(genotype, self.cost_settings)),
            "reward": float(self.reward(psnr, cost)),
        }

    def describe(self) -> dict[str, Any]:
        """What the scores are measured on (for results.json)."""
        return {
            "patches": int(self.lr.shape[0]),
            "hr_patch": int(self.hr.shape[-1]),
            "bicubic_psnr": round(self.bicubic_psnr, 4),
        }
