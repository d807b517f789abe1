"""Optional TensorBoard logging: one small sink the search, training and comparison can write to.

``tensorboard`` is an extra (``pip install "hnas[tensorboard]"``), so it is imported only when a
sink is made, and its absence is one clear line instead of an ImportError deep in a run. The run
folder's JSON lines stay the record of truth; TensorBoard is a live view of the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hnas.errors import HnasError

INSTALL_HINT = 'pip install "hnas[tensorboard]"'


class TensorBoardSink:
    """Scalars to TensorBoard as ``stream/name`` (``search/reward_mean``, ``retrain/loss``, ...).

    ``record("search", epoch, {...})`` writes every finite number of the mapping and skips the rest
    (``None`` for a validation that did not run, strings), so log records can be passed as they are.
    """

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise HnasError(f"TensorBoard logging needs the tensorboard package: {INSTALL_HINT}") from None
        self.log_dir = Path(log_dir)
        self._writer: Any = SummaryWriter(log_dir=str(self.log_dir))

    def record(self, stream: str, step: int, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            self._writer.add_scalar(f"{stream}/{name}", float(value), global_step=int(step))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> TensorBoardSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Which field of each log's lines is the step on TensorBoard's x axis.
STEP_FIELDS = {"search_log.jsonl": ("search", "epoch"), "archive.jsonl": ("architectures", None),
               "train_log.jsonl": ("train", "step")}


class LogWatcher:
    """Turns the run folder's log lines into TensorBoard scalars (``with watching(LogWatcher(dir))``).

    Archive lines (one per evaluated architecture) are numbered in arrival order.
    """

    def __init__(self, log_dir: str | Path) -> None:
        self.sink = TensorBoardSink(log_dir)
        self.counts: dict[str, int] = {}

    def __call__(self, name: str, record: dict[str, Any]) -> None:
        stream, field = STEP_FIELDS.get(Path(name).name, (Path(name).stem, None))
        count = self.counts.get(stream, 0)
        self.counts[stream] = count + 1
        step = record.get(field) if field else count
        self.sink.record(stream, int(step) if isinstance(step, (int, float)) else count, record)
        self.sink.flush()

    def close(self) -> None:
        self.sink.close()
