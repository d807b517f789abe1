"""The paper's joint reward (Sec. II-C, Eq. 1): ``R = lambda * PSNR - (1 - lambda) * cost / normaliser``.

The paper leaves the cost's unit out; the authors used multiply-adds at a 48 x 48 LR input times
0.5e-8, i.e. GMACs at 480 x 480 divided by 20, counted at the search width C = 8
(HNAS-REFERENCE.md, "Reward and cost"). With that scale a sampled architecture costs about 0.5-3
against a PSNR of about 30, and lambda = 0.2 / 0.6 / 0.9 gave HNAS-A / B / C. The default
normaliser of ``macs`` (20e9) reproduces that scale when the cost is taken on a 480 x 480 input;
at another input size use :func:`hnas.costs.macs_normaliser` (0.2e9 at 48 x 48).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hnas.registry import REWARDS
from hnas.rewards.base import Reward, default_normaliser, resolve_cost_name, validate_config


class JointRewardConfig(BaseModel):
    """``lambda`` (or ``lambda_``) in [0, 1]; ``cost``: a registered cost; ``normaliser`` > 0, or
    ``None`` for the cost's ``default_normaliser``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    lambda_: float = Field(alias="lambda", ge=0.0, le=1.0)
    cost: str = "macs"
    normaliser: float | None = Field(None, gt=0.0)


@REWARDS.register("joint", aliases=("hnas",))
class JointReward(Reward):
    """HNAS's joint reward: lambda * PSNR - (1 - lambda) * cost / normaliser (paper Eq. 1)."""

    name = "joint"

    def __init__(self, config: JointRewardConfig | None = None, /, **params: Any) -> None:
        if config is None:
            config = validate_config(JointRewardConfig, self.name, params)
        self.cost_name = resolve_cost_name(config.cost)
        self.lambda_ = config.lambda_
        if config.normaliser is not None:
            self.normaliser = config.normaliser
        else:
            self.normaliser = default_normaliser(self.cost_name, self.name)
        self.config = config.model_copy(update={"cost": self.cost_name, "normaliser": self.normaliser})

    def __call__(self, psnr: float, cost: float) -> float:
        return self.lambda_ * float(psnr) - (1.0 - self.lambda_) * float(cost) / self.normaliser

    def __repr__(self) -> str:
        return f"JointReward(lambda={self.lambda_}, cost={self.cost_name!r}, normaliser={self.normaliser:g})"
