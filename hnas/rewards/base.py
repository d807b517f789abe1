"""What every reward shares: a validated config and ``reward(psnr, cost) -> float``.

A reward is a pure function of the validation PSNR (dB) and the architecture's cost (paper
Sec. II-C): no state, no model, so it is unit-testable and the search can price a genotype once and
score it cheaply. Which cost is priced is the spec's ``[cost]`` node, named in one place only; a
reward that needs the cost's scale (the joint reward's normaliser) takes it from that cost with
:meth:`Reward.bind`. Rewards are built from spec nodes ``{type = "joint", params = {lambda = 0.2}}``
with ``REWARDS.build(type, **params)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from hnas.errors import SpecError, first_error

if TYPE_CHECKING:
    from hnas.costs import Cost, CostSettings

C = TypeVar("C", bound=BaseModel)


def validate_config(config_type: type[C], reward: str, params: dict[str, Any]) -> C:
    """``params`` validated as ``config_type``; a mistake is one :class:`SpecError` line naming the key."""
    try:
        return config_type.model_validate(params)
    except ValidationError as exc:
        where, msg = first_error(exc)
        raise SpecError(f"reward '{reward}': {where or 'reward'}: {msg}") from None


class Reward:
    """Base class: subclasses set ``name`` and implement ``__call__(psnr, cost) -> float``."""

    name: ClassVar[str] = ""

    def __call__(self, psnr: float, cost: float) -> float:
        raise NotImplementedError

    def bind(self, cost: Cost, settings: CostSettings) -> Reward:
        """This reward for ``cost`` measured under ``settings`` (fills what depends on the cost's
        scale; the base reward needs nothing)."""
        return self
