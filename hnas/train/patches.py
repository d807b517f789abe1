"""Random LR/HR patch batches that are a pure function of ``(seed, step)``.

Why not :class:`hnas.data.PatchDataset` as it stands: it draws crops from torch's global generator
(seeded per worker by the DataLoader), so the batch of step ``k`` depends on everything drawn
before, and on the number of workers. A resumed run must draw exactly the batches the
uninterrupted run would have drawn. Seeding a fresh generator with ``(seed, step)`` for every
batch gives that with nothing to save, and lets any number of workers produce batches out of order.

The images, their LR versions (MATLAB-compatible bicubic of the mod-cropped HR, or DIV2K's shipped
LR) and the skipping of too-small images come from the data package's ``PatchDataset`` (loaded in
memory); only the choice of image, crop and flips is made here, with the same conventions (HR
patch aligned with the LR grid; horizontal flip, vertical flip, transpose).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from hnas.data.datasets import PatchDataset, crop_pair


class StepPatchSampler:
    """``batch_at(step)``: ``batch`` aligned LR/HR patches drawn from ``images`` by ``(seed, step)``.

    ``images`` is any source ``hnas.data.PatchDataset`` accepts (folder, DIV2K root,
    ``builtin:skimage``); ``patch`` is the HR side.
    """

    def __init__(
        self,
        images: str,
        scale: int,
        patch: int,
        batch: int,
        seed: int = 0,
        augment: bool = True,
    ) -> None:
        self.source = PatchDataset(images, scale, patch, augment=augment, in_memory=True)
        self.scale, self.patch, self.batch, self.seed, self.augment = scale, patch, batch, seed, augment
        self.lr_patch = patch // scale

    def __len__(self) -> int:
        return len(self.source.records)

    def batch_at(self, step: int, part: slice | None = None) -> tuple[Tensor, Tensor]:
        """The ``step``-th batch: float LR ``B x 3 x p x p`` and HR ``B x 3 x sp x sp`` in 0..255.

        ``part`` keeps only those items of the batch (a process's shard in a multi-process run).
        Every item's random numbers are still drawn, in order, so item ``i`` is the same whether
        the whole batch or only a slice is built; only the cropping of the others is skipped.
        """
        rng = np.random.default_rng([self.seed, step])
        p, s = self.lr_patch, self.scale
        keep = range(self.batch)[part] if part is not None else range(self.batch)
        lrs, hrs = [], []
        for index in range(self.batch):
            lr_img, hr_img = self.source.pair(int(rng.integers(len(self))))
            top = int(rng.integers(lr_img.shape[0] - p + 1))
            left = int(rng.integers(lr_img.shape[1] - p + 1))
            flips = (rng.random(3) < 0.5).tolist() if self.augment else None
            if index not in keep:
                continue
            lr, hr = crop_pair(lr_img, hr_img, top, left, p, s, flips)
            lrs.append(lr)
            hrs.append(hr)
        return torch.stack(lrs).contiguous(), torch.stack(hrs).contiguous()


class StepBatches(Dataset[tuple[Tensor, Tensor]]):
    """A ``Dataset`` whose item ``i`` is the batch of step ``i`` (use ``batch_size=None``); with
    ``part``, only that slice of it (this process's shard of the global batch)."""

    def __init__(self, sampler: StepPatchSampler, steps: int, part: slice | None = None) -> None:
        self.sampler, self.steps, self.part = sampler, steps, part

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> tuple[Tensor, Tensor]:
        return self.sampler.batch_at(step, self.part)
