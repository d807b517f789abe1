"""The search's images: weight batches from the w split, fixed scoring patches from the theta split.

Paper supplementary B: the shared weights w and the controller theta train on disjoint parts of
the training set (DIV2K 1-320 and 321-800). Weight batches are a pure function of the step
(:class:`hnas.train.patches.StepPatchSampler`: a random image, crop and flips per item from
``(seed, step)``), so every image of the split is drawn, a resumed search draws what an
uninterrupted one drew, and no global generator is touched. The scoring patches are drawn once
from the seed (:mod:`hnas.search.scoring` says why they are fixed).
"""

from __future__ import annotations

from functools import cached_property

from torch import Tensor

from hnas.data import open_images, select_split
from hnas.engine.seeds import derive_seed
from hnas.search.spec import Spec
from hnas.train.patches import StepPatchSampler


class SearchData:
    """``w_batch(step)``, the scoring set ``score_lr``/``score_hr`` and, when derivation trains a
    proxy, its batches ``proxy`` (all from the w split) of a spec's search."""

    def __init__(self, spec: Spec) -> None:
        data, scale = spec.data, spec.space.scale
        records = open_images(data.source)
        where = str(data.source)
        w_images = select_split(records, data.w_split, where=f"{where} (w split)")
        theta_images = select_split(records, data.theta_split, where=f"{where} (theta split)")
        self.w = StepPatchSampler(w_images, scale, data.patch, data.batch, seed=derive_seed(spec.seed, "w"))
        scoring = StepPatchSampler(theta_images, scale, data.score_patch, data.score_patches,
                                   seed=derive_seed(spec.seed, "score"), augment=False)
        self.score_lr, self.score_hr = scoring.batch_at(0)
        self._spec, self._w_records = spec, w_images
        self.w_images = [r.name for r in w_images]
        self.theta_images = [r.name for r in theta_images]

    @cached_property
    def proxy(self) -> StepPatchSampler:
        """Batches of derivation's stand-alone proxy (``search.proxy``): the w split too, never the
        scoring images. Built on first use, so a search that trains no proxy never loads them twice."""
        proxy = self._spec.search.proxy
        return StepPatchSampler(self._w_records, self._spec.space.scale, proxy.patch, proxy.batch,
                                seed=derive_seed(self._spec.seed, "proxy"))

    def w_batch(self, step: int, part: slice | None = None) -> tuple[Tensor, Tensor]:
        """The global weight batch of ``step`` (``part``: this process's slice of it)."""
        return self.w.batch_at(step, None if part == slice(None) else part)
