"""Algorithm 1 of the paper: alternate shared-weight updates and controller updates; then derive.

Each epoch (a) trains the supernet's shared weights w on the w split (lines 4-7), every batch with
an architecture sampled from the controller -- during the first ``warmup_epochs`` uniformly
instead, so the shared weights learn before the controller acts on their scores (ENAS/SPOS
practice) -- then (b) trains the controller (lines 9-12): sample an architecture, score it on the
fixed scoring images with the shared weights (:mod:`hnas.search.scoring`), price the same
architecture, form the reward and let the controller learn from it. Derivation (Sec. II-C) scores
the controller's candidates on the same images and keeps the best by reward.

Every random draw is a pure function of ``(seed, what, epoch, step)`` (:mod:`hnas.engine.seeds`)
and every batch a pure function of the step, so the state saved after each epoch (supernet,
optimiser, controller; :mod:`hnas.engine.state`) is all a resumed search needs to repeat an
uninterrupted one exactly.

Multi-process (torchrun): the shared weights train data-parallel -- every rank draws the same
global batch and the same architecture and trains on its slice through DDP with
``find_unused_parameters`` (a sampled architecture touches a small part of the supernet). The
controller phase runs on rank 0 alone; its controller state is then broadcast. The run folder is
rank 0's (:class:`~hnas.engine.folder.RunFolder`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from hnas.controllers.base import Controller
from hnas.engine.folder import RunFolder
from hnas.engine.loop import Hook, Loop
from hnas.engine.processes import Processes
from hnas.engine.runfiles import ARCHIVE_FILE, SEARCH_LOG_FILE, SEARCH_STATE_FILE
from hnas.engine.schedule import cosine_lr
from hnas.engine.seeds import torch_generator
from hnas.engine.state import State, module_tensors, pack_optimizer, unpack_optimizer
from hnas.errors import HnasError
from hnas.search.data import SearchData
from hnas.search.proxy import ProxyTrainer
from hnas.search.scoring import Scorer
from hnas.search.spec import Spec
from hnas.search.supernet import SuperNet, SupernetStep
from hnas.spaces.genotype import Genotype
from hnas.utils.optim import adam
from hnas.utils.threads import num_threads

STATE_FILE, LOG_FILE = SEARCH_STATE_FILE, SEARCH_LOG_FILE


@dataclass
class EpochStats:
    """What one epoch logs (no wall times: the log must repeat exactly on resume)."""

    epoch: int
    phase: str
    loss: list[float] = field(default_factory=list)
    scores: list[dict[str, float]] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    baseline: float | None = None

    def summary(self, lr: float) -> dict[str, Any]:
        def mean(values: list[float]) -> float | None:
            finite = [v for v in values if math.isfinite(v)]
            return round(sum(finite) / len(finite), 6) if finite else None

        def score_mean(key: str) -> float | None:
            return mean([s[key] for s in self.scores])

        return {
            "epoch": self.epoch,
            "phase": self.phase,
            "loss": mean(self.loss),
            "entropy": mean(self.entropies),
            "reward_mean": score_mean("reward"),
            "psnr_mean": score_mean("psnr"),
            "psnr_gain_mean": score_mean("psnr_gain"),
            "cost_mean": score_mean("cost"),
            "macs_mean": score_mean("macs"),
            "baseline": None if self.baseline is None else round(self.baseline, 6),
            "lr": lr,
        }


def round_scores(scores: dict[str, float]) -> dict[str, float]:
    """Scores as the run's files keep them (6 decimals, so a resumed run writes the same bytes)."""
    return {k: round(v, 6) for k, v in scores.items()}


def deciding_reward(record: dict[str, Any]) -> float:
    """The reward a derivation record was chosen by: the proxy's when derivation trained one."""
    return float(record["proxy"]["reward"] if "proxy" in record else record["reward"])


class _LossLog(Hook):
    """The loss of every weight step into the epoch's statistics (NaN for a skipped update)."""

    def __init__(self, losses: list[float]) -> None:
        self.losses = losses

    def after_step(self, loop: Loop) -> None:
        self.losses.append(float("nan") if loop.loss is None else loop.loss)


