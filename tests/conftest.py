"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The benchmark data next to the repository (``../shared/data``); tests skip without it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data`` (Set5, Set14, ...), or skip the test when it is absent."""
    if not (SHARED_DATA / "Set5").is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA
