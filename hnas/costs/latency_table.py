"""A per-op latency lookup table, and a network's latency predicted from it (hardware-aware pricing).

MACs rank networks wrongly by the time a person waits: on a CPU a plain 3x3 convolution runs at
several times the multiply-add rate of a depthwise one, and narrow cells are dominated by per-op
overhead and memory-bound ops (node sums, concatenations, interpolations). MnasNet, FBNet and
ProxylessNAS price architectures by latency on the target device; FBNet and ProxylessNAS predict it
from a table of per-op latencies measured once, because timing every sampled network is far too
slow for a search (seconds per network, against microseconds for a look-up).

A table is measured once per target (``hnas latency build``) and stores, in milliseconds, every
piece a derived network of the space is made of, at the shape it runs at:

* each edge op (normal ops at the LR and the HR size; upsampling ops at ``scale`` on the LR input
  and in their stride-1 form on the HR size), with its params;
* a cell's 1x1 input preprocessing, a node's sum of its two edges, the concatenation (and the ReLU
  the network computes with it) of a cell's nodes;
* the stem (mean shift, layout change, 3x3 convolution, ReLU), the tail (3x3 convolution to RGB,
  mean shift) and the optional bicubic skip;
* per cell slot (a normal cell on the LR input, one on the HR input, the upsampling cell), the
  *measured* overhead of a whole cell over the sum of its pieces, the median over a few random
  cells: what Python dispatch adds, and what the backend saves by sharing a node's ReLU between
  edges or fusing a sum into a convolution (negative then);
* a network factor: measured whole networks over their sum of pieces and overheads, the median
  over a few random networks (what running inside one graph changes: caches, and for ONNX Runtime
  the layout conversions it inserts between cells).

A network's predicted latency is the sum of its pieces plus one overhead per cell, times the factor. Everything the
numbers depend on is recorded with them (device, its model name, threads, backend, input, scale,
channels, nodes, op set and params, torch and onnxruntime versions, the load while measuring), and a
table asked for under other settings is refused with one line naming the difference.

Backends: ``eager`` (PyTorch, on CPU or CUDA: the way hnas itself runs a network) and
``onnxruntime`` (each piece exported with ``torch.onnx.export`` and run by ONNX Runtime's CPU
execution provider: what a user who deploys with ``hnas export`` waits for).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import logging
import os
import platform
import random
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from hnas.costs.base import Cost
from hnas.costs.builtin import macs_normaliser
from hnas.costs.settings import CostSettings
from hnas.errors import HnasError
from hnas.models.cells import ReLUConv1x1, build_cell, cell_class
from hnas.models.layout import DIV2K_RGB_MEAN, MeanShift, bicubic_upscale, plan_network
from hnas.models.network import build_model
from hnas.ops.fast import FewOutputConv2d, concat
from hnas.registry import COSTS, NORMAL_OPS, UPSAMPLING_OPS
from hnas.spaces.genotype import DEFAULT_NODES, CellGenotype, Genotype
from hnas.utils.device import resolve_device
from hnas.utils.io import atomic_write_json
from hnas.utils.threads import num_threads

__all__ = [
    "BACKENDS",
    "TABLE_FORMAT",
    "LatencyTable",
    "LatencyTableCost",
    "LatencyTableError",
    "TableConditions",
    "build_table",
    "load_table",
    "measure_network",
    "predict_latency",
    "require_onnxruntime",
]

Backend = Literal["eager", "onnxruntime"]
Mode = Literal["forward", "train"]
Clock = Literal["wall", "cpu"]
Statistic = Literal["median", "min"]
BACKENDS: tuple[str, ...] = ("eager", "onnxruntime")
#: Bumped when the keys or their meaning change; an older table is refused (rebuild it).
TABLE_FORMAT = 1
#: Cell slots with their own measured overhead.
SLOTS = ("normal_lr", "normal_hr", "upsampling")


class LatencyTableError(HnasError, ValueError):
    """A latency table that is missing, corrupt, lacks a piece, or was built under other settings."""


# --------------------------------------------------------------------------------------------------
# The table file


class TableConditions(BaseModel):
    """What a table's numbers hold for; a run that asks for something else is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device: str = "cpu"
    backend: Backend = "eager"
    threads: int = Field(1, ge=1)
    input: tuple[int, int] = (480, 480)
    scale: int = Field(2, ge=1)
    channels: int = Field(16, ge=1)
    nodes: int = Field(DEFAULT_NODES, ge=1)
    normal_ops: tuple[str, ...]
    upsampling_ops: tuple[str, ...]
    op_params: str = "{}"
    train: bool = False
    #: ``wall``: elapsed time, the latency a user waits for (needs a quiet machine); ``cpu``: CPU time
    #: of the calling thread, which a busy machine's other processes do not inflate -- equal to the
    #: latency on an idle core, and only meaningful at one thread (both backends then run every op in
    #: the calling thread).
    clock: Clock = "wall"
    #: ``median`` of the timed calls (the usual latency), or their ``min``: on a shared machine
    #: other work only ever adds time, so the fastest call is the least disturbed estimate.
    statistic: Statistic = "median"


