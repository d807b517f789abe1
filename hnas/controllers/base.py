"""What every HNAS controller shares: the decision layout, the :class:`Sample` it returns, genotypes.

A controller is a policy over the hierarchical search space (paper Sec. II-B, Fig. 1(b)). It emits
one architecture as a fixed sequence of decisions:

* for the normal cell, then the upsampling cell, and for each intermediate node ``t = 2..nodes+1``
  of that cell: input index 1, input index 2 (each one of the ``t`` earlier nodes), op 1, op 2
  (each one of that cell's ops) -- the token order of the authors' controller;
* one network-level decision: the upsampling cell's position ``1..layers``.

With the paper's 4 nodes that is 16 + 16 + 1 = 33 decisions. Every controller uses this layout, so
a sequence of actions (:attr:`Sample.actions`) means the same architecture whichever controller
made it, and every emitted genotype is valid by construction (sources are always earlier nodes).

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
from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS, Registry
from hnas.spaces.genotype import CellGenotype, Edge, Genotype

#: The two cell types, in the order the controller designs them (normal first, Sec. II-B).
CELL_PARTS = ("normal", "upsampling")
PARTS = (*CELL_PARTS, "position")


class Slot(NamedTuple):
    """One decision of the layout: which part, what kind, the node it wires (0 for the position),
    and how many choices it has."""

    part: str
    kind: str  # "input" | "op" | "position"
    target: int
    size: int


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


def _canonical_ops(ops: Sequence[str], registry: Registry[Any], which: str) -> tuple[str, ...]:
    if isinstance(ops, str):
        raise SpecError(f"{which}_ops must be a list of op names, got the string {ops!r}")
    names = tuple(registry.canonical(op) for op in ops)  # unknown names raise the registry's error
    if not names:
        registered = ", ".join(registry.names())
        raise SpecError(f"{which}_ops is empty; list at least one op (registered: {registered})")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(
            f"{which}_ops lists {', '.join(duplicates)} more than once; the controller would favour it, "
            f"list each op once"
        )
    return names


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

    def __init__(
        self,
        normal_ops: Sequence[str],
        upsampling_ops: Sequence[str],
        nodes: int = 4,
        layers: int = 12,
        position_weight: float = 10.0,
    ) -> None:
        super().__init__()
        if not isinstance(nodes, int) or nodes < 1:
            raise SpecError(f"nodes (intermediate nodes per cell) must be a positive integer, got {nodes!r}")
        if not isinstance(layers, int) or layers < 1:
            raise SpecError(f"layers must be a positive integer, got {layers!r}")
        if not math.isfinite(position_weight) or position_weight < 0:
            raise SpecError(f"position_weight must be a finite number >= 0, got {position_weight!r}")
        self.normal_ops = _canonical_ops(normal_ops, NORMAL_OPS, "normal")
        self.upsampling_ops = _canonical_ops(upsampling_ops, UPSAMPLING_OPS, "upsampling")
        self.nodes = nodes
        self.layers = layers
        self.position_weight = float(position_weight)
        #: The cell types every proposed genotype names (the space's; the paper's by default).
        self.cell_types: tuple[str, str] = ("normal", "upsampling")
        #: The space's op settings (``{"normal": {op: params}}``), carried by every proposed genotype.
        self.op_params: dict[str, dict[str, dict[str, Any]]] = {}
        # Tracks the device for controllers without parameters; not saved in state_dict.
        self.register_buffer("_device_anchor", torch.zeros(0), persistent=False)
        self.slots: tuple[Slot, ...] = self._layout()

    # -- layout -----------------------------------------------------------------------------------
    def ops_of(self, part: str) -> tuple[str, ...]:
        return self.normal_ops if part == "normal" else self.upsampling_ops

    def _layout(self) -> tuple[Slot, ...]:
        slots = []
        for part in CELL_PARTS:
            n_ops = len(self.ops_of(part))
            for target in range(2, self.nodes + 2):
                slots += [Slot(part, "input", target, target)] * 2
                slots += [Slot(part, "op", target, n_ops)] * 2
        slots.append(Slot("position", "position", 0, self.layers))
        return tuple(slots)

    @property
    def num_decisions(self) -> int:
        return len(self.slots)

    @property
    def device(self) -> torch.device:
        return self._device_anchor.device

    # -- actions <-> genotypes --------------------------------------------------------------------
    def check_actions(self, actions: Sequence[int]) -> tuple[int, ...]:
        """Validate a layout-ordered action sequence (length and ranges) and return it as ints."""
        actions = tuple(int(a) for a in actions)
        if len(actions) != len(self.slots):
            raise ValueError(f"expected {len(self.slots)} actions for this controller, got {len(actions)}")
        for i, (a, slot) in enumerate(zip(actions, self.slots)):
            if not 0 <= a < slot.size:
                raise ValueError(
                    f"action {i} ({slot.part} {slot.kind}, node {slot.target}) is {a}; "
                    f"it must be in 0..{slot.size - 1}"
                )
        return actions

    def genotype_from_actions(self, actions: Sequence[int]) -> Genotype:
        """Assemble the genotype a layout-ordered action sequence describes (always valid)."""
        actions = self.check_actions(actions)
        cells: dict[str, CellGenotype] = {}
        i = 0
        for part in CELL_PARTS:
            ops = self.ops_of(part)
            edges = []
            for target in range(2, self.nodes + 2):
                in1, in2, op1, op2 = actions[i : i + 4]
                edges += [Edge(ops[op1], in1, target), Edge(ops[op2], in2, target)]
                i += 4
            cells[part] = CellGenotype(edges=tuple(edges))
        return Genotype(
            normal=cells["normal"],
            upsampling=cells["upsampling"],
            position=actions[i] + 1,
            layers=self.layers,
            normal_cell=self.cell_types[0],
            upsampling_cell=self.cell_types[1],
            op_params=self.op_params,
        )

    def actions_of(self, genotype: Genotype) -> tuple[int, ...]:
        """One action sequence that yields ``genotype`` (edges of a node in canonical order).

        Lets a controller score a known architecture, e.g. ``controller.replay(
        controller.actions_of(hnas_a)).policy_log_prob``. A genotype whose two edges of a node differ
        has a second sequence (edges swapped) with its own probability; this gives the first.
        """
        if genotype.layers != self.layers:
            raise ValueError(f"genotype has {genotype.layers} layers, this controller {self.layers}")
        actions: list[int] = []
        for part in CELL_PARTS:
            cell: CellGenotype = getattr(genotype, part)
            if cell.nodes != self.nodes:
                raise ValueError(
                    f"{part} cell has {cell.nodes} intermediate nodes, this controller {self.nodes}"
                )
            ops = self.ops_of(part)
            for target in range(2, self.nodes + 2):
                e1, e2 = cell.node_edges(target)
                for edge in (e1, e2):
                    if edge.op not in ops:
                        raise ValueError(f"{part} op '{edge.op}' is not in this controller's ops {list(ops)}")
                actions += [e1.source, e2.source, ops.index(e1.op), ops.index(e2.op)]
        actions.append(genotype.position - 1)
        return tuple(actions)

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
        return [int(torch.randint(slot.size, (), generator=generator)) for slot in self.slots]

    def uniform_sample(self, generator: torch.Generator | None = None) -> Genotype:
        """A uniform draw over the space, whatever the controller has learned."""
        return self.genotype_from_actions(self.uniform_actions(generator))

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
