"""Multi-process runs on the standard engine: ``torchrun`` + ``DistributedDataParallel``.

Everything here is a no-op in a plain (one-process) run, so callers write one code path:
``rank()`` is 0, ``world_size()`` 1, ``is_main()`` True, broadcasts return their argument,
``shard(n)`` is the whole batch and ``wrap_ddp(module)`` returns the module itself.

Under ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` in the environment, world size > 1),
:func:`init` starts the process group: gloo for a CPU run, nccl for CUDA, where each process
takes ``cuda:LOCAL_RANK`` (one GPU per process, torchrun's convention). The run then follows one
rule: **rank 0 owns the run folder.** It alone reads and writes files; whatever the others need
from disk (resume state, which stage is done, the derived architecture) rank 0 reads and
broadcasts (:func:`on_main`). That keeps the folder free of races and lets a multi-node run work
with the folder on rank 0's machine only.

Why a long collective timeout (``HNAS_DIST_TIMEOUT``, default 3 h): the controller phase,
derivation and final evaluation run on rank 0 while the other ranks wait in a broadcast; torch's
default (10-30 min) would kill a long evaluation of a paper-size model.

``HNAS_LOG_ALL_RANKS=1`` lets the other ranks print progress and warnings too (for debugging);
by default they are silent.
"""

from __future__ import annotations

import inspect
import os
import pickle
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from enum import Enum
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from hnas.errors import HnasError
from hnas.utils.device import resolve_device

__all__ = [
    "all_gather_object",
    "all_reduce_mean",
    "any_true",
    "barrier",
    "broadcast_object",
    "broadcast_state",
    "broadcast_tensor",
    "device_for",
    "init",
    "is_distributed",
    "is_main",
    "launch",
    "launched",
    "local_rank",
    "log_all_ranks",
    "on_main",
    "quiet_failures",
    "rank",
    "restart_count",
    "session",
    "shard",
    "shutdown",
    "silent",
    "to_cpu",
    "world_size",
    "wrap_ddp",
]

T = TypeVar("T")

ENV_LOG_ALL = "HNAS_LOG_ALL_RANKS"
ENV_TIMEOUT = "HNAS_DIST_TIMEOUT"
#: Set by torchrun in the processes it restarted (elastic restarts, ``--max-restarts``).
ENV_RESTART = "TORCHELASTIC_RESTART_COUNT"
DEFAULT_TIMEOUT_S = 3 * 3600


class DistributedError(HnasError, RuntimeError):
    """A multi-process setting that cannot work (uneven batch split, missing GPU for a rank)."""


# -- who am I ------------------------------------------------------------------------------------
def launched() -> bool:
    """True when started by torchrun (or any launcher setting its variables) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


#: Set inside :func:`solo`: this process works alone although a process group is up.
_SOLO: ContextVar[bool] = ContextVar("hnas_solo", default=False)


def is_distributed() -> bool:
    """True once the process group is up with more than one process (and not inside :func:`solo`)."""
    return not _SOLO.get() and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank. Before the group is up and after it is gone, the launcher's ``RANK``:
    a command that prints its summary after :func:`session` ends would otherwise print it once per
    process, every one of them taking itself for rank 0. Inside :func:`solo`, 0."""
    if is_distributed():
        return dist.get_rank()
    if _SOLO.get() or not launched():
        return 0
    return int(os.environ["RANK"])