class LatencyTable(BaseModel):
    """A latency table: conditions, the environment it was measured in, and the milliseconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = TABLE_FORMAT
    conditions: TableConditions
    environment: dict[str, Any]
    forward: dict[str, float]
    forward_overhead: dict[str, float]
    train: dict[str, float] = Field(default_factory=dict)
    train_overhead: dict[str, float] = Field(default_factory=dict)
    #: Measured whole network / (pieces + cell overheads), the median over a few random networks:
    #: what running inside one graph changes (caches, the backend's layout choices across cells).
    forward_factor: float = Field(1.0, gt=0)
    train_factor: float = Field(1.0, gt=0)
    calibration: dict[str, list[float]] = Field(default_factory=dict, description="residual ms per calibration "
                                                "cell; measured / predicted per calibration network")
    build_seconds: float = 0.0

    def entries(self, mode: Mode) -> tuple[dict[str, float], dict[str, float], float]:
        """The piece times, per-cell overheads and network factor of ``mode``."""
        if mode == "train":
            if not self.conditions.train:
                raise LatencyTableError("this latency table has forward times only; rebuild it with --train to "
                                        "price forward + backward")
            return self.train, self.train_overhead, self.train_factor
        return self.forward, self.forward_overhead, self.forward_factor

    def digest(self) -> str:
        """A short hash of the numbers (keys the cost cache, so a rebuilt table is never mixed up)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        c = self.conditions
        return (f"{c.backend} on {c.device} ({self.environment.get('device_name', '?')}), {c.threads} threads, "
                f"{c.input[0]}x{c.input[1]} LR input, x{c.scale}, C={c.channels}")


def load_table(path: str | Path) -> LatencyTable:
    """Read a table file; a missing, unreadable or malformed one is one :class:`LatencyTableError` line."""
    path = Path(path)
    if not path.is_file():
        raise LatencyTableError(f"latency table '{path}' does not exist; build it with 'hnas latency build ... "
                                f"--out {path}'")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatencyTableError(f"latency table '{path}' is not readable JSON ({type(exc).__name__}); "
                                "rebuild it with 'hnas latency build'") from None
    if not isinstance(data, dict):
        raise LatencyTableError(f"latency table '{path}' is not a table (a JSON object); rebuild it")
    if data.get("format") != TABLE_FORMAT:
        raise LatencyTableError(f"latency table '{path}' has format {data.get('format')!r}, this hnas reads "
                                f"{TABLE_FORMAT}; rebuild it with 'hnas latency build'")
    try:
        return LatencyTable.model_validate(data)
    except ValidationError as exc:
        from hnas.errors import first_error

        where, message = first_error(exc)
        raise LatencyTableError(f"latency table '{path}' is corrupt at {where or 'top level'}: {message}; "
                                "rebuild it") from None


def check_conditions(table: LatencyTable, source: str = "latency table", **asked: Any) -> None:
    """Refuse ``table`` if any condition the caller states (``device=``, ``threads=``, ``backend=``,
    ``input=``, ``scale=``, ``channels=``, ``op_params=``; ``None`` = not stated) differs from the
    table's, naming the first difference."""
    c = table.conditions
    for name, value in asked.items():
        if value is None:
            continue
        have = getattr(c, name)
        if name == "device":
            same = _device_key(value) == _device_key(have)
        elif name == "input":
            value, have = tuple(value), tuple(have)
            same = value == have
        else:
            same = value == have
        if not same:
            shown = {"input": lambda v: f"{v[0]}x{v[1]}"}.get(name, lambda v: v)
            raise LatencyTableError(
                f"{source} was built for {name} {shown(have)}, but {shown(value)} is asked for; build a table "
                f"for it ('hnas latency build --{name.replace('_', '-')} ...')"
            )


