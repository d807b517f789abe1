"""The run engine shared by the search, the retraining and ``hnas compare``.

:mod:`~hnas.engine.folder` (the run folder: ownership, stages, atomic files, logs trimmed on
resume, rank 0's disk), :mod:`~hnas.engine.state` (resume state as safetensors plus JSON),
:mod:`~hnas.engine.schedule` (the one cosine schedule) and :mod:`~hnas.engine.seeds` (random
draws as pure functions of the seed and the step). Multi-process plumbing (DDP, rank-0 I/O
helpers) is :mod:`hnas.distributed`.
"""
