"""Keep freed memory in the process, so large tensors stop costing a page fault per 4 KB page.

Why: torch's CPU tensors come from glibc's ``malloc``. glibc gives blocks over 32 MB (and, after
a free, smaller ones too) their own ``mmap`` and returns them to the kernel on ``free``, and trims
the heap when its free top exceeds twice the last such size. Every new tensor of that size then
starts as untouched pages, and the first write to each 4 KB page is a fault in which the kernel
zeroes it. HNAS networks write many fresh maps of 4-60 MB per forward (a 64-channel map at
240 x 240 is 15 MB): HNAS-A x2 on a 120 x 120 image took 79,000 faults per forward, a training
step at 64 channels 170,000 (benchmarks/README.md), several tenths of a second on the VM these
were measured on. With mmap off and trimming deferred, freed blocks are reused by the next
forward or step: no faults in steady state, same results bit for bit.

The cost: the process keeps its peak heap until it exits (the OS still reclaims it then), and
the setting is process-wide. So it is opt-in for library users and switched on by the
command-line tools that own their process (``hnas upscale``, ``eval``, ``train``, ``run``).
Linux with glibc only; elsewhere :func:`keep_freed_memory` does nothing and says so.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable

#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_KEEP = 2**31 - 1  # largest value mallopt takes (an int): never trim the heap in practice


@functools.lru_cache(maxsize=1)
def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, or None (not Linux, or a libc without it). Looked up once."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other libcs
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt  # type: ignore[no-any-return]


def keep_freed_memory() -> bool:
    """Ask glibc to serve every block from the heap and never shrink it; True if it took effect.

    Calling it again changes nothing (and costs two C calls). Call it before the work whose
    allocations should be reused (it affects blocks freed from then on).
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP))
