"""The files a strategy run writes, and how its pick is read from them (no torch, no search imports:
the report and ``hnas inspect`` read them too)."""

from __future__ import annotations

from typing import Any

#: One line per told reward: the candidate, the steps it had, its scores, the budget spent so far.
STRATEGY_FILE = "strategy.jsonl"
#: The folder of the candidates' weights (``<hash>.safetensors``).
TRIALS_DIR = "trials"
#: The plan a strategy run writes before its first candidate.
PLAN_FILE = "strategy.json"


def best_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The pick: the best reward among the candidates that had the most steps (a candidate that
    survived to the last rung outranks one scored only after a short training)."""
    return max(records, key=lambda r: (r["steps"], r["reward"]))
