"""Named architectures: the published HNAS-A/B/C and hand-designed baselines.

HNAS-A/B/C are the paper's Fig. 4 (genotypes from HNAS-REFERENCE.md). Positions are 1-based as in
the paper (the authors' scripts pass them 0-based). Table II's FLOPs for HNAS-C (83.6) match this
genotype with the upsampling cell at position 10, not 12; Fig. 4 and the authors' genotype file
both say 12, so the preset keeps 12.

The baselines are hand designs written as genotypes, so ``hnas compare`` trains them with exactly
the recipe of searched networks: every normal cell chains one block type (node ``t`` sums the
block on nodes ``t-1`` and ``t-2``), a sub-pixel upsampling cell comes last (post-upsampling, as
ESPCN, EDSR and RCAN do), six layers. ``baseline-plain`` uses plain 3x3 convolutions
(ESPCN/FSRCNN-like), ``baseline-resblock`` EDSR's residual block (Table II's "Residual Block"),
``baseline-rcab`` RCAN's residual channel attention block (Table II's "RCAB"). Their depth is a
param (``baseline-plain:layers=9``), so a baseline can be matched to a searched network's MACs.
"""

from __future__ import annotations

from hnas.errors import GenotypeError
from hnas.registry import PRESETS
from hnas.spaces.genotype import Genotype


def _edges(text: str) -> list[list[object]]:
    """``"op,from,to op,from,to ..."`` as edge rows."""
    rows = []
    for item in text.split():
        op, source, target = item.split(",")
        rows.append([op, int(source), int(target)])
    return rows


def _genotype(normal: str, upsampling: str, position: int) -> Genotype:
    return Genotype.model_validate(
        {"normal": _edges(normal), "upsampling": _edges(upsampling), "position": position, "layers": 12}
    )


@PRESETS.register("hnas-a", aliases=("hnas_a",))
def hnas_a() -> Genotype:
    """HNAS-A (lambda = 0.2): the cheapest published model, upsampling at layer 10 of 12."""
    return _genotype(
        "skip_connect,1,2 sep_conv_5x5,1,2 dil_conv_3x3,0,3 dil_conv_5x5,1,3 "
        "skip_connect,1,4 dil_conv_3x3,1,4 dil_conv_5x5,1,5 sep_conv_3x3,4,5",
        "deconvolution,0,2 bilinear,0,2 area,1,3 deconvolution,0,3 area,3,4 "
        "bilinear,0,4 bilinear,1,5 deconvolution,3,5",
        10,
    )


@PRESETS.register("hnas-b", aliases=("hnas_b",))
def hnas_b() -> Genotype:
    """HNAS-B (lambda = 0.6): upsampling at layer 12 of 12."""
    return _genotype(
        "dil_conv_3x3,0,2 rcab,1,2 dil_conv_5x5,0,3 sep_conv_5x5,1,3 sep_conv_3x3,1,4 "
        "dil_conv_3x3,0,4 sep_conv_3x3,2,5 dil_conv_5x5,3,5",
        "sub_pixel,1,2 bilinear,1,2 bilinear,1,3 sub_pixel,0,3 sub_pixel,3,4 "
        "sub_pixel,3,4 deconvolution,0,5 nearest,1,5",
        12,
    )


@PRESETS.register("hnas-c", aliases=("hnas_c",))
def hnas_c() -> Genotype:
    """HNAS-C (lambda = 0.9): the most accurate published model, upsampling at layer 12 of 12."""
    return _genotype(
        "rcab,1,2 skip_connect,1,2 dil_conv_3x3,1,3 skip_connect,0,3 dil_conv_5x5,0,4 "
        "rcab,3,4 dil_conv_5x5,4,5 dil_conv_3x3,0,5",
        "sub_pixel,0,2 nearest,1,2 deconvolution,2,3 nearest,0,3 deconvolution,3,4 "
        "sub_pixel,2,4 bilinear,0,5 area,0,5",
        12,
    )


def _baseline(block: str, layers: int) -> Genotype:
    """``layers`` cells (the upsampling one last) of ``block``; the depth is the baseline's size:
    the width is the recipe's, shared by every member of a comparison."""
    if layers < 1:
        raise GenotypeError(f"a baseline needs layers >= 1 (the upsampling cell), got layers={layers}")
    chain = " ".join(f"{block},{t - 1},{t} {block},{t - 2},{t}" for t in range(2, 6))
    upsampling = " ".join(f"sub_pixel,{t - 1},{t} sub_pixel,{t - 2},{t}" for t in range(2, 6))
    return Genotype.model_validate(
        {"normal": _edges(chain), "upsampling": _edges(upsampling), "position": layers, "layers": layers}
    )


#: Depth of the hand-designed baselines (the quick start's search space has the same).
BASELINE_LAYERS = 6


@PRESETS.register("baseline-plain", aliases=("espcn-like",))
def baseline_plain(layers: int = BASELINE_LAYERS) -> Genotype:
    """Hand-designed: plain 3x3 convolutions, sub-pixel upsampling last (ESPCN/FSRCNN-like)."""
    return _baseline("conv_3x3", layers)


@PRESETS.register("baseline-resblock", aliases=("edsr-like",))
def baseline_resblock(layers: int = BASELINE_LAYERS) -> Genotype:
    """Hand-designed: EDSR residual blocks, sub-pixel upsampling last (Table II's Residual Block)."""
    return _baseline("res_block", layers)


@PRESETS.register("baseline-rcab", aliases=("rcan-like",))
def baseline_rcab(layers: int = BASELINE_LAYERS) -> Genotype:
    """Hand-designed: RCAN residual channel attention blocks, sub-pixel upsampling last (Table II's RCAB)."""
    return _baseline("rcab", layers)