class Search:
    """The search stage of ``hnas run``: Algorithm 1 plus derivation (paper Sec. II-C)."""

    def __init__(
        self,
        spec: Spec,
        folder: RunFolder,
        device: torch.device,
        data: SearchData,
        scorer: Scorer,
        supernet: SuperNet,
        controller: Controller,
    ) -> None:
        self.spec, self.folder, self.device = spec, folder, device
        self.data, self.scorer = data, scorer
        self.supernet = supernet.to(device)
        self.controller = controller.to(device)
        self.optimizer = adam(self.supernet.parameters(), lr=spec.search.lr)
        self.total_w_steps = spec.search.epochs * spec.search.w_steps
        # Weight steps go through ``ddp`` (the supernet itself in one process); scoring uses the
        # supernet directly, so that rank 0 can score alone.
        self.processes = Processes.current()
        self.ddp = self.processes.wrap(self.supernet, device, find_unused=True)
        self.epoch = 0  # epochs completed

    def draw(self, *salt: int | str) -> torch.Generator:
        """The generator of one draw (on the controller's device)."""
        return torch_generator(self.spec.seed, *salt, device=self.controller.device)

    # -- Algorithm 1 ------------------------------------------------------------------------------
    def train_weights(self, epoch: int, stats: EpochStats) -> None:
        """Lines 4-7: w <- w - eta grad_w L(alpha, w), alpha sampled per batch (uniformly in warm-up)."""
        search = self.spec.search
        draw = self.controller.warmup_sample if stats.phase == "warmup" else self.controller.training_sample
        self.supernet.train()
        part = self.processes.part(self.spec.data.batch)

        step = SupernetStep(self.optimizer, self.supernet, self.ddp, lambda index: draw(generator=self.draw("w", index)),
                            lambda index: self.data.w_batch(index, part), self.device, grad_clip=search.grad_clip,
                            reduce=self.processes.reduce)
        first = epoch * search.w_steps
        Loop(step, lambda index: cosine_lr(index, self.total_w_steps, search.lr, search.lr_min),
             start=first, end=first + search.w_steps, processes=self.processes, hooks=[_LossLog(stats.loss)]).run()

    def score(self, genotype: Genotype) -> dict[str, float]:
        """Score one architecture with the shared weights on the fixed scoring images."""
        self.supernet.train()  # batch statistics in the affine-free BN, as during weight training
        return self.scorer.score(lambda x: self.supernet(x, genotype), genotype)

    def train_controller(self, epoch: int, stats: EpochStats) -> None:
        """Lines 9-12: theta <- theta + eta R(alpha) grad log pi(alpha) (rank 0 only)."""
        search = self.spec.search
        done = epoch - search.warmup_epochs
        self.controller.set_progress(done / max(1, search.epochs - search.warmup_epochs))
        for step in range(search.controller_steps):
            # The controller's ops are tiny: one thread for them, all for the supernet.
            with num_threads(1):
                sample = self.controller.sample(generator=self.draw("theta", epoch, step))
            scores = self.score(sample.genotype)
            with num_threads(1):
                update = self.controller.learn(sample, scores["reward"])
            stats.scores.append(scores)
            stats.baseline = update.get("baseline")
            # a controller without a policy (evolution) has no entropy to log: its 0 would read as
            # a converged policy, which `hnas inspect` then contradicts
            entropy = {}
            if self.controller.has_policy:
                stats.entropies.append(float(sample.policy_entropy.detach()))
                entropy = {"entropy": round(stats.entropies[-1], 6)}
            self.folder.append(ARCHIVE_FILE, {
                "epoch": epoch + 1, "stage": "search", "hash": sample.genotype.hash(),
                "genotype": sample.genotype.to_dict(), "position": sample.genotype.position,
                **round_scores(scores), **entropy,
            })

    def run(self, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Run the remaining epochs; each ends with a log line and an atomic checkpoint."""
        search = self.spec.search
        for epoch in range(self.epoch, search.epochs):
            stats = EpochStats(epoch + 1, "warmup" if epoch < search.warmup_epochs else "search")
            self.train_weights(epoch, stats)
            if stats.phase == "search":
                self.folder.by_writer(self.train_controller, epoch, stats)  # the others wait; an error stops all
                self._sync_controller()
            if stats.loss and not any(math.isfinite(v) for v in stats.loss):
                raise HnasError(
                    f"epoch {epoch + 1}: every training loss was NaN/inf; lower search.lr "
                    f"(now {search.lr}) and resume from the last good epoch"
                )
            summary = stats.summary(self.optimizer.param_groups[0]["lr"])
            self.folder.append(LOG_FILE, summary)
            self.epoch = epoch + 1
            self.save()
            if on_epoch is not None and self.folder.is_writer:  # the others have no controller statistics
                on_epoch(summary)

    def _sync_controller(self) -> None:
        """Rank 0's controller state on every rank, so the next epoch's draws agree everywhere."""
        if self.processes.distributed:
            tensors, info = self.folder.by_writer(self.controller.resume_state)
            self.controller.load_resume_state(tensors, info)

    # -- state ------------------------------------------------------------------------------------
    def save(self) -> None:
        state = State({"supernet": module_tensors(self.supernet)}, {"epoch": self.epoch})
        pack_optimizer(state, "optim", self.optimizer)
        tensors, info = self.controller.resume_state()
        state.groups["controller"] = tensors
        state.info["controller"] = info
        self.folder.save_state(STATE_FILE, state)

    def load(self) -> bool:
        """Restore the last completed epoch if a state was saved; the run's files are only read
        (``hnas compare --shared-weights`` scores with a finished run this way)."""
        state = self.folder.load_state(STATE_FILE)
        if state is not None:
            self.supernet.load_state_dict(state.group("supernet"))
            unpack_optimizer(state, "optim", self.optimizer)
            self.controller.load_resume_state(state.group("controller"), state.info["controller"])
            self.epoch = int(state.info["epoch"])
        return state is not None

    def resume(self) -> bool:
        """``load`` for a run that continues: the logs are trimmed to the restored epoch, since a
        killed epoch's lines (and a killed derivation's) are written again."""
        loaded = self.load()
        self.folder.trim(LOG_FILE, lambda r: r["epoch"] <= self.epoch)
        self.folder.trim(ARCHIVE_FILE, lambda r: r["stage"] == "search" and r["epoch"] <= self.epoch)
        return loaded

    # -- derivation -------------------------------------------------------------------------------
    def _derive_candidates(self) -> list[tuple[str, Genotype]]:
        """The controller's candidates (``how``, genotype), and the proxy's uniform draws."""
        candidates = self.controller.candidates(self.spec.search.derive_samples, self.draw("derive"))
        if self.spec.search.proxy.iters:
            generator = self.draw("derive", "uniform")
            candidates += [("uniform", self.controller.uniform_sample(generator))
                           for _ in range(self.spec.search.proxy.uniform)]
        return candidates

    def derive(self, on_candidate: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Score the controller's candidates on the scoring images with the shared weights and
        keep the best by reward (paper Sec. II-C, "Inferring Architectures"); the returned
        genotype is exactly the one whose scores are returned.

        With ``search.proxy.iters`` each distinct candidate is also trained alone for that many
        steps (:mod:`hnas.search.proxy`) and the best by *that* reward is kept; the records keep
        the shared-weight scores under the usual keys (comparable with the search's archive) and
        the proxy's under ``proxy``; ``search.proxy.uniform`` uniform draws join the candidates.
        With ``search.proxy.finalists`` the best few are trained again for ``final_iters`` steps and
        the pick is made among them (their short-round scores move to ``short``).
        ``on_candidate(done, total)`` reports progress.
        """
        settings = self.spec.search.proxy
        # the controller learns on rank 0: its candidates are rank 0's, on every rank
        candidates = self.folder.by_writer(self._derive_candidates)
        proxy = ProxyTrainer(self.spec, self.data.proxy, self.scorer, self.device) if settings.iters else None
        genotypes = {genotype.hash(): genotype for _, genotype in candidates}  # distinct, in order
        finalists = min(settings.finalists, len(genotypes)) if proxy is not None else 0
        total = len(genotypes) + finalists

        def first_round(index: int, genotype: Genotype) -> dict[str, Any]:
            scores: dict[str, Any] = round_scores(self.score(genotype))
            if proxy is not None:
                scores["proxy"] = {**round_scores(proxy.score(genotype)), "iters": settings.iters}
            if on_candidate is not None:
                on_candidate(index + 1, total)
            return scores

        # Each distinct candidate is scored once, the candidates dealt over the processes (every rank
        # holds the same shared weights; each trains its share of proxies alone).
        seen = dict(zip(genotypes, self.processes.spread(list(genotypes.values()), first_round)))
        if finalists and proxy is not None:
            # The short round's scores stay under "short"; "proxy" becomes the finalist's longer score.
            ranked = sorted(seen, key=lambda k: deciding_reward(seen[k]), reverse=True)[:finalists]

            def final_round(index: int, key: str) -> dict[str, Any]:
                scores = {**round_scores(proxy.score(genotypes[key], settings.final_iters)),
                          "iters": settings.final_iters}
                if on_candidate is not None:
                    on_candidate(len(genotypes) + index + 1, total)
                return scores

            for key, scores in zip(ranked, self.processes.spread(ranked, final_round)):
                seen[key]["short"] = seen[key]["proxy"]
                seen[key]["proxy"] = scores
        scored = [{"stage": "derive", "epoch": self.spec.search.epochs, "how": how, "hash": genotype.hash(),
                   "genotype": genotype.to_dict(), "position": genotype.position, **seen[genotype.hash()]}
                  for how, genotype in candidates]
        # A finalist (longer training) outranks every candidate that only had the short round.
        best = max(scored, key=lambda r: (r.get("proxy", {}).get("iters", 0), deciding_reward(r)))
        return {"best": best, "candidates": scored}
