"""Turn what a user typed (preset name, genotype file, dict, Genotype) into a :class:`Genotype`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from hnas.errors import GenotypeError
from hnas.registry import PRESETS
from hnas.spaces.genotype import Genotype

GenotypeLike = Union[Genotype, str, Path, dict[str, Any]]


def resolve_genotype(value: GenotypeLike) -> Genotype:
    """A preset name (``hnas-a``), a path to a ``.json``/``.toml`` genotype, a run folder (the
    genotype it trained, :mod:`hnas.engine.runs`), a dict or a Genotype."""
    if isinstance(value, Genotype):
        return value
    if isinstance(value, dict):
        return Genotype.from_data(value)
    if isinstance(value, (str, Path)) and Path(value).is_dir():
        from hnas.engine.runs import run_network

        return run_network(value).genotype
    if isinstance(value, Path) or (isinstance(value, str) and value.endswith((".json", ".toml"))):
        return Genotype.load(value)
    if isinstance(value, str):
        if value in PRESETS:
            return PRESETS.get(value)()
        if Path(value).is_file():
            return Genotype.load(value)
        raise GenotypeError(
            f"'{value}' is neither a preset, a genotype file nor a run folder: {PRESETS.unknown_message(value)}"
        )
    raise GenotypeError(f"cannot make a genotype from {type(value).__name__}")
