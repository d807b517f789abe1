"""One training step, the same for every loop in hnas: retraining, ``hnas compare``'s members,
the strategies' and derivation's stand-alone proxies, and the supernet's weight steps.

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
