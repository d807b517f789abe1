"""Rewards for the controller (paper Sec. II-C): pure functions of (PSNR, cost).

``REWARDS.build("joint", **{"lambda": 0.2})`` or ``JointReward(lambda_=0.2)``, then
``reward.bind(cost, settings)`` for the cost the search prices (the spec's ``[cost]``).
Importing this package registers ``joint`` and ``budget``.
"""

from typing import Any

from hnas.errors import SpecError
from hnas.registry import REWARDS
from hnas.rewards import joint as joint  # noqa: F401, I001  (registers "joint": the paper's, listed first)
from hnas.rewards import budget as budget  # noqa: F401  (registers "budget")
from hnas.rewards.base import Reward
from hnas.rewards.budget import BudgetReward, BudgetRewardConfig
from hnas.rewards.joint import JointReward, JointRewardConfig


def build_reward(node: dict[str, Any]) -> Reward:
    """A reward from a spec node ``{"type": "joint", "params": {"lambda": 0.2}}`` (type defaults to joint)."""
    unknown = set(node) - {"type", "params"}
    if unknown:
        raise SpecError(f"a reward node has 'type' and 'params', not {', '.join(sorted(unknown))}")
    return REWARDS.build(node.get("type", "joint"), **dict(node.get("params", {})))  # type: ignore[no-any-return]


__all__ = [
    "REWARDS",
    "BudgetReward",
    "BudgetRewardConfig",
    "JointReward",
    "JointRewardConfig",
    "Reward",
    "build_reward",
]
