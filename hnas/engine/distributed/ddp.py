"""Data and models across processes: a batch's shard, the DDP wrapper, tensors to the CPU for broadcasting."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from hnas.engine.distributed.ranks import DistributedError, is_distributed, rank, world_size


# -- data and models -----------------------------------------------------------------------------
def shard(batch: int, world: int | None = None, index: int | None = None) -> slice:
    """Rank ``index``'s slice (default: this rank's) of a global batch of ``batch`` items split over
    ``world`` processes (default: this run's); all of it with one process.

    Slices are equal, so the mean of the per-rank mean losses (what DDP's gradient averaging
    optimises) is the global batch's mean loss; an uneven split would weight items unequally.
    """
    world = world_size() if world is None else world
    if world == 1:
        return slice(None)
    if batch % world:
        raise DistributedError(
            f"a global batch of {batch} does not split evenly over {world} processes; "
            f"use a batch that is a multiple of {world}"
        )
    size = batch // world
    index = rank() if index is None else index
    return slice(index * size, (index + 1) * size)


def wrap_ddp(module: nn.Module, device: torch.device, *, find_unused_parameters: bool = False) -> nn.Module:
    """``module`` in ``DistributedDataParallel`` when distributed, else ``module`` itself.

    No buffer re-sync before each forward: hnas models hold only constant buffers (the RGB mean, fixed
    selection masks) and batch-statistics BatchNorm without running averages, so there is nothing
    to re-send before every forward. Call the wrapper for training steps only; evaluate with the
    module itself (a forward through DDP on one rank alone would wait for the others).
    """
    if not is_distributed():
        return module
    ids = [device.index] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    # torch >= 2.11 renamed the switch (the old name still works, with a deprecation warning).
    no_resync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(ddp).parameters
                 else {"broadcast_buffers": False})
    return ddp(
        module,
        device_ids=ids,
        output_device=ids[0] if ids else None,
        find_unused_parameters=find_unused_parameters,
        **no_resync,
    )


def leaves_parameters_unused(module: nn.Module, probe: torch.Tensor) -> bool:
    """Whether a forward of ``probe`` leaves some trainable parameter out of the graph: one
    forward and backward of ``module(probe).sum()``, gradients cleared before and after (no
    random numbers drawn)."""
    module.zero_grad(set_to_none=True)
    module(probe).sum().backward()
    unused = any(p.grad is None for p in module.parameters() if p.requires_grad)
    module.zero_grad(set_to_none=True)
    return unused


def to_cpu(obj: Any) -> Any:
    """``obj`` with every tensor (in dicts, lists, tuples) moved to the CPU, for broadcasting."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj
