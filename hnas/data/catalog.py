"""The built-in data sources: folders, DIV2K roots, scikit-image's photographs, Set5 and Set14.

Each is a function listing :class:`~hnas.data.records.ImageRecord` s, registered in
:data:`hnas.registry.DATASETS` (so a user's own source is one more function).
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from hnas.data.io import IMAGE_SUFFIXES, is_image_file
from hnas.data.records import BUILTIN_DIR, ImageRecord
from hnas.errors import DataError
from hnas.registry import DATASETS


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


DATASETS.add("folder", folder_images)
DATASETS.add("div2k", div2k_images)
DATASETS.add("skimage", skimage_images, aliases=("builtin:skimage",))
DATASETS.add("set5", set5_images, aliases=("builtin:set5",))
DATASETS.add("set14", set14_images, aliases=("builtin:set14",))
