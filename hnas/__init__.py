"""hnas: Hierarchical Neural Architecture Search for image super-resolution.

The public API: ``build_model``, ``load_model``/``save_model``, ``Genotype`` and the registries.

Why the names below load lazily (PEP 562): most of them need torch, which alone takes seconds to
import, and tools that only need a registry listing or ``--help`` should not wait for it. The
registries (cheap) are imported here and load their built-ins on first lookup
(:mod:`hnas.registry`); every other name is imported the first time it is used, so
``hnas.build_model`` or ``from hnas import Genotype`` work exactly as an eager import would.
timm and torchvision are imported only by :mod:`hnas.zoo` (``import hnas.zoo`` registers the
``hnas_*`` presets with timm).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from hnas.errors import HnasError
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

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access).
_LAZY_NAMES = {
    "load_model": "hnas.checkpoint",
    "save_model": "hnas.checkpoint",
    "HNASNet": "hnas.models.network",
    "build_model": "hnas.models.network",
    "CellGenotype": "hnas.spaces.genotype",
    "Edge": "hnas.spaces.genotype",
    "Genotype": "hnas.spaces.genotype",
    "resolve_genotype": "hnas.spaces.resolve",
}
#: Subpackages reachable as attributes (``hnas.zoo.hnas_a_x2``) without importing them first.
_LAZY_MODULES = ("checkpoint", "compare", "controllers", "costs", "data", "engine", "models", "ops", "plugins",
                 "report", "rewards", "search", "spaces", "train", "zoo", "export", "inference")

if TYPE_CHECKING:  # for type checkers and IDEs: the names as an eager import would bind them
    from hnas import controllers, costs, models, ops, rewards, spaces, zoo  # noqa: F401
    from hnas.checkpoint import load_model, save_model
    from hnas.models.network import HNASNet, build_model
    from hnas.spaces.genotype import CellGenotype, Edge, Genotype
    from hnas.spaces.resolve import resolve_genotype


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    elif name in _LAZY_MODULES:
        value = importlib.import_module(f"hnas.{name}")
    else:
        raise AttributeError(f"module 'hnas' has no attribute '{name}'")
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_NAMES, *_LAZY_MODULES})


# Code that imported timm before hnas (``import timm; import hnas; timm.create_model("hnas_a_x2")``,
# as earlier versions documented) still finds the presets: timm and torch are loaded already, so
# registering costs nothing here.
if "timm" in sys.modules:
    importlib.import_module("hnas.zoo")

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
