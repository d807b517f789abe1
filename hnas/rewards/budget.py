"""A budget reward in the spirit of MnasNet's soft constraint (Tan et al., CVPR 2019, Eq. 2).

``R = PSNR`` while ``cost <= target``, and ``R = PSNR + beta * log2(cost / target)`` beyond it.

MnasNet multiplies accuracy by ``(cost / target) ** w`` with ``w = -0.07``, chosen so that a
doubled latency costs what it empirically buys (about 5 % relative accuracy). Applied to PSNR the
product would make the penalty proportional to PSNR's arbitrary offset (-1.4 dB per doubling at
30 dB, far more than architectures differ by); the logarithmic penalty in dB is the same soft
constraint expressed additively (``log(x * (c/t)**w) = log x + w log(c/t)``) and keeps its unit.
``beta`` is "dB per doubling of the cost": the default -0.2 is what the paper's own models trade,
HNAS-A to HNAS-C gaining 0.27 dB on Set5 for 2.7 x the FLOPs (Table II, 0.19 dB per doubling).

The reward is strictly increasing in PSNR, non-increasing in cost, and equal to PSNR within the
budget, so among affordable architectures only quality counts.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hnas.registry import REWARDS
from hnas.rewards.base import Reward, validate_config


class BudgetRewardConfig(BaseModel):
    """``target``: the budget, in the priced cost's unit; ``beta`` <= 0: dB per doubling beyond it."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    target: float = Field(gt=0.0)
    beta: float = Field(-0.2, le=0.0)


@REWARDS.register("budget", aliases=("mnas",))
class BudgetReward(Reward):
    """PSNR within a cost budget, minus beta dB per doubling beyond it (soft constraint)."""

    name = "budget"
    params_model: ClassVar[type[BaseModel]] = BudgetRewardConfig  # (hnas.nodes: the params are checked by it)

    def __init__(self, config: BudgetRewardConfig | None = None, /, **params: Any) -> None:
        if config is None:
            config = validate_config(BudgetRewardConfig, self.name, params)
        self.config = config
        self.target = config.target
        self.beta = config.beta

    def __call__(self, psnr: float, cost: float) -> float:
        cost = float(cost)
        if cost <= self.target:
            return float(psnr)
        return float(psnr) + self.beta * math.log2(cost / self.target)

    def __repr__(self) -> str:
        return f"BudgetReward(target={self.target:g}, beta={self.beta})"
