"""Every cost of one architecture, with the settings that make it meaningful (``hnas cost``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from hnas.costs.builtin import PAPER_INPUT
from hnas.costs.latency import DEFAULT_GRAD_MODE, GradMode, LatencyResult, measure_latency
from hnas.costs.network import count_network
from hnas.costs.settings import CostSettings
from hnas.spaces.resolve import GenotypeLike, resolve_genotype


class CostReport(BaseModel):
    """MACs (with their breakdown), parameters, the paper's FLOPs and optionally latency."""

    model_config = ConfigDict(frozen=True)

    genotype_hash: str
    input: tuple[int, int]
    scale: int
    channels: int
    global_skip: str
    macs: int
    macs_by_kind: dict[str, int]
    params: int
    paper_gflops: float
    latency_ms: float | None = None
    latency: LatencyResult | None = None

    def summary(self) -> dict[str, Any]:
        """The compact form ``hnas cost --json`` prints (the MACs split as the table shows it)."""
        return {
            "macs": self.macs,
            "params": self.params,
            "paper_gflops": round(self.paper_gflops, 6),
            "latency_ms": self.latency_ms,
            "input": list(self.input),
            "scale": self.scale,
            "channels": self.channels,
            "global_skip": self.global_skip,
            "macs_by_kind": dict(self.macs_by_kind),
            "genotype_hash": self.genotype_hash,
        }


def measure(
    genotype: GenotypeLike,
    settings: CostSettings | None = None,
    *,
    latency: bool = False,
    grad_mode: GradMode = DEFAULT_GRAD_MODE,
    **overrides: Any,
) -> CostReport:
    """All costs of ``genotype`` (a Genotype, preset name or file) under ``settings``/``overrides``.

    ``measure("hnas-a", channels=64, input="480x480", latency=True)``. Not cached: this is the
    one-off report; the search prices genotypes through the cached costs (``cost_of``).
    """
    settings = CostSettings.make(settings, **overrides)
    genotype = resolve_genotype(genotype)
    count = count_network(genotype, settings.scale, settings.channels, settings.input, settings.global_skip,
                          op_params=settings.op_params)
    paper = count_network(genotype, settings.scale, settings.channels, PAPER_INPUT, op_params=settings.op_params)
    timing = measure_latency(genotype, settings, grad_mode) if latency else None
    return CostReport(
        genotype_hash=genotype.hash(),
        input=settings.input,
        scale=settings.scale,
        channels=settings.channels,
        global_skip=settings.global_skip,
        macs=count.macs.total,
        macs_by_kind=count.macs.as_dict(),
        params=count.params,
        paper_gflops=paper.macs.convolution * 1e-8,
        latency_ms=timing.median_ms if timing else None,
        latency=timing,
    )
