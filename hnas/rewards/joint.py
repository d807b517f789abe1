"""The paper's joint reward (Sec. II-C, Eq. 1): ``R = lambda * PSNR - (1 - lambda) * cost / normaliser``.

The paper leaves the cost's unit out; the authors used multiply-adds at a 48 x 48 LR input times
0.5e-8, i.e. GMACs at 480 x 480 divided by 20, counted at the search width C = 8
(HNAS-REFERENCE.md, "Reward and cost"). With that scale a sampled architecture costs about 0.5-3
against a PSNR of about 30, and lambda = 0.2 / 0.6 / 0.9 gave HNAS-A / B / C. The normaliser is the
amount of cost weighed like one dB; by default the priced cost supplies it *for the input size it is
measured at* (:meth:`hnas.costs.Cost.reward_normaliser`: 20e9 MACs at 480 x 480, 0.2e9 at 48 x 48),
so lambda keeps its meaning whatever ``cost.input`` says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hnas.errors import SpecError
from hnas.registry import REWARDS
from hnas.rewards.base import Reward, validate_config

if TYPE_CHECKING:
    from hnas.costs import Cost, CostSettings


class JointRewardConfig(BaseModel):
    """``lambda`` (or ``lambda_``) in [0, 1], default 0.6 (HNAS-B's); ``normaliser`` > 0, or ``None``
    for the priced cost's."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    lambda_: float = Field(0.6, alias="lambda", ge=0.0, le=1.0)
    normaliser: float | None = Field(None, gt=0.0)


@REWARDS.register("joint", aliases=("hnas",))
class JointReward(Reward):
    """HNAS's joint reward: lambda * PSNR - (1 - lambda) * cost / normaliser (paper Eq. 1)."""

    name = "joint"
    params_model: ClassVar[type[BaseModel]] = JointRewardConfig  # (hnas.nodes: the params are checked by it)

    def __init__(self, config: JointRewardConfig | None = None, /, **params: Any) -> None:
        if config is None:
            config = validate_config(JointRewardConfig, self.name, params)
        self.config = config
        self.lambda_ = config.lambda_
        self.normaliser = config.normaliser

    def bind(self, cost: Cost, settings: CostSettings) -> JointReward:
        if self.normaliser is not None:
            return self
        value = cost.reward_normaliser(settings)
        if value is None:
            raise SpecError(
                f"reward 'joint': cost '{cost.name or type(cost).__name__}' has no default normaliser; "
                "give reward params.normaliser (the cost worth one dB)"
            )
        return JointReward(self.config.model_copy(update={"normaliser": float(value)}))

    def __call__(self, psnr: float, cost: float) -> float:
        if self.normaliser is None:
            raise RuntimeError("JointReward without a normaliser: bind it to the priced cost first (reward.bind)")
        return self.lambda_ * float(psnr) - (1.0 - self.lambda_) * float(cost) / self.normaliser

    def __repr__(self) -> str:
        norm = "cost default" if self.normaliser is None else f"{self.normaliser:g}"
        return f"JointReward(lambda={self.lambda_}, normaliser={norm})"
