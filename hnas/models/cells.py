"""Derived (fixed-architecture) cells: a genotype's DAG made into a plain ``nn.Module``.

Paper Sec. II-A and Fig. 2: the two cell inputs pass through ReLU and a 1x1 convolution to C
channels, every intermediate node sums its two edges, and the cell output concatenates the
intermediate nodes (``nodes * C`` channels). The upsampling cell differs only in its ops: edges
leaving an input node upsample by ``scale``, edges between intermediate nodes (already at high
resolution) use the op's stride-1 form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hnas.ops.fast import PointwiseConv2d, concat, run_node
from hnas.registry import CELLS, NORMAL_OPS, UPSAMPLING_OPS
from hnas.spaces.genotype import CellGenotype, Edge


class ReLUConv1x1(nn.Sequential):
    """Cell-input preprocessing: ReLU then a bias-free 1x1 convolution (optionally BN for search)."""

    def __init__(self, in_channels: int, out_channels: int, search: bool = False) -> None:
        layers: list[nn.Module] = [nn.ReLU(inplace=False), PointwiseConv2d(in_channels, out_channels, bias=False)]
        if search:
            layers.append(nn.BatchNorm2d(out_channels, affine=False, track_running_stats=False))
        super().__init__(*layers)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after the ReLU, for an input that is already ReLU'd (shared by two cells)."""
        for index, layer in enumerate(self):
            if index > 0:
                x = layer(x)
        return x


class Node(nn.Module):
    """One intermediate node: the sum of two ops applied to two earlier nodes."""

    def __init__(self, op_a: nn.Module, source_a: int, op_b: nn.Module, source_b: int) -> None:
        super().__init__()
        self.op_a, self.op_b = op_a, op_b
        self.source_a, self.source_b = source_a, source_b

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        return self.op_a(states[self.source_a]) + self.op_b(states[self.source_b])


class Cell(nn.Module):
    """A derived cell built from a :class:`CellGenotype` and a function making each edge's op."""

    def __init__(
        self,
        genotype: CellGenotype,
        in_channels: tuple[int, int],
        channels: int,
        make_op: Callable[[Edge], nn.Module],
    ) -> None:
        super().__init__()
        self.genotype = genotype
        self.preprocess0 = ReLUConv1x1(in_channels[0], channels)
        self.preprocess1 = ReLUConv1x1(in_channels[1], channels)
        nodes = []
        for node in range(2, genotype.nodes + 2):
            a, b = genotype.node_edges(node)
            nodes.append(Node(make_op(a), a.source, make_op(b), b.source))
        self.nodes = nn.ModuleList(nodes)
        self.out_channels = channels * genotype.nodes

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, relued: bool = False, relu_output: bool = False
    ) -> torch.Tensor:
        """The cell on inputs ``s0``, ``s1``; ``relued``: they are already ReLU'd; ``relu_output``:
        return the ReLU of the output.

        Every cell output is read by the preprocessing of the next two cells, and both start with
        a ReLU; :class:`~hnas.models.network.HNASNet` computes that ReLU once, in the pass that
        concatenates the nodes, instead of twice on the widest tensors of the network (so hooks on
        its cells see ReLU'd inputs).
        """
        if not relued:
            s0, s1 = F.relu(s0), F.relu(s1)
        states = [self.preprocess0.project(s0), self.preprocess1.project(s1)]
        if not torch.jit.is_scripting():  # perf (issue #14): edges reading one node share its ReLU
            memo: dict[Any, torch.Tensor] = {}
            for node in self.nodes:
                states.append(run_node(node.op_a, node.source_a, node.op_b, node.source_b, states, memo))
            return concat(states[2:], relu_output)
        for node in self.nodes:
            states.append(node(states))
        return concat(states[2:], relu_output)


@CELLS.register("normal")
class NormalCell(Cell):
    """Normal cell: keeps the spatial size; ops from ``NORMAL_OPS``."""

    def __init__(
        self, genotype: CellGenotype, in_channels: tuple[int, int], channels: int, **op_kwargs: Any
    ) -> None:
        super().__init__(
            genotype, in_channels, channels, lambda edge: NORMAL_OPS.build(edge.op, channels, **op_kwargs)
        )


@CELLS.register("upsampling")
class UpsamplingCell(Cell):
    """Upsampling cell: multiplies the spatial size by ``scale``; ops from ``UPSAMPLING_OPS``."""

    def __init__(
        self,
        genotype: CellGenotype,
        in_channels: tuple[int, int],
        channels: int,
        scale: int = 2,
        **op_kwargs: Any,
    ) -> None:
        def make_op(edge: Edge) -> nn.Module:
            edge_scale = scale if edge.source < 2 else 1
            return UPSAMPLING_OPS.build(edge.op, channels, edge_scale, **op_kwargs)

        super().__init__(genotype, in_channels, channels, make_op)
        self.scale = scale
