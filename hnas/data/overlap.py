"""Do two image sets share a picture? Content hashes of decoded pixels, and the leak check.

An SR score means something only on images the model never trained on (Yang et al. 2020 on NAS
evaluation). File names and paths are no guide: a benchmark image copied into a training folder
under another name, or saved again as BMP, is still the same picture. So images are compared by
their decoded HR pixels. Decoding is the expensive part (tens of milliseconds per megapixel), so
only images whose (height, width) occurs in both sets are decoded, and each file is hashed once
per process (keyed by path, size and modification time).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

from hnas.data.io import image_size, read_image
from hnas.data.sources import ImageRecord
from hnas.errors import DataError

__all__ = ["check_disjoint", "content_hash", "find_overlap", "pixel_hash"]


def pixel_hash(pixels: np.ndarray) -> str:
    """Hash of a uint8 ``H x W [x C]`` image: its shape and bytes.

    A colour image whose three channels are equal is hashed as its one gray channel, so a
    grayscale picture saved as RGB (Set14 ``man.png``) matches its single-channel twin.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[2] == 3 and np.array_equal(pixels[:, :, 0], pixels[:, :, 1]) and np.array_equal(
        pixels[:, :, 1], pixels[:, :, 2]
    ):
        pixels = pixels[:, :, :1]
    digest = hashlib.sha256(f"{pixels.dtype}{pixels.shape}".encode())
    digest.update(np.ascontiguousarray(pixels).data)
    return digest.hexdigest()[:32]


def _stat_key(record: ImageRecord | str | Path) -> tuple[str, int, int]:
    path = Path(record.path if isinstance(record, ImageRecord) else record).resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"cannot read image {path}: {exc.strerror or exc}") from None
    return str(path), stat.st_size, stat.st_mtime_ns


# Memo keys are (resolved path, size, mtime): an edited file misses and is read again. Module-level
# caches, bounded: about 100 bytes an entry.
@lru_cache(maxsize=8192)
def _file_hash(path: str, size: int, mtime_ns: int) -> str:
    return pixel_hash(read_image(path))


def content_hash(record: ImageRecord | str | Path) -> str:
    """Hash of the image's decoded HR pixels (:func:`hnas.data.io.read_image`, then
    :func:`pixel_hash`): the same for a renamed or losslessly re-encoded copy.

    Memoised per (path, file size, modification time), so a file changed on disk is hashed again.
    """
    return _file_hash(*_stat_key(record))


@lru_cache(maxsize=8192)
def _file_size(path: str, size: int, mtime_ns: int) -> tuple[int, int]:
    return image_size(path)


def _hashes(records: Iterable[ImageRecord], workers: int) -> list[str]:
    records = list(records)
    if workers <= 1 or len(records) <= 1:
        return [content_hash(r) for r in records]
    # Pillow's decoders and hashlib release the GIL on large buffers: threads decode in parallel.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(content_hash, records))


def find_overlap(
    a: Sequence[ImageRecord], b: Sequence[ImageRecord], *, workers: int | None = None
) -> tuple[ImageRecord, ImageRecord] | None:
    """The first image of ``a`` (in its order) that is also in ``b``, with its twin; else None.

    The same file counts without decoding; otherwise images are compared by :func:`content_hash`,
    decoding only those whose (height, width), read from the file header, occurs in both sets.
    ``workers`` threads decode (default: up to 4, one per CPU).
    """
    if workers is None:
        workers = max(1, min(4, os.cpu_count() or 1))
    same_file = {r.path.resolve(): r for r in b}
    for record in a:
        twin = same_file.get(record.path.resolve())
        if twin is not None:
            return record, twin
    sized_b = [(r, _file_size(*_stat_key(r))) for r in b]
    sizes_b = {size for _, size in sized_b}
    sized_a = [(r, _file_size(*_stat_key(r))) for r in a]
    candidates_a = [r for r, size in sized_a if size in sizes_b]
    if not candidates_a:
        return None
    shared = {size for _, size in sized_a if size in sizes_b}
    candidates_b = [r for r, size in sized_b if size in shared]
    by_hash: dict[str, ImageRecord] = {}
    for record, digest in zip(candidates_b, _hashes(candidates_b, workers)):
        by_hash.setdefault(digest, record)
    for record, digest in zip(candidates_a, _hashes(candidates_a, workers)):
        if digest in by_hash:
            return record, by_hash[digest]
    return None


def _short(record: ImageRecord) -> str:
    return f"{record.path.parent.name}/{record.name}" if record.path.parent.name else record.name


def check_disjoint(
    a: Sequence[ImageRecord],
    b: Sequence[ImageRecord],
    what_a: str,
    what_b: str,
    *,
    fix: str | None = None,
) -> None:
    """Raise :class:`DataError` when ``a`` and ``b`` share a picture, in one line naming both files.

    ``check_disjoint(evaluation, training, "evaluation", "training", fix="evaluate on images the
    model never trained on")`` reads: ``evaluation image Set5/baby.png is the same picture as
    training image mydata/img_003.png (same pixels); evaluate on images the model never trained
    on``. ``fix`` defaults to a generic hint.
    """
    pair = find_overlap(a, b)
    if pair is None:
        return
    first, second = pair
    how = "same file" if first.path.resolve() == second.path.resolve() else "same pixels"
    advice = fix or f"use {what_a} images that are not among the {what_b} images"
    raise DataError(
        f"{what_a} image {_short(first)} is the same picture as {what_b} image {_short(second)} "
        f"({how}); {advice}"
    )
