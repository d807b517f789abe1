"""HNAS cells: one class per cell type, used by the derived network, the supernet and the cost count.

Paper Sec. II-A and Fig. 2: the two cell inputs pass through ReLU and a 1x1 convolution to C
channels, every intermediate node sums two edges ``(op, from, to)``, and the cell output
concatenates the intermediate nodes (``nodes * C`` channels). The upsampling cell differs only in
its ops: edges leaving an input node upsample by ``scale``, edges between intermediate nodes (already
at high resolution) use the op's stride-1 form.

A cell is built in one of two ways from the same class, so a registered cell type is searched,
built and priced consistently:

* **derived** (``edges`` is a :class:`~hnas.spaces.genotype.CellGenotype`): one op module per
  edge of the genotype, no batch norm -- what :class:`~hnas.models.network.HNASNet` holds;
* **shared** (``edges`` is a :class:`CandidateEdges`): every candidate op on every possible edge,
  with the search-mode BatchNorm(affine=False) the authors used; ``forward`` runs the edges the
  genotype it is given picks -- what :class:`~hnas.search.supernet.SuperNet` holds.

A new cell type subclasses :class:`NormalCell` or :class:`UpsamplingCell` and is registered with
``@CELLS.register("name")``; overriding :meth:`Cell.combine` (and ``output_width``) changes how the
nodes make the output, e.g. adding a residual connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from hnas.ops.fast import PointwiseConv2d, concat, run_edge, run_node
from hnas.registry import CELLS, NORMAL_OPS, UPSAMPLING_OPS, Registry
from hnas.spaces.genotype import CellGenotype

#: Settings per op name, e.g. ``{"rcab": {"reduction": 3}}`` (from the spec's ``{type, params}`` ops).
OpParams = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class CandidateEdges:
    """The supernet's edge set: every op of ``ops`` on every edge into each of ``nodes`` nodes."""

    ops: tuple[str, ...]
    nodes: int


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
    """One intermediate node of a derived cell: the sum of two ops applied to two earlier nodes."""

    def __init__(self, op_a: nn.Module, source_a: int, op_b: nn.Module, source_b: int) -> None:
        super().__init__()
        self.op_a, self.op_b = op_a, op_b
        self.source_a, self.source_b = source_a, source_b

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        return self.op_a(states[self.source_a]) + self.op_b(states[self.source_b])


def _key(target: int, source: int, op: str) -> str:
    return f"{target}_{source}_{op}"