def group_rank() -> int:
    """This process's rank in the process group, inside :func:`solo` too (0 without a group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def group_size() -> int:
    """Processes in the group, inside :func:`solo` too (1 without a group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@contextmanager
def solo() -> Iterator[None]:
    """Work alone inside the block: a one-process run (no DDP, no collectives, this process writes
    its own files). ``hnas compare`` spreads whole members over the ranks this way."""
    token = _SOLO.set(True)
    try:
        yield
    finally:
        _SOLO.reset(token)


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    """This process's index on its machine (torchrun's ``LOCAL_RANK``); picks the GPU."""
    return int(os.environ.get("LOCAL_RANK", "0")) if is_distributed() or launched() else 0


def is_main() -> bool:
    """Rank 0: the process that writes files and prints."""
    return rank() == 0


def log_all_ranks() -> bool:
    return os.environ.get(ENV_LOG_ALL, "").strip().lower() not in ("", "0", "false", "no")


def silent() -> bool:
    """True on ranks other than 0, unless ``HNAS_LOG_ALL_RANKS`` asks every rank to speak."""
    return not is_main() and not log_all_ranks()


# -- start and stop ------------------------------------------------------------------------------
def device_for(name: str | torch.device | None = "auto") -> torch.device:
    """The device this process computes on: as :func:`resolve_device`, except that under torchrun
    a CUDA device becomes ``cuda:LOCAL_RANK`` (one GPU per process)."""
    device = resolve_device(name)
    if device.type == "cuda" and (is_distributed() or launched()):
        index = local_rank()
        if index >= torch.cuda.device_count():
            raise DistributedError(
                f"process {index} on this machine has no GPU of its own ({torch.cuda.device_count()} visible); "
                f"start at most {torch.cuda.device_count()} processes per node"
            )
        device = torch.device("cuda", index)
    return device


def init(device: str | torch.device | None = "auto") -> torch.device:
    """Join torchrun's process group if launched by it (idempotent); return this process's device.

    The backend follows the device: nccl for CUDA, gloo otherwise. Without torchrun (or with
    one process) nothing starts and the device is resolved as usual.
    """
    target = device_for(device)
    if not launched() or (dist.is_available() and dist.is_initialized()):
        return target
    if not dist.is_available():
        raise DistributedError("this torch build has no torch.distributed; run with one process")
    backend = "nccl" if target.type == "cuda" else "gloo"
    if target.type == "cuda":
        torch.cuda.set_device(target)
    timeout = timedelta(seconds=float(os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT_S)))
    attempt = restart_count()
    if attempt:
        # torchrun's agent keeps its key-value store across restarts, and the new processes would
        # find the dead ones' addresses there (gloo: "Connection refused"; pytorch#167288): each
        # attempt gets keys of its own.
        store, group_rank, size = next(dist.rendezvous("env://", timeout=timeout))
        store = dist.PrefixStore(f"hnas/attempt-{attempt}/", store)
        dist.init_process_group(backend=backend, store=store, rank=group_rank, world_size=size, timeout=timeout)
    else:
        dist.init_process_group(backend=backend, timeout=timeout)
    return target


def shutdown() -> None:
    """Leave the process group cleanly (after a last barrier, so no rank exits mid-collective)."""
    if dist.is_available() and dist.is_initialized():
        try:
            if is_distributed():
                barrier()
        finally:
            dist.destroy_process_group()


@contextmanager
def session(device: str | torch.device | None = "auto") -> Iterator[torch.device]:
    """``with session(device) as dev:`` -- :func:`init`, then :func:`shutdown` however the block ends.

    On an exception the group is destroyed without the final barrier: the other ranks may be
    gone already, and torchrun's agent stops the rest.
    """
    owns = launched() and not (dist.is_available() and dist.is_initialized())
    target = init(device)
    try:
        yield target
    except BaseException:
        if owns and dist.is_initialized():
            dist.destroy_process_group()
        raise
    if owns:
        shutdown()


@contextmanager
def quiet_failures() -> Iterator[None]:
    """On a silent rank, turn a user error or Ctrl-C into a bare exit (code 2 or 130).

    Every rank raises the same user error (:func:`on_main` hands rank 0's to the others); rank 0
    prints it, so the others leave without repeating it. A collective that fails because another
    process died is one line and exit code 1 on every rank (:func:`_lost_peer`). Bugs keep their
    traceback everywhere.
    """
    try:
        yield
    except HnasError:
        if silent():
            raise SystemExit(2) from None
        raise
    except KeyboardInterrupt:
        if silent():
            raise SystemExit(130) from None
        raise
    except RuntimeError as exc:
        if not (launched() and _lost_peer(exc)):
            raise
        import sys

        print(f"error: process {rank()} lost contact with the others (one of them stopped: its output says why)",
              file=sys.stderr)
        raise SystemExit(1) from None


#: How gloo and nccl report a peer process that is gone (killed, out of memory, its node lost).
_LOST_PEER = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "Connection refused",
              "remote process exited", "NCCL communicator was aborted")


def _lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective failing because another process died: not this process's
    bug, and torchrun's ``--max-restarts`` starts everyone again, so one line says it, not a traceback."""
    return isinstance(exc, getattr(dist, "DistNetworkError", ())) or any(p in str(exc) for p in _LOST_PEER)


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


def spread(items: Sequence[Any], fn: Callable[[int, Any], T]) -> list[T]:
    """``fn(index, item)`` for every item, the items dealt round-robin over the ranks, each rank
    working :func:`solo` on its own; every result, in the items' order, on every rank.

    Results are those of one process as long as ``fn`` depends on its item only (not on which rank
    runs it). If ``fn`` raises on any rank, every rank raises that exception (the lowest rank's),
    once each has stopped working, so no rank waits in a collective for one that has stopped.
    """
    if not is_distributed():
        return [fn(index, item) for index, item in enumerate(items)]
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
    return [merged[index] for index in range(len(items))]


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
    # The channels-last convolutions return channels-last weight gradients for weights stored
    # contiguous; DDP copies them into its buckets and says so once. Harmless at these sizes.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    return ddp(
        module,
        device_ids=ids,
        output_device=ids[0] if ids else None,
        find_unused_parameters=find_unused_parameters,
        **no_resync,
    )


