"""The HNAS search space: cell and network genotypes, the published presets."""

from hnas.spaces import presets as presets  # noqa: F401  (registers hnas-a/b/c)
from hnas.spaces.genotype import CellGenotype, Edge, Genotype
from hnas.spaces.resolve import GenotypeLike, resolve_genotype

__all__ = ["CellGenotype", "Edge", "Genotype", "GenotypeLike", "resolve_genotype"]
