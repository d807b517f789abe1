"""hnas: Hierarchical Neural Architecture Search for image super-resolution.

The public API: ``build_model``, ``Genotype`` and the registries. Importing ``hnas`` registers the
built-in ops, cells and presets.
"""

from hnas import ops as ops  # noqa: F401  (registers the built-in ops)
from hnas import spaces as spaces  # noqa: F401  (registers the presets)
from hnas.errors import HnasError
from hnas.models import HNASNet, build_model
from hnas.registry import (
    CELLS,
    CONTROLLERS,
    COSTS,
    DATASETS,
    NORMAL_OPS,
    PRESETS,
    REWARDS,
    UPSAMPLING_OPS,
    Registry,
)
from hnas.spaces import CellGenotype, Edge, Genotype, resolve_genotype

__version__ = "0.1.0"

__all__ = [
    "CELLS",
    "CONTROLLERS",
    "COSTS",
    "DATASETS",
    "NORMAL_OPS",
    "PRESETS",
    "REWARDS",
    "UPSAMPLING_OPS",
    "CellGenotype",
    "Edge",
    "Genotype",
    "HNASNet",
    "HnasError",
    "Registry",
    "build_model",
    "resolve_genotype",
    "__version__",
]
