"""Rewards for the controller (paper Sec. II-C): pure functions of (PSNR, cost).

``REWARDS.build("joint", **{"lambda": 0.2})`` or ``JointReward(lambda_=0.2, cost="macs")``;
``reward.cost_name`` names the cost to compute (``hnas.costs.cost_of(reward.cost_name, ...)``).
Importing this package registers ``joint`` and ``budget`` (and the built-in costs).
"""

from typing import Any

from hnas.registry import REWARDS
from hnas.rewards import joint as joint  # noqa: F401, I001  (registers "joint": the paper's, listed first)
from hnas.rewards import budget as budget  # noqa: F401  (registers "budget")
from hnas.rewards.base import Reward
from hnas.rewards.budget import BudgetReward, BudgetRewardConfig
from hnas.rewards.joint import JointReward, JointRewardConfig


def build_reward(spec: dict[str, Any]) -> Reward:
    """A reward from a spec node ``{"type": "joint", "lambda": 0.2, ...}`` (type defaults to joint)."""
    params = dict(spec)
    kind = params.pop("type", "joint")
    return REWARDS.build(kind, **params)  # type: ignore[no-any-return]


__all__ = [
    "REWARDS",
    "BudgetReward",
    "BudgetRewardConfig",
    "JointReward",
    "JointRewardConfig",
    "Reward",
    "build_reward",
]
