"""The spec's controller on the ask/tell seam: the paper's LSTM, evolution or random, told the
rewards of stand-alone trainings instead of shared-weight scores.

Each proposal is trained alone for ``steps`` steps and its reward goes back through the
controller's own ``learn`` (REINFORCE for the LSTM, a population update for evolution), so the
paper's method and regularized evolution with a stand-alone fitness run on the same budget as
random search and successive halving. The controller prices cost through the reward, as in the
paper; it is not confined to ``strategy.band``.
"""

from __future__ import annotations

from hnas.controllers.base import Sample
from hnas.errors import SpecError
from hnas.registry import STRATEGIES
from hnas.strategies.base import Proposal, Proposer, Strategy, check_int
from hnas.utils.threads import num_threads


@STRATEGIES.register("controller", aliases=("controlled",))
class ControllerStrategy(Strategy):
    """``[controller]`` proposes, every proposal is trained ``steps`` steps, the reward is learned."""

    def __init__(self, proposer: Proposer, budget_steps: int, *, steps: int = 450) -> None:
        super().__init__(proposer, budget_steps)
        self.steps = check_int(steps, "steps", "controller")
        self.count = budget_steps // self.steps
        if self.count < 1:
            raise SpecError(f"strategy.budget_steps = {budget_steps} is smaller than one candidate's training "
                            f"(controller steps = {self.steps}); raise the budget or lower steps")
        self.controller = proposer.controller
        self.index = 0
        self._pending: Sample | None = None

    @property
    def horizon(self) -> int:
        return self.steps

    def ask(self) -> Proposal | None:
        if self.index >= self.count:
            return None
        if self._pending is None:  # asking twice without a tell proposes the same architecture
            self.controller.set_progress(self.index / self.count)
            with num_threads(1):  # the controller's ops are tiny
                self._pending = self.controller.sample(generator=self.proposer.generator("ask", self.index))
        return Proposal(self._pending.genotype, self.steps)

    def tell(self, proposal: Proposal, reward: float) -> None:
        assert self._pending is not None and self._pending.genotype.hash() == proposal.key, "tell follows ask"
        with num_threads(1):
            self.controller.learn(self._pending, reward)
        self._pending = None
        self.index += 1

    def describe(self) -> dict[str, object]:
        return {"controller": type(self.controller).__name__, "samples": self.count, "steps": self.steps,
                "planned_steps": self.count * self.steps}
