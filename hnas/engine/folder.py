"""A run's folder: who owns it, which stage is done, its logs and results, its resume state.

Every kind of hnas run (``hnas run``'s stages, ``hnas train``, ``hnas compare``) keeps its files
through :class:`RunFolder`, so the chores are solved once:

* **One run per folder.** A folder holds an identity file (the resolved spec, or a training
  run's identity). A new run refuses a folder that holds another; ``--resume`` requires the same
  identity and names the first setting that differs.
* **Atomic files.** JSON results and resume states are written to a temporary file and renamed;
  log lines are appended and fsynced, and a torn last line is dropped on reading.
* **Damage.** Every state carries a checksum (:mod:`hnas.utils.checksum`) and the one before it is
  kept (``<name>.prev.safetensors``); a damaged latest state is reported in one line and the
  previous one is resumed from.
* **Resume.** A stage's state is one ``.safetensors`` file (:mod:`hnas.engine.state`); log
  lines written after the last saved state (a killed interval's) are trimmed on resume, so a
  resumed run's files are byte for byte those of an uninterrupted run. Wall-clock times, which
  never repeat, go to ``timings.jsonl`` only.
* **Rank 0 owns the disk** (multi-process runs, :mod:`hnas.engine.distributed`): writes happen on rank 0
  only, and reads happen there and are broadcast, so callers write one code path for any number of
  processes and the folder may live on rank 0's machine alone.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from hnas.engine import distributed as dist
from hnas.engine.state import State, load_state, previous_path, save_state
from hnas.errors import CheckpointError, HnasError
from hnas.utils.io import (
    LogFileError,
    WriteFailedError,
    append_jsonl,
    atomic_write_json,
    atomic_write_jsonl,
    jsonable,
    read_jsonl,
)

TIMINGS = "timings.jsonl"
STAGE_FILE = "state.json"

#: ``sink(log_name, record)`` sees every log line any run folder appends inside :func:`watching`.
RecordSink = Callable[[str, dict[str, Any]], None]
_SINK: ContextVar[RecordSink | None] = ContextVar("hnas_record_sink", default=None)


@contextmanager
def watching(sink: RecordSink) -> Iterator[None]:
    """Show every log line appended inside the block to ``sink`` too (e.g. TensorBoard), without
    the search or the trainer knowing: the run folder stays the record, the sink a live view."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


class RunFolderError(HnasError, FileExistsError):
    """The output folder holds another run, or not the run being resumed."""


