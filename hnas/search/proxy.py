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

from dataclasses import dataclass

import torch

from hnas.engine.loop import Loop
from hnas.engine.schedule import cosine_lr
from hnas.engine.seeds import derive_seed
from hnas.engine.step import SRStep
from hnas.models.network import HNASNet
from hnas.search.scoring import Scorer
from hnas.search.spec import Spec
from hnas.spaces.genotype import Genotype
from hnas.train.patches import StepPatchSampler
from hnas.utils.optim import adam


@dataclass
class Trial:
    """One candidate's stand-alone training so far: its network, optimizer and steps taken."""

    genotype: Genotype
    model: HNASNet
    optimizer: torch.optim.Optimizer
    steps: int = 0


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

    def start(self, genotype: Genotype) -> Trial:
        """A candidate at step 0, with its optimizer (to be :meth:`advance`-d)."""
        model = self.build(genotype)
        return Trial(genotype, model, adam(model.parameters(), lr=self.settings.lr))

    def advance(self, trial: Trial, to_steps: int, horizon: int) -> Trial:
        """Train ``trial`` on to ``to_steps`` steps of a cosine schedule that ends at ``horizon``.

        Continuing is the same as training longer in one go: step ``k`` always takes batch ``k``
        and the learning rate of step ``k`` of the ``horizon``-step schedule. A candidate promoted
        to a longer rung (successive halving) so keeps the steps it was given instead of
        restarting (ASHA, Li et al., MLSys 2020).
        """
        lr = self.settings.lr
        step = SRStep(trial.optimizer, trial.model, self.batches.batch_at, self.device)
        trial.model.train()
        with torch.enable_grad():  # derivation may be called under no_grad
            Loop(step, lambda k: cosine_lr(k, horizon, lr, lr / 100), start=trial.steps, end=to_steps).run()
        trial.steps = max(trial.steps, to_steps)
        trial.model.eval()
        return trial

    def train(self, genotype: Genotype, iters: int | None = None) -> HNASNet:
        """``genotype`` after ``iters`` (default: the spec's) Adam steps, cosine to lr/100, on the
        proxy batches, in eval mode."""
        iters = self.settings.iters if iters is None else iters
        return self.advance(self.start(genotype), iters, iters).model

    def score(self, genotype: Genotype, iters: int | None = None) -> dict[str, float]:
        return self.scorer.score(self.train(genotype, iters), genotype)
