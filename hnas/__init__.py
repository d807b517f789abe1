"""hnas: Hierarchical Neural Architecture Search for image super-resolution.

The public API: ``build_model``, ``Genotype`` and the registries. Importing ``hnas`` registers the
built-in ops, cells and presets.
"""

from hnas import ops as ops  # noqa: F401  (registers the built-in ops)
from hnas import spaces as spaces  # noqa: F401  (registers the presets)
from hnas import controllers as controllers  # noqa: F401  (registers hierarchical_lstm, random)
from hnas import costs as costs  # noqa: F401  (registers macs, params, latency, paper_gflops)
from hnas import rewards as rewards  # noqa: F401  (registers joint, budget)
from hnas.checkpoint import load_model, save_model
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
from hnas import zoo as zoo  # presets hnas_a_x2 ...; importing registers them with timm

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
    "load_model",
    "save_model",
    "zoo",
    "resolve_genotype",
    "__version__",
]
