"""HR/LR pairs: an image record's pixels, the LR made MATLAB-compatibly and cached on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from hnas.data.io import image_size, read_image, write_image
from hnas.data.records import ImageRecord
from hnas.data.resize import downscale_uint8, mod_crop
from hnas.errors import DataError


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
