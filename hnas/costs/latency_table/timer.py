"""Timing one module under a table's conditions: eager PyTorch (CPU or CUDA) or ONNX Runtime."""

from __future__ import annotations

import contextlib
import io
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from hnas.costs.latency_table.table import (
    BACKENDS,
    Backend,
    Clock,
    LatencyTableError,
    Precision,
    Statistic,
    TableConditions,
)
from hnas.utils.device import resolve_device
from hnas.utils.threads import num_threads


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
                 statistic: Statistic = "median", precision: Precision = "fp32") -> None:
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
        if precision not in ("fp32", "bf16"):
            raise LatencyTableError(f"unknown latency precision '{precision}'; use fp32 or bf16")
        if precision == "bf16" and backend != "eager":
            raise LatencyTableError("bf16 is timed under PyTorch autocast: use --backend eager with --precision bf16")
        self.backend = backend
        self.device = resolve_device(device)
        if backend == "onnxruntime" and self.device.type != "cpu":
            raise LatencyTableError("the onnxruntime backend runs on the CPU execution provider: use --device cpu")
        if backend == "onnxruntime":
            require_onnxruntime()
        if clock == "cpu" and self.device.type != "cpu":
            raise LatencyTableError("the cpu clock times CPU work; a CUDA latency needs the wall clock")
        self.precision = precision
        self.threads = threads
        self.warmup, self.budget_s = warmup, budget_s
        self.min_repeats, self.max_repeats = min_repeats, max_repeats

    @classmethod
    def for_conditions(cls, conditions: TableConditions, **budget: Any) -> Timer:
        """A timer under every timing condition of a table (backend, device, threads, clock, statistic,
        precision), so a condition added to tables is honoured wherever one is timed; ``budget``:
        warm-up and repeat settings."""
        return cls(conditions.backend, conditions.device, conditions.threads, clock=conditions.clock,
                   statistic=conditions.statistic, precision=conditions.precision, **budget)

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
        autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16) if self.precision == "bf16"
                    else contextlib.nullcontext())
        with num_threads(self.threads if self.device.type == "cpu" else None, only_lower=False), autocast:
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


