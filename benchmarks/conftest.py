"""Shared fixture of the benchmarks: pinned threads and the machine's state."""

from __future__ import annotations

import os
from typing import Any

import _workloads as w
import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def kept_memory() -> bool:
    """Keep freed memory in this process (``HNAS_BENCH_KEEP_MEMORY``, default on: what the
    commands do) before anything is timed; the setting goes into every result."""
    if not w.KEEP_MEMORY:
        return False
    from hnas.utils.memory import keep_freed_memory

    return keep_freed_memory()


@pytest.fixture()
def pinned_threads(benchmark: Any, kept_memory: bool) -> Any:
    """Run the test on ``HNAS_BENCH_THREADS`` intra-op threads (default 1, see README) and record
    the thread count and the machine's load (it is shared) with the result."""
    before = torch.get_num_threads()
    torch.set_num_threads(w.THREADS)
    benchmark.extra_info.update(threads=w.THREADS, nproc=os.cpu_count(), load_1m_start=w.loadavg(),
                                kept_memory=kept_memory)
    yield benchmark
    benchmark.extra_info["load_1m_end"] = w.loadavg()
    torch.set_num_threads(before)
