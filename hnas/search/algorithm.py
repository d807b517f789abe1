"""Algorithm 1 of the paper: alternate shared-weight updates and controller updates.

Each epoch (a) trains the supernet's shared weights w on the w split, every batch with an
architecture sampled from the controller, then (b) trains the controller on the theta split:
sample an architecture, score its PSNR on a validation batch with the shared weights, take the
cost of *that same* architecture, form the reward and apply REINFORCE with a moving-average
baseline kept across epochs. (The authors' code scored the cost of a different architecture,
counted FLOPs that only grew, and reset the baseline every epoch; HNAS-REFERENCE.md.)

Resumable: the complete state is checkpointed atomically after every epoch, and every epoch
reseeds the random generators from (seed, epoch), so a resumed run repeats exactly what an
uninterrupted one does.

Multi-process (torchrun, :mod:`hnas.distributed`): the shared weights train data-parallel. Every
rank draws the same global w batch and samples the same architecture (same seeds, same
controller; rank 0's choice is broadcast and authoritative), runs the supernet through
``DistributedDataParallel(find_unused_parameters=True)`` -- a sampled architecture touches a small
part of the supernet, and the parameters no rank touched keep ``grad=None`` exactly as in one
process -- on its own slice of the batch. The controller phase (sample, PSNR with the shared
weights, cost, reward, REINFORCE) runs on rank 0 alone; its controller weights and REINFORCE
state (optimizer, baseline) are then broadcast. Only rank 0 reads and writes the run folder
(archive, log, checkpoint); the checkpoint holds the un-wrapped state, so a search saved by N
processes resumes with M. Not identical to one process: the search-mode BatchNorm normalises
with each rank's shard statistics (SyncBatchNorm would need a collective inside rank 0's solo
controller phase).
"""

from __future__ import annotations

import math
import random
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from hnas import distributed as dist
from hnas.controllers import Reinforce, build_controller
from hnas.errors import HnasError
from hnas.search.spec import Spec
from hnas.search.supernet import SuperNet
from hnas.spaces.genotype import Genotype
from hnas.utils.io import append_jsonl, atomic_path, atomic_write_jsonl, read_jsonl
from hnas.utils.threads import num_threads

STATE_FILE = "search_state.pt"
ARCHIVE_FILE = "archive.jsonl"
LOG_FILE = "search_log.jsonl"


def seed_everything(seed: int, *salt: int) -> int:
    """Seed Python's and torch's generators from ``seed`` and a salt (e.g. the epoch)."""
    value = seed
    for part in salt:
        value = (value * 1_000_003 + part + 1) % (2**63 - 1)
    random.seed(value)
    torch.manual_seed(value)
    return value


def infinite(loader: Iterator[Any] | Any) -> Iterator[Any]:
    """Cycle a DataLoader forever (each pass reshuffles with the current torch seed)."""
    while True:
        yield from loader


@dataclass
class Scorer:
    """PSNR, cost and reward of one architecture; the cost is cached by genotype hash."""

    psnr_fn: Callable[[torch.Tensor, torch.Tensor], float]
    cost_fn: Callable[[Genotype], float]
    reward_fn: Callable[[float, float], float]
    macs_fn: Callable[[Genotype], float]

    def score(self, sr: torch.Tensor, hr: torch.Tensor, genotype: Genotype) -> dict[str, float]:
        psnr = float(self.psnr_fn(sr, hr))
        cost = float(self.cost_fn(genotype))
        return {"psnr": psnr, "cost": cost, "macs": float(self.macs_fn(genotype)), "reward": float(self.reward_fn(psnr, cost))}


