"""The processes a run works in, as the code that trains and searches sees them.

Training code needs a handful of answers from the process group: the slice of a global batch
this process trains on, the model wrapped for data parallelism, a loss averaged over the
processes, one decision taken alike everywhere (stop, the budget's verdict), a pool of candidates
dealt out. :class:`Processes` gives them, and nothing else; the group itself is started by the
entry point (the CLI or ``torchrun``) and read here, never started. One process is the same
object with every answer trivial, so callers write one code path and a test can hand in a
one-process :class:`Processes` whatever the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn

from hnas.engine import distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class Processes:
    """This process's place in the run: ``rank`` of ``world`` (0 of 1 without a process group)."""

    rank: int = 0
    world: int = 1

    @classmethod
    def current(cls) -> Processes:
        """The processes of the group the entry point started (one, if it started none)."""
        return cls(dist.rank(), dist.world_size()) if dist.is_distributed() else cls()

    def device(self, name: str | torch.device | None = "auto") -> torch.device:
        """This process's device for ``name`` (``cuda:LOCAL_RANK`` under torchrun); under torchrun
        without a started group, one line saying how to start it (:func:`hnas.engine.distributed.joined_device`)."""
        return dist.joined_device(name)

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_writer(self) -> bool:
        """Whether this process writes the run's files (rank 0; :mod:`hnas.engine.distributed`)."""
        return self.rank == 0

    @property
    def silent(self) -> bool:
        """Whether this process keeps its warnings and bars to itself (every rank but 0 by default)."""
        return self.rank != 0 and not dist.log_all_ranks()

    # -- data-parallel training --------------------------------------------------------------------
    def part(self, batch: int) -> slice:
        """This process's slice of a global batch of ``batch`` items; an uneven split is one line."""
        return dist.shard(batch, self.world, self.rank) if self.distributed else slice(None)

    def check_batch(self, batch: int) -> None:
        """Refuse now, in one line, a global batch that will not split evenly over the processes
        (rather than after a search, at the stage that first trains with it)."""
        self.part(batch)

    def wrap(self, model: nn.Module, device: torch.device, *, find_unused: bool = False,
             probe: Callable[[], torch.Tensor] | None = None) -> nn.Module:
        """``model`` for training steps: in ``DistributedDataParallel`` across processes, else itself.

        DDP must be told when a forward leaves parameters out of the graph (``find_unused``), and
        looking for them every step is pure overhead when none are: ``probe`` makes an input with
        which one forward finds out (:func:`hnas.engine.distributed.leaves_parameters_unused`),
        only when there are several processes."""
        if not self.distributed:
            return model
        unused = find_unused or (probe is not None and dist.leaves_parameters_unused(model, probe()))
        return dist.wrap_ddp(model, device, find_unused_parameters=unused)

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` averaged over the processes (a step's loss, so that all skip or step alike)."""
        return dist.all_reduce_mean(tensor) if self.distributed else tensor

    @property
    def reduce(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """:meth:`mean` where there is something to average, else None (for :func:`~hnas.engine.step.train_step`)."""
        return self.mean if self.distributed else None

    # -- decisions taken alike ---------------------------------------------------------------------
    def any(self, flag: bool) -> bool:
        """True everywhere if ``flag`` is true in any process (one saw Ctrl-C)."""
        return dist.any_true(flag) if self.distributed else flag

    def same(self, value: T) -> T:
        """Rank 0's ``value`` in every process (a clock reading, which differs between processes)."""
        return dist.broadcast_object(value) if self.distributed else value

    def share(self, module: nn.Module) -> None:
        """Rank 0's weights of ``module`` in every process."""
        if self.distributed:
            dist.broadcast_state(module)

    def on_writer(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` run by the writer alone, its result (or its exception) in every process
        (:func:`hnas.engine.distributed.on_main`)."""
        return dist.on_main(fn, *args, **kwargs)

    def spread(self, items: Sequence[Any], fn: Callable[[int, Any], T],
               on_result: Callable[[int, Any, T], None] | None = None) -> list[T]:
        """``fn(index, item)`` for every item, the items dealt over the processes; every result in
        every process, in order (:func:`hnas.engine.distributed.spread`)."""
        return dist.spread(items, fn, on_result)
