"""The search space as a fixed sequence of decisions, and genotypes <-> action sequences.

One architecture of the hierarchical space (paper Sec. II-B, Fig. 1(b)) is a fixed sequence of
decisions:

* for the normal cell, then the upsampling cell, and for each intermediate node ``t = 2..nodes+1``
  of that cell: input index 1, input index 2 (each one of the ``t`` earlier nodes), op 1, op 2
  (each one of that cell's ops) -- the token order of the authors' controller;
* one network-level decision: the upsampling cell's position ``1..layers``.

With the paper's 4 nodes that is 16 + 16 + 1 = 33 decisions. Every controller and strategy uses
this layout, so a sequence of actions means the same architecture whoever made it, and every
decoded genotype is valid by construction (sources are always earlier nodes). A uniform draw over
the space is one uniform choice per decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from hnas.errors import SpecError
from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS, Registry
from hnas.spaces.genotype import CellGenotype, Edge, Genotype

__all__ = ["CELL_PARTS", "PARTS", "Slot", "SpaceCodec"]

#: The two cell types, in the order their decisions come (normal first, Sec. II-B).
CELL_PARTS = ("normal", "upsampling")
PARTS = (*CELL_PARTS, "position")


class Slot(NamedTuple):
    """One decision of the layout: which part, what kind, the node it wires (0 for the position),
    and how many choices it has."""

    part: str
    kind: str  # "input" | "op" | "position"
    target: int
    size: int


def canonical_ops(ops: Sequence[str], registry: Registry[Any], which: str) -> tuple[str, ...]:
    """``ops`` under their registered names; empty, duplicated or unknown ops are one line."""
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


class SpaceCodec:
    """The decision layout of one space (its ops, nodes and layers) and the translation between
    action sequences and genotypes. ``cell_types`` and ``op_params`` are carried by every decoded
    genotype (the space's cell types and op settings)."""

    def __init__(self, normal_ops: Sequence[str], upsampling_ops: Sequence[str], nodes: int = 4,
                 layers: int = 12, *, cell_types: tuple[str, str] = ("normal", "upsampling"),
                 op_params: dict[str, dict[str, dict[str, Any]]] | None = None) -> None:
        if not isinstance(nodes, int) or nodes < 1:
            raise SpecError(f"nodes (intermediate nodes per cell) must be a positive integer, got {nodes!r}")
        if not isinstance(layers, int) or layers < 1:
            raise SpecError(f"layers must be a positive integer, got {layers!r}")
        self.normal_ops = canonical_ops(normal_ops, NORMAL_OPS, "normal")
        self.upsampling_ops = canonical_ops(upsampling_ops, UPSAMPLING_OPS, "upsampling")
        self.nodes, self.layers = nodes, layers
        self.cell_types = cell_types
        self.op_params: dict[str, dict[str, dict[str, Any]]] = op_params or {}
        self.slots: tuple[Slot, ...] = self._layout()

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

    def decode(self, actions: Sequence[int]) -> Genotype:
        """The genotype a layout-ordered action sequence describes (always valid)."""
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

    def encode(self, genotype: Genotype) -> tuple[int, ...]:
        """One action sequence that yields ``genotype`` (edges of a node in canonical order). A
        genotype whose two edges of a node differ has a second sequence (edges swapped); this
        gives the first."""
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

    def uniform_actions(self, generator: torch.Generator | None = None) -> list[int]:
        """One uniform choice per decision (the actions of a uniform draw over the space)."""
        return [int(torch.randint(slot.size, (), generator=generator)) for slot in self.slots]

    def uniform(self, generator: torch.Generator | None = None) -> Genotype:
        """A uniform draw over the space."""
        return self.decode(self.uniform_actions(generator))
