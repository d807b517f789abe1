"""Multiply-adds and parameters of a genotype's derived network, counted piece by piece on ``meta``.

The derived network (paper Sec. II-A, Fig. 1; HNAS-REFERENCE.md) is a stem, L cells and a tail,
and only a few distinct cells occur in it: every normal cell before the upsampling layer is the
same module on the same LR input, every one after it (once past any change of input widths) the
same module on the HR input. Counting each distinct piece once, with ``FlopCounterMode`` on
modules built on the ``meta`` device (no weights allocated), and multiplying by how often it
occurs gives exactly the count of one forward of the whole network, at about a quarter of the
time. That is what lets the search price an unseen genotype within its budget (tens of
milliseconds). Counted pieces are also memoised, so a cell seen in an earlier genotype, the stem
and the tail cost nothing the next time. The layout walked here is the one
:class:`hnas.models.HNASNet` builds; tests compare both counts with a whole-model count on a real
CPU model, so the two cannot drift apart silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from hnas.costs.counting import MacCount, count_macs
from hnas.models.cells import NormalCell, UpsamplingCell
from hnas.spaces.genotype import CellGenotype, Edge, Genotype

Edges = tuple[Edge, ...]


@dataclass(frozen=True)
class Piece:
    """One module of the derived network with the inputs it sees: enough to count it alone."""

    kind: str  # "stem", "normal", "upsampling", "tail" or "bicubic_skip"
    in_channels: tuple[int, ...]
    size: tuple[int, int]  # spatial size of its input(s)


@dataclass(frozen=True)
class NetworkCount:
    """Multiply-adds of one forward (one image) and trainable parameters of a derived network."""

    macs: MacCount
    params: int


def network_pieces(genotype: Genotype, scale: int, channels: int, size: tuple[int, int],
                   global_skip: str = "none") -> Counter[Piece]:
    """Each distinct piece of ``build_model(genotype, scale, channels)`` on a ``size`` LR input,
    with the number of times it runs (mirrors ``HNASNet.__init__``/``forward``)."""
    pieces: Counter[Piece] = Counter()
    if global_skip == "bicubic":
        pieces[Piece("bicubic_skip", (3,), size)] += 1
    stem_channels = genotype.normal.nodes * channels
    pieces[Piece("stem", (3,), size)] += 1
    c_prev_prev = c_prev = stem_channels
    for index in range(genotype.layers):
        if index == genotype.position - 1:
            pieces[Piece("upsampling", (c_prev_prev, c_prev), size)] += 1
            size = (size[0] * scale, size[1] * scale)
            c_prev_prev = c_prev = genotype.upsampling.nodes * channels
        else:
            pieces[Piece("normal", (c_prev_prev, c_prev), size)] += 1
            c_prev_prev, c_prev = c_prev, genotype.normal.nodes * channels
    pieces[Piece("tail", (c_prev,), size)] += 1
    return pieces


class _BicubicSkip(nn.Module):
    """The optional global bicubic skip of ``HNASNet`` (an interpolation, no parameters)."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)


@lru_cache(maxsize=256)
def _meta_module(
    kind: str, edges: Edges, in_channels: tuple[int, ...], channels: int, scale: int
) -> nn.Module:
    """The piece as ``HNASNet`` builds it, on the meta device (``channels``: the stem's output width
    for the stem, C otherwise)."""
    with torch.device("meta"):
        if kind == "stem":
            return nn.Conv2d(3, channels, 3, padding=1, bias=False)
        if kind == "tail":
            return nn.Conv2d(in_channels[0], 3, 3, padding=1, bias=True)
        if kind == "bicubic_skip":
            return _BicubicSkip(scale)
        cell = CellGenotype(edges=edges)
        if kind == "normal":
            return NormalCell(cell, (in_channels[0], in_channels[1]), channels).eval()
        return UpsamplingCell(cell, (in_channels[0], in_channels[1]), channels, scale).eval()


@lru_cache(maxsize=1024)
def _piece_macs(kind: str, edges: Edges, in_channels: tuple[int, ...], channels: int, scale: int,
                size: tuple[int, int]) -> MacCount:
    module = _meta_module(kind, edges, in_channels, channels, scale)
    inputs = [torch.empty(1, c, *size, device="meta") for c in in_channels]
    return count_macs(module, *inputs)


@lru_cache(maxsize=256)
def _piece_params(kind: str, edges: Edges, in_channels: tuple[int, ...], channels: int, scale: int) -> int:
    module = _meta_module(kind, edges, in_channels, channels, scale)
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_network(genotype: Genotype, scale: int, channels: int, size: tuple[int, int],
                  global_skip: str = "none", *, macs: bool = True) -> NetworkCount:
    """MACs (per image, on an ``size`` LR input) and parameters of the derived network.

    ``macs=False`` skips the forward passes (parameters need only the modules).
    """
    total = MacCount()
    params = 0
    for piece, times in network_pieces(genotype, scale, channels, size, global_skip).items():
        if piece.kind == "normal":
            edges: Edges = genotype.normal.edges
        elif piece.kind == "upsampling":
            edges = genotype.upsampling.edges
        else:
            edges = ()
        width = genotype.normal.nodes * channels if piece.kind == "stem" else channels
        args = (piece.kind, edges, piece.in_channels, width, scale)
        if macs:
            total = total + _piece_macs(*args, piece.size) * times
        params += _piece_params(*args) * times
    return NetworkCount(total, params)


def clear_piece_caches() -> None:
    """Forget counted pieces (after re-registering an op under an existing name with ``force``)."""
    _meta_module.cache_clear()
    _piece_macs.cache_clear()
    _piece_params.cache_clear()
