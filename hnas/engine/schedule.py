"""The one learning-rate schedule of hnas: cosine annealing (Loshchilov & Hutter, ICLR 2017).

The paper anneals every learning rate on a cosine from ``lr`` to ``lr_min`` (supplementary B: the
shared weights from 1e-3 to 1e-5, the controllers from 3e-4 to 1.5e-4, the retraining like the
search). As a pure function of the progress it needs no state to resume: a run restarted at step
``k`` computes exactly the rate an uninterrupted run used at ``k``.
"""

from __future__ import annotations

import math

import torch


def cosine_lr(step: float, total: float, lr: float, lr_min: float, warmup: float = 0) -> float:
    """The rate at ``step`` of ``total``: a linear ramp over ``warmup`` steps, then a half cosine
    from ``lr`` down to ``lr_min`` (reached at ``total`` and kept after it)."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    span = max(total - warmup, 1e-12)
    progress = min(max((step - warmup) / span, 0.0), 1.0)
    return lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> float:
    """Give every parameter group of ``optimizer`` the rate ``lr``; returns it."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
