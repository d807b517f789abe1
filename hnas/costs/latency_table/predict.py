"""What a network is made of, in table keys, and its latency predicted (or measured) from them."""

from __future__ import annotations

import json

import torch

from hnas.costs.latency_table import pieces
from hnas.costs.latency_table.table import LatencyTable, LatencyTableError, Mode, TableConditions
from hnas.costs.latency_table.timer import Timer
from hnas.models.cells import cell_class
from hnas.models.layout import plan_network
from hnas.models.network import build_model
from hnas.spaces.genotype import Genotype


def _check_cells(genotype: Genotype, conditions: TableConditions) -> None:
    for name, kind in ((genotype.normal_cell, "normal"), (genotype.upsampling_cell, "upsampling")):
        cell_class(name, kind)
        if name != kind:
            raise LatencyTableError(f"the latency table prices the paper's concatenating cells; the {kind} cell "
                                    f"'{name}' is not one")
    for cell, nodes in (("normal", genotype.normal.nodes), ("upsampling", genotype.upsampling.nodes)):
        if nodes != conditions.nodes:
            raise LatencyTableError(f"latency table was built for {conditions.nodes} nodes per cell, but the "
                                    f"{cell} cell has {nodes}; build it with --nodes {nodes}")


def network_terms(genotype: Genotype, conditions: TableConditions, global_skip: str = "none"
                  ) -> list[tuple[str, int]]:
    """The table keys a network's latency sums, with multiplicities; cell overheads as ``overhead/SLOT``."""
    _check_cells(genotype, conditions)
    c, s = conditions.channels, conditions.scale
    lr = conditions.input
    hr = (lr[0] * s, lr[1] * s)
    nodes = conditions.nodes
    width = c * nodes
    plan = plan_network(genotype.layers, genotype.position, width, width)
    terms: list[tuple[str, int]] = [(pieces.stem_key(plan.stem_channels, lr), 1)]
    for layer in plan.layers:
        size = hr if layer.high_resolution else lr
        for cin in layer.in_channels:
            terms.append((pieces.preprocess_key(cin, c, size), 1))
        terms.append((pieces.sum_key(c, size), nodes))
        terms.append((pieces.concat_key(nodes, c, size), 1))
        if layer.kind == "normal":
            for edge in genotype.normal.edges:
                terms.append((pieces.op_key("normal", edge.op, c, size), 1))
            terms.append((f"overhead/{'normal_hr' if layer.high_resolution else 'normal_lr'}", 1))
        else:
            for edge in genotype.upsampling.edges:
                if edge.source < 2:
                    terms.append((pieces.op_key("upsampling", edge.op, c, lr, s), 1))
                else:
                    terms.append((pieces.op_key("upsampling", edge.op, c, hr, 1), 1))
            terms.append(("overhead/upsampling", 1))
    terms.append((pieces.tail_key(plan.tail_channels, hr), 1))
    if global_skip == "bicubic":
        terms.append((pieces.bicubic_key(s, lr), 1))
    return terms


def predict_latency(table: LatencyTable, genotype: Genotype, global_skip: str = "none", mode: Mode = "forward",
                    breakdown: dict[str, float] | None = None) -> float:
    """Predicted ms of one forward (``mode="train"``: forward + backward) of ``genotype``'s network on
    a batch of ``table.conditions.batch`` images of ``table.conditions.input`` (1 unless the table
    was built for a training batch): its pieces and per-cell overheads, times the table's
    network factor; ``breakdown`` (if given) receives ms per piece kind, before that factor."""
    total = _sum_terms(table, genotype, global_skip, mode, breakdown)
    return total * table.entries(mode)[2]


def _sum_terms(table: LatencyTable, genotype: Genotype, global_skip: str, mode: Mode,
               breakdown: dict[str, float] | None = None) -> float:
    """Pieces plus per-cell overheads, before the network factor."""
    entries, overhead, _ = table.entries(mode)
    total = 0.0
    for key, times in network_terms(genotype, table.conditions, global_skip):
        if key.startswith("overhead/"):
            value = overhead[key.split("/", 1)[1]]
        else:
            value = entries.get(key)
            if value is None:
                raise LatencyTableError(_missing(key, table))
        total += value * times
        if breakdown is not None:
            kind = key.split("/", 1)[0]
            breakdown[kind] = breakdown.get(kind, 0.0) + value * times
    return total


def _missing(key: str, table: LatencyTable) -> str:
    kind = key.split("/", 1)[0]
    if kind in ("normal", "upsampling"):
        op = key.split("/")[1]
        return (f"latency table has no {kind} op '{op}' (its {kind} ops: "
                f"{', '.join(getattr(table.conditions, f'{kind}_ops'))}); rebuild it with --{kind}-ops including it")
    if kind == "bicubic":
        return "latency table has no bicubic skip entry; rebuild it with this hnas"
    return f"latency table has no entry '{key}'; rebuild it for this network's settings"



def measure_network(genotype: Genotype, conditions: TableConditions, global_skip: str = "none", seed: int = 0,
                    timer: Timer | None = None, train: bool = False) -> float:
    """Measured median ms of the whole network under ``conditions`` (the prediction's ground truth)."""
    timer = timer or Timer.for_conditions(conditions, budget_s=0.5)
    torch.manual_seed(seed)
    model = build_model(genotype, conditions.scale, conditions.channels, global_skip,
                        op_params=json.loads(conditions.op_params))
    image = timer.inputs([(conditions.batch, 3, *conditions.input)], seed, 255.0)
    image = [x.contiguous() for x in image]
    return timer.time(model, image, train=train)


