"""The built-in costs: ``macs``, ``params``, ``paper_gflops`` and ``latency``.

``macs`` is the truth: every multiply-add of one forward (docs/costs.md). ``paper_gflops`` is the
authors' convention, kept beside it so Table II can be compared with: convolution multiply-adds at
a 48 x 48 LR input times 1e-8, transposed convolutions left out (HNAS-REFERENCE.md, "Reward and
cost"). It reproduces Table II's 30.6 (HNAS-A) and 48.2 (HNAS-B) at C = 64, x2.
"""

from __future__ import annotations

from typing import ClassVar

from hnas.costs.base import Cost
from hnas.costs.latency import DEFAULT_GRAD_MODE, GradMode, measure_latency
from hnas.costs.network import count_network
from hnas.costs.settings import TABLE_II_INPUT, CostSettings
from hnas.registry import COSTS
from hnas.spaces.genotype import Genotype

#: The LR patch size the authors counted their FLOPs on (their training LR patch, 96 / 2).
PAPER_INPUT = (48, 48)
#: The authors' reward cost is ``0.5e-8 x`` that count, i.e. GMACs at 480 x 480 divided by 20.
AUTHORS_MACS_NORMALISER = 20e9


def macs_normaliser(input: tuple[int, int] = TABLE_II_INPUT) -> float:
    """The joint reward's MACs normaliser that keeps the authors' scale at another input size.

    MACs grow with the number of input pixels, so the 20e9 that suits a 480 x 480 input becomes
    0.2e9 at 48 x 48: ``JointReward(lambda_=0.2, normaliser=macs_normaliser((48, 48)))``.
    """
    return AUTHORS_MACS_NORMALISER * input[0] * input[1] / (TABLE_II_INPUT[0] * TABLE_II_INPUT[1])


@COSTS.register("macs", aliases=("multiply_adds",))
class MacsCost(Cost):
    """Multiply-adds of one forward on the LR input, every convolution (transposed too) and interpolation."""

    name = "macs"
    unit = "MACs"
    depends_on: ClassVar[tuple[str, ...]] = ("input", "scale", "channels", "global_skip", "op_params")
    #: The authors' scale (HNAS-REFERENCE.md): GMACs at a 480 x 480 input / 20. At another input
    #: size use :func:`macs_normaliser`.
    default_normaliser = AUTHORS_MACS_NORMALISER

    def reward_normaliser(self, settings: CostSettings) -> float:
        """MACs grow with the input's pixels: the authors' 20e9 at 480 x 480 scaled to ``settings.input``."""
        return macs_normaliser(settings.input)

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        s = settings
        return float(count_network(genotype, s.scale, s.channels, s.input, s.global_skip, op_params=s.op_params).macs.total)


@COSTS.register("params", aliases=("parameters",))
class ParamsCost(Cost):
    """Trainable parameters of the derived network."""

    name = "params"
    unit = "parameters"
    depends_on: ClassVar[tuple[str, ...]] = ("scale", "channels", "op_params")
    #: 50k parameters per unit puts the presets at C = 8 (27k-47k parameters) at 0.5-0.9 units,
    #: beside their 0.5-0.6 units of ``macs`` / 20e9, so a lambda means about the same with either.
    default_normaliser = 5e4

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        count = count_network(genotype, settings.scale, settings.channels, settings.input, macs=False,
                              op_params=settings.op_params)
        return float(count.params)


@COSTS.register("paper_gflops")
class PaperGflopsCost(Cost):
    """Table II's convention: convolution MACs (no transposed) at a 48x48 LR input x 1e-8."""

    name = "paper_gflops"
    unit = "paper GFLOPs"
    depends_on: ClassVar[tuple[str, ...]] = ("scale", "channels", "op_params")
    #: The authors' reward cost was half of this number (0.5e-8 x the 48 x 48 count).
    default_normaliser = 2.0

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        count = count_network(genotype, settings.scale, settings.channels, PAPER_INPUT, op_params=settings.op_params)
        return count.macs.convolution * 1e-8


@COSTS.register("latency", aliases=("latency_ms",))
class LatencyCost(Cost):
    """Median forward time in milliseconds on ``settings.device`` (cached like any cost)."""

    name = "latency"
    unit = "ms"
    #: Two seconds per unit: the presets at C = 8 on a 480 x 480 input take 1.8-5.2 s on one CPU
    #: core (0.9-2.6 units, the authors' range). Hardware-specific: pass your own normaliser.
    default_normaliser = 2000.0

    def __init__(self, grad_mode: GradMode = DEFAULT_GRAD_MODE) -> None:
        self.grad_mode = grad_mode

    def cache_token(self) -> tuple[str, str]:
        return ("latency", self.grad_mode)

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        return measure_latency(genotype, settings, self.grad_mode).median_ms
