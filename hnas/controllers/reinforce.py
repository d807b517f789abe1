"""REINFORCE for the controller (paper Algorithm 1, line 11; Sec. II-C; Supplementary details).

``Reinforce`` owns the controller's optimizer and the reward baseline, and turns one
``(log_prob, entropy, reward)`` into one update::

    sample = controller.sample()
    stats = reinforce.step(sample.log_prob, sample.entropy, reward_of(sample.genotype))

Decisions, and why:

* Optimizer: Adam, lr 3e-4, betas (0.5, 0.999), weight decay 5e-4 (L2, as torch's ``Adam``), the
  authors' settings. :meth:`Reinforce.set_progress` anneals the lr on a cosine from ``lr`` to
  ``lr_min`` (Supplementary: "eta_max = 0.0003 and eta_min = 0.00015" for the controllers, so the
  default ``lr_min`` is half of ``lr``; a floor above ``lr`` is refused, it would make the rate
  rise); it is a no-op until the search loop calls it, e.g. once per epoch with ``epoch / epochs``.
* Entropy: the paper "add[s] the controller's sample entropy to the reward, weighted by 1", and
  that is the default (``entropy_mode="reward"``): the shaped reward is ``R + w * H`` with ``H``
  detached, so the entropy only reaches the gradient through the score function. The authors' code
  instead subtracts ``w * H`` from the loss (``entropy_mode="loss"``), a direct gradient towards
  uniform; with ``w = 1`` and a summed entropy around 50-70 nats that term overwhelms a policy
  gradient driven by reward differences of a fraction of a dB, so use a small weight with it.
* Baseline: an exponential moving average of the (shaped) reward, decay 0.95, kept for the whole
  search -- the authors reset it every epoch, which zeroes the first advantage of each epoch and
  restarts the average; hnas does not. The advantage uses the baseline *before* it absorbs the
  current reward, so the baseline never depends on the action being scored (unbiased gradient). The
  first call sets the baseline to that reward (advantage 0 once per search, instead of an advantage
  of about 30 dB from a zero start). ``state_dict()`` includes it, so a resumed search continues.
* A controller without trainable parameters (the random baseline) gets no optimizer: ``step()``
  still tracks the baseline and reports the same statistics, so logs of both look alike.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

from hnas.engine.schedule import cosine_lr, set_lr
from hnas.engine.state import optimizer_from_flat, optimizer_to_flat
from hnas.errors import CheckpointError

EntropyMode = Literal["reward", "loss"]


class Reinforce:
    """Policy-gradient updates of a controller with an EMA reward baseline (see module docstring)."""

    def __init__(
        self,
        controller: nn.Module,
        *,
        lr: float = 3e-4,
        lr_min: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 5e-4,
        baseline_decay: float = 0.95,
        entropy_weight: float = 1.0,
        entropy_mode: EntropyMode = "reward",
        grad_clip: float | None = None,
    ) -> None:
        if entropy_mode not in ("reward", "loss"):
            raise ValueError(f"entropy_mode must be 'reward' or 'loss', got {entropy_mode!r}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay!r}")
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {grad_clip!r}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        lr_min = lr / 2 if lr_min is None else lr_min
        if not 0 <= lr_min <= lr:
            raise ValueError(f"lr_min must be in [0, lr] (lr = {lr}), got {lr_min!r}; a floor above lr would "
                             "make the rate rise over the search")
        self.controller = controller
        self.lr = float(lr)
        self.lr_min = float(lr_min)
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = float(entropy_weight)
        self.entropy_mode: EntropyMode = entropy_mode
        self.grad_clip = grad_clip
        params = [p for p in controller.parameters() if p.requires_grad]
        self.optimizer: torch.optim.Optimizer | None = (
            torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay) if params else None
        )
        self.baseline: float | None = None
        self.steps = 0

    @property
    def current_lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else self.lr

    def set_progress(self, progress: float) -> float:
        """Cosine-anneal the lr from ``lr`` (progress 0) to ``lr_min`` (progress 1); returns it."""
        lr = cosine_lr(progress, 1.0, self.lr, self.lr_min)
        if self.optimizer is not None:
            set_lr(self.optimizer, lr)
        return lr

    def step(self, log_prob: torch.Tensor, entropy: torch.Tensor, reward: float) -> dict[str, float]:
        """One REINFORCE update for one sampled architecture; returns its statistics.

        ``log_prob``/``entropy`` are a controller sample's (position-weighted) scalars with their
        graph; ``reward`` is the joint reward (paper Eq. 1) of that same architecture.
        """
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(
                f"reward is {reward}; a non-finite reward would poison the baseline for the rest of the "
                f"search; skip this sample instead"
            )
        entropy_value = float(entropy.detach())
        shaped = reward + self.entropy_weight * entropy_value if self.entropy_mode == "reward" else reward
        if self.baseline is None:
            self.baseline = shaped
        advantage = shaped - self.baseline

        loss = -log_prob * advantage
        if self.entropy_mode == "loss":
            loss = loss - self.entropy_weight * entropy
        grad_norm = 0.0
        if self.optimizer is not None:
            if not loss.requires_grad:
                raise ValueError(
                    "log_prob carries no gradient; sample from the controller outside torch.no_grad() "
                    "and pass the sample's own log_prob"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip is not None:
                params = [p for g in self.optimizer.param_groups for p in g["params"]]
                grad_norm = float(nn.utils.clip_grad_norm_(params, self.grad_clip))
            self.optimizer.step()

        self.baseline = self.baseline_decay * self.baseline + (1.0 - self.baseline_decay) * shaped
        self.steps += 1
        stats = {
            "loss": float(loss.detach()),
            "reward": reward,
            "shaped_reward": shaped,
            "advantage": advantage,
            "baseline": self.baseline,
            "entropy": entropy_value,
            "log_prob": float(log_prob.detach()),
            "lr": self.current_lr,
        }
        if self.grad_clip is not None:
            stats["grad_norm"] = grad_norm
        return stats

    def resume_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Optimizer tensors, and baseline, step count and optimizer settings as JSON (the
        controller's weights are saved separately)."""
        tensors: dict[str, torch.Tensor] = {}
        info: dict[str, Any] = {"baseline": self.baseline, "steps": self.steps, "optimizer": None}
        if self.optimizer is not None:
            tensors, info["optimizer"] = optimizer_to_flat(self.optimizer.state_dict())
        return tensors, info

    def load_resume_state(self, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        if (info.get("optimizer") is None) != (self.optimizer is None):
            raise CheckpointError(
                "REINFORCE state does not match this controller: one has trainable parameters "
                "and the other not (resume with the same controller type)"
            )
        if self.optimizer is not None:
            self.optimizer.load_state_dict(optimizer_from_flat(tensors, info["optimizer"]))
        self.baseline = None if info.get("baseline") is None else float(info["baseline"])
        self.steps = int(info.get("steps", 0))
