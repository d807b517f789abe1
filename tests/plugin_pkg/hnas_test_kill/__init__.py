"""Test-only plugin: ``kill -9`` the process at a chosen moment.

* ``HNAS_TEST_KILL_DURING=NAME:N``: the N-th atomic write of a file called NAME is stopped by
  SIGKILL after its temporary file is complete and before it replaces the real file -- the worst
  moment for a checkpoint.
* ``HNAS_TEST_KILL_AT=RANK:WHERE:N`` (multi-process runs): the process of rank RANK is killed when
  ``WHERE`` is ``step`` (a training run has done N steps), ``epoch`` (a search starts its epoch
  N, counted from 0) or ``derive`` (rank 0 starts deriving; N is ignored).

Only the first attempt dies: a process that torchrun restarted (``TORCHELASTIC_RESTART_COUNT``
above 0) runs on, as a worker on a node that came back would. Without the variables the plugin
changes nothing, so the same spec (naming this plugin) also makes the uninterrupted reference run
and the resumed run.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hnas.utils.io as io
from hnas.engine import distributed as dist

_original = io.atomic_path
_target = os.environ.get("HNAS_TEST_KILL_DURING", "")
_at = os.environ.get("HNAS_TEST_KILL_AT", "")
_seen = {"count": 0}


def _first_attempt() -> bool:
    return os.environ.get(dist.ENV_RESTART, "0") in ("", "0")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def _atomic_path_that_dies(path: str | Path, keep_previous: str | Path | None = None) -> Iterator[Path]:
    name, _, nth = _target.partition(":")
    with _original(path, keep_previous) as tmp:
        yield tmp
        if Path(path).name == name and _first_attempt():
            _seen["count"] += 1
            if _seen["count"] == int(nth or 1):
                _die()


if _target:
    io.atomic_path = _atomic_path_that_dies

if _at:
    _rank, _where, _n = _at.split(":")

    def _here() -> bool:
        return _first_attempt() and dist.rank() == int(_rank)

    if _where == "step":
        from hnas.train.trainer import Trainer

        _step = Trainer._train_step

        def _train_step(self: Any, *args: Any) -> Any:
            if self.step == int(_n) and _here():
                _die()
            return _step(self, *args)

        Trainer._train_step = _train_step  # type: ignore[method-assign]
    else:
        from hnas.search.algorithm import Search

        if _where == "epoch":
            _weights = Search.train_weights

            def _train_weights(self: Any, epoch: int, *args: Any) -> Any:
                if epoch == int(_n) and _here():
                    _die()
                return _weights(self, epoch, *args)

            Search.train_weights = _train_weights  # type: ignore[method-assign]
        else:
            _derive = Search.derive

            def _derive_and_die(self: Any, *args: Any, **kwargs: Any) -> Any:
                if _here():
                    _die()
                return _derive(self, *args, **kwargs)

            Search.derive = _derive_and_die  # type: ignore[method-assign]
