"""The search's view of costs and rewards: what the reward prices, at which width and input.

The authors price a sampled architecture at the *search* width (C = 8) and at a 48x48 LR input
scaled to 480x480 (HNAS-REFERENCE.md, "Reward and cost"); a cost at the retraining width would be
64 times larger and make every lambda cost-dominated. hnas does the same, for the architecture
whose log-probability is reinforced, and caches the cost by genotype hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hnas.costs import CostSettings, get_cost
from hnas.registry import REWARDS
from hnas.search.spec import Spec
from hnas.spaces.genotype import Genotype


def cost_settings(spec: Spec) -> CostSettings:
    """Cost conditions during the search: search width, the spec's scale and cost input."""
    return CostSettings(
        input=spec.reward.cost_input,
        scale=spec.space.scale,
        channels=spec.space.channels,
        global_skip=spec.space.global_skip,
    )


def make_cost_fn(spec: Spec) -> Callable[[Genotype], float]:
    cost = get_cost(spec.reward.cost)
    settings = cost_settings(spec)
    return lambda genotype: cost(genotype, settings)


def make_macs_fn(spec: Spec) -> Callable[[Genotype], float]:
    """MACs at the search settings, for the archive's Pareto plot whatever the reward's cost."""
    macs = get_cost("macs")
    settings = cost_settings(spec)
    return lambda genotype: macs(genotype, settings)


def make_reward_fn(spec: Spec) -> Callable[[float, float], float]:
    params: dict[str, Any] = {"cost": spec.reward.cost, **spec.reward.params}
    if spec.reward.lambda_ is not None:
        params["lambda"] = spec.reward.lambda_
    return REWARDS.build(spec.reward.type, **params)  # type: ignore[no-any-return]
