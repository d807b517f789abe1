"""The derived HNAS network: stem, L cells (one of them upsampling), tail, mean shift.

Layout as in HNAS-REFERENCE.md. Images are float tensors in 0..255 (``rgb_range``), the convention
of EDSR/RCAN and of the authors' code; the DIV2K RGB mean is subtracted at the input and added back
at the output.

One option beyond the paper: ``global_skip="bicubic"`` adds the bicubically upscaled input to the
output and zero-initialises the tail, so an untrained network starts exactly at bicubic quality and
learns only the residual. That matters on small budgets (a few thousand CPU iterations).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from hnas.models.cells import NormalCell, UpsamplingCell
from hnas.spaces.genotype import Genotype
from hnas.spaces.resolve import GenotypeLike, resolve_genotype

#: DIV2K training-set RGB mean (0..1), as EDSR/RCAN/HNAS subtract it.
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
GLOBAL_SKIPS = ("none", "bicubic")
GlobalSkip = Literal["none", "bicubic"]


class MeanShift(nn.Module):
    """Adds ``sign * mean * rgb_range`` per channel (a buffer, not a parameter)."""

    def __init__(self, mean: tuple[float, ...], rgb_range: float, sign: float) -> None:
        super().__init__()
        self.register_buffer("shift", sign * rgb_range * torch.tensor(mean).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift.to(x.dtype)


class HNASNet(nn.Module):
    """A fixed HNAS architecture: ``forward`` maps N x 3 x H x W to N x 3 x sH x sW."""

    def __init__(
        self,
        genotype: Genotype,
        scale: int = 2,
        channels: int = 64,
        global_skip: GlobalSkip = "none",
        rgb_range: float = 255.0,
        rgb_mean: tuple[float, float, float] = DIV2K_RGB_MEAN,
    ) -> None:
        super().__init__()
        if not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        if global_skip not in GLOBAL_SKIPS:
            raise ValueError(f"global_skip must be one of {GLOBAL_SKIPS}, got {global_skip!r}")
        self.genotype = genotype
        self.scale = scale
        self.channels = channels
        self.global_skip = global_skip
        self.rgb_range = rgb_range
        self.upsample_index = genotype.position - 1

        multiplier = genotype.normal.nodes
        stem_channels = multiplier * channels
        self.sub_mean = MeanShift(rgb_mean, rgb_range, -1.0)
        self.stem = nn.Conv2d(3, stem_channels, 3, padding=1, bias=False)
        cells: list[nn.Module] = []
        c_prev_prev = c_prev = stem_channels
        for index in range(genotype.layers):
            if index == self.upsample_index:
                cell: nn.Module = UpsamplingCell(genotype.upsampling, (c_prev_prev, c_prev), channels, scale)
                c_prev_prev = c_prev = cell.out_channels
            else:
                cell = NormalCell(genotype.normal, (c_prev_prev, c_prev), channels)
                c_prev_prev, c_prev = c_prev, cell.out_channels
            cells.append(cell)
        self.cells = nn.ModuleList(cells)
        self.tail = nn.Conv2d(c_prev, 3, 3, padding=1, bias=True)
        if global_skip == "bicubic":
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)
        self.add_mean = MeanShift(rgb_mean, rgb_range, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last inside (depthwise and small convolutions run several times faster on CPU in
        that layout), the usual contiguous layout out. Each cell output is ReLU'd once for the two
        cells that read it (:meth:`~hnas.models.cells.Cell.forward`); the last one, read by the
        tail, is not."""
        x = x.contiguous(memory_format=torch.channels_last)
        r0 = r1 = F.relu(self.stem(self.sub_mean(x)))
        last = len(self.cells) - 1
        for index, cell in enumerate(self.cells):
            out = cell(r0, r1, relued=True, relu_output=index != last)
            if index == self.upsample_index:
                r0 = r1 = out
            else:
                r0, r1 = r1, out
        out = self.tail(r1)
        if self.global_skip == "bicubic":
            out = out + F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)
        else:
            out = self.add_mean(out)
        return out.contiguous()

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this network (what checkpoints store as metadata)."""
        return {
            "genotype": self.genotype.to_dict(),
            "scale": self.scale,
            "channels": self.channels,
            "global_skip": self.global_skip,
            "rgb_range": self.rgb_range,
        }


def build_model(
    genotype: GenotypeLike,
    scale: int = 2,
    channels: int = 64,
    global_skip: GlobalSkip = "none",
    **kwargs: Any,
) -> HNASNet:
    """Build the derived network for a genotype, a preset name (``"hnas-a"``) or a genotype file.

    Returns a plain ``nn.Module`` with no search code: use it like any other SR model.
    """
    return HNASNet(resolve_genotype(genotype), scale=scale, channels=channels, global_skip=global_skip, **kwargs)
