"""Where HR images come from: every data source is an entry of :data:`hnas.registry.DATASETS`.

A source is written either as a string or as a ``{type, params}`` node (:class:`SourceSpec`):

- ``"builtin:NAME"`` is the registered source ``NAME`` without params (``builtin:set5``,
  ``builtin:set14``, ``builtin:skimage``);
- any other string is a folder: a DIV2K root (detected by its ``*_HR`` folder) or a plain folder;
- ``{type = "folder", params = {path = "..."}}``, ``{type = "div2k", params = {path = "..."}}``,
  ``{type = "set5"}`` or a user's own type is looked up in ``DATASETS`` by ``type``.

:func:`open_images` resolves all of them to a list of :class:`ImageRecord` and applies a split
(:mod:`hnas.data.splits`). Sources only list files, so resolving one is cheap; pixels are read
later, by :func:`load_pair`.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hnas.data.io import IMAGE_SUFFIXES, image_size, is_image_file, read_image, write_image
from hnas.data.resize import downscale_uint8, mod_crop
from hnas.data.splits import Split, parse_split, select_split
from hnas.errors import DataError, UnknownNameError, first_error
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

BUILTIN_PREFIX = "builtin:"
#: The benchmark sets that ship inside the package (see ``builtin/README.md`` there).
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@dataclass(frozen=True)
class ImageRecord:
    """One HR image file, and the folder of pre-made LR images if its data set ships them.

    ``lr_root`` is DIV2K's ``*_LR_bicubic`` folder, holding ``X{s}/{stem}x{s}.png``; without it
    (or without the file for a scale) LR images are made by MATLAB-compatible downscaling.
    """

    path: Path
    lr_root: Path | None = None

    @property
    def name(self) -> str:
        """The file name (``baby.png``): how reports and ``--save`` name this image."""
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.stem

    def premade_lr(self, scale: int) -> Path | None:
        """The shipped LR file for ``scale`` if there is one."""
        if self.lr_root is None:
            return None
        for suffix in (self.path.suffix, ".png"):
            candidate = self.lr_root / f"X{scale}" / f"{self.stem}x{scale}{suffix}"
            if candidate.is_file():
                return candidate
        return None


class SourceSpec(BaseModel):
    """A data source as a config node: the registered ``type`` and the keyword ``params`` it takes.

    ``{type = "div2k", params = {path = "/data/DIV2K"}}`` in TOML; unknown keys are rejected, so
    ``{type = "folder", path = "..."}`` (params not nested) is an error that names ``path``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(min_length=1, description="a name registered in hnas.DATASETS")
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the source")


#: Every form a data source may be written in.
Source = str | Path | SourceSpec | Mapping[str, Any]


# -- folders -----------------------------------------------------------------------------------
def _image_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if is_image_file(p)), key=lambda p: p.name)


def _builtin_hint(root: Path) -> str:
    """For a missing relative folder named like a built-in set (``Set5``): how to write that set."""
    name = root.name.lower()
    if root.parent != Path(".") or name not in DATASETS:
        return ""
    try:
        params = inspect.signature(DATASETS.get(name)).parameters.values()
    except (TypeError, ValueError):
        return ""
    if any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return ""
    return f"; the built-in set is written builtin:{DATASETS.canonical(name)}"


def _check_folder(root: Path) -> None:
    if not root.exists():
        raise DataError(f"data folder {root} does not exist{_builtin_hint(root)}")
    if not root.is_dir():
        raise DataError(f"{root} is a file; pass the folder that holds the images")


def _find_div2k(root: Path) -> tuple[Path, Path | None] | None:
    """``(hr_dir, lr_root)`` when ``root`` is, or directly holds, a DIV2K ``*_HR`` folder."""
    if root.name.endswith("_HR"):
        sibling = root.parent / f"{root.name[:-3]}_LR_bicubic"
        return root, (sibling if sibling.is_dir() else None)
    candidates = sorted(p for p in root.iterdir() if p.is_dir() and p.name.endswith("_HR"))
    if not candidates or _image_files(root):
        return None
    if len(candidates) > 1:
        train = [p for p in candidates if "train" in p.name.lower()]
        if len(train) != 1:
            names = ", ".join(p.name for p in candidates)
            raise DataError(f"{root} holds several HR folders ({names}); pass the one to use")
        candidates = train
    hr_dir = candidates[0]
    lr_root = root / f"{hr_dir.name[:-3]}_LR_bicubic"
    return hr_dir, (lr_root if lr_root.is_dir() else None)


