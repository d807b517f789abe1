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
from pathlib import Path
from typing import TYPE_CHECKING

from hnas.errors import HnasError
from hnas.registry import CELLS, NORMAL_OPS, UPSAMPLING_OPS, Registry

if TYPE_CHECKING:  # only a type here: `hnas list` imports plugins without building pydantic models
    from hnas.spaces.genotype import Genotype

#: Modules whose registrations ship with hnas (never recorded as plugins).
BUILTIN_PREFIX = "hnas."


class PluginError(HnasError, ImportError):
    """A plugin module that cannot be imported (names the module and the reason)."""


def import_plugins(modules: Iterable[str], near: Iterable[str | Path] = ()) -> list[str]:
    """Import each named plugin once (their decorators register ops, cells, rewards...); returns
    their module names (what model files and spec.json record).

    A plugin is a module name (``myops``, ``mypkg.ops``) or a path (``./myops.py``, a package
    folder). A module name that is not importable is also looked for in the current folder and in
    the ``near`` folders (a spec's own folder), as Python would find a script's neighbours; the
    folder it is found in joins ``sys.path``, so the model files it makes load by the same name.
    """
    imported = []
    for name in modules:
        name = name.strip()
        if not name:
            continue
        imported.append(_import_one(name, [Path.cwd(), *(Path(p) for p in near)]))
    return imported


def _import_one(text: str, folders: list[Path]) -> str:
    path = Path(text)
    if text.endswith(".py") or "/" in text or "\\" in text or (path.is_dir() and (path / "__init__.py").is_file()):
        if path.suffix == ".py" and path.is_file():
            folder, name = path.resolve().parent, path.stem
        elif (path / "__init__.py").is_file():
            folder, name = path.resolve().parent, path.resolve().name
        else:
            raise PluginError(f"plugin file '{text}' not found (a .py file or a package folder)")
        _import_from(name, folder, text)
        return name
    try:
        importlib.import_module(text)
    except ModuleNotFoundError as exc:
        top = text.split(".")[0]
        if exc.name != top:  # the plugin was found; something it imports is missing
            raise PluginError(f"plugin '{text}' could not be imported ({exc})") from None
        folder = next((f for f in folders if (f / f"{top}.py").is_file() or (f / top / "__init__.py").is_file()), None)
        if folder is None:
            raise PluginError(
                f"plugin '{text}' could not be imported ({exc}); give its file (--plugin ./{top}.py), or check "
                "that its package is installed or on PYTHONPATH"
            ) from None
        _import_from(text, folder.resolve(), text)
    except ImportError as exc:
        raise PluginError(f"plugin '{text}' could not be imported ({exc})") from None
    return text


def _import_from(name: str, folder: Path, text: str) -> None:
    """Import module ``name`` found in ``folder`` (which joins ``sys.path``), refusing a module of
    that name already imported from elsewhere (it would shadow the plugin silently)."""
    import sys

    loaded = sys.modules.get(name.split(".")[0])
    if loaded is not None:
        where = Path(getattr(loaded, "__file__", "") or "")
        if where.parent != folder and where.parent.parent != folder:
            raise PluginError(f"plugin '{text}': a different module named '{name.split('.')[0]}' is already "
                              f"imported ({where or 'built in'}); rename the plugin file")
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    try:
        importlib.import_module(name)
    except ImportError as exc:
        raise PluginError(f"plugin '{text}' could not be imported ({exc})") from None


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


#: Who reads :func:`missing_plugin_message`: a Python caller (the default) or a person at the
#: ``hnas`` command line (:func:`for_command_line`), so the advice names what that reader can pass.
_AUDIENCE = ["python"]


def for_command_line() -> None:
    """Word plugin advice for the command line (``--plugin``); the ``hnas`` command calls it."""
    _AUDIENCE[0] = "command line"


def missing_plugin_message(needed: Iterable[str], source: str) -> str | None:
    """One line naming the recorded plugin modules that are not imported yet, or None."""
    import sys

    missing = [m for m in needed if m not in sys.modules]
    if not missing:
        return None
    if _AUDIENCE[0] == "command line":
        advice = "pass " + " ".join(f"--plugin {m}" for m in missing) + " (or plugins = [...] in a spec)"
    else:
        advice = f"import them first, or pass plugins={missing!r} to hnas.load_model"
    return f"{source} was made with plugin module(s) {', '.join(missing)}; {advice}"
