"""The pieces a table times: their keys, and the modules that run one piece alone."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hnas.models.cells import ReLUConv1x1
from hnas.models.layout import DIV2K_RGB_MEAN, MeanShift, bicubic_upscale
from hnas.ops.fast import FewOutputConv2d, concat


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


