"""Optimizers, registered in :data:`hnas.registry.OPTIMIZERS`: a spec's ``retrain.optimizer`` names one.

The authors retrain with Adam (HNAS-REFERENCE.md), as EDSR does; it is the default and keeps the
fused kernel of :func:`hnas.utils.optim.adam`. AdamW (decoupled weight decay; Loshchilov &
Hutter, ICLR 2019) and SGD with momentum are the two others SR recipes use. An optimizer is a
factory ``(params, lr, **its params) -> torch.optim.Optimizer``; the learning rate is the
recipe's and follows its cosine schedule, so it is not one of the node's params. Register your own
with ``@OPTIMIZERS.register("name")``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from hnas.nodes import build
from hnas.registry import OPTIMIZERS
from hnas.utils.optim import adam as fused_adam

__all__ = ["adam", "adamw", "build_optimizer", "check_optimizer", "sgd"]

Params = Iterable[torch.nn.Parameter]


def _non_negative(name: str, value: float) -> float:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


@OPTIMIZERS.register("adam")
def adam(params: Params, lr: float, beta1: float = 0.9, beta2: float = 0.999, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam (the authors'), fused where this torch has the kernel."""
    return fused_adam(params, lr=lr, betas=(beta1, beta2), weight_decay=_non_negative("weight_decay", weight_decay))


@OPTIMIZERS.register("adamw")
def adamw(params: Params, lr: float, beta1: float = 0.9, beta2: float = 0.999,
          weight_decay: float = 0.01) -> torch.optim.Optimizer:
    """AdamW: weight decay applied to the weights, not through the gradient."""
    return torch.optim.AdamW(params, lr=lr, betas=(beta1, beta2), weight_decay=_non_negative("weight_decay", weight_decay))


@OPTIMIZERS.register("sgd")
def sgd(params: Params, lr: float, momentum: float = 0.9, nesterov: bool = False,
        weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD with (optionally Nesterov) momentum."""
    return torch.optim.SGD(params, lr=lr, momentum=_non_negative("momentum", momentum), nesterov=nesterov,
                           weight_decay=_non_negative("weight_decay", weight_decay))


def build_optimizer(node: str | dict[str, Any] | None, params: Params, lr: float) -> torch.optim.Optimizer:
    """The optimizer a spec or training config names (None: Adam) over ``params`` at ``lr``; a
    wrong name or param is one line."""
    return build(OPTIMIZERS, node or "adam", params, lr, what="optimizer", provided=("params", "lr"))  # type: ignore[no-any-return]


def check_optimizer(node: str | dict[str, Any] | None) -> None:
    """Build the optimizer ``node`` names once, over a stand-in parameter, so that a wrong name or
    param is one line before any work (a spec at load, ``--optimizer`` at parse)."""
    build_optimizer(node, [torch.nn.Parameter(torch.zeros(1))], 1e-3)
