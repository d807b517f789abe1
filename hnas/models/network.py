"""The derived HNAS network: a genotype made into a plain ``nn.Module`` with no search code.

Layout (stem, L cells, tail, mean shift, optional bicubic skip) in :mod:`hnas.models.layout`; cells
of the types the genotype names (:mod:`hnas.models.cells`). The settings of ops configured as
``{type, params}`` in a spec (e.g. ``{"normal": {"rcab": {"reduction": 16}}}``) travel in the
genotype (:attr:`Genotype.op_params`); an ``op_params`` argument is laid over them, and the
network's ``genotype`` then carries the result, so what a run saves rebuilds exactly its network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from hnas.models.cells import OpParams, build_cell, cell_class
from hnas.models.layout import DIV2K_RGB_MEAN, GLOBAL_SKIPS, GlobalSkip, LayeredSR, MeanShift, plan_network
from hnas.spaces.genotype import Genotype
from hnas.spaces.resolve import GenotypeLike, resolve_genotype

__all__ = ["DIV2K_RGB_MEAN", "GLOBAL_SKIPS", "GlobalSkip", "HNASNet", "MeanShift", "NetworkOpParams", "build_model"]

#: Op settings per cell kind: ``{"normal": {op: params}, "upsampling": {op: params}}``.
NetworkOpParams = Mapping[str, OpParams]


def clean_op_params(op_params: NetworkOpParams | None) -> dict[str, dict[str, dict[str, Any]]]:
    """``op_params`` as plain dicts with only non-empty entries (a canonical form for metadata)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, ops in (op_params or {}).items():
        if kind not in ("normal", "upsampling"):
            raise ValueError(f"op_params keys are 'normal' and 'upsampling', got {kind!r}")
        kept = {op: dict(values) for op, values in ops.items() if values}
        if kept:
            out[kind] = kept
    return out


class HNASNet(LayeredSR):
    """A fixed HNAS architecture: ``forward`` maps N x 3 x H x W to N x 3 x sH x sW."""

    def __init__(
        self,
        genotype: Genotype,
        scale: int = 2,
        channels: int = 64,
        global_skip: GlobalSkip = "none",
        rgb_range: float = 255.0,
        rgb_mean: tuple[float, float, float] = DIV2K_RGB_MEAN,
        op_params: NetworkOpParams | None = None,
    ) -> None:
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        normal_type = cell_class(genotype.normal_cell, "normal")
        upsampling_type = cell_class(genotype.upsampling_cell, "upsampling")
        plan = plan_network(
            genotype.layers,
            genotype.position,
            normal_type.output_width(channels, genotype.normal.nodes),
            upsampling_type.output_width(channels, genotype.upsampling.nodes),
        )
        super().__init__(plan.stem_channels, scale, global_skip, rgb_range, rgb_mean)
        self.genotype = genotype.with_op_params(clean_op_params(op_params))
        self.channels = channels
        self.op_params = self.genotype.op_params
        self.upsample_index = plan.upsample_index
        self.cells = torch.nn.ModuleList(
            build_cell(
                genotype.normal_cell if layer.kind == "normal" else genotype.upsampling_cell,
                layer.kind,
                layer.in_channels,
                channels,
                genotype.normal if layer.kind == "normal" else genotype.upsampling,
                scale=scale,
                op_params=self.op_params.get(layer.kind),
            )
            for layer in plan.layers
        )
        self.build_tail(plan.tail_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cells = self.cells
        return self.run_layers(
            x,
            len(cells),
            self.upsample_index,
            lambda index, r0, r1, relu_out: cells[index](r0, r1, relued=True, relu_output=relu_out),
        )

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this network (what checkpoints store as metadata)."""
        config = {
            "genotype": self.genotype.to_dict(),
            "scale": self.scale,
            "channels": self.channels,
            "global_skip": self.global_skip,
            "rgb_range": self.rgb_range,
        }
        if self.op_params:
            config["op_params"] = self.op_params
        return config


def build_model(
    genotype: GenotypeLike,
    scale: int | None = None,
    channels: int | None = None,
    global_skip: GlobalSkip | None = None,
    **kwargs: Any,
) -> HNASNet:
    """Build the derived network for a genotype, a preset name (``"hnas-a"``), a genotype file or a
    run folder (untrained; :func:`hnas.load_model` loads a run's weights).

    A run folder gives the scale, width and global skip of the network it trained; otherwise they
    default to x2, 64 channels and no skip. Arguments given take precedence. Returns a plain
    ``nn.Module`` with no search code: use it like any other SR model.
    """
    from pathlib import Path

    if isinstance(genotype, (str, Path)) and Path(genotype).is_dir():
        from hnas.engine.runs import run_network

        run = run_network(genotype)
        genotype = run.genotype
        scale = run.scale if scale is None else scale
        channels = run.channels if channels is None else channels
        global_skip = run.global_skip if global_skip is None else global_skip  # type: ignore[assignment]
    return HNASNet(resolve_genotype(genotype), scale=2 if scale is None else scale,
                   channels=64 if channels is None else channels, global_skip=global_skip or "none", **kwargs)
