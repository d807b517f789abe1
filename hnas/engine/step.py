"""One training step, the same for every loop in hnas: retraining, ``hnas compare``'s members,
the strategies' and derivation's stand-alone proxies, and the supernet's weight steps.

:class:`SRStep` is what a :class:`~hnas.engine.loop.Loop` runs: update ``k`` takes batch ``k``
and makes :func:`train_step`'s update at the loop's learning rate. What differs between the
trainings is the step's parts, not a loop of their own: the model's forward, the loss and the
optimizer (built from the spec's ``{type, params}`` nodes), where batch ``k`` comes from, and,
for the supernet (:class:`hnas.search.supernet.SupernetStep`), which architecture step ``k`` trains.

The step is the authors' recipe (HNAS-REFERENCE.md): the L1 loss of the SR output against the HR
batch (retraining may name another, ``retrain.loss``), one optimizer update at the learning rate the caller's schedule gives. A loss that is not
finite skips the update (its gradients would put NaN into every weight); ``check_grads`` also skips
an update whose gradients are not finite, and ``clip`` caps their norm first. ``reduce`` is how the
loss is averaged over the processes of a data-parallel run (:func:`hnas.engine.distributed.all_reduce_mean`),
so that every rank skips or steps alike; one process needs none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

from hnas.engine.schedule import set_lr

Forward = Callable[[torch.Tensor], torch.Tensor]
#: ``batches(k)``: the (LR, HR) batch of step ``k``, the same on a rerun (exact resume).
Batches = Callable[[int], "tuple[torch.Tensor, torch.Tensor]"]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def in_precision(forward: Forward, precision: str | None, device: torch.device) -> Forward:
    """``forward`` under bf16 autocast when ``precision`` is ``"bf16"`` (its output cast back to fp32, so
    the loss and its gradient's start are fp32), else ``forward`` itself. Why bf16 and not fp16: it has
    fp32's range, so an SR loss needs no scaling, and CPUs with AVX-512 BF16 run its convolutions faster."""
    if precision in (None, "fp32"):
        return forward

    def autocast_forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out = forward(x)
        return out.float()

    return autocast_forward


def train_step(optimizer: torch.optim.Optimizer, forward: Forward, lr_batch: torch.Tensor, hr_batch: torch.Tensor,
            lr: float, *, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None, check_grads: bool = False,
            clip: tuple[Iterable[torch.nn.Parameter], float] | None = None,
            loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.l1_loss) -> float | None:
    """One update of ``optimizer`` on ``loss_fn(forward(lr_batch), hr_batch)`` (L1 unless a spec
    names another loss, :mod:`hnas.train.losses`) at learning rate ``lr``;
    returns the loss (averaged by ``reduce``), or None when the update was skipped. ``clip`` is
    ``(parameters, max_norm)``: the gradient norm of those parameters is capped before the update."""
    set_lr(optimizer, lr)
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(forward(lr_batch), hr_batch)
    value = reduce(loss.detach()) if reduce is not None else loss.detach()
    if not bool(torch.isfinite(value)):
        return None
    loss.backward()
    if check_grads:
        grads = [p.grad.detach().abs().amax() for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        if grads and not bool(torch.isfinite(torch.stack(grads)).all()):
            optimizer.zero_grad(set_to_none=True)
            return None
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(clip[0], clip[1])
    optimizer.step()
    return float(value)


class SRStep:
    """Update ``k`` of a super-resolution network on batch ``k``: a :class:`~hnas.engine.loop.Loop`'s
    ``step_fn``. ``batches`` None: the caller hands every batch to :meth:`update` (a data loader's
    iterator, read in turn). ``reduce``, ``check_grads``: as :func:`train_step`'s. A subclass that
    trains another forward (or clips other parameters) per step overrides :meth:`forward_at` /
    :meth:`clip_at`."""

    def __init__(self, optimizer: torch.optim.Optimizer, forward: Forward, batches: Batches | None,
                 device: torch.device, *, loss_fn: Loss = F.l1_loss, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 check_grads: bool = False) -> None:
        self.optimizer, self.forward, self.batches, self.device = optimizer, forward, batches, device
        self.loss_fn, self.reduce, self.check_grads = loss_fn, reduce, check_grads

    def forward_at(self, k: int) -> Forward:
        """What step ``k`` trains (asked after its batch is taken)."""
        return self.forward

    def clip_at(self, k: int) -> tuple[Iterable[torch.nn.Parameter], float] | None:
        """``(parameters, max_norm)``: the gradient norm step ``k`` caps, or None (asked after
        :meth:`forward_at`)."""
        return None

    def update(self, k: int, lr_batch: torch.Tensor, hr_batch: torch.Tensor, lr: float) -> float | None:
        """Step ``k`` on a batch already taken; the loss, or None when the update was skipped."""
        forward = self.forward_at(k)
        return train_step(self.optimizer, forward, lr_batch.to(self.device, non_blocking=True),
                          hr_batch.to(self.device, non_blocking=True), lr, reduce=self.reduce,
                          check_grads=self.check_grads, clip=self.clip_at(k), loss_fn=self.loss_fn)

    def __call__(self, k: int, lr: float) -> float | None:
        if self.batches is None:
            raise TypeError("this step takes its batches through update(k, lr_batch, hr_batch, lr)")
        lr_batch, hr_batch = self.batches(k)
        return self.update(k, lr_batch, hr_batch, lr)
