"""The ask/tell seam every search strategy sits on.

A strategy *proposes* (``ask``) an architecture and how many stand-alone training steps it should
have had when it is scored; the engine (:mod:`hnas.strategies.loop`) trains it that far, scores it
on the search's scoring images and *tells* the strategy the reward. The strategy knows nothing of
networks, data or processes, so random search, successive halving and the paper's controllers are
compared on one budget, counted in training steps (Li & Talwalkar, UAI 2019: a NAS method is only
evidence against random search at the same budget).

A strategy is deterministic: the same seed and the same told rewards give the same proposals. A
killed run is resumed by telling a fresh strategy the rewards it was told before, in order.

``ready`` lists the proposals that do not wait on one another (a rung of successive halving, the
whole pool of random search): the engine trains those in parallel when it has several processes,
and tells their rewards in the order listed, so the strategy hears exactly what one process would
have told it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch

from hnas.controllers.base import Controller
from hnas.engine.seeds import torch_generator
from hnas.errors import SpecError
from hnas.spaces.genotype import Genotype

#: Uniform draws tried per architecture wanted before a cost band is declared out of reach: a
#: band that takes fewer than 1 draw in 50 is too narrow to sample from uniformly at this price
#: (each draw's MACs are counted, ~15 ms).
TRIES_PER_DRAW = 50
#: Draws after which a band that has taken none is declared out of reach.
FIRST_TRIES = 500


@dataclass(frozen=True)
class Proposal:
    """Train ``genotype`` alone until it has had ``steps`` steps, then score it."""

    genotype: Genotype
    steps: int

    @property
    def key(self) -> str:
        return self.genotype.hash()


class BandError(SpecError):
    """No architecture of the space falls in the cost band (one line: the band and what was found)."""


class Proposer:
    """What strategies draw from: the space's architectures, uniformly, within a MACs band.

    ``price`` prices a genotype at the spec's cost input, in ``unit`` (MACs by default; the spec's
    cost, e.g. predicted ms, with ``strategy.band_by = "cost"``); ``band`` is ``(low, high)`` in
    that unit or None (the whole space). Draws are rejection samples of the controller's uniform draw, so within
    the band every architecture is equally likely.
    """

    def __init__(self, controller: Controller, price: Callable[[Genotype], float],
                 band: tuple[float, float] | None, seed: int, unit: str = "MACs") -> None:
        self.controller, self.price, self.band, self.seed, self.unit = controller, price, band, seed, unit

    def generator(self, *salt: int | str) -> torch.Generator:
        """A generator of the run's seed and ``salt`` (every draw of a strategy comes from one)."""
        return torch_generator(self.seed, "strategy", *salt)

    def in_band(self, genotype: Genotype) -> bool:
        if self.band is None:
            return True
        low, high = self.band
        return low <= self.price(genotype) <= high

    def distinct(self, count: int, *salt: int | str) -> list[Genotype]:
        """``count`` different architectures drawn uniformly within the band."""
        generator = self.generator(*salt)
        found: dict[str, Genotype] = {}
        closest: float | None = None
        tries = max(FIRST_TRIES, count * TRIES_PER_DRAW)
        for drawn in range(tries):
            if drawn == FIRST_TRIES and not found:
                tries = drawn
                break
            genotype = self.controller.uniform_sample(generator)
            if genotype.hash() in found:
                continue
            if not self.in_band(genotype):
                price = self.price(genotype)
                closest = price if closest is None or self._gap(price) < self._gap(closest) else closest
                continue
            found[genotype.hash()] = genotype
            if len(found) == count:
                return list(found.values())
        assert self.band is not None  # without a band every draw is accepted
        low, high = self.band
        near = f"; the closest drawn had {self.show(closest)}" if closest is not None else ""
        raise BandError(
            f"the cost band {self.show(low, unit=False)}-{self.show(high)} holds {len(found)} of the {count} architectures "
            f"wanted in {tries} uniform draws{near}: widen or move strategy.band, or ask for fewer"
        )

    def show(self, value: float, unit: bool = True) -> str:
        """``value`` in the band's unit, as people read it (GMACs for MACs)."""
        if self.unit == "MACs":
            return f"{value / 1e9:.3g}" + (" GMACs" if unit else "")
        return f"{value:.3g}" + (f" {self.unit}" if unit and self.unit else "")

    def _gap(self, macs: float) -> float:
        assert self.band is not None
        low, high = self.band
        return max(low - macs, macs - high, 0.0)