@dataclass
class EpochStats:
    epoch: int
    loss: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    psnrs: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    macs: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    baseline: float | None = None

    def summary(self, seconds: float, lr: float) -> dict[str, Any]:
        def mean(values: list[float]) -> float | None:
            return sum(values) / len(values) if values else None

        return {
            "epoch": self.epoch,
            "loss": mean(self.loss),
            "entropy": mean(self.entropies),
            "reward_mean": mean(self.rewards),
            "psnr_mean": mean(self.psnrs),
            "cost_mean": mean(self.costs),
            "macs_mean": mean(self.macs),
            "baseline": self.baseline,
            "lr": lr,
            "seconds": round(seconds, 3),
        }


class Search:
    """The search stage of ``hnas run``: Algorithm 1 plus derivation (paper Sec. II-C).

    ``data`` provides three iterables of ``(lr, hr)`` batches: ``w_batches`` and ``theta_batches``
    (infinite) and ``derive_batches`` (a fixed list, the same for every candidate).
    """

    def __init__(
        self,
        spec: Spec,
        out_dir: str | Path,
        device: torch.device,
        scorer: Scorer,
        w_batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
        theta_batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
        derive_batches: list[tuple[torch.Tensor, torch.Tensor]],
    ) -> None:
        self.spec = spec
        self.out = Path(out_dir)
        self.device = device
        self.scorer = scorer
        self.w_batches = w_batches
        self.theta_batches = theta_batches
        self.derive_batches = derive_batches
        space, search = spec.space, spec.search
        dist.shard(spec.data.batch)  # an uneven split of the w batch fails here, before any work
        self._drift_reported = False
        seed_everything(spec.seed, 0)
        self.supernet = SuperNet(
            space.resolved_normal_ops(),
            space.resolved_upsampling_ops(),
            layers=space.layers,
            nodes=space.nodes,
            channels=space.channels,
            scale=space.scale,
            global_skip=space.global_skip,
        ).to(device)
        self.controller = build_controller(
            spec.controller.type,
            space.resolved_normal_ops(),
            space.resolved_upsampling_ops(),
            space.nodes,
            space.layers,
            **spec.controller.params,
        ).to(device)
        self.reinforce = Reinforce(
            self.controller,
            lr=spec.controller.lr,
            weight_decay=spec.controller.weight_decay,
            baseline_decay=spec.controller.baseline_decay,
            entropy_weight=spec.controller.entropy_weight,
            entropy_mode=spec.controller.entropy_mode,
        )
        self.optimizer = torch.optim.Adam(self.supernet.parameters(), lr=search.lr)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=search.epochs * search.w_steps, eta_min=search.lr_min
        )
        # Training steps go through ``ddp`` (the supernet itself with one process); evaluation
        # uses ``supernet`` directly, so rank 0 can score architectures alone.
        self.ddp = dist.wrap_ddp(self.supernet, device, find_unused_parameters=True)
        self.epoch = 0  # epochs completed

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "supernet": self.supernet.state_dict(),
            "controller": self.controller.state_dict(),
            "reinforce": self.reinforce.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }

    def save(self) -> None:
        """Checkpoint atomically (rank 0 only: every rank holds the same state)."""
        if not dist.is_main():
            return
        with atomic_path(self.out / STATE_FILE) as tmp:
            torch.save(self.state_dict(), tmp)

    def load(self) -> bool:
        """Restore the last completed epoch, if a state file exists; trims logs to match it.

        Multi-process: rank 0 reads the file and broadcasts it (the folder may be on its machine
        only); the state fits any number of processes.
        """
        state = dist.on_main(self._read_state)
        if state is None:
            if dist.is_main():
                self._trim_logs()  # killed during epoch 1: start over, without its partial lines
            return False
        self.supernet.load_state_dict(state["supernet"])
        self.controller.load_state_dict(state["controller"])
        self.reinforce.load_state_dict(state["reinforce"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        if dist.is_main():
            self._trim_logs()
        return True

    def _read_state(self) -> dict[str, Any] | None:
        """The checkpoint's contents, or None without one (on the CPU when it is to be broadcast)."""
        path = self.out / STATE_FILE
        if not path.exists():
            return None
        where = torch.device("cpu") if dist.is_distributed() else self.device
        try:
            state: dict[str, Any] = torch.load(path, map_location=where, weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable state file is one user-facing error
            raise HnasError(f"cannot resume from {path}: {exc.__class__.__name__}; delete it to start over") from None
        return state

    def _trim_logs(self) -> None:
        """Drop log and archive lines written after the last checkpoint (a killed epoch's)."""
        for name in (ARCHIVE_FILE, LOG_FILE):
            if (self.out / name).exists():
                kept = [r for r in read_jsonl(self.out / name)
                        if r.get("stage", "search") == "search" and r.get("epoch", 0) <= self.epoch]
                atomic_write_jsonl(self.out / name, kept)

    # -- Algorithm 1 ------------------------------------------------------------------------------
    def train_weights(self, stats: EpochStats) -> None:
        """Line 4-7: w <- w - eta grad_w L(alpha, w), alpha sampled per batch.

        Multi-process: each rank takes its slice of the global batch; the loss checked and logged
        is the mean over ranks (the global batch's), so every rank skips or steps alike, and the
        gradients (averaged by DDP) and hence the clipping agree too.
        """
        self.supernet.train()
        clip = self.spec.search.grad_clip
        for _ in range(self.spec.search.w_steps):
            lr_img, hr_img = next(self.w_batches)
            if dist.is_distributed():
                part = dist.shard(lr_img.shape[0])
                lr_img, hr_img = lr_img[part], hr_img[part]
            lr_img, hr_img = lr_img.to(self.device), hr_img.to(self.device)
            with torch.no_grad():
                genotype = self._rank0_genotype(self.controller.sample().genotype)
            loss = F.l1_loss(self.ddp(lr_img, genotype), hr_img)
            value = dist.all_reduce_mean(loss.detach())
            if not torch.isfinite(value):
                stats.loss.append(float("nan"))
                self.scheduler.step()
                continue
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(self.supernet.used_parameters(genotype), clip)
            self.optimizer.step()
            self.scheduler.step()
            stats.loss.append(float(value))

    def _rank0_genotype(self, genotype: Genotype) -> Genotype:
        """Rank 0's architecture, on every rank.

        The ranks sample in lockstep (same seeds, same controller), so this is normally the one
        each drew itself, and every rank must keep drawing (the draws advance the generator the
        batches come from). A difference means the random streams drifted apart, and with them the
        batches, which would no longer be slices of one global batch: reported once.
        """
        if not dist.is_distributed():
            return genotype
        data = dist.broadcast_object(genotype.to_dict() if dist.is_main() else None)
        if dist.is_main():
            return genotype
        chosen = Genotype.from_data(data)
        if chosen.hash() != genotype.hash() and not self._drift_reported:
            self._drift_reported = True
            warnings.warn(
                f"rank {dist.rank()} sampled another architecture than rank 0: its random numbers are out of "
                "step, so its batches are not slices of rank 0's global batch",
                stacklevel=2,
            )
        return chosen

    def _sync_controller(self) -> None:
        """After rank 0's controller phase: its controller weights and REINFORCE state (optimizer,
        baseline, step count) on every rank, so the next epoch's samples agree everywhere."""
        if not dist.is_distributed():
            return
        dist.broadcast_state(self.controller)
        state = dist.broadcast_object(dist.to_cpu(self.reinforce.state_dict()) if dist.is_main() else None)
        if not dist.is_main():
            self.reinforce.load_state_dict(state)

    @torch.no_grad()
    def evaluate(self, genotype: Genotype, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
        """Score one architecture with the shared weights on the given batches."""
        srs, hrs = [], []
        for lr_img, hr_img in batches:
            srs.append(self.supernet(lr_img.to(self.device), genotype))
            hrs.append(hr_img.to(self.device))
        return self.scorer.score(torch.cat(srs), torch.cat(hrs), genotype)

    def train_controller(self, stats: EpochStats, epoch: int) -> None:
        """Lines 9-12: theta <- theta + eta R(alpha) grad log pi(alpha), on the theta split."""
        self.supernet.train()  # batch statistics in the affine-free BN, as during weight training
        search = self.spec.search
        self.reinforce.set_progress(epoch / max(1, search.epochs))
        for _ in range(search.controller_steps):
            # The controller's ops are tiny: one thread for them (hnas.utils.threads), all for the supernet.
            with num_threads(1):
                sample = self.controller.sample()
            genotype = sample.genotype
            lr_img, hr_img = next(self.theta_batches)
            scores = self.evaluate(genotype, [(lr_img, hr_img)])
            with num_threads(1):
                update = self.reinforce.step(sample.log_prob, sample.entropy, scores["reward"])
            entropy = float(sample.policy_entropy.detach())
            stats.rewards.append(scores["reward"])
            stats.psnrs.append(scores["psnr"])
            stats.costs.append(scores["cost"])
            stats.macs.append(scores["macs"])
            stats.entropies.append(entropy)
            stats.baseline = update.get("baseline")
            append_jsonl(
                self.out / ARCHIVE_FILE,
                {
                    "epoch": epoch + 1,
                    "stage": "search",
                    "hash": genotype.hash(),
                    "genotype": genotype.to_dict(),
                    "position": genotype.position,
                    **{k: round(v, 6) for k, v in scores.items()},
                    "entropy": round(entropy, 6),
                },
            )

    def run(self, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Run the remaining epochs; each ends with a log line and an atomic checkpoint."""
        for epoch in range(self.epoch, self.spec.search.epochs):
            started = time.perf_counter()
            seed_everything(self.spec.seed, 1, epoch)
            stats = EpochStats(epoch + 1)
            self.train_weights(stats)
            dist.on_main(self.train_controller, stats, epoch)  # the others wait; an error stops all
            self._sync_controller()
            if stats.loss and not any(math.isfinite(v) for v in stats.loss):
                raise HnasError(
                    f"epoch {epoch + 1}: every training loss was NaN/inf; lower search.lr "
                    f"(now {self.spec.search.lr}) and resume from the last good epoch"
                )
            summary = stats.summary(time.perf_counter() - started, self.scheduler.get_last_lr()[0])
            if dist.is_main():
                append_jsonl(self.out / LOG_FILE, summary)
            self.epoch = epoch + 1
            self.save()
            if on_epoch is not None and dist.is_main():  # the others have no controller statistics
                on_epoch(summary)

    # -- derivation -------------------------------------------------------------------------------
    def derive(self) -> dict[str, Any]:
        """Sample K architectures plus the greedy one, score each on the derivation batches with
        the shared weights, keep the best by reward (paper Sec. II-C, "Inferring Architectures").

        The returned genotype is exactly the one whose scores are returned.
        """
        seed_everything(self.spec.seed, 2)
        self.supernet.train()
        candidates: list[tuple[str, Genotype]] = []
        with torch.no_grad():
            candidates.append(("greedy", self.controller.sample(greedy=True).genotype))
            for _ in range(self.spec.search.derive_samples):
                candidates.append(("sampled", self.controller.sample().genotype))
        scored: list[dict[str, Any]] = []
        seen: dict[str, dict[str, float]] = {}
        for how, genotype in candidates:
            key = genotype.hash()
            if key not in seen:
                seen[key] = self.evaluate(genotype, self.derive_batches)
            record = {"stage": "derive", "epoch": self.spec.search.epochs, "how": how, "hash": key,
                      "genotype": genotype.to_dict(), "position": genotype.position,
                      **{k: round(v, 6) for k, v in seen[key].items()}}
            scored.append(record)
        best = max(scored, key=lambda r: r["reward"])
        return {"best": best, "candidates": scored}
