"""Turn what a user typed (preset name, genotype file, dict, Genotype) into a :class:`Genotype`.

A preset that takes size params is named with them after a colon: ``baseline-plain:layers=9``
(so a hand-designed baseline can be sized to a searched network's MACs on any command line).
"""

from __future__ import annotations

import inspect
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
        if ":" in value and value.split(":", 1)[0] in PRESETS:
            return preset_with_params(value)
        if Path(value).is_file():
            return Genotype.load(value)
        raise GenotypeError(
            f"'{value}' is neither a preset, a genotype file nor a run folder: {PRESETS.unknown_message(value)}"
        )
    raise GenotypeError(f"cannot make a genotype from {type(value).__name__}")


def split_preset(text: str) -> tuple[str, dict[str, int]]:
    """``"baseline-plain:layers=9"`` as ``("baseline-plain", {"layers": 9})``; one line naming the
    preset's params if the text asks for one it lacks or gives a value that is not a whole number."""
    name, _, rest = text.partition(":")
    taken = [p for p in inspect.signature(PRESETS.get(name)).parameters]
    params: dict[str, int] = {}
    for item in filter(None, rest.split(",")):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not taken:
            raise GenotypeError(f"preset '{name}' takes no params ({text!r}); name it as '{name}'")
        if not eq or key not in taken:
            raise GenotypeError(f"preset '{name}' has no param '{key}' ({text!r}); it takes {', '.join(taken)}, "
                                f"as {name}:{taken[0]}=VALUE")
        try:
            params[key] = int(raw)
        except ValueError:
            raise GenotypeError(f"preset '{name}': {key} must be a whole number, got {raw.strip()!r}") from None
    return name, params


def preset_with_params(text: str) -> Genotype:
    """The preset ``NAME:KEY=VALUE,...`` built with those params."""
    name, params = split_preset(text)
    return PRESETS.get(name)(**params)  # type: ignore[no-any-return]
