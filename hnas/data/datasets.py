"""Torch datasets: random HR/LR training patches and benchmark sets for evaluation.

Both sit on :func:`hnas.data.sources.open_images`, so any source (folder, DIV2K root,
``builtin:set5``, a ``{type, params}`` node) and any split works for both. LR images are the
MATLAB-compatible bicubic downscale of the uint8 HR, made once per image and kept in memory (and
on disk with ``cache_dir``), as EDSR/HNAS prepare their training data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from hnas.data.io import image_to_tensor, to_rgb, warn_skipped
from hnas.data.metrics import SSIM_WINDOW
from hnas.data.sources import ImageRecord, Source, SourceSpec, load_pair, open_images, pair_size, source_label
from hnas.data.splits import Split, select_split
from hnas.errors import DataError

__all__ = ["BenchmarkItem", "BenchmarkSet", "PatchDataset", "make_loader", "min_eval_side"]

Pair = tuple[np.ndarray, np.ndarray]


def _is_source(images: object) -> bool:
    return isinstance(images, (str, Path, SourceSpec, Mapping))


def _records(images: Source | Sequence[ImageRecord], split: Split | None) -> list[ImageRecord]:
    if _is_source(images):
        return open_images(images, split)  # type: ignore[arg-type]
    if split is not None:
        return select_split(images, split)
    return list(images)


class PatchDataset(Dataset[tuple[Tensor, Tensor]]):
    """Random ``(lr, hr)`` training patches: float ``C x h x w`` tensors in 0..255, RGB.

    Each item draws an image uniformly at random, a random HR patch of ``patch_size`` (96 -> LR
    48 at x2, the EDSR/HNAS setting) aligned with the LR grid, and a random horizontal flip,
    vertical flip and transpose (the 8 dihedral views). The image is drawn, not taken as item
    ``i mod n``: an epoch shorter than the image list would otherwise never see its last images.
    Randomness comes from torch's generator, which ``DataLoader`` seeds per worker.
    ``samples_per_epoch`` sets the epoch length (default: one patch per image). Images smaller
    than the patch are skipped with a warning that names them. ``in_memory`` loads every pair once
    up front (fast epochs; do it before a DataLoader forks its workers so they share the pages);
    otherwise each item reads its files, which wants a ``cache_dir`` for the LR images.
    """

    def __init__(
        self,
        images: Source | Sequence[ImageRecord] = "builtin:skimage",
        scale: int = 2,
        patch_size: int = 96,
        *,
        split: Split | None = None,
        samples_per_epoch: int | None = None,
        augment: bool = True,
        cache_dir: str | Path | None = None,
        in_memory: bool = True,
    ) -> None:
        if scale < 1:
            raise DataError(f"scale must be a positive integer, got {scale}")
        if patch_size < scale or patch_size % scale:
            raise DataError(f"patch size {patch_size} must be a positive multiple of the scale {scale}")
        if samples_per_epoch is not None and samples_per_epoch < 1:
            raise DataError(f"samples_per_epoch must be positive, got {samples_per_epoch}")
        self.scale = scale
        self.patch_size = patch_size
        self.lr_patch = patch_size // scale
        self.augment = augment
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.records = self._usable(_records(images, split))
        self.samples_per_epoch = samples_per_epoch or len(self.records)
        self._pairs: list[Pair] | None = (
            [load_pair(r, scale, self.cache_dir) for r in self.records] if in_memory else None
        )

    def _usable(self, records: list[ImageRecord]) -> list[ImageRecord]:
        usable = []
        for record in records:
            height, width = pair_size(record, self.scale)
            if height < self.patch_size or width < self.patch_size:
                warn_skipped(
                    record.path, f"{width}x{height} is smaller than the {self.patch_size}-pixel patch"
                )
                continue
            usable.append(record)
        if not usable:
            raise DataError(f"no training image is at least {self.patch_size}x{self.patch_size} pixels")
        return usable

    def __len__(self) -> int:
        return self.samples_per_epoch

    def pair(self, index: int) -> Pair:
        """The full ``(lr, hr)`` uint8 images of record ``index``."""
        if self._pairs is not None:
            return self._pairs[index]
        return load_pair(self.records[index], self.scale, self.cache_dir)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        lr, hr = self.pair(int(torch.randint(0, len(self.records), ())))
        top = int(torch.randint(0, lr.shape[0] - self.lr_patch + 1, ()))
        left = int(torch.randint(0, lr.shape[1] - self.lr_patch + 1, ()))
        flips = [bool(f) for f in torch.randint(0, 2, (3,)).tolist()] if self.augment else None
        lr_t, hr_t = crop_pair(lr, hr, top, left, self.lr_patch, self.scale, flips)
        return lr_t.contiguous(), hr_t.contiguous()


def crop_pair(lr: np.ndarray, hr: np.ndarray, top: int, left: int, lr_patch: int, scale: int,
              flips: list[bool] | None = None) -> tuple[Tensor, Tensor]:
    """The aligned LR/HR patch at ``(top, left)`` of the LR grid, as RGB float tensors, with the
    optional horizontal flip, vertical flip and transpose (the 8 dihedral views), one after another."""
    p, s = lr_patch, scale
    lr_t = image_to_tensor(lr[top : top + p, left : left + p])
    hr_t = image_to_tensor(hr[top * s : (top + p) * s, left * s : (left + p) * s])
    if flips is not None:
        hflip, vflip, transpose = flips
        if hflip:
            lr_t, hr_t = lr_t.flip(-1), hr_t.flip(-1)
        if vflip:
            lr_t, hr_t = lr_t.flip(-2), hr_t.flip(-2)
        if transpose:
            lr_t, hr_t = lr_t.transpose(-2, -1), hr_t.transpose(-2, -1)
    return to_rgb(lr_t), to_rgb(hr_t)


class BenchmarkItem(NamedTuple):
    """One evaluation image: file name, uint8 LR and mod-cropped uint8 HR (``H x W x C``)."""

    name: str
    lr: np.ndarray
    hr: np.ndarray


def min_eval_side(scale: int) -> int:
    """Smallest HR side that leaves an SSIM window after shaving ``scale`` pixels per border."""
    return SSIM_WINDOW + 2 * scale


class BenchmarkSet(Dataset[BenchmarkItem]):
    """A benchmark set (Set5, Set14, B100, ...): HR mod-cropped to the scale, LR by MATLAB bicubic.

    Items are :class:`BenchmarkItem` with uint8 arrays; a single-channel HR stays single-channel
    (it is its own Y channel). Image sizes are checked up front from the file headers, so a too
    small image fails before any model runs. Pairs are cached in memory after first use
    (``cache=True``), since the search evaluates the same images many times.
    """

    def __init__(
        self,
        source: Source | Sequence[ImageRecord],
        scale: int,
        *,
        split: Split | None = None,
        name: str | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        if scale < 1:
            raise DataError(f"scale must be a positive integer, got {scale}")
        self.scale = scale
        named = _is_source(source)
        self.name = name or (source_label(source) if named else "images")  # type: ignore[arg-type]
        self.records = _records(source, split)
        self.cache_dir = cache_dir
        need = min_eval_side(scale)
        for record in self.records:
            height, width = pair_size(record, scale)
            if height < need or width < need:
                raise DataError(
                    f"image {record.path} is too small for x{scale} evaluation: {width}x{height} after "
                    f"mod-crop, needs at least {need}x{need} "
                    f"(11-pixel SSIM window plus {scale}-pixel borders)"
                )
        self._cache: dict[int, BenchmarkItem] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> BenchmarkItem:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        record = self.records[index]
        lr, hr = load_pair(record, self.scale, self.cache_dir)
        item = BenchmarkItem(record.name, lr, hr)
        if self._cache is not None:
            self._cache[index] = item
        return item

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (self[i] for i in range(len(self)))


def make_loader(
    dataset: Dataset[tuple[Tensor, Tensor]],
    batch_size: int = 16,
    *,
    shuffle: bool = True,
    num_workers: int | None = None,
    device: torch.device | str | None = None,
    seed: int | None = None,
    drop_last: bool = True,
) -> DataLoader[tuple[Tensor, Tensor]]:
    """A DataLoader for training patches.

    ``num_workers=None`` picks 0 for an in-memory :class:`PatchDataset` (cropping a patch from
    memory takes microseconds; worker processes only add IPC — measured slower on CPU) and
    ``min(4, cpus - 1)`` when items read files. ``pin_memory`` is on for CUDA targets. ``seed``
    fixes the shuffle order and the per-worker seeds; with ``num_workers=0`` the patches come from
    torch's global generator, so ``torch.manual_seed`` fixes them.
    """
    if num_workers is None:
        reads_files = isinstance(dataset, PatchDataset) and dataset._pairs is None
        num_workers = max(0, min(4, (os.cpu_count() or 1) - 1)) if reads_files else 0
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    pin = torch.device(device).type == "cuda" if device is not None else False
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        pin_memory=pin,
        drop_last=drop_last,
        generator=generator,
        persistent_workers=num_workers > 0,
    )