def _device_key(name: str) -> str:
    return "cuda:0" if name == "cuda" else name


# --------------------------------------------------------------------------------------------------
# Pieces: keys and the modules that are timed


def _hw(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def op_key(kind: str, op: str, channels: int, size: tuple[int, int], scale: int = 1) -> str:
    """``normal/sep_conv_3x3/16@120x120`` or ``upsampling/sub_pixel/x2/16@120x120`` (input size)."""
    middle = f"/x{scale}" if kind == "upsampling" else ""
    return f"{kind}/{op}{middle}/{channels}@{_hw(size)}"


def preprocess_key(in_channels: int, channels: int, size: tuple[int, int]) -> str:
    return f"preprocess/{in_channels}->{channels}@{_hw(size)}"


def sum_key(channels: int, size: tuple[int, int]) -> str:
    return f"sum/{channels}@{_hw(size)}"


def concat_key(parts: int, channels: int, size: tuple[int, int]) -> str:
    return f"concat/{parts}x{channels}@{_hw(size)}"


def stem_key(out_channels: int, size: tuple[int, int]) -> str:
    return f"stem/{out_channels}@{_hw(size)}"


def tail_key(in_channels: int, size: tuple[int, int]) -> str:
    return f"tail/{in_channels}@{_hw(size)}"


def bicubic_key(scale: int, size: tuple[int, int]) -> str:
    return f"bicubic/x{scale}@{_hw(size)}"


class _Edge(nn.Module):
    """One edge op alone (the ReLU ops start with included)."""

    def __init__(self, op: nn.Module) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class _Preprocess(nn.Module):
    """A cell input's 1x1 projection on its already ReLU'd input (the network ReLUs once, in the
    concatenation that makes the input)."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.pre = ReLUConv1x1(in_channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre.project(x)


class _Sum(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class _Concat(nn.Module):
    """A cell output: its nodes concatenated and ReLU'd (what the next cells read)."""

    def forward(self, *parts: torch.Tensor) -> torch.Tensor:
        return concat(list(parts), True)


class _Stem(nn.Module):
    """The network's entry as ``LayeredSR.run_layers`` runs it: layout, mean, 3x3 conv, ReLU."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.sub_mean = MeanShift(DIV2K_RGB_MEAN, 255.0, -1.0)
        self.stem = nn.Conv2d(3, out_channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return F.relu(self.stem(self.sub_mean(x)))


class _Tail(nn.Module):
    """The network's exit: 3x3 conv to RGB, mean added back, the usual layout."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.tail = FewOutputConv2d(in_channels, 3, 3, padding=1, bias=True)
        self.add_mean = MeanShift(DIV2K_RGB_MEAN, 255.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_mean(self.tail(x)).contiguous()


class _Bicubic(nn.Module):
    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bicubic_upscale(x, self.scale)


class _CellPiece(nn.Module):
    """A whole cell on ReLU'd inputs, returning its ReLU'd output (as inside the network)."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        return self.cell(s0, s1, relued=True, relu_output=True)


# --------------------------------------------------------------------------------------------------
# Timing


def require_onnxruntime() -> Any:
    """``onnxruntime`` and ``onnxscript`` (the exporter needs it), or one line saying how to get them."""
    try:
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise LatencyTableError(f"the onnxruntime backend needs the 'onnx' extra ({exc.name} is not installed); "
                                "pip install 'hnas[onnx]'") from None
    return onnxruntime


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The dynamo ONNX exporter prints progress and warnings for every export; keep stderr for the bar."""
    level = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(level)


def _onnx_session(module: nn.Module, inputs: Sequence[torch.Tensor], threads: int) -> Any:
    ort = require_onnxruntime()
    from hnas.export import ExportError

    names = [f"x{i}" for i in range(len(inputs))]
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(module.eval(), tuple(inputs), None, dynamo=True, verbose=False,
                                        input_names=names, output_names=["y"])
    except Exception as exc:  # noqa: BLE001  (exporter errors are long; keep the first line)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"ONNX export of a latency piece failed: {first}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(program.model_proto.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _median_ms(call: Callable[[], Any], sync: Callable[[], None], warmup: int, budget_s: float,
               min_repeats: int, max_repeats: int, clock: Callable[[], float] = time.perf_counter,
               statistic: Callable[[list[float]], float] = statistics.median) -> float:
    """Median (or ``statistic``) time of ``call`` (ms) on ``clock``: ``warmup`` untimed calls, then as
    many timed calls as fit in ``budget_s`` (at least ``min_repeats``, at most ``max_repeats``)."""
    for _ in range(warmup):
        call()
    sync()
    times: list[float] = []
    spent = 0.0
    while len(times) < max_repeats and (len(times) < min_repeats or spent < budget_s):
        start = clock()
        call()
        sync()
        elapsed = clock() - start
        times.append(elapsed)
        spent += elapsed
    return 1e3 * statistic(times)


class Timer:
    """Times a module on given inputs under one set of conditions (backend, device, threads)."""

    def __init__(self, backend: Backend = "eager", device: str = "cpu", threads: int = 1, warmup: int = 2,
                 budget_s: float = 0.3, min_repeats: int = 5, max_repeats: int = 200, clock: Clock = "wall",
                 statistic: Statistic = "median") -> None:
        if statistic not in ("median", "min"):
            raise LatencyTableError(f"unknown latency statistic '{statistic}'; use median or min")
        self.statistic: Callable[[list[float]], float] = statistics.median if statistic == "median" else min
        if clock not in ("wall", "cpu"):
            raise LatencyTableError(f"unknown latency clock '{clock}'; use wall or cpu")
        if clock == "cpu" and threads != 1:
            raise LatencyTableError(f"the cpu clock times the calling thread only: use --threads 1 with it, not {threads}")
        self.clock = time.perf_counter if clock == "wall" else time.thread_time
        if backend not in BACKENDS:
            raise LatencyTableError(f"unknown latency backend '{backend}'; use one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.device = resolve_device(device)
        if backend == "onnxruntime" and self.device.type != "cpu":
            raise LatencyTableError("the onnxruntime backend runs on the CPU execution provider: use --device cpu")
        if backend == "onnxruntime":
            require_onnxruntime()
        if clock == "cpu" and self.device.type != "cpu":
            raise LatencyTableError("the cpu clock times CPU work; a CUDA latency needs the wall clock")
        self.threads = threads
        self.warmup, self.budget_s = warmup, budget_s
        self.min_repeats, self.max_repeats = min_repeats, max_repeats

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def inputs(self, shapes: Sequence[tuple[int, ...]], seed: int = 0, scale: float = 1.0) -> list[torch.Tensor]:
        """Random inputs of ``shapes`` on the device, channels-last (as inside the network)."""
        generator = torch.Generator().manual_seed(seed)
        out = []
        for shape in shapes:
            x = torch.rand(shape, generator=generator) * scale
            out.append(x.to(self.device).contiguous(memory_format=torch.channels_last))
        return out

    def time(self, module: nn.Module, inputs: Sequence[torch.Tensor], train: bool = False) -> float:
        """Median ms of one forward (``train``: forward and backward) of ``module`` on ``inputs``."""
        if self.backend == "onnxruntime":
            if train:
                raise LatencyTableError("the onnxruntime backend times inference only; drop --train")
            session = _onnx_session(module.cpu(), [x.cpu() for x in inputs], self.threads)
            feed = {f"x{i}": x.contiguous().numpy() for i, x in enumerate(inputs)}
            return _median_ms(lambda: session.run(None, feed), lambda: None, self.warmup, self.budget_s,
                              self.min_repeats, self.max_repeats, self.clock, self.statistic)
        module = module.to(self.device)
        with num_threads(self.threads if self.device.type == "cpu" else None, only_lower=False):
            if not train:
                module.eval()
                with torch.no_grad():
                    return _median_ms(lambda: module(*inputs), self._sync, self.warmup, self.budget_s,
                                      self.min_repeats, self.max_repeats, self.clock, self.statistic)
            module.train()
            leaves = [x.detach().requires_grad_(True) for x in inputs]

            def step() -> None:
                out = module(*leaves)
                out.backward(torch.ones_like(out))

            return _median_ms(step, self._sync, self.warmup, self.budget_s, self.min_repeats, self.max_repeats,
                              self.clock, self.statistic)


# --------------------------------------------------------------------------------------------------
# What a network is made of


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
    terms: list[tuple[str, int]] = [(stem_key(plan.stem_channels, lr), 1)]
    for layer in plan.layers:
        size = hr if layer.high_resolution else lr
        for cin in layer.in_channels:
            terms.append((preprocess_key(cin, c, size), 1))
        terms.append((sum_key(c, size), nodes))
        terms.append((concat_key(nodes, c, size), 1))
        if layer.kind == "normal":
            for edge in genotype.normal.edges:
                terms.append((op_key("normal", edge.op, c, size), 1))
            terms.append((f"overhead/{'normal_hr' if layer.high_resolution else 'normal_lr'}", 1))
        else:
            for edge in genotype.upsampling.edges:
                if edge.source < 2:
                    terms.append((op_key("upsampling", edge.op, c, lr, s), 1))
                else:
                    terms.append((op_key("upsampling", edge.op, c, hr, 1), 1))
            terms.append(("overhead/upsampling", 1))
    terms.append((tail_key(plan.tail_channels, hr), 1))
    if global_skip == "bicubic":
        terms.append((bicubic_key(s, lr), 1))
    return terms


def predict_latency(table: LatencyTable, genotype: Genotype, global_skip: str = "none", mode: Mode = "forward",
                    breakdown: dict[str, float] | None = None) -> float:
    """Predicted ms of one forward (``mode="train"``: forward + backward) of ``genotype``'s network on
    one ``table.conditions.input`` image: its pieces and per-cell overheads, times the table's
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


# --------------------------------------------------------------------------------------------------
# Building a table


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


def _random_cell(rng: random.Random, ops: Sequence[str], nodes: int) -> CellGenotype:
    edges = [[rng.choice(list(ops)), rng.randrange(node), node] for node in range(2, nodes + 2) for _ in range(2)]
    return CellGenotype.model_validate({"edges": edges})


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
    timer = timer or Timer(conditions.backend, conditions.device, conditions.threads, clock=conditions.clock,
                           statistic=conditions.statistic)
    env = _environment(conditions)
    env["kept_freed_memory"] = kept_freed_memory
    c, s, n = conditions.channels, conditions.scale, conditions.nodes
    lr = conditions.input
    hr = (lr[0] * s, lr[1] * s)
    width = c * n
    op_params: dict[str, dict[str, dict[str, Any]]] = json.loads(conditions.op_params)
    normal_params, up_params = op_params.get("normal", {}), op_params.get("upsampling", {})

    jobs: list[tuple[str, Callable[[], nn.Module], list[tuple[int, ...]]]] = []
    for size in (lr, hr):
        for op in conditions.normal_ops:
            jobs.append((op_key("normal", op, c, size),
                         lambda op=op: _Edge(NORMAL_OPS.build(op, c, **normal_params.get(op, {}))), [(1, c, *size)]))
    for op in conditions.upsampling_ops:
        for scale, size in ((s, lr), (1, hr)):
            jobs.append((op_key("upsampling", op, c, size, scale),
                         lambda op=op, scale=scale: _Edge(UPSAMPLING_OPS.build(op, c, scale, **up_params.get(op, {}))),
                         [(1, c, *size)]))
    for size in (lr, hr):
        jobs.append((preprocess_key(width, c, size), lambda: _Preprocess(width, c), [(1, width, *size)]))
        jobs.append((sum_key(c, size), _Sum, [(1, c, *size)] * 2))
        jobs.append((concat_key(n, c, size), _Concat, [(1, c, *size)] * n))
    jobs.append((stem_key(width, lr), lambda: _Stem(width), [(1, 3, *lr)]))
    jobs.append((tail_key(width, hr), lambda: _Tail(width), [(1, width, *hr)]))
    jobs.append((bicubic_key(s, lr), lambda: _Bicubic(s), [(1, 3, *lr)]))

    rng = random.Random(seed)
    calibration: list[tuple[str, CellGenotype]] = []
    for slot in SLOTS:
        ops = conditions.upsampling_ops if slot == "upsampling" else conditions.normal_ops
        calibration += [(slot, _random_cell(rng, ops, n)) for _ in range(calibration_cells)]

    from hnas.spaces.random import random_genotype

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
            measured = timer.time(module, timer.inputs([(1, width, *size)] * 2, seed), train=train)
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


def write_table(table: LatencyTable, path: str | Path) -> Path:
    """Write ``table`` atomically (a reader never sees half a file)."""
    return atomic_write_json(path, table.model_dump(mode="json"))


# --------------------------------------------------------------------------------------------------
# Measuring a whole network under a table's conditions (validation, ``hnas cost``)


def measure_network(genotype: Genotype, conditions: TableConditions, global_skip: str = "none", seed: int = 0,
                    timer: Timer | None = None, train: bool = False) -> float:
    """Measured median ms of the whole network under ``conditions`` (the prediction's ground truth)."""
    timer = timer or Timer(conditions.backend, conditions.device, conditions.threads, budget_s=0.5,
                           clock=conditions.clock, statistic=conditions.statistic)
    torch.manual_seed(seed)
    model = build_model(genotype, conditions.scale, conditions.channels, global_skip,
                        op_params=json.loads(conditions.op_params))
    image = timer.inputs([(1, 3, *conditions.input)], seed, 255.0)
    image = [x.contiguous() for x in image]
    return timer.time(model, image, train=train)


# --------------------------------------------------------------------------------------------------
# The cost


@lru_cache(maxsize=16)
def _cached_table(path: str, mtime_ns: int, size: int) -> LatencyTable:
    return load_table(path)


def _table_at(path: str | Path) -> LatencyTable:
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return load_table(path)  # raises the one-line "does not exist"
    return _cached_table(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@COSTS.register("latency_table", aliases=("latency_lut",))
class LatencyTableCost(Cost):
    """Latency in ms predicted from a per-op table (``hnas latency build``): microseconds per network.

    ``table``: the table file. ``device``, ``threads``, ``backend``: what the run means to price for;
    when given, a table built otherwise is refused (one line naming the difference). The input,
    scale, channels and op params of the cost settings must be the table's. ``mode = "train"``
    prices forward + backward (a table built with ``--train``).
    """

    name = "latency_table"
    unit = "ms"
    depends_on: ClassVar[tuple[str, ...]] = ("input", "scale", "channels", "global_skip", "op_params")

    def __init__(self, table: str | Path, device: str | None = None, threads: int | None = None,
                 backend: str | None = None, mode: Mode = "forward") -> None:
        if mode not in ("forward", "train"):
            raise LatencyTableError(f"latency_table mode must be 'forward' or 'train', got {mode!r}")
        if backend is not None and backend not in BACKENDS:
            raise LatencyTableError(f"unknown latency backend '{backend}'; use one of {', '.join(BACKENDS)}")
        self.path = Path(table)
        self.table = _table_at(self.path)
        self.mode: Mode = mode
        check_conditions(self.table, f"latency table '{self.path}'", device=device, threads=threads, backend=backend)
        self.table.entries(mode)  # a train-mode cost on a forward-only table fails here

    def check(self, settings: CostSettings) -> None:
        """Refuse settings the table was not built for (input, scale, channels, op params)."""
        check_conditions(self.table, f"latency table '{self.path}'", input=settings.input, scale=settings.scale,
                         channels=settings.channels, op_params=settings.op_params)

    def cache_token(self) -> tuple[str, str, str]:
        return ("latency_table", self.table.digest(), self.mode)

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        self.check(settings)
        return predict_latency(self.table, genotype, settings.global_skip, self.mode)

    def reward_normaliser(self, settings: CostSettings) -> float:
        """The ms this device spends on the MACs that weigh one dB (``macs`` normaliser) at the rate
        of its plain 3x3 convolution on the LR input: a network of plain convolutions is then
        priced as under ``macs``, and one of slower ops pays for the time they take."""
        c = self.table.conditions
        key = op_key("normal", "conv_3x3", c.channels, c.input)
        ms = self.table.forward.get(key)
        if ms is None:
            raise LatencyTableError("the joint reward's default normaliser for latency_table needs conv_3x3 in the "
                                    "table's normal ops; add it, or give reward params.normaliser (ms worth one dB)")
        macs = c.channels * c.channels * 9 * c.input[0] * c.input[1]
        return macs_normaliser(settings.input) * ms / macs

    def __repr__(self) -> str:
        return f"LatencyTableCost({str(self.path)!r}, mode={self.mode!r})"
