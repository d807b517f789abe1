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

from hnas.engine.distributed.collectives import (
    all_gather_object,
    all_reduce_mean,
    any_true,
    barrier,
    broadcast_object,
    broadcast_state,
    broadcast_tensor,
    on_main,
    spread,
)
from hnas.engine.distributed.ddp import leaves_parameters_unused, shard, to_cpu, wrap_ddp
from hnas.engine.distributed.launch import argv_from_click, launch
from hnas.engine.distributed.ranks import (
    DEFAULT_TIMEOUT_S,
    ENV_LOG_ALL,
    ENV_RESTART,
    ENV_TIMEOUT,
    DistributedError,
    device_for,
    init,
    is_distributed,
    is_main,
    joined_device,
    launched,
    local_rank,
    log_all_ranks,
    quiet_failures,
    rank,
    restart_count,
    session,
    shutdown,
    silent,
    solo,
    world_size,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ENV_LOG_ALL",
    "ENV_RESTART",
    "ENV_TIMEOUT",
    "DistributedError",
    "all_gather_object",
    "all_reduce_mean",
    "any_true",
    "argv_from_click",
    "barrier",
    "broadcast_object",
    "broadcast_state",
    "broadcast_tensor",
    "device_for",
    "init",
    "is_distributed",
    "is_main",
    "joined_device",
    "launch",
    "launched",
    "leaves_parameters_unused",
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
    "solo",
    "spread",
    "to_cpu",
    "world_size",
    "wrap_ddp",
]
