"""The run engine shared by the search, the retraining and ``hnas compare``.

:mod:`~hnas.engine.loop` (the one training loop, its chores as hooks), :mod:`~hnas.engine.step`
(the one update), :mod:`~hnas.engine.processes` (what training code asks of the process group:
its batch slice, the DDP wrapper, decisions taken alike, candidates dealt out),
:mod:`~hnas.engine.folder` (the run folder: ownership, stages, atomic files, logs trimmed on
resume, rank 0's disk), :mod:`~hnas.engine.state` (resume state as safetensors plus JSON),
:mod:`~hnas.engine.schedule` (the one cosine schedule), :mod:`~hnas.engine.budget` (time
budgets) and :mod:`~hnas.engine.seeds` (random draws as pure functions of the seed and the
step). The process group itself (start, collectives, DDP, the launcher) is
:mod:`hnas.engine.distributed`; outside the engine only entry points call it.
"""
