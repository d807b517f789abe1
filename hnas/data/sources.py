"""Where HR images come from: a folder, a DIV2K-style root, or a built-in sample set.

``open_images(source, split)`` is the one entry point: ``source`` is a folder path or
``builtin:skimage``; the result is a sorted list of :class:`ImageRecord`. Index splits pick the
images the HNAS search uses for each stage (weights on DIV2K 1-320, controller on 321-800); see
:mod:`hnas.data.splits`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hnas.data.io import IMAGE_SUFFIXES, image_size, is_image_file, read_image, write_image
from hnas.data.resize import downscale_uint8, mod_crop
from hnas.data.splits import Split, parse_split, select_split
from hnas.errors import DataError
from hnas.registry import DATASETS

__all__ = [
    "BUILTIN_SOURCES",
    "ImageRecord",
    "Split",
    "div2k_images",
    "folder_images",
    "load_pair",
    "open_images",
    "pair_size",
    "parse_split",
    "select_split",
    "skimage_images",
    "source_label",
]

BUILTIN_PREFIX = "builtin:"


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


# -- folders -----------------------------------------------------------------------------------
def _image_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if is_image_file(p)), key=lambda p: p.name)


def _check_folder(root: Path) -> None:
    if not root.exists():
        raise DataError(f"data folder {root} does not exist")
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


def folder_images(root: str | Path, split: Split | None = None) -> list[ImageRecord]:
    """HR images in a folder (png/jpg/jpeg/bmp, any case; other files ignored), sorted by name.

    LR images are made by MATLAB-compatible bicubic downscaling of the mod-cropped HR.
    """
    root = Path(root)
    _check_folder(root)
    files = _image_files(root)
    if not files:
        kinds = ", ".join(IMAGE_SUFFIXES)
        raise DataError(f"no images ({kinds}) in {root}")
    return select_split([ImageRecord(p) for p in files], split, str(root))


def div2k_images(root: str | Path, split: Split | None = None) -> list[ImageRecord]:
    """DIV2K layout (a ``*_HR`` folder beside ``*_LR_bicubic/X<s>/``), using the pre-made LR images.

    ``ROOT/DIV2K_train_HR/0001.png`` pairs with ``ROOT/DIV2K_train_LR_bicubic/X2/0001x2.png``.
    ``root`` may be the data set root or the ``*_HR`` folder itself; pre-made LR images are used
    where present, missing ones are made by MATLAB-compatible downscaling.
    """
    root = Path(root)
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
    return select_split([ImageRecord(p, lr_root) for p in files], split, str(root))


# -- built-in samples --------------------------------------------------------------------------
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


def skimage_images(split: Split | None = None) -> list[ImageRecord]:
    """Six RGB sample photos shipped in scikit-image's wheel (astronaut, chelsea, coffee, ...).

    The default data for quick starts and tests: available offline wherever hnas is installed,
    read straight from the package folder (never through scikit-image's download fetcher).
    """
    folder = _skimage_data_dir()
    records = [ImageRecord(folder / name) for name in SKIMAGE_PHOTOS]
    missing = [r.name for r in records if not r.path.is_file()]
    if missing:
        raise DataError(f"scikit-image in {folder} lacks {', '.join(missing)}; reinstall scikit-image")
    return select_split(records, split, "builtin:skimage")


BUILTIN_SOURCES: dict[str, Callable[..., list[ImageRecord]]] = {"skimage": skimage_images}


def open_images(source: str | Path, split: Split | None = None) -> list[ImageRecord]:
    """Resolve a data source to its sorted HR image records.

    ``source``: ``builtin:skimage``, a DIV2K root (detected by its ``*_HR`` folder), or a plain
    folder of images. ``split`` picks a subset (see :func:`select_split`).
    """
    text = str(source)
    if text.startswith(BUILTIN_PREFIX):
        key = text[len(BUILTIN_PREFIX) :]
        if key not in BUILTIN_SOURCES:
            known = ", ".join(BUILTIN_PREFIX + k for k in BUILTIN_SOURCES)
            raise DataError(f"unknown built-in data '{text}'; available: {known}")
        return BUILTIN_SOURCES[key](split)
    root = Path(source).expanduser()
    _check_folder(root)
    if _find_div2k(root) is not None:
        return div2k_images(root, split)
    return folder_images(root, split)


def source_label(source: str | Path) -> str:
    """Short name for reports: the folder name (``Set5``) or the built-in name."""
    text = str(source)
    if text.startswith(BUILTIN_PREFIX):
        return text
    path = Path(text).expanduser()
    return path.resolve().name or text


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