class Strategy(ABC):
    """Base class of a search strategy; subclasses register in :data:`hnas.registry.STRATEGIES`.

    ``budget_steps`` is the run's budget in stand-alone training steps; a strategy plans within it
    (the engine also stops it if it asks for more). ``horizon`` is the most steps any candidate
    gets: the learning-rate schedule of every candidate runs over it, so that a candidate continued
    to a longer rung has trained exactly as if it had been given those steps from the start.
    """

    def __init__(self, proposer: Proposer, budget_steps: int) -> None:
        self.proposer, self.budget_steps = proposer, budget_steps

    @property
    @abstractmethod
    def horizon(self) -> int:
        """The most stand-alone steps a candidate can be given."""

    @abstractmethod
    def ask(self) -> Proposal | None:
        """The next architecture to train and score, or None when the strategy has finished."""

    @abstractmethod
    def tell(self, proposal: Proposal, reward: float) -> None:
        """The reward of the first proposal not yet told (rewards are told in the order asked)."""

    def ready(self) -> list[Proposal]:
        """The proposals :meth:`ask` would make, in order, if each were told before the next: those
        whose choice no pending reward can change. Empty when the strategy has finished. The
        default is one at a time (a controller learns from every reward before it samples again)."""
        proposal = self.ask()
        return [] if proposal is None else [proposal]

    @property
    def width(self) -> int:
        """The most proposals :meth:`ready` ever lists at once: the processes it can keep busy."""
        return 1

    def describe(self) -> dict[str, object]:
        """The strategy's plan, for the run's files (pool sizes, rungs, ...)."""
        return {}


class FixedPool(Strategy):
    """A strategy whose candidates are known from the start: ``members``, in order, each trained
    ``steps`` steps (random search; a plugin's own ordering). No reward changes what comes next,
    so every proposal is ready at once and they spread over all the processes."""

    def __init__(self, proposer: Proposer, budget_steps: int, members: list[Genotype], steps: int) -> None:
        super().__init__(proposer, budget_steps)
        self.members, self.steps, self.told = members, steps, 0

    @property
    def horizon(self) -> int:
        return self.steps

    def ask(self) -> Proposal | None:
        return Proposal(self.members[self.told], self.steps) if self.told < len(self.members) else None

    def ready(self) -> list[Proposal]:
        return [Proposal(g, self.steps) for g in self.members[self.told:]]

    @property
    def width(self) -> int:
        return len(self.members)

    def tell(self, proposal: Proposal, reward: float) -> None:
        assert proposal.key == self.members[self.told].hash(), "rewards are told in the order asked"
        self.told += 1


def check_processes(strategy: Strategy, name: str, processes: int) -> None:
    """One line if ``processes`` exceed the candidates ``strategy`` ever trains at once (the rest
    would only wait)."""
    if processes > strategy.width:
        most = "one candidate at a time" if strategy.width == 1 else f"at most {strategy.width} candidates at once"
        raise SpecError(f"--nproc {processes} is more processes than strategy '{name}' can use: it trains {most}; "
                        f"use --nproc {strategy.width}" + (" (or leave it out)" if strategy.width == 1 else " or fewer"))


def check_int(value: object, name: str, strategy: str, low: int = 1) -> int:
    """``value`` as an int >= ``low``, or one line naming the strategy param (a TOML float or a
    string where a count is wanted is a mistake, not something to round)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"strategy '{strategy}': {name} must be an integer >= {low}, got {value!r}")
    return value