def folder_images(path: str | Path) -> list[ImageRecord]:
    """A folder of HR images (params: path): png/jpg/jpeg/bmp in any case, sorted by name.

    Other files and subfolders are ignored. LR images are made by MATLAB-compatible bicubic
    downscaling of the mod-cropped HR.
    """
    root = Path(path).expanduser()
    _check_folder(root)
    files = _image_files(root)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
    return [ImageRecord(p) for p in files]


def div2k_images(path: str | Path) -> list[ImageRecord]:
    """A DIV2K root or its ``*_HR`` folder (params: path), using the LR images shipped beside it.

    ``ROOT/DIV2K_train_HR/0001.png`` pairs with ``ROOT/DIV2K_train_LR_bicubic/X2/0001x2.png``.
    ``path`` may be the data set root or the ``*_HR`` folder itself; pre-made LR images are used
    where present, missing ones are made by MATLAB-compatible downscaling.
    """
    root = Path(path).expanduser()
    _check_folder(root)
    found = _find_div2k(root)
    if found is None:
        raise DataError(
            f"{root} does not have the DIV2K layout (a *_HR folder, optionally *_LR_bicubic/X<s>/)"
        )
    hr_dir, lr_root = found
    files = _image_files(hr_dir)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {hr_dir}")
    return [ImageRecord(p, lr_root) for p in files]


# -- built-in sets -----------------------------------------------------------------------------
#: RGB photographs shipped inside scikit-image's wheel (no download). Left out: the stereo twin
#: ``motorcycle_right`` (it would leak between splits), synthetic ``color``/``phantom``/
#: ``chessboard_RGB``, and the mostly-black ``retina``/``hubble_deep_field``.
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "ihc.png",
    "motorcycle_left.png",
    "rocket.jpg",
)


def _skimage_data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise DataError("builtin:skimage needs scikit-image installed (pip install scikit-image)")
    return Path(spec.origin).parent / "data"


def _present(records: list[ImageRecord], folder: Path, fix: str) -> list[ImageRecord]:
    missing = [r.name for r in records if not r.path.is_file()]
    if missing:
        raise DataError(f"{folder} lacks {', '.join(missing)}; {fix}")
    return records


def skimage_images() -> list[ImageRecord]:
    """Six RGB sample photos shipped in scikit-image's wheel (astronaut, chelsea, coffee, ...).

    The default data for quick starts and tests: available offline wherever hnas is installed,
    read straight from the package folder (never through scikit-image's download fetcher).
    """
    folder = _skimage_data_dir()
    records = [ImageRecord(folder / name) for name in SKIMAGE_PHOTOS]
    return _present(records, folder, "reinstall scikit-image")


#: File names of the packaged benchmark sets, so a damaged install is an error, not a smaller set.
SET5_FILES = ("baby.png", "bird.png", "butterfly.png", "head.png", "woman.png")
SET14_FILES = (
    "baboon.png", "barbara.png", "bridge.png", "coastguard.png", "comic.png", "face.png", "flowers.png",
    "foreman.png", "lenna.png", "man.png", "monarch.png", "pepper.png", "ppt3.png", "zebra.png",
)


def _packaged(name: str, files: tuple[str, ...]) -> list[ImageRecord]:
    folder = BUILTIN_DIR / name
    return _present([ImageRecord(folder / f) for f in files], folder, "reinstall hnas")


def set5_images() -> list[ImageRecord]:
    """Set5 (Bevilacqua et al., BMVC 2012): 5 HR test images, shipped with hnas."""
    return _packaged("Set5", SET5_FILES)


def set14_images() -> list[ImageRecord]:
    """Set14 (Zeyde et al., Curves and Surfaces 2010): 14 HR test images, shipped with hnas."""
    return _packaged("Set14", SET14_FILES)


# Reports call these sets by the names the SR literature uses.
set5_images.label = "Set5"  # type: ignore[attr-defined]
set14_images.label = "Set14"  # type: ignore[attr-defined]


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


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    target = fn.__init__ if inspect.isclass(fn) else fn  # type: ignore[misc]
    try:
        return typing.get_type_hints(target)
    except (NameError, TypeError, AttributeError, SyntaxError):
        return {}  # annotations that do not resolve: the source checks its own params


