"""The two-branch weight-sharing super network (paper Sec. II-A, Fig. 1(a)).

Every layer holds a normal cell and an upsampling cell of the space's cell types, and every
possible edge of each cell (every earlier node into every intermediate node) holds every candidate
op (:class:`~hnas.models.cells.CandidateEdges`). A forward pass takes a sampled
:class:`~hnas.spaces.genotype.Genotype` and runs only the ops that genotype chooses, at only the
layer it upsamples at, through the same layout as the derived network
(:mod:`hnas.models.layout`), so its cost is that of the derived network at search width.

Search-mode ops carry BatchNorm(affine=False) as the authors did, and always normalise with batch
statistics: each sampled architecture produces different feature statistics, so running averages
shared by all of them would be wrong for every one.

Cells whose inputs are large (after an early upsampling cell at the paper's LR 48) recompute their
forward during backward instead of keeping their maps (:data:`CELL_RECOMPUTE_NUMEL`): a cell keeps
about 30 times its input for backward, so an architecture that upsamples at layer 2 of 12 kept
2.8 GB of activations in a step. The recomputation is exact: the search BatchNorm keeps no
running statistics and no op draws random numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from hnas.engine.step import Batches, Forward, SRStep
from hnas.models.cells import CandidateEdges, OpParams, build_cell, cell_class
from hnas.models.layout import GlobalSkip, LayeredSR
from hnas.models.network import NetworkOpParams, clean_op_params
from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS
from hnas.spaces.genotype import Genotype
from hnas.utils.recompute import recomputed

#: A cell whose input has at least this many elements (16 MB in float32) is recomputed in backward.
#: A cell input is the previous cell's output, 4 nodes x C channels: at the paper's C = 8 and batch
#: 16 that is 16 x 32 x 96 x 96 = 4.7M after the upsampling at LR 48 (recomputed), and
#: 16 x 32 x 64 x 64 = 2.1M at LR 32, which stays below and is not slowed. (Until round 5 of
#: benchmarks/README.md the threshold was 2**21, which the LR 32 step reached exactly: its
#: high-resolution cells ran their forward twice, about 15 % of the step.)
CELL_RECOMPUTE_NUMEL = 2**22


class SuperNet(LayeredSR):
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
        global_skip: GlobalSkip = "none",
        rgb_range: float = 255.0,
        normal_cell: str = "normal",
        upsampling_cell: str = "upsampling",
        op_params: NetworkOpParams | None = None,
    ) -> None:
        normal_type = cell_class(normal_cell, "normal")
        upsampling_type = cell_class(upsampling_cell, "upsampling")
        width = normal_type.output_width(channels, nodes)
        if upsampling_type.output_width(channels, nodes) != width:
            raise ValueError(
                f"cells '{normal_cell}' and '{upsampling_cell}' output different widths; a supernet layer "
                "must accept either cell's output"
            )
        super().__init__(width, scale, global_skip, rgb_range)
        self.normal_ops = tuple(NORMAL_OPS.canonical(op) for op in normal_ops)
        self.upsampling_ops = tuple(UPSAMPLING_OPS.canonical(op) for op in upsampling_ops)
        self.layers, self.nodes, self.channels = layers, nodes, channels
        self.cell_types = {"normal": normal_cell, "upsampling": upsampling_cell}
        params = clean_op_params(op_params)

        def cells(kind: str, ops: tuple[str, ...], name: str, kind_params: OpParams | None) -> nn.ModuleList:
            return nn.ModuleList(
                build_cell(name, kind, (width, width), channels, CandidateEdges(ops, nodes), scale=scale,
                           op_params=kind_params)
                for _ in range(layers)
            )

        self.normal_cells = cells("normal", self.normal_ops, normal_cell, params.get("normal"))
        self.upsampling_cells = cells("upsampling", self.upsampling_ops, upsampling_cell, params.get("upsampling"))
        self.build_tail(width)

    def check(self, genotype: Genotype) -> None:
        """Raise if ``genotype`` is not an architecture of this supernet's space."""
        if genotype.layers != self.layers:
            raise ValueError(f"genotype has {genotype.layers} layers, the supernet {self.layers}")
        if (genotype.normal_cell, genotype.upsampling_cell) != (self.cell_types["normal"], self.cell_types["upsampling"]):
            raise ValueError(f"genotype uses cells {genotype.normal_cell}/{genotype.upsampling_cell}, the supernet "
                             f"{self.cell_types['normal']}/{self.cell_types['upsampling']}")
        for cell, ops in ((genotype.normal, self.normal_ops), (genotype.upsampling, self.upsampling_ops)):
            for edge in cell.edges:
                if edge.op not in ops:
                    raise ValueError(f"op '{edge.op}' is not in this supernet's search space {list(ops)}")

    def forward(self, x: torch.Tensor, genotype: Genotype) -> torch.Tensor:
        up = genotype.position - 1

        def cell(index: int, r0: torch.Tensor, r1: torch.Tensor, relu_out: bool) -> torch.Tensor:
            if index == up:
                return self.upsampling_cells[index](r0, r1, genotype.upsampling, relued=True, relu_output=relu_out)
            return self.normal_cells[index](r0, r1, genotype.normal, relued=True, relu_output=relu_out)

        def run_cell(index: int, r0: torch.Tensor, r1: torch.Tensor, relu_out: bool) -> torch.Tensor:
            if torch.is_grad_enabled() and r1.requires_grad and r1.numel() >= CELL_RECOMPUTE_NUMEL:
                return recomputed(cell, index, r0, r1, relu_out)
            return cell(index, r0, r1, relu_out)

        return self.run_layers(x, self.layers, up, run_cell)

    def used_parameters(self, genotype: Genotype) -> list[nn.Parameter]:
        """The parameters a forward with ``genotype`` touches, each listed once (a module shared
        by two identical edges is one module), e.g. for gradient clipping."""
        modules: list[nn.Module] = [self.stem, self.tail]
        for index in range(self.layers):
            if index == genotype.position - 1:
                modules += self.upsampling_cells[index].used_modules(genotype.upsampling)
            else:
                modules += self.normal_cells[index].used_modules(genotype.normal)
        return list(dict.fromkeys(p for module in modules for p in module.parameters()))


class SupernetStep(SRStep):
    """A weight step of the shared weights (Algorithm 1, lines 4-7): step ``k`` trains the path of
    the architecture ``draw(k)`` (uniform in warm-up, the controller's after), through ``forward``
    (the supernet, or its DDP wrapper), and caps the gradient norm of that path's parameters at
    ``grad_clip``. ``draw(k)`` depends on ``k`` alone, so a resumed search trains what it did."""

    def __init__(self, optimizer: torch.optim.Optimizer, supernet: SuperNet,
                 forward: Callable[[torch.Tensor, Genotype], torch.Tensor], draw: Callable[[int], Genotype],
                 batches: Batches, device: torch.device, *, grad_clip: float | None = None,
                 reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__(optimizer, supernet, batches, device, reduce=reduce)
        self.supernet, self.path_forward, self.draw, self.grad_clip = supernet, forward, draw, grad_clip
        self.genotype: Genotype | None = None  # the architecture of the step being taken

    def forward_at(self, k: int) -> Forward:
        genotype = self.genotype = self.draw(k)
        return lambda x: self.path_forward(x, genotype)

    def clip_at(self, k: int) -> tuple[Iterable[nn.Parameter], float] | None:
        if not self.grad_clip:
            return None
        assert self.genotype is not None
        return self.supernet.used_parameters(self.genotype), self.grad_clip
