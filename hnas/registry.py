"""One registry class for every concept hnas names: ops, cells, controllers, rewards, costs, presets.

A registry maps a name (and its aliases) to a class or factory. Built-ins are registered by
explicit imports of the modules that define them; third-party code registers with the same
decorator.

The global state of hnas, all of it: the registry instances below; the caches of what is computed
from a genotype or a file and never changes (``hnas.costs.COST_CACHE``, the counted network
pieces of ``hnas.costs.network``, read latency tables); and three context variables, each set
only inside a ``with`` block (the log-line sink of :func:`hnas.engine.folder.watching`,
:func:`hnas.engine.distributed.solo`, :func:`hnas.utils.recompute.recomputed`). Process-wide settings
are changed by entry points only: the commands keep freed memory in the process
(:func:`hnas.utils.memory.keep_freed_memory`, also ``Trainer.fast`` where a command opts in),
``--nproc`` sets ``OMP_NUM_THREADS`` for the processes it starts, and
:func:`hnas.engine.distributed.session` filters one DDP warning for the session's length.

Each registry names the modules that register its built-ins (``builtins=``) and imports them on
first use, not when ``hnas`` is imported: those modules import torch (seconds), and neither
``hnas --help`` nor ``import hnas`` should pay for that before anything is looked up.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hnas.errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object with the name it was registered under and where that happened."""

    name: str
    obj: T
    aliases: tuple[str, ...]
    origin: str
    help: str
    module: str = ""


