"""What every reward shares: a validated config, a cost name, and ``reward(psnr, cost) -> float``.

A reward is a pure function of the validation PSNR (dB) and the architecture's cost (paper
Sec. II-C): no state, no model, so it is unit-testable and the search can price a genotype once
(``reward.cost_name`` says which cost) and score it cheaply. Rewards are built from spec nodes
``{type = "joint", lambda = 0.2, cost = "macs"}`` with ``REWARDS.build(type, **params)``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from hnas.costs import get_cost
from hnas.errors import SpecError, first_error
from hnas.registry import COSTS

C = TypeVar("C", bound=BaseModel)


def validate_config(config_type: type[C], reward: str, params: dict[str, Any]) -> C:
    """``params`` validated as ``config_type``; a mistake is one :class:`SpecError` line naming the key."""
    try:
        return config_type.model_validate(params)
    except ValidationError as exc:
        where, msg = first_error(exc)
        raise SpecError(f"reward '{reward}': {where or 'reward'}: {msg}") from None


def resolve_cost_name(name: str) -> str:
    """The canonical cost name; an unknown one raises the registry's error listing the costs."""
    return COSTS.canonical(name)


def default_normaliser(cost_name: str, reward: str) -> float:
    """The registered cost's ``default_normaliser``; a cost without one needs an explicit value."""
    value = getattr(get_cost(cost_name), "default_normaliser", None)
    if value is None:
        raise SpecError(
            f"reward '{reward}': cost '{cost_name}' has no default normaliser; pass normaliser=<cost per dB>"
        )
    return float(value)


class Reward:
    """Base class: subclasses set ``name`` and implement ``__call__(psnr, cost) -> float``."""

    name: ClassVar[str] = ""
    cost_name: str

    def __call__(self, psnr: float, cost: float) -> float:
        raise NotImplementedError