def to_cpu(obj: Any) -> Any:
    """``obj`` with every tensor (in dicts, lists, tuples) moved to the CPU, for broadcasting."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


# -- launching -----------------------------------------------------------------------------------
def restart_count() -> int:
    """How many times torchrun has restarted this process's group (``TORCHELASTIC_RESTART_COUNT``;
    0 outside torchrun). A restarted run resumes by itself from its last checkpoint: with
    ``--max-restarts K`` a lost worker (the OOM killer, a preempted node) costs the steps since the
    last checkpoint, not the run."""
    if not launched():
        return 0
    try:
        return int(os.environ.get(ENV_RESTART, "0") or 0)
    except ValueError:
        return 0


def launch(nproc: int, argv: Sequence[str], max_restarts: int = 0) -> int:
    """Run ``python -m hnas ARGV`` in ``nproc`` processes on this machine through torchrun's own
    launcher (its standalone rendezvous on localhost picks a free port); returns the exit code
    (rank 0's on failure, so a user error still exits 2).

    ``max_restarts``: when a process fails, torchrun stops the others and starts them all again,
    up to that many times; the restarted processes resume from the last checkpoint
    (:func:`restart_count`), so the run ends as an uninterrupted one would.

    CPU threads: torchrun would give each process one; we give each ``cpus // nproc`` unless
    ``OMP_NUM_THREADS`` is set, so N processes share the machine instead of using 1/N of it.
    The launcher's own log lines are muted: the processes print their errors themselves (rank 0
    a user error, every rank a traceback), and a failure that is not a user error gets one line.
    """
    import logging
    import sys

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun_main

    if launched():
        raise DistributedError("--nproc inside torchrun: drop --nproc (torchrun already started the processes)")
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    args = ["--standalone", "--nproc-per-node", str(nproc), "--max-restarts", str(max_restarts),
            "-m", "hnas", *argv]
    agent_logs = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)
                  if name.startswith("torch.distributed")]
    levels = [log.level for log in agent_logs]
    for log in agent_logs:
        log.setLevel(logging.CRITICAL)
    try:
        torchrun_main(args)
    except ChildFailedError as exc:
        # An exit of its own (the agent SIGTERMs the rest once one fails), rank 0's if it has one.
        exits = {r: f for r, f in exc.failures.items() if f.exitcode > 0}
        which = (0 if 0 in exits else min(exits, key=lambda r: exits[r].timestamp)) if exits else exc.get_first_failure()[0]
        code = exc.failures[which].exitcode
        code = code if code > 0 else 128 - code  # killed by signal N -> 128 + N, as a shell reports it
        if code not in (2, 130):
            print(f"error: process {which} of {nproc} failed with exit code {code} (its output is above)",
                  file=sys.stderr)
        return code
    except SignalException as exc:  # Ctrl-C or a kill: the processes got it too and report themselves
        return 128 + int(exc.sigval)
    finally:
        for log, level in zip(agent_logs, levels):
            log.setLevel(level)
    return 0


def argv_from_click(ctx: Any, skip: Sequence[str] = ()) -> list[str]:
    """Rebuild a command line from a typer/click context's parsed values (for :func:`launch`).

    Why not ``sys.argv``: the command may have been invoked in-process (a test's CliRunner, a
    script calling the app), where ``sys.argv`` is someone else's. Every given option is written
    out explicitly; parameters named in ``skip`` (e.g. ``nproc``) are left out. Duck-typed on
    click's ``Parameter`` attributes, so typer's vendored click and click itself both work.
    """
    positional: list[str] = []
    options: list[str] = []
    for param in ctx.command.params:
        if param.name in skip or param.name not in ctx.params:
            continue
        value = ctx.params[param.name]
        if value is None:
            continue
        many = getattr(param, "multiple", False) or param.nargs != 1
        values = list(value) if many else [value]
        if getattr(param, "param_type_name", "option") == "argument":
            positional += [_cli_str(v) for v in values]
        elif getattr(param, "is_flag", False) and not getattr(param, "count", False):
            if value:
                options.append(param.opts[0])
            elif param.secondary_opts:
                options.append(param.secondary_opts[0])
        else:
            for item in values:
                options += [param.opts[0], _cli_str(item)]
    return [*positional, *options]


def _cli_str(value: Any) -> str:
    """How a parsed value is written on a command line (an Enum choice by its value)."""
    return str(value.value) if isinstance(value, Enum) else str(value)
