"""Derivation's stand-alone proxy: train each candidate alone, briefly, and score it.

The shared weights score the architectures they trained most: with regularized evolution every
weight step trains a population member, so members outscore everything else by more than a dB,
and early-upsampling paths learn fastest under sharing (docs/search.md). The search still needs
the supernet to *propose* candidates cheaply, but the final pick among a handful is affordable
with a fairer measure: every candidate gets the same seeded initialisation, the same ``iters``
Adam steps on the same batches of the w split, and the same fixed scoring images. This is a short
version of what ``hnas compare`` does at the end, on search images only.

A short proxy still favours networks that learn fast (at equal MACs: early upsampling, few
parameters), which a longer retraining overtakes. ``finalists`` is the last round of successive
halving (Jamieson & Talwalkar, AISTATS 2016): the best few of the short round are trained again,
from the same start, for ``final_iters`` steps, and the pick is made among them only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hnas.engine.schedule import cosine_lr, set_lr
from hnas.engine.seeds import derive_seed
from hnas.models.network import HNASNet
from hnas.search.scoring import Scorer
from hnas.search.spec import Spec
from hnas.spaces.genotype import Genotype
from hnas.train.patches import StepPatchSampler
from hnas.utils.optim import adam


class ProxyTrainer:
    """``score(genotype)``: the scorer's numbers for ``genotype`` after a short stand-alone training."""

    def __init__(self, spec: Spec, batches: StepPatchSampler, scorer: Scorer, device: torch.device) -> None:
        self.spec, self.batches, self.scorer, self.device = spec, batches, scorer, device
        self.settings = spec.search.proxy
        self.op_params = spec.space.op_params()

    def build(self, genotype: Genotype) -> HNASNet:
        """The candidate at the search's width, initialised from the run's seed (the same draw for all)."""
        space = self.spec.space
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.spec.seed, "proxy-init"))
            model = HNASNet(genotype, scale=space.scale, channels=space.channels, global_skip=space.global_skip,
                            op_params=self.op_params)
        return model.to(self.device)

    def train(self, genotype: Genotype, iters: int | None = None) -> HNASNet:
        """``genotype`` after ``iters`` (default: the spec's) Adam steps, cosine to lr/100, on the
        proxy batches, in eval mode."""
        settings = self.settings
        iters = settings.iters if iters is None else iters
        model = self.build(genotype).train()
        optimizer = adam(model.parameters(), lr=settings.lr)
        with torch.enable_grad():  # derivation may be called under no_grad
            for step in range(iters):
                set_lr(optimizer, cosine_lr(step, iters, settings.lr, settings.lr / 100))
                lr_img, hr_img = self.batches.batch_at(step)
                loss = F.l1_loss(model(lr_img.to(self.device)), hr_img.to(self.device))
                optimizer.zero_grad(set_to_none=True)
                if torch.isfinite(loss):
                    loss.backward()
                    optimizer.step()
        return model.eval()

    def score(self, genotype: Genotype, iters: int | None = None) -> dict[str, float]:
        return self.scorer.score(self.train(genotype, iters), genotype)
