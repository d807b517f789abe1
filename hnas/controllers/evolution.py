"""Regularized (aging) evolution (Real et al., AAAI 2019) as a search strategy.

A population of ``population`` architectures, each with the reward it earned. Until the population
is full, proposals are uniform draws over the search space (the initial population); afterwards
each proposal is a *tournament*: ``sample_size`` members drawn at random, the best of them
mutated in one decision (an input index, an op, or the position) to a different value. ``learn``
adds the proposal with its reward and removes the *oldest* member, not the worst: the aging that
regularises the search (an architecture that scored high by luck is eventually forgotten).

With shared weights, the weight steps train the population's members (:meth:`training_sample`):
measured here, a supernet trained on a handful of architectures learns them within a few hundred
CPU steps, where one trained on fresh uniform draws learns nothing at that budget (docs/search.md).

A strong baseline in NAS benchmarks (NAS-Bench-101/201) with two hyper-parameters, and here the
proof that a strategy is swappable: it is a :class:`~hnas.controllers.base.Controller` like the
LSTM, run by the same search loop (``controller.type = "evolution"``), resumable (the population
is part of the resume state) and deterministic for a given generator.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import torch

from hnas.controllers.base import PARTS, Controller, Decision, PartStats, Sample
from hnas.errors import SpecError
from hnas.registry import CONTROLLERS
from hnas.spaces.codec import SpaceCodec
from hnas.spaces.genotype import Genotype


@CONTROLLERS.register("evolution", aliases=("regularized_evolution", "aging_evolution"))
class EvolutionController(Controller):
    """Regularized evolution over the HNAS space: tournament selection, one-decision mutation, aging."""

    has_policy = False

    def members(self) -> list[tuple[tuple[int, ...], float | None]]:
        """The population (the initial one, unscored, before the first proposal is learned)."""
        if self.population:
            return [(actions, reward) for actions, reward in self.population]
        return [(tuple(actions), None) for actions in self.initial]

    def __init__(self, codec: SpaceCodec, *, population: int = 16, sample_size: int = 4, seed: int = 0) -> None:
        super().__init__(codec, position_weight=1.0)
        if not isinstance(population, int) or population < 2:
            raise SpecError(f"controller 'evolution': population must be an integer >= 2, got {population!r}")
        if not isinstance(sample_size, int) or not 1 <= sample_size <= population:
            raise SpecError(
                f"controller 'evolution': sample_size must be an integer in 1..population ({population}), "
                f"got {sample_size!r}"
            )
        self.population_size = population
        self.sample_size = sample_size
        # The initial population: drawn once from ``seed``, trained during the search's warm-up
        # epochs and proposed (scored) first, so that its scores come from trained weights.
        generator = torch.Generator().manual_seed(seed)
        self.initial = [self.uniform_actions(generator) for _ in range(population)]
        self.population: deque[tuple[tuple[int, ...], float]] = deque()
        self.history: list[tuple[tuple[int, ...], float]] = []  # every (actions, reward) learned, in order

    # -- proposals ------------------------------------------------------------------------------------
    def _mutate(self, actions: Sequence[int], generator: torch.Generator | None) -> list[int]:
        """``actions`` with one decision changed to another value (decisions with one choice skipped)."""
        child = list(actions)
        movable = [i for i, slot in enumerate(self.slots) if slot.size > 1]
        if not movable:
            return child
        index = movable[int(torch.randint(len(movable), (), generator=generator))]
        shift = 1 + int(torch.randint(self.slots[index].size - 1, (), generator=generator))
        child[index] = (child[index] + shift) % self.slots[index].size
        return child

    def _tournament(self, generator: torch.Generator | None) -> tuple[int, ...]:
        members = list(self.population)
        picks = torch.randperm(len(members), generator=generator)[: self.sample_size].tolist()
        return max((members[i] for i in picks), key=lambda m: m[1])[0]

    def _sample_from(self, actions: Sequence[int]) -> Sample:
        zero = torch.zeros((), device=self.device)
        parts = {part: PartStats(zero, zero) for part in PARTS}
        decisions = tuple(Decision(s.part, s.kind, s.target, a, None) for s, a in zip(self.slots, actions))
        return Sample(self.genotype_from_actions(actions), zero, zero, parts, decisions, self.position_weight)

    def sample(self, greedy: bool = False, generator: torch.Generator | None = None) -> Sample:
        """A proposal: uniform until the population is full, then a mutated tournament winner;
        ``greedy``: the best architecture learned so far (a uniform draw before any)."""
        if greedy and self.history:
            return self._sample_from(max(self.history, key=lambda m: m[1])[0])
        if len(self.history) < self.population_size:
            return self._sample_from(self.initial[len(self.history)])
        return self._sample_from(self._mutate(self._tournament(generator), generator))

    def training_sample(self, generator: torch.Generator | None = None) -> Genotype:
        """A member of the population (of the initial one before any is scored): the shared
        weights train the architectures evolution is comparing, so that a member's score reflects
        trained weights and a child inherits them (weight inheritance; Real et al., ICML 2017)."""
        members = [actions for actions, _ in self.population] or self.initial
        return self.genotype_from_actions(members[int(torch.randint(len(members), (), generator=generator))])

    def warmup_sample(self, generator: torch.Generator | None = None) -> Genotype:
        """The warm-up trains the initial population (uniform draws would teach the shared weights
        nothing at a CPU budget: docs/search.md)."""
        return self.training_sample(generator)

    def replay(self, actions: Sequence[int]) -> Sample:
        return self._sample_from(self.check_actions(actions))

    # -- feedback ---------------------------------------------------------------------------------------
    def learn(self, sample: Sample, reward: float) -> dict[str, float]:
        """Add the proposal with its reward; beyond ``population`` members, the oldest leaves."""
        entry = (tuple(sample.actions), float(reward))
        self.population.append(entry)
        self.history.append(entry)
        if len(self.population) > self.population_size:
            self.population.popleft()
        rewards = [r for _, r in self.population]
        return {"reward": float(reward), "population_best": max(rewards), "population_mean": sum(rewards) / len(rewards)}

    def candidates(self, count: int, generator: torch.Generator | None = None) -> list[tuple[str, Genotype]]:
        """The best ``count + 1`` distinct architectures ever evaluated, best first."""
        ranked = sorted(self.history, key=lambda m: -m[1])
        seen: dict[str, tuple[str, Genotype]] = {}
        for actions, _ in ranked:
            genotype = self.genotype_from_actions(actions)
            seen.setdefault(genotype.hash(), ("evolved", genotype))
            if len(seen) > count:
                break
        picks = list(seen.values())
        if not picks:  # nothing evaluated yet: uniform proposals, as the search would start with
            picks = [("sampled", self.sample(generator=generator).genotype) for _ in range(count + 1)]
        return picks

    # -- resume -------------------------------------------------------------------------------------------
    def resume_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {
            "population": [[list(a), r] for a, r in self.population],
            "history": [[list(a), r] for a, r in self.history],
        }

    def load_resume_state(self, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        self.population = deque((tuple(int(x) for x in a), float(r)) for a, r in info.get("population", []))
        self.history = [(tuple(int(x) for x in a), float(r)) for a, r in info.get("history", [])]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, population={self.population_size}, sample_size={self.sample_size}"
