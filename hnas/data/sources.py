"""Where HR images come from: every data source is an entry of :data:`hnas.registry.DATASETS`.

A source is written either as a string or as a ``{type, params}`` node (:class:`SourceSpec`):

- ``"builtin:NAME"`` is the registered source ``NAME`` without params (``builtin:set5``,
  ``builtin:set14``, ``builtin:skimage``);
- any other string is a folder: a DIV2K root (detected by its ``*_HR`` folder) or a plain folder;
- ``{type = "folder", params = {path = "..."}}``, ``{type = "div2k", params = {path = "..."}}``,
  ``{type = "set5"}`` or a user's own type is looked up in ``DATASETS`` by ``type``.

:func:`open_images` resolves all of them to a list of :class:`ImageRecord` and applies a split
(:mod:`hnas.data.splits`). Sources only list files (the built-in ones are in :mod:`hnas.data.catalog`),
so resolving one is cheap; pixels are read later, by :func:`hnas.data.pairs.load_pair`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hnas.data.catalog import (
    _check_folder,
    _find_div2k,
    div2k_images,
    folder_images,
    set5_images,
    set14_images,
    skimage_images,
)
from hnas.data.pairs import load_pair, pair_size
from hnas.data.records import BUILTIN_DIR, BUILTIN_PREFIX, ImageRecord, Source, SourceSpec
from hnas.data.splits import Split, parse_split, select_split
from hnas.errors import DataError, UnknownNameError, first_error
from hnas.nodes import check_params
from hnas.registry import DATASETS

__all__ = [
    "BUILTIN_DIR",
    "ImageRecord",
    "Source",
    "SourceSpec",
    "Split",
    "UnknownSourceError",
    "div2k_images",
    "folder_images",
    "load_pair",
    "open_images",
    "pair_size",
    "parse_split",
    "resolve_source",
    "select_split",
    "set5_images",
    "set14_images",
    "skimage_images",
    "source_label",
    "validate_source",
]


# -- resolving a source ------------------------------------------------------------------------
class UnknownSourceError(DataError, UnknownNameError):
    """A source type nobody registered: a data error and a registry lookup error at once."""


def _known(name: str) -> str | None:
    """The canonical DATASETS name for ``name`` or ``builtin:name``; None if nobody registered it."""
    for key in (name.removeprefix(BUILTIN_PREFIX), name):
        if key in DATASETS:
            return DATASETS.canonical(key)
    return None


def _registered(name: str) -> str:
    """Canonical DATASETS name for ``name``; the registry's one-line error lists the others."""
    canonical = _known(name)
    if canonical is None:
        raise UnknownSourceError(DATASETS.unknown_message(name))
    return canonical


def _node_error(exc: ValidationError) -> str:
    where, message = first_error(exc)
    shape = 'a source node is {type = "NAME", params = {...}}'
    kind = exc.errors()[0]["type"]
    if kind == "extra_forbidden":
        return f"data source node has an unknown key '{where}'; {shape}"
    if kind == "missing":
        return f"data source node lacks '{where}'; {shape}"
    return f"data source node: {where}: {message}; {shape}"


def resolve_source(source: Source) -> SourceSpec:
    """Any written form of a source -> the :class:`SourceSpec` with its canonical registered type.

    A path string becomes ``div2k`` when the folder has the DIV2K layout, else ``folder`` (this
    looks at the folder, so a missing one is an error here). The result is what a run should
    record as the source it used.
    """
    if isinstance(source, SourceSpec):
        spec = source
    elif isinstance(source, Mapping):
        try:
            spec = SourceSpec.model_validate(dict(source))
        except ValidationError as exc:
            raise DataError(_node_error(exc)) from None
    elif isinstance(source, (str, Path)):
        text = str(source)
        if isinstance(source, str) and text.startswith(BUILTIN_PREFIX):
            return SourceSpec(type=_registered(text))
        if not text.strip():
            raise DataError("the data source is empty; pass a folder, builtin:NAME or {type, params}")
        root = Path(text).expanduser()
        _check_folder(root)
        kind = "div2k" if _find_div2k(root) is not None else "folder"
        return SourceSpec(type=kind, params={"path": str(root)})
    else:
        raise DataError(
            f"cannot use {type(source).__name__} {source!r} as a data source; "
            "pass a folder, builtin:NAME or {type, params}"
        )
    return SourceSpec(type=_registered(spec.type), params=dict(spec.params))


