"""Random search: the control every NAS result is measured against (Li & Talwalkar, UAI 2019).

As many architectures as the budget pays for are drawn uniformly within the cost band, each is
trained alone for ``steps`` steps and scored, and the best is the pick. With ``steps`` equal to
successive halving's last rung, the two differ only in how the same training steps are spent.
"""

from __future__ import annotations

from hnas.errors import SpecError
from hnas.registry import STRATEGIES
from hnas.strategies.base import FixedPool, Proposer, check_int


@STRATEGIES.register("random_search", aliases=("random",))
class RandomSearch(FixedPool):
    """Uniform draws in the cost band, each trained ``steps`` steps; the best reward wins."""

    def __init__(self, proposer: Proposer, budget_steps: int, *, steps: int = 450, pool: int | None = None) -> None:
        steps = check_int(steps, "steps", "random_search")
        largest = budget_steps // steps
        if largest < 1:
            raise SpecError(f"strategy.budget_steps = {budget_steps} is smaller than one candidate's training "
                            f"(random_search steps = {steps}); raise the budget or lower steps")
        self.pool = largest if pool is None else check_int(pool, "pool", "random_search")
        if self.pool > largest:
            raise SpecError(f"strategy 'random_search': a pool of {self.pool} costs {self.pool * steps} steps, "
                            f"over strategy.budget_steps = {budget_steps}; the budget pays for {largest}")
        super().__init__(proposer, budget_steps, proposer.distinct(self.pool, "pool"), steps)

    def describe(self) -> dict[str, object]:
        return {"pool": self.pool, "steps": self.steps, "planned_steps": self.pool * self.steps}
