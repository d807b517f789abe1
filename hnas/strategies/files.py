"""The files a strategy run writes, and how its pick is read from them (no torch, no search imports:
the report and ``hnas inspect`` read them too)."""

from __future__ import annotations

from typing import Any

from hnas.engine.runfiles import PLAN_FILE, STRATEGY_FILE, TRIALS_DIR

__all__ = ["PLAN_FILE", "STRATEGY_FILE", "TRIALS_DIR", "best_record"]


def best_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The pick: the best reward among the candidates that had the most steps (a candidate that
    survived to the last rung outranks one scored only after a short training)."""
    return max(records, key=lambda r: (r["steps"], r["reward"]))
