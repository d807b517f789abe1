"""The HNAS network layout, written once: stem, L cells (one of them upsampling), tail, skip.

Paper Sec. II-A and Fig. 1(a); HNAS-REFERENCE.md, "Derived network". The derived network
(:class:`~hnas.models.network.HNASNet`), the weight-sharing supernet
(:class:`~hnas.search.supernet.SuperNet`) and the cost count (:mod:`hnas.costs.network`) all walk
the layout through this module, so the three cannot drift apart:

* :func:`plan_network` says which cell runs at each layer, with which input widths and at which
  resolution (what the cost count and the constructors need);
* :class:`LayeredSR` owns the stem, the tail, the DIV2K mean shift and the optional bicubic skip,
  and runs the layers (what both forwards need); a subclass says how to run the cell at a layer.

Wiring (the authors'): both inputs of the first cell are the stem output; an ordinary layer shifts
``s0, s1 <- s1, cell(s0, s1)``; the upsampling layer feeds its output to *both* inputs of the next
cell. One option beyond the paper: ``global_skip="bicubic"`` adds the bicubically upscaled input
to the output and zero-initialises the tail, so an untrained network starts exactly at bicubic
quality and learns only the residual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from hnas.ops.fast import FewOutputConv2d

#: DIV2K training-set RGB mean (0..1), as EDSR/RCAN/HNAS subtract it.
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
GLOBAL_SKIPS = ("none", "bicubic")
GlobalSkip = Literal["none", "bicubic"]


@dataclass(frozen=True)
class LayerPlan:
    """One layer: its cell kind, input widths ``(s0, s1)``, output width, and whether it runs on
    the upsampled (high-resolution) maps."""

    index: int
    kind: str  # "normal" | "upsampling"
    in_channels: tuple[int, int]
    out_channels: int
    high_resolution: bool


@dataclass(frozen=True)
class NetworkPlan:
    """Every layer of a network, the stem's output width and the tail's input width."""

    stem_channels: int
    layers: tuple[LayerPlan, ...]
    tail_channels: int
    upsample_index: int


def plan_network(layers: int, position: int, normal_width: int, upsampling_width: int) -> NetworkPlan:
    """The layout of a network with ``layers`` cells and the upsampling cell at ``position``
    (1-based); ``*_width`` are the output widths of the two cell types (``nodes * C`` for the
    paper's concatenating cells). The stem is as wide as a normal cell's output."""
    if not 1 <= position <= layers:
        raise ValueError(f"upsampling position {position} is outside 1..{layers}")
    plans = []
    c_prev_prev = c_prev = normal_width
    high = False
    for index in range(layers):
        if index == position - 1:
            plans.append(LayerPlan(index, "upsampling", (c_prev_prev, c_prev), upsampling_width, high))
            c_prev_prev = c_prev = upsampling_width
            high = True
        else:
            plans.append(LayerPlan(index, "normal", (c_prev_prev, c_prev), normal_width, high))
            c_prev_prev, c_prev = c_prev, normal_width
    return NetworkPlan(normal_width, tuple(plans), c_prev, position - 1)


class MeanShift(nn.Module):
    """Adds ``sign * mean * rgb_range`` per channel (a buffer, not a parameter)."""

    def __init__(self, mean: tuple[float, ...], rgb_range: float, sign: float) -> None:
        super().__init__()
        # Scaled in Python: tensor arithmetic on the meta device (where a checkpoint's header is
        # checked) goes through torch's Python references, which import torch._dynamo and sympy.
        shift = torch.tensor([sign * rgb_range * m for m in mean]).view(1, -1, 1, 1)
        self.register_buffer("shift", shift, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift.to(x.dtype)


def bicubic_upscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The global skip's upscale (torch's bicubic; cheap, and only a starting point to learn from)."""
    return F.interpolate(x, scale_factor=float(scale), mode="bicubic", align_corners=False)


#: ``run_cell(index, r0, r1, relu_output) -> output``: the cell at layer ``index`` on ReLU'd inputs.
RunCell = Callable[[int, torch.Tensor, torch.Tensor, bool], torch.Tensor]


class LayeredSR(nn.Module):
    """Stem, tail, mean shift and skip of an HNAS network, and the loop over its layers.

    Images are float tensors in 0..255 (``rgb_range``), the convention of EDSR/RCAN and of the
    authors' code; the DIV2K RGB mean is subtracted at the input and added back at the output.
    A subclass builds its cells after ``__init__`` and then calls :meth:`build_tail` (modules are
    created in forward order, so a seed initialises the same layers the same way).
    """

    def __init__(
        self,
        stem_channels: int,
        scale: int,
        global_skip: GlobalSkip = "none",
        rgb_range: float = 255.0,
        rgb_mean: tuple[float, float, float] = DIV2K_RGB_MEAN,
    ) -> None:
        super().__init__()
        if not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        if global_skip not in GLOBAL_SKIPS:
            raise ValueError(f"global_skip must be one of {GLOBAL_SKIPS}, got {global_skip!r}")
        self.scale = scale
        self.global_skip = global_skip
        self.rgb_range = rgb_range
        self.sub_mean = MeanShift(rgb_mean, rgb_range, -1.0)
        self.add_mean = MeanShift(rgb_mean, rgb_range, 1.0)
        self.stem = nn.Conv2d(3, stem_channels, 3, padding=1, bias=False)

    def build_tail(self, tail_channels: int) -> None:
        """The last 3x3 convolution to RGB; zero with the bicubic skip (the net starts at bicubic)."""
        self.tail = FewOutputConv2d(tail_channels, 3, 3, padding=1, bias=True)
        if self.global_skip == "bicubic":
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def run_layers(self, x: torch.Tensor, layers: int, upsample_index: int, run_cell: RunCell) -> torch.Tensor:
        """The whole forward around ``run_cell``.

        Channels-last inside (depthwise and small convolutions run several times faster in that
        layout on CPU, forward and backward), the usual contiguous layout out. Each cell output is
        read by the input preprocessing of the next two cells, and both start with a ReLU; it is
        computed once, by the cell that produces the output (``relu_output``), except for the last
        cell, which the tail reads unrectified.
        """
        x = x.contiguous(memory_format=torch.channels_last)
        r0 = r1 = F.relu(self.stem(self.sub_mean(x)))
        last = layers - 1
        for index in range(layers):
            out = run_cell(index, r0, r1, index != last)
            if index == upsample_index:
                r0 = r1 = out
            else:
                r0, r1 = r1, out
        out = self.tail(r1)
        if self.global_skip == "bicubic":
            out = out + bicubic_upscale(x, self.scale)
        else:
            out = self.add_mean(out)
        return out.contiguous()