def _checked_params(name: str, fn: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` checked against the source's signature and annotations, with one-line errors."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return dict(params)
    named = {
        p.name: p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for key in params:
        if key not in named and not takes_any:
            close = difflib.get_close_matches(key, list(named), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            accepted = ", ".join(named) or "none"
            raise DataError(f"data source '{name}' has no param '{key}'{hint}; its params: {accepted}")
    for param in named.values():
        if param.default is param.empty and param.name not in params:
            raise DataError(
                f"data source '{name}' needs param '{param.name}': "
                f"{{type = \"{name}\", params = {{{param.name} = ...}}}}"
            )
    hints = _type_hints(fn)
    checked = {}
    for key, value in params.items():
        if key in hints:
            try:
                value = TypeAdapter(hints[key]).validate_python(value)
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"]
                raise DataError(f"data source '{name}': param '{key}' = {value!r}: {reason}") from None
        checked[key] = value
    return checked


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
    records = _listed(spec.type, fn(**_checked_params(spec.type, fn, spec.params)))
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


# -- HR/LR pairs -------------------------------------------------------------------------------
def _cache_file(cache_dir: Path, hr_path: Path, scale: int) -> Path:
    stat = hr_path.stat()
    key = f"{hr_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|x{scale}|matlab-bicubic-v1"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir / f"{hr_path.stem}_{digest}_x{scale}.png"


def _too_small(path: Path, scale: int, height: int, width: int) -> DataError:
    return DataError(
        f"image {path} ({width}x{height}) is too small for x{scale}: it must be at least {scale}x{scale}"
    )


def load_pair(
    record: ImageRecord, scale: int, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(lr, hr)`` uint8 ``H x W x C`` arrays with ``hr`` exactly ``scale`` times ``lr``.

    The HR is mod-cropped; the LR is the shipped one (HR cropped to match) or the MATLAB-compatible
    downscale of the uint8 HR, read from / written to ``cache_dir`` when given (keyed by the HR's
    path, size and modification time, written atomically so parallel workers can share it).
    """
    hr = read_image(record.path)
    premade = record.premade_lr(scale)
    if premade is not None:
        lr = read_image(premade)
        lh, lw = lr.shape[:2]
        if lh * scale > hr.shape[0] or lw * scale > hr.shape[1] or lr.shape[2] != hr.shape[2]:
            raise DataError(
                f"LR image {premade} ({lw}x{lh}) does not match x{scale} of {record.path} "
                f"({hr.shape[1]}x{hr.shape[0]})"
            )
        return lr, hr[: lh * scale, : lw * scale]
    hr = mod_crop(hr, scale)
    if hr.shape[0] < scale or hr.shape[1] < scale:
        raise _too_small(record.path, scale, hr.shape[0], hr.shape[1])
    if cache_dir is None:
        return downscale_uint8(hr, scale), hr
    cached = _cache_file(Path(cache_dir), record.path, scale)
    if cached.is_file():
        try:
            lr = read_image(cached)
            if lr.shape == (hr.shape[0] // scale, hr.shape[1] // scale, hr.shape[2]):
                return lr, hr
        except DataError:
            pass
    lr = downscale_uint8(hr, scale)
    write_image(cached, lr)
    return lr, hr


def pair_size(record: ImageRecord, scale: int) -> tuple[int, int]:
    """``(height, width)`` of the HR that :func:`load_pair` returns, from file headers only."""
    premade = record.premade_lr(scale)
    if premade is not None:
        lh, lw = image_size(premade)
        return lh * scale, lw * scale
    height, width = image_size(record.path)
    return height - height % scale, width - width % scale


DATASETS.add("folder", folder_images)
DATASETS.add("div2k", div2k_images)
DATASETS.add("skimage", skimage_images, aliases=("builtin:skimage",))
DATASETS.add("set5", set5_images, aliases=("builtin:set5",))
DATASETS.add("set14", set14_images, aliases=("builtin:set14",))


@DATASETS.register("union")
def union_images(sources: list[Any]) -> list[ImageRecord]:
    """The images of several sources, in order (e.g. T91 and the built-in photographs):
    ``{type = "union", params = {sources = ["/data/T91", "builtin:skimage"]}}``."""
    if not sources:
        raise DataError("data source 'union' needs at least one source in params.sources")
    return [record for source in sources for record in open_images(source)]
