"""Multiply-adds and parameters of a genotype's derived network, counted piece by piece on ``meta``.

The derived network (paper Sec. II-A, Fig. 1; HNAS-REFERENCE.md) is a stem, L cells and a tail,
and only a few distinct cells occur in it: every normal cell before the upsampling layer is the
same module on the same LR input, every one after it (once past any change of input widths) the
same module on the HR input. Counting each distinct piece once, with ``FlopCounterMode`` on
modules built on the ``meta`` device (no weights allocated), and multiplying by how often it
occurs gives exactly the count of one forward of the whole network, at about a quarter of the
time. That is what lets the search price an unseen genotype within its budget (tens of
milliseconds). Counted pieces are also memoised, so a cell seen in an earlier genotype, the stem
and the tail cost nothing the next time. The pieces come from the one layout
(:func:`hnas.models.layout.plan_network`) and the cells from the registry
(:func:`hnas.models.cells.build_cell`), exactly as :class:`hnas.models.HNASNet` builds them; tests
compare the count with a whole-model count on a real CPU model.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from hnas.costs.counting import MacCount, count_macs
from hnas.models.cells import build_cell, cell_class
from hnas.models.layout import bicubic_upscale, plan_network
from hnas.spaces.genotype import CellGenotype, Edge, Genotype

Edges = tuple[Edge, ...]


@dataclass(frozen=True)
class Piece:
    """One module of the derived network with the inputs it sees: enough to count it alone."""

    kind: str  # "stem", "normal", "upsampling", "tail" or "bicubic_skip"
    in_channels: tuple[int, ...]
    size: tuple[int, int]  # spatial size of its input(s)
    cell: str = ""  # the registered cell type of a "normal"/"upsampling" piece


@dataclass(frozen=True)
class NetworkCount:
    """Multiply-adds of one forward (one image) and trainable parameters of a derived network."""

    macs: MacCount
    params: int


def network_pieces(genotype: Genotype, scale: int, channels: int, size: tuple[int, int],
                   global_skip: str = "none") -> Counter[Piece]:
    """Each distinct piece of ``build_model(genotype, scale, channels)`` on a ``size`` LR input,
    with the number of times it runs (from the layout the network itself is built from)."""
    plan = plan_network(
        genotype.layers,
        genotype.position,
        cell_class(genotype.normal_cell, "normal").output_width(channels, genotype.normal.nodes),
        cell_class(genotype.upsampling_cell, "upsampling").output_width(channels, genotype.upsampling.nodes),
    )
    pieces: Counter[Piece] = Counter()
    if global_skip == "bicubic":
        pieces[Piece("bicubic_skip", (3,), size)] += 1
    pieces[Piece("stem", (3,), size)] += 1
    high = (size[0] * scale, size[1] * scale)
    for layer in plan.layers:
        name = genotype.normal_cell if layer.kind == "normal" else genotype.upsampling_cell
        pieces[Piece(layer.kind, layer.in_channels, high if layer.high_resolution else size, name)] += 1
    pieces[Piece("tail", (plan.tail_channels,), high)] += 1
    return pieces


class _BicubicSkip(nn.Module):
    """The optional global bicubic skip of ``HNASNet`` (an interpolation, no parameters)."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bicubic_upscale(x, self.scale)


@lru_cache(maxsize=256)
def _meta_module(
    kind: str, cell: str, edges: Edges, in_channels: tuple[int, ...], channels: int, scale: int, op_params: str
) -> nn.Module:
    """The piece as ``HNASNet`` builds it, on the meta device (``channels``: the stem's output width
    for the stem, C otherwise; ``op_params``: canonical JSON of the network's op settings)."""
    with torch.device("meta"):
        if kind == "stem":
            return nn.Conv2d(3, channels, 3, padding=1, bias=False)
        if kind == "tail":
            return nn.Conv2d(in_channels[0], 3, 3, padding=1, bias=True)
        if kind == "bicubic_skip":
            return _BicubicSkip(scale)
        params = json.loads(op_params).get(kind)
        return build_cell(cell, kind, (in_channels[0], in_channels[1]), channels, CellGenotype(edges=edges),
                          scale=scale, op_params=params).eval()


@lru_cache(maxsize=1024)
def _piece_macs(kind: str, cell: str, edges: Edges, in_channels: tuple[int, ...], channels: int, scale: int,
                op_params: str, size: tuple[int, int]) -> MacCount:
    module = _meta_module(kind, cell, edges, in_channels, channels, scale, op_params)
    inputs = [torch.empty(1, c, *size, device="meta") for c in in_channels]
    return count_macs(module, *inputs)


@lru_cache(maxsize=256)
def _piece_params(kind: str, cell: str, edges: Edges, in_channels: tuple[int, ...], channels: int, scale: int,
                  op_params: str) -> int:
    module = _meta_module(kind, cell, edges, in_channels, channels, scale, op_params)
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_network(genotype: Genotype, scale: int, channels: int, size: tuple[int, int],
                  global_skip: str = "none", *, macs: bool = True, op_params: str = "{}") -> NetworkCount:
    """MACs (per image, on an ``size`` LR input) and parameters of the derived network.

    ``macs=False`` skips the forward passes (parameters need only the modules); ``op_params`` is
    :attr:`hnas.costs.CostSettings.op_params` (canonical JSON), laid over the genotype's own
    settings as :class:`~hnas.models.network.HNASNet` does.
    """
    if genotype.op_params or op_params != "{}":
        merged = genotype.with_op_params(json.loads(op_params)).op_params
        op_params = json.dumps(merged, sort_keys=True, separators=(",", ":"))
    total = MacCount()
    params = 0
    for piece, times in network_pieces(genotype, scale, channels, size, global_skip).items():
        if piece.kind == "normal":
            edges: Edges = genotype.normal.edges
        elif piece.kind == "upsampling":
            edges = genotype.upsampling.edges
        else:
            edges = ()
        width = channels
        if piece.kind == "stem":
            width = cell_class(genotype.normal_cell, "normal").output_width(channels, genotype.normal.nodes)
        args = (piece.kind, piece.cell, edges, piece.in_channels, width, scale, op_params)
        if macs:
            total = total + _piece_macs(*args, piece.size) * times
        params += _piece_params(*args) * times
    return NetworkCount(total, params)


def clear_piece_caches() -> None:
    """Forget counted pieces (after re-registering an op under an existing name with ``force``)."""
    _meta_module.cache_clear()
    _piece_macs.cache_clear()
    _piece_params.cache_clear()
