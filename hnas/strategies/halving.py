"""Successive halving over stand-alone training (Jamieson & Talwalkar, AISTATS 2016).

A pool of architectures is drawn uniformly within the cost band. Each is trained ``min_steps``
steps and scored; the best ``1/eta`` go on to ``eta`` times the steps, continuing from their
weights (as ASHA does; Li et al., MLSys 2020), and so on for ``rungs`` rungs. The pool is the
largest the budget pays for, so halving and random search compare at the same number of steps.

What it buys over random search at equal budget is breadth: most of the budget goes to the
candidates that scored best early, and the short rungs see many more architectures than a
random search that trains each one to the end.
"""

from __future__ import annotations

from hnas.errors import SpecError
from hnas.registry import STRATEGIES
from hnas.strategies.base import Proposal, Proposer, Strategy, check_int


def rung_sizes(pool: int, eta: int, rungs: int) -> list[int]:
    """How many candidates each rung trains (at least one per rung)."""
    return [max(1, pool // eta**i) for i in range(rungs)]


def rung_steps(min_steps: int, eta: int, rungs: int) -> list[int]:
    """The steps a candidate has had at the end of each rung."""
    return [min_steps * eta**i for i in range(rungs)]


def halving_cost(pool: int, min_steps: int, eta: int, rungs: int) -> int:
    """Training steps successive halving spends on a pool (promoted candidates continue)."""
    steps = [0, *rung_steps(min_steps, eta, rungs)]
    return sum(size * (steps[i + 1] - steps[i]) for i, size in enumerate(rung_sizes(pool, eta, rungs)))


@STRATEGIES.register("successive_halving", aliases=("halving", "sha"))
class SuccessiveHalving(Strategy):
    """Successive halving with continued training: many short trainings, the best made longer."""

    def __init__(self, proposer: Proposer, budget_steps: int, *, min_steps: int = 50, eta: int = 3,
                 rungs: int = 3, pool: int | None = None) -> None:
        super().__init__(proposer, budget_steps)
        name = "successive_halving"
        self.min_steps = check_int(min_steps, "min_steps", name)
        self.eta = check_int(eta, "eta", name, low=2)
        self.rungs = check_int(rungs, "rungs", name)
        largest = self._largest_pool()
        if pool is None:
            if largest < self.eta:
                need = halving_cost(self.eta, self.min_steps, self.eta, self.rungs)
                raise SpecError(
                    f"strategy.budget_steps = {budget_steps} is smaller than one bracket of successive halving "
                    f"({self.eta} candidates, rungs of {rung_steps(self.min_steps, self.eta, self.rungs)} steps: "
                    f"{need} steps); raise the budget or lower min_steps, eta or rungs"
                )
            pool = largest
        self.pool = check_int(pool, "pool", name)
        cost = halving_cost(self.pool, self.min_steps, self.eta, self.rungs)
        if cost > budget_steps:
            raise SpecError(f"strategy 'successive_halving': a pool of {self.pool} costs {cost} steps, over "
                            f"strategy.budget_steps = {budget_steps}; the budget pays for {largest}")
        self.sizes = rung_sizes(self.pool, self.eta, self.rungs)
        self.steps = rung_steps(self.min_steps, self.eta, self.rungs)
        self.rung = 0
        self.members = proposer.distinct(self.pool, "pool")
        self.rewards: dict[str, float] = {}  # this rung's told rewards

    def _largest_pool(self) -> int:
        pool = 0
        while halving_cost(pool + 1, self.min_steps, self.eta, self.rungs) <= self.budget_steps:
            pool += 1
        return pool

    @property
    def horizon(self) -> int:
        return self.steps[-1]

    def ask(self) -> Proposal | None:
        if self.rung >= self.rungs:
            return None
        for genotype in self.members:
            if genotype.hash() not in self.rewards:
                return Proposal(genotype, self.steps[self.rung])
        return None  # unreachable: the last tell of a rung promotes

    def ready(self) -> list[Proposal]:
        if self.rung >= self.rungs:
            return []
        return [Proposal(g, self.steps[self.rung]) for g in self.members if g.hash() not in self.rewards]

    @property
    def width(self) -> int:
        return self.sizes[0]

    def tell(self, proposal: Proposal, reward: float) -> None:
        self.rewards[proposal.key] = reward
        if len(self.rewards) < len(self.members):
            return
        self.rung += 1
        if self.rung < self.rungs:  # the best go on; ties keep the order drawn
            order = sorted(range(len(self.members)), key=lambda i: -self.rewards[self.members[i].hash()])
            self.members = [self.members[i] for i in sorted(order[: self.sizes[self.rung]])]
            self.rewards = {}

    def describe(self) -> dict[str, object]:
        return {"pool": self.pool, "rung_sizes": self.sizes, "rung_steps": self.steps,
                "planned_steps": halving_cost(self.pool, self.min_steps, self.eta, self.rungs)}
