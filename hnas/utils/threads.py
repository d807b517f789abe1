"""Thread settings for the parts of the search too small to share among threads.

The controller works on vectors of 100 numbers: an LSTM step, a pointer attention, a softmax,
33 times per sample, and its REINFORCE update backpropagates through that chain. Each of those
ops takes microseconds, so splitting one among threads costs more in synchronisation than it
saves, and on a busy machine it is much worse: every op waits at a barrier for a thread the OS
has descheduled (measured: sampling with 2 threads on 2 loaded cores was ~10x slower than with 1;
benchmarks/README.md). :func:`num_threads` runs such a block on fewer threads and then restores
the setting, so the supernet's large convolutions keep every thread. The latency cost uses the same
helper to measure at a stated thread count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def num_threads(threads: int | None, *, only_lower: bool = True) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(threads)``, then restore the previous count;
    yields the count in effect.

    ``only_lower`` (the default) never raises the count (the controller's tiny ops want fewer
    threads, never more); ``only_lower=False`` sets exactly ``threads`` (a latency measured at a
    stated thread count). ``None`` keeps the current count.
    """
    before = torch.get_num_threads()
    target = before if threads is None or (only_lower and threads >= before) else threads
    if target != before:
        torch.set_num_threads(target)
    try:
        yield target
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