def _listed(name: str, result: Any) -> list[ImageRecord]:
    if not isinstance(result, (list, tuple)) or not all(isinstance(r, ImageRecord) for r in result):
        raise DataError(
            f"data source '{name}' returned {type(result).__name__}, not a list of hnas.data.ImageRecord"
        )
    if not result:
        raise DataError(f"data source '{name}' has no images")
    return list(result)


def open_images(source: Source, split: Split | None = None) -> list[ImageRecord]:
    """Resolve a data source to its HR image records, in the source's (sorted) order.

    ``source`` is a folder path, ``builtin:NAME``, a :class:`SourceSpec` or a ``{type, params}``
    mapping; ``split`` picks a subset (:func:`hnas.data.splits.select_split`). A registered source
    is any callable that takes its params as keyword arguments and returns ``list[ImageRecord]``
    in a stable order; it should only list files (pixels are read later). A source of your own::

        from pathlib import Path
        from hnas.data import ImageRecord
        from hnas.registry import DATASETS

        @DATASETS.register("flickr_subset")
        def flickr_subset(root: str, every: int = 1) -> list[ImageRecord]:
            files = sorted(Path(root).glob("*.png"))[::every]
            return [ImageRecord(path) for path in files]

    is then ``{type = "flickr_subset", params = {root = "/data/Flickr2K", every = 4}}`` in a spec
    (with the defining module in ``plugins``); a source without required params can also be
    written ``builtin:NAME``. A wrong param is one line naming the source and the param. A
    ``label`` attribute on the callable names the set in reports (Set5's is ``"Set5"``).
    """
    spec = resolve_source(source)
    fn = DATASETS.get(spec.type)
    records = _listed(spec.type, fn(**check_params(fn, dict(spec.params), f"data source '{spec.type}'", error=DataError)))
    return select_split(records, split, source_label(spec))


def validate_source(source: Source, split: Split | None = None) -> str:
    """Check a source before any work starts and return its report label (``Set5``, ``DIV2K``).

    Resolves the type, checks the params, lists the images (a folder must exist and hold images)
    and applies ``split`` (it must select images), all without decoding a pixel.
    """
    open_images(source, split)
    return source_label(source)


def source_label(source: Source) -> str:
    """Short name for reports: ``Set5``/``Set14`` for the packaged sets, a folder's name for a
    folder or DIV2K root, else ``builtin:NAME``. Looks at no files."""
    if isinstance(source, Path) or (isinstance(source, str) and not source.startswith(BUILTIN_PREFIX)):
        return Path(source).expanduser().resolve().name or str(source)
    if isinstance(source, str):
        spec = SourceSpec(type=source)
    else:
        spec = source if isinstance(source, SourceSpec) else SourceSpec.model_validate(dict(source))
    name = _known(spec.type)
    label = getattr(DATASETS.get(name), "label", None) if name is not None else None
    if isinstance(label, str) and label:
        return label
    path = spec.params.get("path")
    if isinstance(path, (str, Path)):
        return Path(path).expanduser().resolve().name or str(path)
    return BUILTIN_PREFIX + (name or spec.type.removeprefix(BUILTIN_PREFIX))


@DATASETS.register("union")
def union_images(sources: list[Any]) -> list[ImageRecord]:
    """The images of several sources, in order (e.g. T91 and the built-in photographs):
    ``{type = "union", params = {sources = ["/data/T91", "builtin:skimage"]}}``."""
    if not sources:
        raise DataError("data source 'union' needs at least one source in params.sources")
    return [record for source in sources for record in open_images(source)]
