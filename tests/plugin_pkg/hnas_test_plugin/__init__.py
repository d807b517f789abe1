"""A third-party plugin as a user would write one: one registration of every kind hnas has.

Importing it (``plugins = ["hnas_test_plugin"]`` in a spec, or ``--plugin hnas_test_plugin``)
registers a normal op, an upsampling op, a cell type, a controller, a reward, a cost, a data
source, a search strategy and a training loss; ``tests/test_plugins.py`` searches, retrains,
evaluates, loads and exports with all of them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from hnas.controllers import RandomController
from hnas.costs import Cost, CostSettings
from hnas.data import ImageRecord
from hnas.models.cells import NormalCell
from hnas.registry import (
    CELLS,
    CONTROLLERS,
    COSTS,
    DATASETS,
    LOSSES,
    NORMAL_OPS,
    REWARDS,
    STRATEGIES,
    UPSAMPLING_OPS,
)
from hnas.rewards.base import Reward
from hnas.spaces.genotype import Genotype
from hnas.strategies.base import FixedPool, Proposer


@NORMAL_OPS.register("plugin_conv")
class PluginConv(nn.Sequential):
    """ReLU and a plain k x k convolution (``kernel`` is its setting)."""

    def __init__(self, channels: int, kernel: int = 3, **kw: Any) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(channels, channels, kernel, padding=kernel // 2))


@UPSAMPLING_OPS.register("plugin_upsample")
class PluginUpsample(nn.Module):
    """Nearest-neighbour upscaling then a 1x1 convolution (a 1x1 convolution at scale 1)."""

    def __init__(self, channels: int, scale: int, **kw: Any) -> None:
        super().__init__()
        self.scale = scale
        self.mix = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale > 1:
            x = F.interpolate(x, scale_factor=float(self.scale), mode="nearest")
        return self.mix(x)


@CELLS.register("plugin_residual")
class ResidualNormalCell(NormalCell):
    """A normal cell whose output adds its second input to the concatenated nodes (a residual cell)."""

    def combine(self, states: list[torch.Tensor], inputs: tuple[torch.Tensor, torch.Tensor], relu: bool) -> torch.Tensor:
        out = torch.cat(states[2:], 1) + inputs[1]
        return out.relu() if relu else out


@CONTROLLERS.register("plugin_late_random")
class LateRandomController(RandomController):
    """Random search restricted to post-upsampling networks (the upsampling cell last)."""

    def sample(self, greedy: bool = False, generator: torch.Generator | None = None):  # type: ignore[no-untyped-def]
        drawn = super().sample(generator=generator)
        actions = list(drawn.actions)
        actions[-1] = self.layers - 1
        return self._sample_from(actions)


@REWARDS.register("plugin_psnr_only")
class PsnrOnly(Reward):
    """The PSNR alone (cost ignored)."""

    name = "plugin_psnr_only"

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self, psnr: float, cost: float) -> float:
        return float(psnr) + self.offset


@COSTS.register("plugin_edges")
class ParametricEdges(Cost):
    """Edges that carry weights (not skip or interpolation), in both cells."""

    name = "plugin_edges"
    unit = "edges"
    depends_on = ()
    default_normaliser = 4.0

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        free = {"skip_connect", "nearest", "bilinear", "area"}
        return float(sum(e.op not in free for e in (*genotype.normal.edges, *genotype.upsampling.edges)))


@DATASETS.register("plugin_gradients")
def gradients(count: int = 6, size: int = 48) -> list[ImageRecord]:
    """``count`` smooth synthetic colour images of ``size`` pixels, written once to a temp folder."""
    folder = Path(tempfile.gettempdir()) / f"hnas_test_plugin_{count}_{size}"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        path = folder / f"gradient{index}.png"
        coarse = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
        if not path.exists():
            Image.fromarray(coarse).resize((size, size + 4), Image.BICUBIC).save(path)
    return [ImageRecord(folder / f"gradient{index}.png") for index in range(count)]


@STRATEGIES.register("plugin_cheapest_first")
class CheapestFirst(FixedPool):
    """A strategy in one class: ``pool`` draws in the band, trained ``steps`` steps each, cheapest first."""

    def __init__(self, proposer: Proposer, budget_steps: int, *, pool: int = 2, steps: int = 2) -> None:
        super().__init__(proposer, budget_steps, sorted(proposer.distinct(pool, "cheapest"), key=proposer.price), steps)


@LOSSES.register("plugin_weighted_l1")
class WeightedL1(nn.Module):
    """``weight`` times the L1 loss."""

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return self.weight * F.l1_loss(sr, hr)
