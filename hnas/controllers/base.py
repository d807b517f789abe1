"""What every HNAS controller shares: the space's decision layout, the :class:`Sample` it returns.

A controller is a policy over the hierarchical search space (paper Sec. II-B, Fig. 1(b)). It emits
one architecture as the fixed sequence of decisions of :class:`hnas.spaces.codec.SpaceCodec` (33
with the paper's 4 nodes), so a sequence of actions (:attr:`Sample.actions`) means the same
architecture whichever controller or strategy made it.

Position weighting. The authors multiply the position decision's log-probability and entropy by
10 in the REINFORCE objective (HNAS-REFERENCE.md, "Controller"): one decision against 32 cell
decisions would otherwise get little of the gradient. hnas applies that weight *inside* the
controller, as ``position_weight``, so that ``genotype, log_prob, entropy = controller.sample()``
hands :class:`hnas.controllers.reinforce.Reinforce` exactly the quantities the authors optimise,
and a search loop need not know about the breakdown. The unweighted values are kept:
:attr:`Sample.policy_log_prob` is the true log-probability of the decision sequence and
:attr:`Sample.policy_entropy` the summed per-decision entropy; :attr:`Sample.parts` holds both per
part ("normal", "upsampling", "position"). With ``position_weight=1`` the two coincide.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from hnas.errors import SpecError
from hnas.spaces.codec import CELL_PARTS, PARTS, Slot, SpaceCodec  # noqa: F401  (CELL_PARTS, PARTS: re-exported)
from hnas.spaces.genotype import Genotype


class Decision(NamedTuple):
    """A decision as taken: its slot, the chosen index and (detached) the logits it was drawn from.

    ``logits`` are after temperature and tanh shaping, i.e. ``log_softmax(logits)[choice]`` is the
    decision's log-probability; ``None`` for controllers without logits.
    """

    part: str
    kind: str
    target: int
    choice: int
    logits: torch.Tensor | None


class PartStats(NamedTuple):
    """Unweighted log-probability and entropy summed over the decisions of one part."""

    log_prob: torch.Tensor
    entropy: torch.Tensor


@dataclass(frozen=True, eq=False)
class Sample:
    """One sampled architecture; unpacks as ``genotype, log_prob, entropy`` (the ENAS contract).

    ``log_prob`` and ``entropy`` are the REINFORCE quantities, with the position decision weighted
    by ``position_weight`` (see the module docstring); both are scalar tensors that carry the
    controller's graph. ``policy_log_prob`` / ``policy_entropy`` are the unweighted values.
    """

    genotype: Genotype
    log_prob: torch.Tensor
    entropy: torch.Tensor
    parts: Mapping[str, PartStats]
    decisions: tuple[Decision, ...]
    position_weight: float

    def __iter__(self) -> Iterator[Any]:
        return iter((self.genotype, self.log_prob, self.entropy))

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int) -> Any:
        return (self.genotype, self.log_prob, self.entropy)[index]

    @property
    def actions(self) -> tuple[int, ...]:
        """The chosen indices in layout order; :meth:`Controller.replay` takes them back."""
        return tuple(d.choice for d in self.decisions)

    @property
    def policy_log_prob(self) -> torch.Tensor:
        """log pi(actions): the true log-probability of this decision sequence (no weighting)."""
        return sum((p.log_prob for p in self.parts.values()), torch.zeros_like(self.log_prob))

    @property
    def policy_entropy(self) -> torch.Tensor:
        """Sum of the per-decision entropies along this sample (no weighting)."""
        return sum((p.entropy for p in self.parts.values()), torch.zeros_like(self.entropy))


def weighted_total(
    parts: Mapping[str, PartStats], position_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log_prob, entropy)`` summed over parts with the position part scaled by ``position_weight``."""
    weights = [position_weight if name == "position" else 1.0 for name in parts]
    log_prob = torch.stack([w * stats.log_prob for w, stats in zip(weights, parts.values())]).sum()
    entropy = torch.stack([w * stats.entropy for w, stats in zip(weights, parts.values())]).sum()
    return log_prob, entropy


