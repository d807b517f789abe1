"""Who this process is (rank, world, the main one, working solo) and starting/stopping the group."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

import torch
import torch.distributed as dist

from hnas.errors import HnasError
from hnas.utils.device import resolve_device

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


def joined_device(device: str | torch.device | None = "auto") -> torch.device:
    """This process's device (:func:`device_for`) in a library call that needs the process group
    an entry point started: under torchrun without it, one line saying how to start it. Library
    code never starts the group itself (a constructor that joins a group is a side effect nobody
    asked for, and the group would outlive the call)."""
    if launched() and not (dist.is_available() and dist.is_initialized()):
        raise DistributedError("under torchrun, start the process group before calling hnas: wrap the program in "
                               "'with hnas.engine.distributed.session(device):' (the hnas commands do)")
    return device_for(device)


def shutdown() -> None:
    """Leave the process group cleanly (after a last barrier, so no rank exits mid-collective)."""
    if dist.is_available() and dist.is_initialized():
        try:
            if is_distributed():
                from hnas.engine.distributed.collectives import barrier  # (collectives build on this module)

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
    with warnings.catch_warnings():  # the filter lasts as long as the session, not the process
        # The channels-last convolutions return channels-last weight gradients for weights stored
        # contiguous; DDP copies them into its buckets and says so once. Harmless at these sizes.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
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
