"""How fast the search runs: one supernet step and one controller update at search settings.

Search settings (paper supp. B, HNAS-REFERENCE.md): L = 12 layers, C = 8 channels per op, 4 nodes,
x2, batch 16, every registered op in both cells (``up_and_down`` included, which the authors'
search code left out); ``test_supernet_step_32_authors_ops`` uses the authors' op set. Targets
(issue #14, benchmarks/README.md): a step on the authors' op set at least 2x as fast as the
authors' code (1.0-1.8 s here), with ``up_and_down`` no slower than the authors' without it; the
peak memory of a step at LR 48x48 <= 3 GB for every architecture probed
(``test_supernet_step_48_memory``, ten architectures, one fresh process each).

Each round samples its architecture from a fixed seed (round ``i`` uses seed ``i``), so every
version of the code is timed on the same architectures: the median is over architectures drawn
from the untrained controller, whose cost varies several-fold with the upsampling position and
the ops (an ``up_and_down`` edge after the upsampling cell is the most expensive).

``python -m pytest benchmarks/test_search_bench.py --benchmark-only``; the test suite runs each
once with ``--benchmark-disable`` as a smoke test.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import _workloads as w
import pytest
from _memory import peak_memory, peak_memory_over_seeds

pytestmark = pytest.mark.usefixtures("pinned_threads")


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One search (LR 32x32 batches) for every test of this file; building it takes seconds."""
    return w.make_search(Path(tmp_path_factory.mktemp("search")), 32)


def _seeds() -> Any:
    """Round i -> seed i; the warm-up round gets a seed of its own (1000)."""
    counter = itertools.chain([1000], itertools.count())
    return lambda: ((next(counter),), {})


def _step_bench(benchmark: Any, search: Any, lr_size: int, rounds: int, memory: bool = True) -> None:
    benchmark.extra_info.update(lr_size=lr_size, batch=w.SEARCH_BATCH, layers=12, channels=8,
                                normal_ops=search.supernet.normal_ops)
    benchmark.pedantic(lambda seed: w.supernet_step(search, seed), setup=_seeds(), rounds=rounds,
                       warmup_rounds=1)
    if memory:
        peak_memory(benchmark, "supernet_step", lr_size=lr_size, keep_memory=False)


def test_supernet_step_32(benchmark: Any, search: Any) -> None:
    """One shared-weight update: sample, forward, L1 loss, backward, clip, Adam; LR 32x32."""
    _step_bench(benchmark, search, 32, rounds=15)


def test_supernet_step_32_authors_ops(benchmark: Any, tmp_path: Path) -> None:
    """The same on the authors' op set (no ``up_and_down``), the comparison of issue #14."""
    search = w.make_search(tmp_path, 32, w.AUTHORS_NORMAL_OPS)
    _step_bench(benchmark, search, 32, rounds=15, memory=False)


def test_supernet_step_48_memory(benchmark: Any) -> None:
    """Peak memory of one step at LR 48x48 (the paper's setting) over ten architectures (seeds
    0-9, each in a fresh process, glibc's default allocator): the worst is reported in
    ``extra_info`` (``peak_rss_mb``), target 3 GB. Nothing is timed here (the step's time is
    ``test_supernet_step_48``); the smoke run skips the probes."""
    benchmark.extra_info.update(lr_size=48, target_peak_mb=3072)
    benchmark.pedantic(lambda: None, rounds=1, warmup_rounds=0)
    peak_memory_over_seeds(benchmark, "supernet_step", list(range(10)), lr_size=48, keep_memory=False)


def test_supernet_step_48(benchmark: Any, search: Any) -> None:
    """The same at LR 48x48 (HR patch 96, the paper's setting)."""
    batches_32 = search.data.w_batch
    search.data.w_batch = w.training_batches(48)
    try:
        _step_bench(benchmark, search, 48, rounds=10)
    finally:
        search.data.w_batch = batches_32


def test_controller_update(benchmark: Any, search: Any) -> None:
    """Sample, PSNR of that architecture on a validation batch (16 patches, LR 32x32) with the
    shared weights, its cost (uncached: every cost cache cleared before each round), reward,
    REINFORCE step, archive line."""
    benchmark.extra_info.update(lr_size=32, batch=w.SEARCH_BATCH, cost="uncached (caches cleared)",
                                target_s=0.3)
    benchmark.pedantic(lambda seed: w.controller_update(search, seed), setup=_seeds(), rounds=20,
                       warmup_rounds=1)
    peak_memory(benchmark, "controller_update", lr_size=32, keep_memory=False)
