"""Building a table: every piece of the space timed, then per-cell overheads and a network factor."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hnas.costs.latency_table.pieces import (
    _Bicubic,
    _CellPiece,
    _Concat,
    _Edge,
    _Preprocess,
    _Stem,
    _Sum,
    _Tail,
    bicubic_key,
    concat_key,
    op_key,
    preprocess_key,
    stem_key,
    sum_key,
    tail_key,
)
from hnas.costs.latency_table.predict import _sum_terms, measure_network
from hnas.costs.latency_table.table import SLOTS, LatencyTable, LatencyTableError, Mode, TableConditions
from hnas.costs.latency_table.timer import Timer, require_onnxruntime
from hnas.models.cells import build_cell
from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS
from hnas.spaces.genotype import CellGenotype
from hnas.spaces.random import random_cell, random_genotype
from hnas.utils.device import resolve_device


def _environment(conditions: TableConditions) -> dict[str, Any]:
    env: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device_name": _device_name(conditions.device),
        "cpu_count": os.cpu_count(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    with contextlib.suppress(OSError, AttributeError):
        env["load_before"] = [round(v, 2) for v in os.getloadavg()]
    if conditions.backend == "onnxruntime":
        env["onnxruntime"] = require_onnxruntime().__version__
    return env


def _device_name(device: str) -> str:
    dev = resolve_device(device)
    if dev.type == "cuda":
        return str(torch.cuda.get_device_name(dev))
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


Progress = Callable[[int, int, str], None]


def build_table(
    conditions: TableConditions,
    *,
    calibration_cells: int = 8,
    calibration_networks: int = 4,
    calibration_layers: int = 6,
    seed: int = 0,
    progress: Progress | None = None,
    timer: Timer | None = None,
    kept_freed_memory: bool = False,
) -> LatencyTable:
    """Measure every piece of the space under ``conditions`` and the per-cell overheads.

    ``calibration_cells`` random cells per slot (drawn from the table's op set with ``seed``) give
    each slot's overhead: the median of (measured cell - sum of its pieces). ``calibration_networks``
    random networks of ``calibration_layers`` layers give the network factor: the median of
    measured / (pieces + overheads) (0: no factor). ``progress(done, total, what)`` is called
    after each measurement. ``kept_freed_memory``: the caller switched on
    :func:`hnas.utils.memory.keep_freed_memory` (as ``hnas upscale`` does; recorded, since page
    faults on fresh maps otherwise dominate the larger pieces).
    """
    started = time.perf_counter()
    for kind, ops, registry in (("normal", conditions.normal_ops, NORMAL_OPS),
                                ("upsampling", conditions.upsampling_ops, UPSAMPLING_OPS)):
        if not ops:
            raise LatencyTableError(f"a latency table needs at least one {kind} op")
        for op in ops:
            registry.canonical(op)  # an unknown name is one line listing the registered ones
    timer = timer or Timer.for_conditions(conditions)
    env = _environment(conditions)
    env["kept_freed_memory"] = kept_freed_memory
    c, s, n = conditions.channels, conditions.scale, conditions.nodes
    lr = conditions.input
    hr = (lr[0] * s, lr[1] * s)
    b = conditions.batch
    width = c * n
    op_params: dict[str, dict[str, dict[str, Any]]] = json.loads(conditions.op_params)
    normal_params, up_params = op_params.get("normal", {}), op_params.get("upsampling", {})

    jobs: list[tuple[str, Callable[[], nn.Module], list[tuple[int, ...]]]] = []
    for size in (lr, hr):
        for op in conditions.normal_ops:
            jobs.append((op_key("normal", op, c, size),
                         lambda op=op: _Edge(NORMAL_OPS.build(op, c, **normal_params.get(op, {}))), [(b, c, *size)]))
    for op in conditions.upsampling_ops:
        for scale, size in ((s, lr), (1, hr)):
            jobs.append((op_key("upsampling", op, c, size, scale),
                         lambda op=op, scale=scale: _Edge(UPSAMPLING_OPS.build(op, c, scale, **up_params.get(op, {}))),
                         [(b, c, *size)]))
    for size in (lr, hr):
        jobs.append((preprocess_key(width, c, size), lambda: _Preprocess(width, c), [(b, width, *size)]))
        jobs.append((sum_key(c, size), _Sum, [(b, c, *size)] * 2))
        jobs.append((concat_key(n, c, size), _Concat, [(b, c, *size)] * n))
    jobs.append((stem_key(width, lr), lambda: _Stem(width), [(b, 3, *lr)]))
    jobs.append((tail_key(width, hr), lambda: _Tail(width), [(b, width, *hr)]))
    jobs.append((bicubic_key(s, lr), lambda: _Bicubic(s), [(b, 3, *lr)]))

    rng = random.Random(seed)
    calibration: list[tuple[str, CellGenotype]] = []
    for slot in SLOTS:
        ops = conditions.upsampling_ops if slot == "upsampling" else conditions.normal_ops
        calibration += [(slot, CellGenotype.model_validate({"edges": random_cell(rng, ops, n)}))
                        for _ in range(calibration_cells)]

    networks = [random_genotype(rng, nodes=n, layers=calibration_layers, normal_ops=conditions.normal_ops,
                                upsampling_ops=conditions.upsampling_ops) for _ in range(calibration_networks)]
    modes: list[Mode] = ["forward", "train"] if conditions.train else ["forward"]
    total = (len(jobs) + len(calibration) + len(networks)) * len(modes)
    done = 0
    tables: dict[str, dict[str, float]] = {}
    overheads: dict[str, dict[str, float]] = {}
    residuals: dict[str, list[float]] = {}
    for mode in modes:
        train = mode == "train"
        entries: dict[str, float] = {}
        for key, make, shapes in jobs:
            torch.manual_seed(seed)
            value = 255.0 if key.startswith(("stem", "bicubic")) else 1.0
            entries[key] = timer.time(make(), timer.inputs(shapes, seed, value), train=train)
            done += 1
            if progress:
                progress(done, total, f"{mode} {key}")
        tables[mode] = entries
        # Per-cell overhead: measured cells against the sum of their pieces.
        preliminary = LatencyTable(conditions=conditions, environment=env, forward=entries,
                                   forward_overhead=dict.fromkeys(SLOTS, 0.0))
        per_slot: dict[str, list[float]] = {slot: [] for slot in SLOTS}
        for slot, cell in calibration:
            high = slot == "normal_hr"
            kind = "upsampling" if slot == "upsampling" else "normal"
            size = hr if high else lr
            torch.manual_seed(seed)
            module = _CellPiece(build_cell(kind, kind, (width, width), c, cell, scale=s,
                                           op_params=op_params.get(kind)))
            measured = timer.time(module, timer.inputs([(b, width, *size)] * 2, seed), train=train)
            predicted = _cell_pieces(preliminary, kind, cell, size, lr, hr)
            per_slot[slot].append(measured - predicted)
            done += 1
            if progress:
                progress(done, total, f"{mode} cell {slot}")
        overheads[mode] = {slot: statistics.median(values) for slot, values in per_slot.items()}
        residuals.update({f"{mode}/{slot}": [round(v, 4) for v in values] for slot, values in per_slot.items()})
    table = LatencyTable(
        conditions=conditions,
        environment=env,
        forward=tables["forward"],
        forward_overhead=overheads["forward"],
        train=tables.get("train", {}),
        train_overhead=overheads.get("train", {}),
    )
    factors: dict[str, float] = {}
    for mode in modes:
        ratios = []
        for genotype in networks:
            measured = measure_network(genotype, conditions, seed=seed, timer=timer, train=mode == "train")
            ratios.append(measured / _sum_terms(table, genotype, "none", mode))
            done += 1
            if progress:
                progress(done, total, f"{mode} network")
        factors[mode] = statistics.median(ratios) if ratios else 1.0
        residuals[f"{mode}/network_ratio"] = [round(v, 4) for v in ratios]
    with contextlib.suppress(OSError, AttributeError):
        env["load_after"] = [round(v, 2) for v in os.getloadavg()]
    return table.model_copy(update={
        "environment": env,
        "forward_factor": factors["forward"],
        "train_factor": factors.get("train", 1.0),
        "calibration": residuals,
        "build_seconds": round(time.perf_counter() - started, 2),
    })


def _cell_pieces(table: LatencyTable, kind: str, cell: CellGenotype, size: tuple[int, int], lr: tuple[int, int],
                 hr: tuple[int, int]) -> float:
    """Sum of the forward entries of one cell's pieces (no overhead) -- the calibration's prediction."""
    c, n, s = table.conditions.channels, table.conditions.nodes, table.conditions.scale
    e = table.forward
    total = 2 * e[preprocess_key(c * n, c, size)] + n * e[sum_key(c, size)] + e[concat_key(n, c, size)]
    for edge in cell.edges:
        if kind == "normal":
            total += e[op_key("normal", edge.op, c, size)]
        elif edge.source < 2:
            total += e[op_key("upsampling", edge.op, c, lr, s)]
        else:
            total += e[op_key("upsampling", edge.op, c, hr, 1)]
    return total


