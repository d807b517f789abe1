"""The table file: the conditions its numbers hold for, reading, checking and writing it."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hnas.errors import HnasError
from hnas.spaces.genotype import DEFAULT_NODES
from hnas.utils.io import atomic_write_json

Backend = Literal["eager", "onnxruntime"]
Mode = Literal["forward", "train"]
Clock = Literal["wall", "cpu"]
Statistic = Literal["median", "min"]
Precision = Literal["fp32", "bf16"]
BACKENDS: tuple[str, ...] = ("eager", "onnxruntime")
#: Bumped when the keys or their meaning change; an older table is refused (rebuild it).
TABLE_FORMAT = 1
#: Cell slots with their own measured overhead.
SLOTS = ("normal_lr", "normal_hr", "upsampling")


class LatencyTableError(HnasError, ValueError):
    """A latency table that is missing, corrupt, lacks a piece, or was built under other settings."""



class TableConditions(BaseModel):
    """What a table's numbers hold for; a run that asks for something else is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device: str = "cpu"
    backend: Backend = "eager"
    threads: int = Field(1, ge=1)
    input: tuple[int, int] = (480, 480)
    scale: int = Field(2, ge=1)
    channels: int = Field(16, ge=1)
    nodes: int = Field(DEFAULT_NODES, ge=1)
    normal_ops: tuple[str, ...]
    upsampling_ops: tuple[str, ...]
    op_params: str = "{}"
    train: bool = False
    #: Images per timed call: 1 prices one image (inference); the retraining's batch (with ``input`` its
    #: LR patch) prices the training step an hour buys, where per-op overheads weigh more.
    batch: int = Field(1, ge=1)
    #: The arithmetic timed: ``bf16`` runs every piece under bf16 autocast (eager only), as
    #: ``retrain.precision = "bf16"`` trains; ops gain from it unequally (dense 3x3 convolutions most).
    precision: Precision = "fp32"
    #: ``wall``: elapsed time, the latency a user waits for (needs a quiet machine); ``cpu``: CPU time
    #: of the calling thread, which a busy machine's other processes do not inflate -- equal to the
    #: latency on an idle core, and only meaningful at one thread (both backends then run every op in
    #: the calling thread).
    clock: Clock = "wall"
    #: ``median`` of the timed calls (the usual latency), or their ``min``: on a shared machine
    #: other work only ever adds time, so the fastest call is the least disturbed estimate.
    statistic: Statistic = "median"


class LatencyTable(BaseModel):
    """A latency table: conditions, the environment it was measured in, and the milliseconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = TABLE_FORMAT
    conditions: TableConditions
    environment: dict[str, Any]
    forward: dict[str, float]
    forward_overhead: dict[str, float]
    train: dict[str, float] = Field(default_factory=dict)
    train_overhead: dict[str, float] = Field(default_factory=dict)
    #: Measured whole network / (pieces + cell overheads), the median over a few random networks:
    #: what running inside one graph changes (caches, the backend's layout choices across cells).
    forward_factor: float = Field(1.0, gt=0)
    train_factor: float = Field(1.0, gt=0)
    calibration: dict[str, list[float]] = Field(default_factory=dict, description="residual ms per calibration "
                                                "cell; measured / predicted per calibration network")
    build_seconds: float = 0.0

    def entries(self, mode: Mode) -> tuple[dict[str, float], dict[str, float], float]:
        """The piece times, per-cell overheads and network factor of ``mode``."""
        if mode == "train":
            if not self.conditions.train:
                raise LatencyTableError("this latency table has forward times only; rebuild it with --train to "
                                        "price forward + backward")
            return self.train, self.train_overhead, self.train_factor
        return self.forward, self.forward_overhead, self.forward_factor

    def digest(self) -> str:
        """A short hash of the numbers (keys the cost cache, so a rebuilt table is never mixed up)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        c = self.conditions
        return (f"{c.backend} on {c.device} ({self.environment.get('device_name', '?')}), {c.threads} threads, "
                f"{c.batch} x {c.input[0]}x{c.input[1]} LR input, {c.precision}, x{c.scale}, C={c.channels}")


def load_table(path: str | Path) -> LatencyTable:
    """Read a table file; a missing, unreadable or malformed one is one :class:`LatencyTableError` line."""
    path = Path(path)
    if not path.is_file():
        raise LatencyTableError(f"latency table '{path}' does not exist; build it with 'hnas latency build ... "
                                f"--out {path}'")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatencyTableError(f"latency table '{path}' is not readable JSON ({type(exc).__name__}); "
                                "rebuild it with 'hnas latency build'") from None
    if not isinstance(data, dict):
        raise LatencyTableError(f"latency table '{path}' is not a table (a JSON object); rebuild it")
    if data.get("format") != TABLE_FORMAT:
        raise LatencyTableError(f"latency table '{path}' has format {data.get('format')!r}, this hnas reads "
                                f"{TABLE_FORMAT}; rebuild it with 'hnas latency build'")
    try:
        return LatencyTable.model_validate(data)
    except ValidationError as exc:
        from hnas.errors import first_error

        where, message = first_error(exc)
        raise LatencyTableError(f"latency table '{path}' is corrupt at {where or 'top level'}: {message}; "
                                "rebuild it") from None


def check_conditions(table: LatencyTable, source: str = "latency table", **asked: Any) -> None:
    """Refuse ``table`` if any condition the caller states (``device=``, ``threads=``, ``backend=``,
    ``input=``, ``scale=``, ``channels=``, ``op_params=``, ``batch=``, ``precision=``; ``None`` = not
    stated) differs from the table's, naming the first difference."""
    c = table.conditions
    for name, value in asked.items():
        if value is None:
            continue
        have = getattr(c, name)
        if name == "device":
            same = _device_key(value) == _device_key(have)
        elif name == "input":
            value, have = tuple(value), tuple(have)
            same = value == have
        else:
            same = value == have
        if not same:
            shown = {"input": lambda v: f"{v[0]}x{v[1]}"}.get(name, lambda v: v)
            raise LatencyTableError(
                f"{source} was built for {name} {shown(have)}, but {shown(value)} is asked for; build a table "
                f"for it ('hnas latency build --{name.replace('_', '-')} ...')"
            )


def _device_key(name: str) -> str:
    return "cuda:0" if name == "cuda" else name



def write_table(table: LatencyTable, path: str | Path) -> Path:
    """Write ``table`` atomically (a reader never sees half a file)."""
    return atomic_write_json(path, table.model_dump(mode="json"))


@lru_cache(maxsize=16)
def _cached_table(path: str, mtime_ns: int, size: int) -> LatencyTable:
    return load_table(path)


def table_at(path: str | Path) -> LatencyTable:
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return load_table(path)  # raises the one-line "does not exist"
    return _cached_table(str(path.resolve()), stat.st_mtime_ns, stat.st_size)