def _origin_of(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "<unknown module>"
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    return f"{module}.{qualname}"


def _first_doc_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


class Registry(Generic[T]):
    """Names to classes or factories, with aliases, wildcard listing and helpful errors.

    ``kind`` is the plural noun used in messages ("normal ops"), so an unknown name reads
    ``unknown normal op 'sep_conv3x3'; did you mean 'sep_conv_3x3'? registered: ...``.
    ``builtins`` are the modules whose import registers the built-in entries; they are imported
    on the first lookup, listing or registration (so built-ins keep their order, Table I's for the
    ops, and a user entry cannot silently take a built-in's name).
    """

    def __init__(self, kind: str, singular: str | None = None, builtins: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.singular = singular or kind.rstrip("s")
        self.builtins = tuple(builtins)
        self._loaded = not self.builtins
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def load_builtins(self) -> None:
        """Import the modules that register the built-in entries (once; later calls do nothing)."""
        if self._loaded:
            return
        self._loaded = True  # first: those modules register through this registry
        for module in self.builtins:
            importlib.import_module(module)

    # -- registration -------------------------------------------------------------------------
    def register(
        self, name: str | None = None, *, aliases: tuple[str, ...] | list[str] = (), force: bool = False
    ) -> Callable[[T], T]:
        """Decorator: ``@NORMAL_OPS.register("my_op", aliases=("mine",))`` on a class or factory.

        ``force=True`` replaces an existing entry (for deliberate overrides in user code); without
        it a second registration of a name is an error that names where the first came from.
        """

        def decorator(obj: T) -> T:
            self.add(name or getattr(obj, "__name__"), obj, aliases=aliases, force=force)
            return obj

        return decorator

    def add(
        self, name: str, obj: T, *, aliases: tuple[str, ...] | list[str] = (), force: bool = False
    ) -> None:
        """Register ``obj`` under ``name`` without the decorator syntax."""
        if getattr(obj, "__module__", None) not in self.builtins:  # a built-in module may be mid-import
            self.load_builtins()
        aliases = tuple(aliases)
        for key in (name, *aliases):
            if not key or not isinstance(key, str):
                raise ValueError(f"{self.singular} names must be non-empty strings, got {key!r}")
            holder = self._entries.get(key) or self._entries.get(self._aliases.get(key, ""))
            if holder is not None and not force:
                raise DuplicateNameError(
                    f"{self.singular} '{key}' is already registered by {holder.origin}; "
                    f"pick another name or pass force=True to replace it"
                )
        if force:
            for key in (name, *aliases):
                self._remove_key(key)
        self._entries[name] = Entry(
            name, obj, aliases, _origin_of(obj), _first_doc_line(obj), getattr(obj, "__module__", "") or ""
        )
        for alias in aliases:
            self._aliases[alias] = name

    def _remove_key(self, key: str) -> None:
        target = self._aliases.pop(key, None) or key
        entry = self._entries.pop(target, None)
        if entry is not None:
            for alias in entry.aliases:
                self._aliases.pop(alias, None)

    def unregister(self, name: str) -> None:
        """Remove a name and its aliases (tests and interactive sessions use this)."""
        self._remove_key(self.canonical(name))

    # -- lookup -------------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        """The primary name for ``name`` or one of its aliases; raises for an unknown name."""
        self.load_builtins()
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownNameError(self.unknown_message(name))

    def unknown_message(self, name: str) -> str:
        self.load_builtins()
        known = sorted([*self._entries, *self._aliases])
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        listing = ", ".join(self.names()) or "(none)"
        return f"unknown {self.singular} '{name}'{hint}; registered {self.kind}: {listing}"

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)].obj

    def entry(self, name: str) -> Entry[T]:
        return self._entries[self.canonical(name)]

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Look ``name`` up and call it with the given arguments."""
        return self.get(name)(*args, **kwargs)  # type: ignore[operator]

    def __contains__(self, name: object) -> bool:
        self.load_builtins()
        return isinstance(name, str) and (name in self._entries or name in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self.load_builtins()
        return len(self._entries)

    def names(self) -> list[str]:
        """Primary names in registration order (the order of Table I for the built-in ops)."""
        self.load_builtins()
        return list(self._entries)

    def list(self, pattern: str = "*") -> list[str]:
        """Primary names matching a shell wildcard, e.g. ``NORMAL_OPS.list("*conv*")``.

        A name also matches when one of its aliases does.
        """
        self.load_builtins()
        return [
            name
            for name, entry in self._entries.items()
            if any(fnmatch.fnmatchcase(key, pattern) for key in (name, *entry.aliases))
        ]

    def entries(self, pattern: str = "*") -> list[Entry[T]]:
        return [self._entries[name] for name in self.list(pattern)]

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"


NORMAL_OPS: Registry[Callable[..., Any]] = Registry(
    "normal ops", "normal op", builtins=("hnas.ops.normal", "hnas.ops.blocks")
)
UPSAMPLING_OPS: Registry[Callable[..., Any]] = Registry(
    "upsampling ops", "upsampling op", builtins=("hnas.ops.upsampling",)
)
CELLS: Registry[Callable[..., Any]] = Registry("cells", "cell", builtins=("hnas.models.cells",))
CONTROLLERS: Registry[Callable[..., Any]] = Registry(
    "controllers", "controller",
    builtins=("hnas.controllers.lstm", "hnas.controllers.random", "hnas.controllers.evolution"),
)
REWARDS: Registry[Callable[..., Any]] = Registry("rewards", "reward", builtins=("hnas.rewards.joint", "hnas.rewards.budget"))
COSTS: Registry[Callable[..., Any]] = Registry("costs", "cost", builtins=("hnas.costs.builtin", "hnas.costs.latency_table"))
PRESETS: Registry[Callable[..., Any]] = Registry("presets", "preset", builtins=("hnas.spaces.presets",))
DATASETS: Registry[Callable[..., Any]] = Registry("datasets", "dataset", builtins=("hnas.data.sources",))
LOSSES: Registry[Callable[..., Any]] = Registry("losses", "loss", builtins=("hnas.train.losses",))
OPTIMIZERS: Registry[Callable[..., Any]] = Registry("optimizers", "optimizer", builtins=("hnas.train.optimizers",))
STRATEGIES: Registry[Callable[..., Any]] = Registry(
    "strategies", "strategy",
    builtins=("hnas.strategies.halving", "hnas.strategies.random_search", "hnas.strategies.controlled"),
)

ALL_REGISTRIES: dict[str, Registry[Any]] = {
    "ops": NORMAL_OPS,
    "upsampling": UPSAMPLING_OPS,
    "cells": CELLS,
    "controllers": CONTROLLERS,
    "rewards": REWARDS,
    "costs": COSTS,
    "presets": PRESETS,
    "datasets": DATASETS,
    "strategies": STRATEGIES,
    "losses": LOSSES,
    "optimizers": OPTIMIZERS,
}
