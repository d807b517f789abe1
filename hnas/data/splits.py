"""Contiguous splits of an image list, and whether two splits share images.

The HNAS search trains the supernet weights ``w`` and the controller ``theta`` on different
images (DIV2K 1-320 and 321-800, HNAS-REFERENCE.md); if the two splits overlap, the controller is
rewarded on images the weights were fitted to and prefers architectures that memorise. A split is
resolved to a half-open range of positions in the sorted list, so overlap is a range question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TypeVar

from hnas.errors import DataError

__all__ = ["Split", "parse_split", "select_split", "split_range", "splits_overlap"]

#: Split forms: 1-based inclusive image indices ``(1, 320)``, fractions ``(0.0, 0.4)``, or text.
Split = tuple[int, int] | tuple[float, float] | str

T = TypeVar("T")

_INDEX_RE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*-\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_split(text: str) -> tuple[int, int] | tuple[float, float]:
    """``"1-320"`` -> image indices (1-based, inclusive); ``"0%-40%"`` -> fractions ``(0.0, 0.4)``."""
    if match := _INDEX_RE.match(text):
        return int(match.group(1)), int(match.group(2))
    if match := _PERCENT_RE.match(text):
        return float(match.group(1)) / 100.0, float(match.group(2)) / 100.0
    raise DataError(
        f"cannot read split '{text}'; write image indices like 1-320 or percentages like 40%-100%"
    )


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def split_range(split: Split, n: int, where: str = "data") -> range:
    """The positions (0-based) that ``split`` selects from ``n`` sorted images.

    Integers ``(a, b)``: images ``a..b`` counted from 1, both included (DIV2K ``(1, 320)`` is
    ``0001..0320``). Floats ``(f, g)`` with ``0 <= f < g <= 1``: positions ``round(f n)`` up to
    ``round(g n)`` (half up), so ``(0, .4)`` and ``(.4, 1)`` cut a set without overlap or gap.
    """
    if isinstance(split, str):
        split = parse_split(split)
    if len(split) != 2:
        raise DataError(f"a split has two ends, got {split!r}")
    first, last = split
    if all(isinstance(v, int) and not isinstance(v, bool) for v in split):
        if not 1 <= first <= last:
            raise DataError(f"split {first}-{last} is not a range of 1-based image indices")
        if last > n:
            raise DataError(f"split {first}-{last} asks for image {last} but {where} has {n} images")
        return range(first - 1, last)
    lo, hi = float(first), float(last)
    if not 0.0 <= lo < hi <= 1.0:
        raise DataError(f"split fractions must satisfy 0 <= start < end <= 1, got {split!r}")
    chosen = range(_round_half_up(lo * n), _round_half_up(hi * n))
    if not chosen:
        raise DataError(f"split {split!r} selects no images of the {n} in {where}")
    return chosen


def select_split(records: Sequence[T], split: Split | None, where: str = "data") -> list[T]:
    """The records a split selects (all of them for ``None``); see :func:`split_range`."""
    records = list(records)
    if split is None:
        return records
    chosen = split_range(split, len(records), where)
    return records[chosen.start : chosen.stop]


def splits_overlap(split_a: Split, split_b: Split, n: int) -> bool:
    """True when the two splits of the same ``n`` sorted images share at least one image.

    ``n`` is needed because fractions only become positions for a given set size: ``(0, .41)``
    and ``(.4, 1)`` share no image of 5 but one of 100. Invalid splits raise :class:`DataError`.
    """
    a, b = split_range(split_a, n), split_range(split_b, n)
    return max(a.start, b.start) < min(a.stop, b.stop)
