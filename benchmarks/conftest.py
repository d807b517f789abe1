"""Shared fixture of the benchmarks: pinned threads and the machine's state."""

from __future__ import annotations

import os
from typing import Any

import _workloads as w
import pytest
import torch


@pytest.fixture()
def pinned_threads(benchmark: Any) -> Any:
    """Run the test on ``HNAS_BENCH_THREADS`` intra-op threads (default 1, see README) and record
    the thread count and the machine's load (it is shared) with the result."""
    before = torch.get_num_threads()
    torch.set_num_threads(w.THREADS)
    benchmark.extra_info.update(threads=w.THREADS, nproc=os.cpu_count(), load_1m_start=w.loadavg())
    yield benchmark
    benchmark.extra_info["load_1m_end"] = w.loadavg()
    torch.set_num_threads(before)
