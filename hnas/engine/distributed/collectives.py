"""Collectives that are no-ops in one process, and the two patterns built on them: :func:`on_main`
(rank 0 works, everyone gets the answer) and :func:`spread` (items dealt over the ranks)."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from hnas.engine.distributed.ranks import is_distributed, is_main, rank, solo, world_size

T = TypeVar("T")


# -- collectives (no-ops with one process) -------------------------------------------------------
def _comm_device() -> torch.device:
    """Where collective tensors must live: the GPU for nccl, the CPU for gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    if not is_distributed():
        return
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


def broadcast_object(obj: T, src: int = 0) -> T:
    """Rank ``src``'s ``obj`` on every rank (pickled). Move tensors to the CPU first: a pickled
    CUDA tensor would land on the sender's GPU index."""
    if not is_distributed():
        return obj
    box: list[Any] = [obj if rank() == src else None]
    dist.broadcast_object_list(box, src=src, device=_comm_device())
    return box[0]


def broadcast_tensor(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Overwrite ``tensor`` (in place) with rank ``src``'s; returns it."""
    if is_distributed():
        dist.broadcast(tensor, src=src)
    return tensor


def broadcast_state(module: nn.Module, src: int = 0) -> None:
    """Make ``module``'s parameters and buffers equal to rank ``src``'s, in place."""
    if not is_distributed():
        return
    with torch.no_grad():
        for tensor in module.state_dict(keep_vars=True).values():
            if isinstance(tensor, torch.Tensor):
                dist.broadcast(tensor.data, src=src)


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over the ranks (a new tensor; the input itself with one process)."""
    if not is_distributed():
        return tensor
    out = tensor.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / world_size()


def any_true(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any (e.g. one rank saw Ctrl-C)."""
    if not is_distributed():
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_comm_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def all_gather_object(obj: T) -> list[T]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (to re-raise it on the other ranks), else a stand-in."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure gets the stand-in
        return RuntimeError(f"rank 0 failed: {type(exc).__name__}: {exc}")


def on_main(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` on rank 0 only and return its result on every rank; if it raises, every rank
    raises the same exception (so a user error stops all ranks, not rank 0 alone while the others
    wait in the next collective). The others wait meanwhile. The result must pickle. Calls nested
    inside ``fn`` run directly (no second broadcast the others are not waiting for), and so does
    everything else: ``fn`` runs :func:`solo`, since a collective inside it (a DDP wrap, a
    barrier) would wait for ranks that are waiting for ``fn``."""
    if not is_distributed():  # one process, or nested: the others wait in the outer call already
        return fn(*args, **kwargs)
    if is_main():
        try:
            with solo():
                value = fn(*args, **kwargs)
        except (Exception, KeyboardInterrupt) as exc:
            broadcast_object((False, _portable(exc)))
            raise
        broadcast_object((True, value))
        return value
    ok, value = broadcast_object(None)
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


def spread(items: Sequence[Any], fn: Callable[[int, Any], T],
           on_result: Callable[[int, Any, T], None] | None = None) -> list[T]:
    """``fn(index, item)`` for every item, the items dealt round-robin over the ranks, each rank
    working :func:`solo` on its own; every result, in the items' order, on every rank.

    Results are those of one process as long as ``fn`` depends on its item only (not on which rank
    runs it). If ``fn`` raises on any rank, every rank raises that exception (the lowest rank's),
    once each has stopped working, so no rank waits in a collective for one that has stopped.
    ``on_result(index, item, result)`` is called on every rank for every item in order: in one
    process as soon as the item is done (a log line written at once), with several once all are in.
    """
    if not is_distributed():
        results = []
        for index, item in enumerate(items):
            results.append(fn(index, item))
            if on_result is not None:
                on_result(index, item, results[-1])
        return results
    world, me = world_size(), rank()
    mine: dict[int, Any] = {}
    failed: BaseException | None = None
    with solo():
        for index in range(me, len(items), world):
            try:
                mine[index] = fn(index, items[index])
            except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - handed to every rank
                failed = exc
                break
    merged: dict[int, Any] = {}
    for who, (part, error) in enumerate(all_gather_object((mine, None if failed is None else _portable(failed)))):
        if error is not None:
            raise failed if who == me else error  # type: ignore[misc]  # this rank's own, traceback and all
        merged.update(part)
    results = [merged[index] for index in range(len(items))]
    if on_result is not None:
        for index, (item, result) in enumerate(zip(items, results)):
            on_result(index, item, result)
    return results