class Cell(nn.Module):
    """A DAG cell (module docstring); subclasses choose the op registry and how an edge's op is made."""

    #: "normal" or "upsampling": which slot of the network the cell type fills.
    kind: ClassVar[str] = ""
    ops_registry: ClassVar[Registry[Any]]

    #: Spatial factor of the cell (1 for normal cells).
    default_scale: ClassVar[int] = 1

    def __init__(
        self,
        edges: CellGenotype | CandidateEdges,
        in_channels: tuple[int, int],
        channels: int,
        scale: int | None = None,
        op_params: OpParams | None = None,
    ) -> None:
        super().__init__()
        scale = self.default_scale if scale is None else scale
        self.channels = channels
        self.scale = scale
        self.op_params = {name: dict(values) for name, values in (op_params or {}).items()}
        search = isinstance(edges, CandidateEdges)
        self.shared = search
        self.preprocess0 = ReLUConv1x1(in_channels[0], channels, search=search)
        self.preprocess1 = ReLUConv1x1(in_channels[1], channels, search=search)
        self.num_nodes = edges.nodes
        if isinstance(edges, CandidateEdges):
            self.genotype: CellGenotype | None = None
            self.candidate_ops = tuple(edges.ops)
            self.edges = nn.ModuleDict(
                {
                    _key(target, source, op): self.make_op(op, source, search=True)
                    for target in range(2, self.num_nodes + 2)
                    for source in range(target)
                    for op in self.candidate_ops
                }
            )
        else:
            self.genotype = edges
            nodes = []
            for node in range(2, edges.nodes + 2):
                a, b = edges.node_edges(node)
                nodes.append(Node(self.make_op(a.op, a.source), a.source, self.make_op(b.op, b.source), b.source))
            self.nodes = nn.ModuleList(nodes)
        self.out_channels = self.output_width(channels, self.num_nodes)

    @classmethod
    def output_width(cls, channels: int, nodes: int) -> int:
        """Channels of the cell output: the concatenated intermediate nodes."""
        return channels * nodes

    def make_op(self, op: str, source: int, *, search: bool = False) -> nn.Module:
        """The module for an edge applying ``op`` to node ``source``."""
        raise NotImplementedError

    def combine(self, states: list[torch.Tensor], inputs: tuple[torch.Tensor, torch.Tensor], relu: bool) -> torch.Tensor:
        """The cell output from its node states (``states[2:]`` are the intermediate nodes);
        ``relu``: return its ReLU (see :meth:`forward`)."""
        return concat(states[2:], relu)

    def forward(
        self,
        s0: torch.Tensor,
        s1: torch.Tensor,
        genotype: CellGenotype | None = None,
        relued: bool = False,
        relu_output: bool = False,
    ) -> torch.Tensor:
        """The cell on inputs ``s0``, ``s1`` (a shared cell runs the edges ``genotype`` picks).

        ``relued``: the inputs are already ReLU'd; ``relu_output``: return the ReLU of the output.
        Every cell output is read by the preprocessing of the next two cells, and both start with
        a ReLU; the network computes that ReLU once, in the pass that concatenates the nodes,
        instead of twice on the widest tensors of the network (so hooks on a cell see ReLU'd inputs).
        """
        if not relued:
            s0, s1 = F.relu(s0), F.relu(s1)
        states = [self.preprocess0.project(s0), self.preprocess1.project(s1)]
        if not self.shared:
            if torch.jit.is_scripting():
                for node in self.nodes:
                    states.append(node(states))
            else:  # edges reading one node share its ReLU (hnas.ops.fast.run_node)
                memo: dict[Any, torch.Tensor] = {}
                for node in self.nodes:
                    states.append(run_node(node.op_a, node.source_a, node.op_b, node.source_b, states, memo))
            return self.combine(states, (s0, s1), relu_output)
        if genotype is None:
            raise ValueError("a shared (search) cell needs the genotype of the architecture to run")
        if genotype.nodes != self.num_nodes:
            raise ValueError(f"genotype has {genotype.nodes} nodes, the supernet cell {self.num_nodes}")
        shared: dict[Any, torch.Tensor] = {}
        for node in range(2, self.num_nodes + 2):
            a, b = genotype.node_edges(node)
            out_a = run_edge(self.edges[_key(node, a.source, a.op)], states, a.source, shared)
            # Two identical edges share weights, so the second is the same tensor: compute once.
            same = (a.source, a.op) == (b.source, b.op)
            out_b = out_a if same else run_edge(self.edges[_key(node, b.source, b.op)], states, b.source, shared)
            states.append(out_a + out_b)
        return self.combine(states, (s0, s1), relu_output)

    def used_modules(self, genotype: CellGenotype) -> list[nn.Module]:
        """The modules a shared cell's forward with ``genotype`` runs, each once."""
        modules: dict[int, nn.Module] = {id(self.preprocess0): self.preprocess0, id(self.preprocess1): self.preprocess1}
        for edge in genotype.edges:
            module = self.edges[_key(edge.target, edge.source, edge.op)]
            modules.setdefault(id(module), module)
        return list(modules.values())


@CELLS.register("normal")
class NormalCell(Cell):
    """Normal cell: keeps the spatial size; ops from ``NORMAL_OPS``."""

    kind = "normal"
    ops_registry = NORMAL_OPS

    def make_op(self, op: str, source: int, *, search: bool = False) -> nn.Module:
        return NORMAL_OPS.build(op, self.channels, search=search, **self.op_params.get(op, {}))


@CELLS.register("upsampling")
class UpsamplingCell(Cell):
    """Upsampling cell: multiplies the spatial size by ``scale``; ops from ``UPSAMPLING_OPS``."""

    kind = "upsampling"
    ops_registry = UPSAMPLING_OPS
    default_scale = 2

    def make_op(self, op: str, source: int, *, search: bool = False) -> nn.Module:
        edge_scale = self.scale if source < 2 else 1
        return UPSAMPLING_OPS.build(op, self.channels, edge_scale, search=search, **self.op_params.get(op, {}))


def cell_class(name: str, kind: str) -> type[Cell]:
    """The registered cell type ``name``, checked to fill the ``kind`` slot ("normal"/"upsampling")."""
    from hnas.errors import GenotypeError

    cls = CELLS.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Cell)):
        raise GenotypeError(f"cell '{name}' is registered by {CELLS.entry(name).origin}, which is not a Cell subclass")
    if cls.kind != kind:
        raise GenotypeError(f"cell '{name}' is a {cls.kind or 'untyped'} cell; the {kind} slot needs a {kind} cell")
    return cls


def build_cell(
    name: str,
    kind: str,
    in_channels: tuple[int, int],
    channels: int,
    edges: CellGenotype | CandidateEdges,
    *,
    scale: int = 1,
    op_params: OpParams | None = None,
) -> Cell:
    """A cell of the registered type ``name`` (derived from a genotype, or shared over candidates)."""
    return cell_class(name, kind)(edges, in_channels, channels, scale=scale, op_params=op_params)
