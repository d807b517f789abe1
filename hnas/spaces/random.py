"""Uniformly random genotypes: the random-search baseline (paper Table II, "Random") and test data.

Every decision the controller makes (paper Sec. II-B) is drawn uniformly instead: for each
intermediate node two (source, op) pairs with source < node, ops from everything registered in
``NORMAL_OPS`` / ``UPSAMPLING_OPS`` at call time (user ops included), and the upsampling position
in 1..layers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS, Registry
from hnas.spaces.genotype import DEFAULT_LAYERS, DEFAULT_NODES, Genotype


def random_cell(rng: random.Random, ops: Sequence[str], nodes: int) -> list[list[object]]:
    """A cell's edges drawn uniformly: for each node, two (op, source < node) pairs, in that order."""
    ops = list(ops)
    edges: list[list[object]] = []
    for node in range(2, nodes + 2):
        for _ in range(2):
            edges.append([rng.choice(ops), rng.randrange(node), node])
    return edges


def _ops(registry: Registry[object]) -> list[str]:
    names = registry.names()
    if not names:
        raise LookupError(f"no {registry.kind} are registered; import hnas.ops first")
    return names


def random_genotype(
    rng: random.Random,
    nodes: int = DEFAULT_NODES,
    layers: int = DEFAULT_LAYERS,
    normal_ops: Sequence[str] | None = None,
    upsampling_ops: Sequence[str] | None = None,
) -> Genotype:
    """A genotype drawn uniformly from the search space; the same ``rng`` state gives the same one.

    ``random_genotype(random.Random(0))``; pass one ``Random`` through a loop for a sequence. The
    ops default to every registered one (user ops included).
    """
    if nodes < 1 or layers < 1:
        raise ValueError(f"nodes and layers must be positive, got nodes={nodes}, layers={layers}")
    normal = random_cell(rng, list(normal_ops) if normal_ops else _ops(NORMAL_OPS), nodes)
    upsampling = random_cell(rng, list(upsampling_ops) if upsampling_ops else _ops(UPSAMPLING_OPS), nodes)
    position = rng.randint(1, layers)
    return Genotype.model_validate(
        {"normal": normal, "upsampling": upsampling, "position": position, "layers": layers}
    )
