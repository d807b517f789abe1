"""Plugins: the modules a user names so that their ``@REGISTRY.register`` decorators run.

A plugin is imported only because a person asked for it: ``--plugin MODULE`` on any command, or
``plugins = [...]`` in a spec. A file never causes an import by itself -- a genotype or a model file
is data, and importing code because data mentions it would let a downloaded file run code. What a
model file does instead is *record* the plugin modules its network needs
(:func:`modules_needed`), so that loading it without them is one line naming the module to pass
(:func:`missing_plugin_message`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hnas.errors import HnasError
from hnas.registry import CELLS, NORMAL_OPS, UPSAMPLING_OPS, Registry

if TYPE_CHECKING:  # only a type here: `hnas list` imports plugins without building pydantic models
    from hnas.spaces.genotype import Genotype

#: Modules whose registrations ship with hnas (never recorded as plugins).
BUILTIN_PREFIX = "hnas."


class PluginError(HnasError, ImportError):
    """A plugin module that cannot be imported (names the module and the reason)."""


def import_plugins(modules: Iterable[str]) -> list[str]:
    """Import each named module once (their decorators register ops, cells, rewards...)."""
    imported = []
    for name in modules:
        name = name.strip()
        if not name:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise PluginError(
                f"plugin '{name}' could not be imported ({exc}); check the module name and that its "
                "package is installed or on PYTHONPATH"
            ) from None
        imported.append(name)
    return imported


def _module_of(registry: Registry[object], name: str) -> str | None:
    if name not in registry:
        return None
    module = registry.entry(name).module
    return None if not module or module == "hnas" or module.startswith(BUILTIN_PREFIX) else module


def modules_needed(genotype: Genotype) -> list[str]:
    """The non-hnas modules that registered an op or cell type ``genotype`` uses, sorted."""
    found = set()
    for kind, op in genotype.ops():
        module = _module_of(NORMAL_OPS if kind == "normal" else UPSAMPLING_OPS, op)
        if module:
            found.add(module)
    for cell in (genotype.normal_cell, genotype.upsampling_cell):
        module = _module_of(CELLS, cell)
        if module:
            found.add(module)
    return sorted(found)


def missing_plugin_message(needed: Iterable[str], source: str) -> str | None:
    """One line naming the recorded plugin modules that are not imported yet, or None."""
    import sys

    missing = [m for m in needed if m not in sys.modules]
    if not missing:
        return None
    flags = " ".join(f"--plugin {m}" for m in missing)
    return f"{source} was made with plugin module(s) {', '.join(missing)}; pass {flags} (or plugins = [...] in a spec)"
