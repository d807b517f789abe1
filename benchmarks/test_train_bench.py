"""How fast retraining runs: one step of ``hnas.train.Trainer`` on HNAS-A x2 (the retraining stage).

The issue's setting: batch 16, HR patch 64 (LR 32), 16 and 64 channels, L1 loss, Adam, the
finiteness check, ``Trainer.fast`` on (``hnas train --fast``). Target (issue #14): at least twice
the iterations per second of the code before it; the A/B of old and new code in one process is
``benchmarks/ab_compare.py train`` (benchmarks/README.md), since an absolute time on this shared
machine says little alone. Batches are drawn before timing (``Trainer.sampler``, in memory).

``python -m pytest benchmarks/test_train_bench.py --benchmark-enable --benchmark-only``; the test
suite runs each once at 4 channels with ``--benchmark-disable`` as a smoke test.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import _workloads as w
import pytest

pytestmark = pytest.mark.usefixtures("pinned_threads")


@pytest.mark.parametrize("channels", [16, 64])
def test_train_step(benchmark: Any, tmp_path: Path, channels: int) -> None:
    """One update: forward, L1, backward, finiteness check, Adam."""
    run_channels = channels if not benchmark.disabled else 4
    trainer, batches = w.make_trainer(tmp_path, run_channels)
    cycle = itertools.cycle(batches)
    benchmark.extra_info.update(channels=run_channels, batch=16, hr_patch=64, fast=trainer.fast)

    def step() -> None:
        lr_batch, hr_batch = next(cycle)
        assert trainer._train_step(lr_batch, hr_batch) is not None

    benchmark.pedantic(step, rounds=10 if channels == 16 else 4, warmup_rounds=1)
