"""The two-branch weight-sharing super network (paper Sec. II-A, Fig. 1(a)).

Every layer holds a normal cell and an upsampling cell, and every possible edge of each cell
(every earlier node into every intermediate node) holds every candidate op. A forward pass takes a
sampled :class:`~hnas.spaces.genotype.Genotype` and runs only the ops that genotype chooses, at
only the layer that it upsamples at, so its cost is that of the derived network at search width.

Search-mode ops carry BatchNorm(affine=False) as the authors did, and always normalise with batch
statistics: each sampled architecture produces different feature statistics, so running averages
shared by all of them would be wrong for every one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hnas.models.cells import ReLUConv1x1
from hnas.models.network import DIV2K_RGB_MEAN, MeanShift
from hnas.ops.fast import concat, run_edge
from hnas.registry import CELLS, NORMAL_OPS, UPSAMPLING_OPS
from hnas.spaces.genotype import CellGenotype, Genotype


def _key(target: int, source: int, op: str) -> str:
    return f"{target}_{source}_{op}"


class SearchCell(nn.Module):
    """A cell whose every candidate edge exists; ``forward`` runs the edges a genotype picks."""

    def __init__(
        self,
        ops: Sequence[str],
        nodes: int,
        in_channels: int,
        channels: int,
        make_op: Callable[[str, int], nn.Module],
    ) -> None:
        super().__init__()
        self.nodes = nodes
        self.ops = list(ops)
        self.preprocess0 = ReLUConv1x1(in_channels, channels, search=True)
        self.preprocess1 = ReLUConv1x1(in_channels, channels, search=True)
        self.edges = nn.ModuleDict(
            {
                _key(target, source, op): make_op(op, source)
                for target in range(2, nodes + 2)
                for source in range(target)
                for op in self.ops
            }
        )
        self.out_channels = channels * nodes

    def forward(
        self,
        s0: torch.Tensor,
        s1: torch.Tensor,
        genotype: CellGenotype,
        relued: bool = False,
        relu_output: bool = False,
    ) -> torch.Tensor:
        """``relued``/``relu_output`` as in :meth:`hnas.models.cells.Cell.forward`: the supernet
        ReLUs each cell output once for the two cells that read it."""
        if genotype.nodes != self.nodes:
            raise ValueError(f"genotype has {genotype.nodes} nodes, the supernet {self.nodes}")
        if not relued:
            s0, s1 = F.relu(s0), F.relu(s1)
        states = [self.preprocess0.project(s0), self.preprocess1.project(s1)]
        memo: dict[Any, torch.Tensor] = {}  # perf (issue #14): edges reading one node share its ReLU
        for node in range(2, self.nodes + 2):
            a, b = genotype.node_edges(node)
            out_a = run_edge(self.edges[_key(node, a.source, a.op)], states, a.source, memo)
            # Two identical edges share weights, so the second is the same tensor: compute once.
            out_b = out_a if (a.source, a.op) == (b.source, b.op) else run_edge(
                self.edges[_key(node, b.source, b.op)], states, b.source, memo
            )
            states.append(out_a + out_b)
        return concat(states[2:], relu_output)

    def used_parameters(self, genotype: CellGenotype) -> list[nn.Parameter]:
        """Parameters a forward with ``genotype`` touches (for optimisers and DDP bookkeeping)."""
        params = [*self.preprocess0.parameters(), *self.preprocess1.parameters()]
        for edge in genotype.edges:
            params += list(self.edges[_key(edge.target, edge.source, edge.op)].parameters())
        return params


@CELLS.register("search_normal")
def search_normal_cell(ops: Sequence[str], nodes: int, in_channels: int, channels: int) -> SearchCell:
    """Weight-sharing normal cell with every candidate normal op on every edge."""
    return SearchCell(ops, nodes, in_channels, channels, lambda op, source: NORMAL_OPS.build(op, channels, search=True))


@CELLS.register("search_upsampling")
def search_upsampling_cell(
    ops: Sequence[str], nodes: int, in_channels: int, channels: int, scale: int
) -> SearchCell:
    """Weight-sharing upsampling cell; edges from the inputs upsample, later edges are stride 1."""
    return SearchCell(
        ops,
        nodes,
        in_channels,
        channels,
        lambda op, source: UPSAMPLING_OPS.build(op, channels, scale if source < 2 else 1, search=True),
    )


class SuperNet(nn.Module):
    """Stem, L layers of (normal cell, upsampling cell), tail; shared by every architecture."""

    def __init__(
        self,
        normal_ops: Sequence[str],
        upsampling_ops: Sequence[str],
        *,
        layers: int = 12,
        nodes: int = 4,
        channels: int = 8,
        scale: int = 2,
        global_skip: str = "none",
        rgb_range: float = 255.0,
    ) -> None:
        super().__init__()
        self.normal_ops = [NORMAL_OPS.canonical(op) for op in normal_ops]
        self.upsampling_ops = [UPSAMPLING_OPS.canonical(op) for op in upsampling_ops]
        self.layers, self.nodes, self.channels, self.scale = layers, nodes, channels, scale
        self.global_skip = global_skip
        width = nodes * channels
        self.sub_mean = MeanShift(DIV2K_RGB_MEAN, rgb_range, -1.0)
        self.add_mean = MeanShift(DIV2K_RGB_MEAN, rgb_range, 1.0)
        self.stem = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.normal_cells = nn.ModuleList(
            [CELLS.build("search_normal", self.normal_ops, nodes, width, channels) for _ in range(layers)]
        )
        self.upsampling_cells = nn.ModuleList(
            [
                CELLS.build("search_upsampling", self.upsampling_ops, nodes, width, channels, scale)
                for _ in range(layers)
            ]
        )
        self.tail = nn.Conv2d(width, 3, 3, padding=1, bias=True)
        if global_skip == "bicubic":
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def check(self, genotype: Genotype) -> None:
        """Raise if ``genotype`` is not an architecture of this supernet's space."""
        if genotype.layers != self.layers:
            raise ValueError(f"genotype has {genotype.layers} layers, the supernet {self.layers}")
        for cell, ops in ((genotype.normal, self.normal_ops), (genotype.upsampling, self.upsampling_ops)):
            for edge in cell.edges:
                if edge.op not in ops:
                    raise ValueError(f"op '{edge.op}' is not in this supernet's search space {ops}")

    def forward(self, x: torch.Tensor, genotype: Genotype) -> torch.Tensor:
        """As :meth:`hnas.models.network.HNASNet.forward`: channels-last inside (the depthwise and
        8-channel convolutions of the search width are several times faster in that layout on CPU,
        forward and backward), each cell output ReLU'd once, the contiguous layout out."""
        x = x.contiguous(memory_format=torch.channels_last)
        r0 = r1 = F.relu(self.stem(self.sub_mean(x)))
        up = genotype.position - 1
        last = self.layers - 1
        for index in range(self.layers):
            relu_out = index != last
            if index == up:
                r0 = r1 = self.upsampling_cells[index](r0, r1, genotype.upsampling, relued=True, relu_output=relu_out)
            else:
                r0, r1 = r1, self.normal_cells[index](r0, r1, genotype.normal, relued=True, relu_output=relu_out)
        out = self.tail(r1)
        if self.global_skip == "bicubic":
            out = out + F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)
        else:
            out = self.add_mean(out)
        return out.contiguous()

    def used_parameters(self, genotype: Genotype) -> list[nn.Parameter]:
        params = [*self.stem.parameters(), *self.tail.parameters()]
        for index in range(self.layers):
            if index == genotype.position - 1:
                params += self.upsampling_cells[index].used_parameters(genotype.upsampling)
            else:
                params += self.normal_cells[index].used_parameters(genotype.normal)
        return params
