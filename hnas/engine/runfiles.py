"""The names of a search run's files, in one place: the search writes them; the report, ``hnas
compare --shared-weights`` and ``hnas inspect`` read them (without importing the search)."""

#: The search stage's resume state: shared weights, controller, optimizers (hnas.engine.state).
SEARCH_STATE_FILE = "search_state.safetensors"
#: Every architecture the search and derivation scored, one JSON line each.
ARCHIVE_FILE = "archive.jsonl"
#: One line per search epoch.
SEARCH_LOG_FILE = "search_log.jsonl"
