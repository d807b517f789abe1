"""Test-only plugin: ``kill -9`` the process in the middle of an atomic write.

With ``HNAS_TEST_KILL_DURING=NAME:N`` in the environment, the N-th atomic write of a file called
NAME is stopped by SIGKILL after its temporary file is complete and before it replaces the real
file -- the worst moment for a checkpoint. Without the variable it changes nothing, so the same
spec (naming this plugin) also makes the uninterrupted reference run and the resumed run.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hnas.utils.io as io

_original = io.atomic_path
_target = os.environ.get("HNAS_TEST_KILL_DURING", "")
_seen = {"count": 0}


@contextmanager
def _atomic_path_that_dies(path: str | Path) -> Iterator[Path]:
    name, _, nth = _target.partition(":")
    with _original(path) as tmp:
        yield tmp
        if Path(path).name == name:
            _seen["count"] += 1
            if _seen["count"] == int(nth or 1):
                os.kill(os.getpid(), signal.SIGKILL)


if _target:
    io.atomic_path = _atomic_path_that_dies