def first_difference(saved: Any, now: Any, where: str = "") -> str | None:
    """The dotted path of the first value that differs between two JSON-like trees, or None."""
    if isinstance(saved, dict) and isinstance(now, dict):
        for key in sorted(set(saved) | set(now), key=str):
            found = first_difference(saved.get(key), now.get(key), f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
        return None
    return None if saved == now else (where or "(top level)")


def _listing(names: list[str], shown: int = 2) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


class RunFolder:
    """The folder at ``path`` (see the module docstring). ``stages`` orders the stage names."""

    def __init__(self, path: str | Path, identity_file: str = "spec.json", stages: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.identity_file = identity_file
        self.stages = tuple(stages)
        #: States found damaged on loading (not to be kept as the previous state when replaced).
        self._unusable: set[str] = set()

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # -- ownership ----------------------------------------------------------------------------------
    def open(self, identity: dict[str, Any], resume: bool, what: str = "run") -> bool:
        """Claim the folder for the run ``identity`` describes; returns whether it holds one to resume.

        A new run refuses a folder holding another run; a resumed one must have the same identity.
        ``resume`` on a folder with nothing in it starts a new run (so ``--resume`` is always safe).
        """
        return bool(dist.on_main(self._open, jsonable(identity), resume, what))

    def _open(self, identity: dict[str, Any], resume: bool, what: str) -> bool:
        file = self.path / self.identity_file
        if not file.exists() and self.path.is_dir():
            foreign = sorted(p.name for p in self.path.iterdir() if not p.name.startswith("."))
            if foreign:  # someone's own folder: a run never writes into a folder it did not make
                raise RunFolderError(
                    f"{self.path} is not a run folder (it holds {_listing(foreign)}, and no {self.identity_file}); "
                    "choose a new or empty folder for --out"
                )
        if file.exists():
            if not resume:
                raise RunFolderError(
                    f"{self.path} already holds a {what}; pass --resume to continue it, or choose another --out"
                )
            try:
                saved = json.loads(file.read_text())
            except (OSError, ValueError) as exc:
                raise RunFolderError(f"cannot resume {self.path}: {file.name} is unreadable ({exc})") from None
            differs = first_difference(saved, identity)
            if differs is not None:
                raise RunFolderError(
                    f"cannot resume {self.path}: '{differs}' differs from the {what} it holds; use the same settings "
                    "or another --out"
                )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise RunFolderError(f"cannot write the folder {self.path}: {exc.strerror or exc}") from None
        for stale in self.path.rglob(".*.tmp"):  # a write killed before its rename (hnas.utils.io.atomic_path)
            stale.unlink(missing_ok=True)
        if file.exists():
            return True
        atomic_write_json(file, identity)
        return False

    # -- stages ---------------------------------------------------------------------------------------
    def stage(self) -> str | None:
        """The stage to run next (None for a new run)."""
        data = self.read_json(STAGE_FILE)
        return None if data is None else str(data["stage"])

    def mark(self, stage: str) -> None:
        """Record that every stage before ``stage`` is finished."""
        self.write_json(STAGE_FILE, {"stage": stage})

    def done(self, stage: str) -> bool:
        current = self.stage()
        return current is not None and self.stages.index(current) > self.stages.index(stage)

    def timing(self, stage: str, seconds: float, **extra: Any) -> None:
        """Log a wall time (kept apart from the run's files, which must repeat exactly).

        Called from ``finally`` blocks too: when the run is already failing (a full disk), a wall
        time that cannot be written is dropped, so the error the user sees is the first one."""
        failing = sys.exc_info()[0] is not None  # (set inside a finally block run by an exception too)
        try:
            self.append(TIMINGS, {"stage": stage, "seconds": round(seconds, 3), "at": round(time.time(), 3), **extra})
        except WriteFailedError:
            if not failing:
                raise

    # -- files ------------------------------------------------------------------------------------------
    @property
    def is_writer(self) -> bool:
        """Whether this process writes the folder's files (rank 0; every one-process run)."""
        return dist.is_main()

    def by_writer(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` run by the process that owns the folder, its result on every
        process: the way algorithm code does work that only the writer may do (a plot, a file of
        its own format, an evaluation whose numbers every rank needs)."""
        return dist.on_main(fn, *args, **kwargs)

    def exists(self, name: str) -> bool:
        return bool(dist.on_main((self.path / name).exists))

    def read_json(self, name: str, default: Any = None) -> Any:
        def read() -> Any:
            file = self.path / name
            return json.loads(file.read_text()) if file.exists() else default

        return dist.on_main(read)

    def write_json(self, name: str, data: Any) -> None:
        if dist.is_main():
            atomic_write_json(self.path / name, data)

    def append(self, name: str, record: dict[str, Any]) -> None:
        if dist.is_main():
            append_jsonl(self.path / name, record)
            sink = _SINK.get()
            if sink is not None and name != TIMINGS:
                sink(name, record)

    def records(self, name: str) -> list[dict[str, Any]]:
        return dist.on_main(read_jsonl, self.path / name)  # type: ignore[no-any-return]

    def trim(self, name: str, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Drop the lines of a log that ``keep`` rejects (those written after the last saved state)."""
        if not dist.is_main():
            return
        file = self.path / name
        if file.exists():
            records = read_jsonl(file)
            try:
                kept = [r for r in records if keep(r)]
            except (KeyError, TypeError, ValueError) as exc:  # a line without the step or epoch hnas wrote
                raise LogFileError(f"{file} holds a line hnas did not write ({type(exc).__name__}: {exc}); "
                                   "restore it or start afresh in another --out") from None
            if len(kept) != len(records) or file.read_text().count("\n") != len(records):
                atomic_write_jsonl(file, kept)

    def remove(self, *names: str) -> None:
        if dist.is_main():
            for name in names:
                (self.path / name).unlink(missing_ok=True)

    # -- resume state -----------------------------------------------------------------------------------
    def save_state(self, name: str, state: State) -> None:
        """Write the state ``name``, keeping the one it replaces as ``<name>.prev`` (the last two
        states exist at every moment). A state found damaged on loading is not kept as the
        previous one: the good state the run resumed from stays there until a new one is written."""
        if dist.is_main():
            save_state(self.path / name, state, keep_previous=name not in self._unusable)
            self._unusable.discard(name)

    def load_state(self, name: str) -> State | None:
        """The saved state, or None; read on rank 0 and broadcast (tensors travel on the CPU).

        A damaged latest state (its checksum fails, it is truncated or unreadable) is reported in
        one warning line and the previous one is used, so the run goes on from there (its logs are
        trimmed back to it by the caller, as after a kill). If neither is usable, a one-line
        :class:`CheckpointError` says so, before anything is written.
        """
        return dist.on_main(self._read_state, name)  # type: ignore[no-any-return]

    def _read_state(self, name: str) -> State | None:
        file = self.path / name
        prev = previous_path(file)
        if not file.exists() and not prev.exists():
            return None
        problems = []
        for candidate in (file, prev):
            if not candidate.exists():
                problems.append(f"{candidate.name} is missing")
                continue
            try:
                state = load_state(candidate)
            except CheckpointError as exc:
                problems.append(str(exc).replace(str(candidate), candidate.name))
                continue
            if candidate == prev:
                self._unusable.add(name)
                warnings.warn(f"{file} is unusable ({problems[0]}); resuming from the previous state, {prev.name}",
                              stacklevel=4)
            return state
        raise CheckpointError(
            f"no usable resume state in {self.path}: {'; '.join(problems)}; nothing was overwritten "
            "(restore a good copy, or start afresh in another --out)"
        )
