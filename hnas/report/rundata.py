"""Everything a report shows, read from a run folder, defensively.

A run folder is what ``hnas run --out DIR`` leaves (``spec.json``, ``state.json``,
``search_log.jsonl``, ``archive.jsonl``, ``derived.json``, ``genotype.json``, ``retrain/``,
``retrain.json``, ``results.json``, ``pareto.png``, ``timings.jsonl``, ``search_state.safetensors``), what ``hnas compare``
leaves (``compare.json``) and what ``hnas train`` leaves (``train.json``, ``train_log.jsonl``, ``summary.json``). A report is most wanted when a run went wrong, so a missing, torn or
unreadable file never raises here: its field is empty and :attr:`RunData.notes` says why, and each
report section says "not available" instead. This module is the one place that knows the file
names, so when the engine's files change, only it changes.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hnas.engine.runfiles import SEARCH_STATE_FILE
from hnas.errors import HnasError, NotARunFolderError
from hnas.spaces.genotype import Genotype

#: The files whose presence makes a folder a run folder (or a compare output folder).
RUN_MARKERS = (
    "spec.json",
    "state.json",
    "search_log.jsonl",
    "archive.jsonl",
    "results.json",
    "genotype.json",
    "compare.json",
    "train.json",
)


@dataclass(frozen=True)
class RunData:
    """The contents of one run folder; ``None`` or empty where a file is missing or unreadable."""

    path: Path
    spec: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    search_log: list[dict[str, Any]] = field(default_factory=list)
    archive: list[dict[str, Any]] = field(default_factory=list)
    derived: dict[str, Any] | None = None
    genotype: Genotype | None = None
    train_log: list[dict[str, Any]] = field(default_factory=list)
    retrain_summary: dict[str, Any] | None = None
    timing_log: list[dict[str, Any]] = field(default_factory=list)
    retrain: dict[str, Any] | None = None
    results: dict[str, Any] | None = None
    compare: dict[str, Any] | None = None
    pareto_png: bytes | None = None
    sweep_members: tuple[str, ...] = ()
    file_times: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        for source in (self.spec, self.results):
            if source and isinstance(source.get("name"), str):
                return str(source["name"])
        return self.path.name

    @property
    def has_policy(self) -> bool:
        return (self.path / SEARCH_STATE_FILE).is_file() and self.spec is not None

    def archive_stage(self, stage: str) -> list[dict[str, Any]]:
        return [r for r in self.archive if r.get("stage") == stage]

    def spec_value(self, *keys: str, default: Any = None) -> Any:
        """``spec[keys[0]][keys[1]]...`` or ``default`` when any level is missing."""
        node: Any = self.spec
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def headline(self) -> dict[str, Any]:
        """The chosen architecture's numbers for the report's header (only those known)."""
        results, derived = self.results or {}, self.derived or {}
        first_set = next(iter(_dict(results.get("evaluation")).items()), None)
        numbers: dict[str, Any] = {
            "hash": results.get("hash")
            or derived.get("hash")
            or (self.genotype.hash() if self.genotype else None),
            "position": (f"{self.genotype.position} of {self.genotype.layers}" if self.genotype else None),
            "lambda": results.get("lambda", self.spec_value("reward", "lambda")),
            "eval_set": first_set[0] if first_set else None,
            "psnr": number(_dict(first_set[1]).get("psnr")) if first_set else None,
            "ssim": number(_dict(first_set[1]).get("ssim")) if first_set else None,
            "macs": number(results.get("macs")),
            "params": number(results.get("params")),
            "channels": results.get("channels", self.spec_value("retrain", "channels")),
            "scale": results.get("scale", self.spec_value("space", "scale")),
            "reward": number(_dict(results.get("search")).get("reward", derived.get("reward"))),
            "search_psnr": number(_dict(results.get("search")).get("psnr", derived.get("psnr"))),
            "stage": (self.state or {}).get("stage"),
        }
        return {k: v for k, v in numbers.items() if v is not None}

    def timings(self) -> list[dict[str, Any]]:
        """Per stage: the seconds the run measured (``timings.jsonl``, summed over resumed
        attempts), the seconds an end-to-end budget planned for it (the latest plan), and when
        the stage's last file was written (file modification times, which a copied folder can
        distort; the report says which is which); last, the whole run's row when it recorded one."""
        rows: list[dict[str, Any]] = []
        start = self.file_times.get("spec.json")
        measured: dict[str, float] = {}
        planned: dict[str, float] = {}
        for record in self.timing_log:
            stage, seconds = record.get("stage"), number(record.get("seconds"))
            if isinstance(stage, str) and seconds is not None:
                measured[stage] = measured.get(stage, 0.0) + seconds
                if number(record.get("planned")) is not None:
                    planned[stage] = float(record["planned"])
        ends = {
            "search": self.file_times.get("search_log.jsonl"),
            "derive": self.file_times.get("derived.json"),
            "retrain": self.file_times.get("retrain.json"),
            "evaluate": self.file_times.get("results.json"),
        }
        previous = start
        for stage in ("search", "derive", "retrain", "evaluate"):
            end = ends[stage]
            if end is None and measured.get(stage) is None:
                continue
            wall = end - previous if end is not None and previous is not None and end >= previous else None
            rows.append({"stage": stage, "measured_s": measured.get(stage), "planned_s": planned.get(stage),
                         "wall_s": wall, "finished": end})
            previous = end if end is not None else previous
        if "total" in measured:  # the last attempt's command, from its start (a resumed run: that attempt)
            total = [r for r in self.timing_log if r.get("stage") == "total"][-1]
            rows.append({"stage": "total", "measured_s": number(total.get("seconds")),
                         "planned_s": planned.get("total"), "wall_s": None, "finished": ends["evaluate"]})
        return rows


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty one: a field of the wrong type reads as absent."""
    return value if isinstance(value, list) else []


def number(value: Any) -> float | None:
    """A finite float, or ``None`` for anything else (missing, text, NaN, a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def numeric_columns(records: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> list[str]:
    """Keys holding a number in some record, in first-seen order: new log fields show up unasked."""
    columns: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if key not in skip and number(value) is not None:
                columns.setdefault(key, None)
    return list(columns)


def is_run_folder(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (any((path / m).is_file() for m in RUN_MARKERS) or bool(_sweep_members(path)))


def _sweep_members(path: Path) -> tuple[str, ...]:
    return tuple(sorted(p.name for p in path.glob("lambda-*") if (p / "spec.json").is_file()))


class _Reader:
    """Reads the files of one folder, collecting a note for every one it could not use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.notes: list[str] = []

    def json(self, name: str) -> dict[str, Any] | None:
        file = self.path / name
        if not file.is_file():
            return None
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.notes.append(f"{name} could not be read ({type(exc).__name__}: {exc})")
            return None
        if not isinstance(data, dict):
            self.notes.append(f"{name} holds {type(data).__name__}, not an object")
            return None
        return data

    def jsonl(self, name: str) -> list[dict[str, Any]]:
        file = self.path / name
        if not file.is_file():
            return []
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            self.notes.append(f"{name} could not be read ({type(exc).__name__})")
            return []
        records, bad = [], 0
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                bad += 1
        if bad:
            self.notes.append(f"{name}: skipped {bad} unreadable line(s)")
        return records

    def genotype(self, *candidates: tuple[str, Any]) -> Genotype | None:
        for where, data in candidates:
            if data is None:
                continue
            try:
                return Genotype.from_data(data, source=where)
            except HnasError as exc:
                self.notes.append(str(exc))
        return None


def load_run(path: str | Path) -> RunData:
    """Read a run folder (or a compare output folder); raises :class:`NotARunFolderError` only when
    ``path`` is not such a folder at all."""
    path = Path(path)
    if not path.exists():
        raise NotARunFolderError(f"run folder not found: {path} (pass the folder 'hnas run --out' wrote)")
    if not is_run_folder(path):
        raise NotARunFolderError(
            f"{path} is not an hnas run folder: it has none of {', '.join(RUN_MARKERS)} "
            f"(pass the folder 'hnas run --out' wrote)"
        )
    read = _Reader(path)
    spec = read.json("spec.json")
    _check_plugins(spec, read.notes, path)
    derived = read.json("derived.json")
    results = read.json("results.json")
    genotype_file = read.json("genotype.json")
    genotype = read.genotype(
        ("genotype.json", genotype_file),
        ("derived.json", _dict(derived).get("genotype")),
        ("results.json", _dict(results).get("genotype")),
    )
    # `hnas run` trains in retrain/; an `hnas train` folder (train.json) is the training itself
    training = "" if (path / "train.json").is_file() and not (path / "spec.json").is_file() else "retrain/"
    pareto = path / "pareto.png"
    times = {}
    for name in (
        "spec.json",
        "search_log.jsonl",
        "derived.json",
        "retrain.json",
        "results.json",
        "state.json",
    ):
        try:
            times[name] = os.stat(path / name).st_mtime
        except OSError:
            pass
    return RunData(
        path=path,
        spec=spec,
        state=read.json("state.json"),
        search_log=read.jsonl("search_log.jsonl"),
        archive=read.jsonl("archive.jsonl"),
        derived=derived,
        genotype=genotype,
        train_log=read.jsonl(f"{training}train_log.jsonl"),
        retrain_summary=read.json(f"{training}summary.json"),
        timing_log=read.jsonl("timings.jsonl"),
        retrain=read.json("retrain.json"),
        results=results,
        compare=read.json("compare.json"),
        pareto_png=pareto.read_bytes() if pareto.is_file() else None,
        sweep_members=_sweep_members(path),
        file_times=times,
        notes=tuple(read.notes),
    )


def _check_plugins(spec: dict[str, Any] | None, notes: list[str], path: Path) -> None:
    """A run made with plugins reads fully only with them imported (``--plugin``); a folder never
    imports code by itself."""
    plugins = _dict(spec).get("plugins")
    if not isinstance(plugins, list):
        return
    from hnas.plugins import missing_plugin_message

    message = missing_plugin_message([p for p in plugins if isinstance(p, str)], str(path))
    if message:
        notes.append(message)
