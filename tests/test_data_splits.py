"""Splits: which images each stage of the search sees, and refusing splits that share images."""

from __future__ import annotations

import pytest

from hnas.data import select_split, split_range, splits_overlap
from hnas.errors import DataError


def test_paper_splits_of_div2k_are_disjoint() -> None:
    assert split_range((1, 320), 800) == range(320)
    assert split_range((321, 800), 800) == range(320, 800)
    assert not splits_overlap((1, 320), (321, 800), 800)
    assert splits_overlap((1, 321), (321, 800), 800)
    assert splits_overlap("1-800", "321-800", 800)


def test_fraction_splits_depend_on_the_set_size() -> None:
    assert not splits_overlap((0.0, 0.4), (0.4, 1.0), 6)
    assert not splits_overlap((0.0, 0.41), (0.4, 1.0), 5)  # positions 0-1 and 2-4
    assert splits_overlap((0.0, 0.41), (0.4, 1.0), 100)  # image 41 is in both
    assert splits_overlap((0.0, 0.5), (1, 3), 4) and not splits_overlap((0.0, 0.5), (3, 4), 4)
    assert splits_overlap("0%-60%", "50%-100%", 10)


def test_overlap_of_an_invalid_split_is_an_error() -> None:
    with pytest.raises(DataError, match="asks for image 900 but data has 800 images"):
        splits_overlap((1, 320), (321, 900), 800)
    with pytest.raises(DataError, match="selects no images"):
        splits_overlap((0.0, 0.1), (0.5, 1.0), 4)


def test_select_split_keeps_any_items() -> None:
    assert select_split(list("abcdef"), (0.5, 1.0)) == ["d", "e", "f"]
    assert select_split(list("abcdef"), None) == list("abcdef")
