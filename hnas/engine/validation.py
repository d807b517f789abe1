"""A validation pass that gives one number whatever the number of processes.

Under ``torchrun`` each rank scores its share of the images (``DistributedSampler``, no
shuffling) and the per-image scores are gathered and averaged in the set's own order, so the
mean is the one-process mean: ``DistributedSampler`` repeats images to even out the shares, and
the repeats collapse by name. One process scores every image itself.
"""

from __future__ import annotations

from torch import nn
from torch.utils.data import DistributedSampler

from hnas.data.datasets import BenchmarkSet
from hnas.data.evaluate import evaluate
from hnas.engine import distributed as dist


class Validator:
    """Mean Y-channel PSNR (shave = scale) of a model on ``images``, shared out over the ranks."""

    def __init__(self, images: BenchmarkSet, scale: int) -> None:
        self.images, self.scale = images, scale
        self.part = self._part() if dist.is_distributed() else None

    def __len__(self) -> int:
        return len(self.images)

    def _part(self) -> BenchmarkSet:
        sampler = DistributedSampler(range(len(self.images)), num_replicas=dist.world_size(), rank=dist.rank(),
                                     shuffle=False)
        return BenchmarkSet([self.images.records[i] for i in sampler], self.scale, name=self.images.name)

    def psnr(self, model: nn.Module) -> float:
        """One pass: this process alone, or every rank its share."""
        if self.part is None:
            return float(evaluate(model, self.images, self.scale)["psnr"])
        mine = evaluate(model, self.part, self.scale)["images"]
        scores: dict[str, dict[str, float]] = {}
        for images in dist.all_gather_object(mine):
            scores.update(images)
        names = list(dict.fromkeys(record.name for record in self.images.records))
        return sum(scores[name]["psnr"] for name in names) / len(names)
