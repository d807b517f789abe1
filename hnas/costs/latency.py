"""Wall-clock latency of a derived network: the cost that MACs only approximate.

MACs ignore memory traffic and the many cheap ops of a cell (node sums, concatenations,
interpolations), which dominate the run time of narrow networks; where the deployment target is
known, the measured time is the honest cost (MnasNet's argument, Tan et al., CVPR 2019). The
result is only comparable under the same settings, so all of them are returned with it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict

from hnas.costs.settings import CostSettings
from hnas.models.network import build_model
from hnas.spaces.genotype import Genotype
from hnas.utils.device import resolve_device
from hnas.utils.threads import num_threads

GradMode = Literal["no_grad", "inference_mode"]

#: Measured on this torch (2.x, CPU, one thread; HNAS-A/C at C = 8 and HNAS-B at C = 32, 48 x 48,
#: eight interleaved rounds): ``inference_mode`` / ``no_grad`` median time ratios of 1.010, 0.991
#: and 1.004, i.e. no difference beyond noise. Latency therefore uses ``no_grad``, the mode hnas
#: evaluates under, and records it; ``LatencyCost(grad_mode="inference_mode")`` is the other.
DEFAULT_GRAD_MODE: GradMode = "no_grad"

_GRAD_MODES: dict[str, Callable[[], AbstractContextManager[object]]] = {
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
}


class LatencyResult(BaseModel):
    """A median forward time and everything it was measured under."""

    model_config = ConfigDict(frozen=True)

    median_ms: float
    device: str
    threads: int
    repeats: int
    warmup: int
    input: tuple[int, int]
    batch: int
    grad_mode: GradMode
    torch_version: str


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency(
    genotype: Genotype, settings: CostSettings, grad_mode: GradMode = DEFAULT_GRAD_MODE, seed: int = 0
) -> LatencyResult:
    """Median wall time (ms) of ``settings.repeats`` forward passes after ``settings.warmup`` ones.

    The network has real (randomly initialised) weights on ``settings.device``; the input is a
    ``batch x 3 x H x W`` image in 0..255. CPU runs use ``settings.threads`` intra-op threads
    (default: torch's current setting) and restore the previous number afterwards.
    """
    device = resolve_device(settings.device)
    with num_threads(settings.threads if device.type == "cpu" else None, only_lower=False) as threads:
        generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(genotype, settings.scale, settings.channels, settings.global_skip,
                                op_params=settings.op_params_dict)
        model = model.to(device).eval()
        image = (torch.rand(settings.batch, 3, *settings.input, generator=generator) * 255).to(device)
        times: list[float] = []
        with _GRAD_MODES[grad_mode]():
            for _ in range(settings.warmup):
                model(image)
            _synchronize(device)
            for _ in range(settings.repeats):
                start = time.perf_counter()
                model(image)
                _synchronize(device)
                times.append(time.perf_counter() - start)
    return LatencyResult(
        median_ms=1e3 * statistics.median(times),
        device=str(device),
        threads=threads,
        repeats=settings.repeats,
        warmup=settings.warmup,
        input=settings.input,
        batch=settings.batch,
        grad_mode=grad_mode,
        torch_version=torch.__version__,
    )
