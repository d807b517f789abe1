"""The names of a search run's files, in one place: the search and the strategies write them; the
report, ``hnas compare --shared-weights`` and ``hnas inspect`` read them (without importing either)."""

#: The search stage's resume state: shared weights, controller, optimizers (hnas.engine.state).
SEARCH_STATE_FILE = "search_state.safetensors"
#: Every architecture the search and derivation scored, one JSON line each.
ARCHIVE_FILE = "archive.jsonl"
#: One line per search epoch.
SEARCH_LOG_FILE = "search_log.jsonl"

#: A strategy run: one line per told reward (the candidate, its steps, its scores, the budget spent).
STRATEGY_FILE = "strategy.jsonl"
#: A strategy run's candidates' weights (``<hash>.safetensors``).
TRIALS_DIR = "trials"
#: The plan a strategy run writes before its first candidate.
PLAN_FILE = "strategy.json"