class Controller(nn.Module):
    """Base class: search-space bookkeeping and genotype assembly shared by all controllers.

    Subclasses implement :meth:`sample` and :meth:`replay`. ``position_weight`` scales the position
    decision inside the returned ``log_prob``/``entropy`` (authors' value 10; module docstring).
    """

    #: Whether proposals are draws from a distribution (whose entropy the search logs and
    #: ``hnas inspect`` shows). A controller without one (evolution) describes itself by
    #: :meth:`members` instead.
    has_policy: bool = True

    def members(self) -> list[tuple[tuple[int, ...], float | None]]:
        """The architectures (actions, reward) a controller without a policy holds now."""
        return []

    def __init__(self, codec: SpaceCodec, position_weight: float = 10.0) -> None:
        super().__init__()
        if not math.isfinite(position_weight) or position_weight < 0:
            raise SpecError(f"position_weight must be a finite number >= 0, got {position_weight!r}")
        #: The space's layout and genotype assembly: every controller takes the space as one
        #: object (``SpaceCodec(normal_ops, upsampling_ops, nodes, layers)``), its own params after it.
        self.codec = codec
        self.position_weight = float(position_weight)
        # Tracks the device for controllers without parameters; not saved in state_dict.
        self.register_buffer("_device_anchor", torch.zeros(0), persistent=False)

    # -- layout (the codec's) ----------------------------------------------------------------------
    @property
    def normal_ops(self) -> tuple[str, ...]:
        return self.codec.normal_ops

    @property
    def upsampling_ops(self) -> tuple[str, ...]:
        return self.codec.upsampling_ops

    @property
    def nodes(self) -> int:
        return self.codec.nodes

    @property
    def layers(self) -> int:
        return self.codec.layers

    @property
    def slots(self) -> tuple[Slot, ...]:
        return self.codec.slots

    @property
    def cell_types(self) -> tuple[str, str]:
        """The cell types every proposed genotype names (the space's; the paper's by default)."""
        return self.codec.cell_types

    @property
    def op_params(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The space's op settings (``{"normal": {op: params}}``), carried by every proposed genotype."""
        return self.codec.op_params

    def ops_of(self, part: str) -> tuple[str, ...]:
        return self.codec.ops_of(part)

    @property
    def num_decisions(self) -> int:
        return len(self.slots)

    @property
    def device(self) -> torch.device:
        return self._device_anchor.device

    # -- actions <-> genotypes (the codec's) -------------------------------------------------------
    def check_actions(self, actions: Sequence[int]) -> tuple[int, ...]:
        """Validate a layout-ordered action sequence (length and ranges) and return it as ints."""
        return self.codec.check_actions(actions)

    def genotype_from_actions(self, actions: Sequence[int]) -> Genotype:
        """Assemble the genotype a layout-ordered action sequence describes (always valid)."""
        return self.codec.decode(actions)

    def actions_of(self, genotype: Genotype) -> tuple[int, ...]:
        """One action sequence that yields ``genotype``; lets a controller score a known
        architecture, e.g. ``controller.replay(controller.actions_of(hnas_a)).policy_log_prob``."""
        return self.codec.encode(genotype)

    # -- interface --------------------------------------------------------------------------------
    # A controller is the search strategy of Algorithm 1: ``sample`` proposes an architecture (lines
    # 5 and 10), ``learn`` takes the reward of that architecture (line 11), and ``candidates`` are
    # the architectures derivation scores (Sec. II-C, "Inferring Architectures"). The search loop
    # knows nothing else about it, so a policy-gradient controller, the random baseline and
    # regularized evolution run in the same pipeline.
    def sample(self, greedy: bool = False, generator: torch.Generator | None = None) -> Sample:
        """Draw one architecture (``greedy``: the most likely choice at every step)."""
        raise NotImplementedError

    def training_sample(self, generator: torch.Generator | None = None) -> Genotype:
        """The architecture a shared-weight step trains (Algorithm 1, line 5: a draw of the policy)."""
        with torch.no_grad():
            return self.sample(generator=generator).genotype

    def uniform_actions(self, generator: torch.Generator | None = None) -> list[int]:
        """One uniform choice per decision (the actions of a uniform draw over the space)."""
        return self.codec.uniform_actions(generator)

    def uniform_sample(self, generator: torch.Generator | None = None) -> Genotype:
        """A uniform draw over the space, whatever the controller has learned."""
        return self.codec.uniform(generator)

    def warmup_sample(self, generator: torch.Generator | None = None) -> Genotype:
        """The architecture a warm-up step trains, before the controller has learned anything: a
        uniform draw over the space (ENAS/SPOS practice)."""
        return self.uniform_sample(generator)

    def learn(self, sample: Sample, reward: float) -> dict[str, float]:
        """Take the reward of ``sample`` (an architecture this controller proposed); returns
        statistics for the log. The base controller learns nothing."""
        return {"reward": float(reward)}

    def set_progress(self, progress: float) -> None:
        """Where the search stands, 0..1 (for schedules); the base controller has none."""

    def candidates(self, count: int, generator: torch.Generator | None = None) -> list[tuple[str, Genotype]]:
        """Architectures worth deriving: the greedy one and ``count`` samples, labelled by how they
        were chosen."""
        with torch.no_grad():
            picks = [("greedy", self.sample(greedy=True, generator=generator).genotype)]
            picks += [("sampled", self.sample(generator=generator).genotype) for _ in range(count)]
        return picks

    def resume_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Tensors and JSON-able facts that let a resumed search continue exactly (default: the
        module's state dict, nothing else)."""
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, {}

    def load_resume_state(self, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        """Inverse of :meth:`resume_state`."""
        self.load_state_dict(tensors)

    def replay(self, actions: Sequence[int]) -> Sample:
        """Re-run the policy with the given actions forced: their log-probability and entropy."""
        raise NotImplementedError

    def forward(self, greedy: bool = False, generator: torch.Generator | None = None) -> Sample:
        return self.sample(greedy=greedy, generator=generator)

    def extra_repr(self) -> str:
        return (
            f"nodes={self.nodes}, layers={self.layers}, normal_ops={len(self.normal_ops)}, "
            f"upsampling_ops={len(self.upsampling_ops)}, position_weight={self.position_weight}"
        )
