"""The uniform-random controller: the paper's "Random" baseline (Table II).

Every decision of the shared layout (:mod:`hnas.controllers.base`) is drawn uniformly, so each
input index of node ``t`` has probability ``1/t``, each op ``1/len(ops)`` and each position
``1/layers``. ``log_prob`` and ``entropy`` are the true values of that policy (constants: for a
uniform decision the entropy equals ``-log p``), weighted like every controller's
(``position_weight``), as tensors without gradient -- there is nothing to train.

``greedy=True`` returns an ordinary random draw: a uniform policy has no most likely choice, and
answering with a fixed architecture would make "derive the final architecture" meaningless for the
baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from hnas.controllers.base import PARTS, Controller, Decision, PartStats, Sample, weighted_total
from hnas.registry import CONTROLLERS
from hnas.spaces.codec import SpaceCodec


@CONTROLLERS.register("random", aliases=("uniform",))
class RandomController(Controller):
    """Uniform sampling over the HNAS space; no parameters (``state_dict()`` is empty)."""

    def __init__(self, codec: SpaceCodec, *, position_weight: float = 10.0) -> None:
        super().__init__(codec, position_weight)
        self._sizes = torch.tensor([slot.size for slot in self.slots], dtype=torch.float64)
        self._part_log_prob = {
            part: -sum(math.log(slot.size) for slot in self.slots if slot.part == part) for part in PARTS
        }

    def _sample_from(self, actions: Sequence[int]) -> Sample:
        def scalar(value: float) -> torch.Tensor:
            return torch.tensor(value, dtype=torch.float32, device=self.device)

        parts = {part: PartStats(scalar(lp), scalar(-lp)) for part, lp in self._part_log_prob.items()}
        decisions = tuple(
            Decision(slot.part, slot.kind, slot.target, a, None) for slot, a in zip(self.slots, actions)
        )
        log_prob, entropy = weighted_total(parts, self.position_weight)
        return Sample(
            self.genotype_from_actions(actions), log_prob, entropy, parts, decisions, self.position_weight
        )

    def sample(self, greedy: bool = False, generator: torch.Generator | None = None) -> Sample:
        """A uniform draw (``greedy`` is accepted and ignored; see the module docstring).

        Uses ``generator`` if given, else torch's global CPU RNG, so ``torch.manual_seed`` makes
        the draws reproducible.
        """
        device = generator.device if generator is not None else torch.device("cpu")
        u = torch.rand(len(self.slots), dtype=torch.float64, generator=generator, device=device).cpu()
        actions = (u * self._sizes).floor().long().clamp_max(self._sizes.long() - 1).tolist()
        return self._sample_from(actions)

    def replay(self, actions: Sequence[int]) -> Sample:
        """The (constant) log-probability and entropy of ``actions`` under the uniform policy."""
        return self._sample_from(self.check_actions(actions))
