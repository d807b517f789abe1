"""Files from other people (Hypothesis): everything hnas reads from a file, generated and mutated --
genotype JSON and TOML, spec TOML, the metadata of a model file, a run folder's JSON lines. Each
must load correctly or be one line (an ``HnasError``; exit code 2 from the CLI): never a traceback,
never a hang (a deadline per example), never a write.

Example counts: ``HYPOTHESIS_PROFILE=hnas`` (the default) tries 200 inputs per file kind (30 for
the rendered report, which draws plots), a few seconds each; ``HYPOTHESIS_PROFILE=hnas-thorough``
tries 3000 per kind (500 reports). Both are derandomized, so a failure repeats.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import save_file
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app
from hnas.engine.folder import RunFolder
from hnas.errors import HnasError
from hnas.search.spec_loader import load_spec
from hnas.utils.io import read_jsonl

pytestmark = pytest.mark.usefixtures("one_thread")

_COMMON = dict(deadline=timedelta(seconds=20), database=None, derandomize=True, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("hnas", max_examples=200, **_COMMON)
settings.register_profile("hnas-thorough", max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "hnas"))

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]

#: Values people (and damaged disks) put where hnas expects something sensible.
NASTY: list[Any] = [-1, 0, 1, 2, 3, 7, 99, 2**31, 2**63, 10**100, -(10**9), 1e308, 1.5, -0.0, True, False, None,
                    "", "no_such_op", "skip_connect", "sub_pixel", "../../etc/passwd", "x" * 300, [], {}, [[]],
                    {"type": "rcab", "params": {"reduction": -4}}]
NASTY_TOKENS = ["-1", "0", "99999999999999999999999", "1e400", "-1e400", "nan", "inf", "true", "[]", "{}", '""',
                '"no_such_op"', '"skip_connect"', '"hnas_no_such_module"', "[[[[[[]]]]]]", "{ a = 1 }", "= =",
                "'", '"', "\\", "\x00", "3.5", "[1, -2]", "65536", "1000000000"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=20), st.sampled_from(NASTY))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _mutated(data: Any, draw: Any, depth: int = 0) -> Any:
    """``data`` with one value somewhere replaced, removed or added (or the whole replaced)."""
    if depth > 6 or not isinstance(data, (dict, list)) or not data or draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    data = json.loads(json.dumps(data))
    if isinstance(data, dict):
        key = draw(st.sampled_from(sorted(data)))
        action = draw(st.sampled_from(["deeper", "drop", "add"]))
        if action == "drop":
            del data[key]
        elif action == "add":
            data[draw(st.text(max_size=8))] = draw(json_values)
        else:
            data[key] = _mutated(data[key], draw, depth + 1)
    else:
        index = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["deeper", "drop", "repeat"]))
        if action == "drop":
            del data[index]
        elif action == "repeat":
            data.extend(data[index:index + 1] * draw(st.integers(1, 40)))
        else:
            data[index] = _mutated(data[index], draw, depth + 1)
    return data


def _token_mutated(text: str, draw: Any) -> str:
    """``text`` with tokens replaced by nasty ones, lines dropped or doubled, or characters spliced in."""
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["token", "token", "drop-line", "double-line", "splice"]))
        if action == "token":
            spans = [m.span() for m in re.finditer(r'"[^"\n]*"|[\w.+-]+', text)]
            if spans:
                start, end = draw(st.sampled_from(spans))
                text = text[:start] + draw(st.sampled_from(NASTY_TOKENS) | st.text(max_size=6)) + text[end:]
        elif action in ("drop-line", "double-line"):
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines[i:i + 1] = [] if action == "drop-line" else [lines[i]] * 2
                text = "".join(lines)
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
    return text


def _deep(depth: int, toml: bool) -> str:
    if toml:
        return "a = " + "[" * depth + "]" * depth + "\n"
    return "[" * depth + "]" * depth


def file_bytes(base_text: str, base_data: Any | None, toml: bool) -> st.SearchStrategy[bytes]:
    """Inputs for one file kind: mutations of a valid file, random structures, deep nesting, bytes."""

    @st.composite
    def build(draw: Any) -> bytes:
        kind = draw(st.sampled_from(["tokens", "tokens", "structure", "structure", "random", "deep", "bytes"]))
        if kind == "tokens":
            return _token_mutated(base_text, draw).encode("utf-8", "surrogatepass")
        if kind == "structure" and base_data is not None and not toml:
            return json.dumps(_mutated(base_data, draw)).encode()
        if kind in ("structure", "random"):
            return json.dumps(draw(json_values)).encode() if not toml else draw(st.text(max_size=200)).encode(
                "utf-8", "surrogatepass")
        if kind == "deep":
            return _deep(draw(st.sampled_from([10, 1000, 100_000])), toml).encode()
        return draw(st.binary(max_size=300))

    return build()


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def one_line_or_success(args: list[str], folder: Path) -> None:
    """The CLI on a hostile file: exit 0, or exit 2 with exactly one ``error:`` line; nothing written."""
    before = _listing(folder)
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert _listing(folder) == before, "a read wrote a file"


def hnas_error_or_success(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except HnasError as exc:
        assert str(exc) and "\n" not in str(exc).strip(), repr(str(exc))
        return None


GENOTYPE = hnas.resolve_genotype("hnas-a")


@given(file_bytes(GENOTYPE.canonical_json(indent=2), GENOTYPE.to_dict(), toml=False))
def test_genotype_json(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.json"
        path.write_bytes(content)
        one_line_or_success(["show", str(path), "--json"], Path(tmp))


@given(file_bytes(GENOTYPE.to_toml(), None, toml=True))
def test_genotype_toml(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.toml"
        path.write_bytes(content)
        one_line_or_success(["show", str(path), "--json"], Path(tmp))


SPEC_TEXT = (ROOT / "examples" / "quickstart.toml").read_text()


@given(file_bytes(SPEC_TEXT, None, toml=True))
def test_spec_toml(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.toml"
        path.write_bytes(content)
        before = _listing(Path(tmp))
        hnas_error_or_success(load_spec, path)
        assert _listing(Path(tmp)) == before


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    g = hnas.Genotype(normal=GENOTYPE.normal, upsampling=GENOTYPE.upsampling, position=2, layers=3)
    path = hnas.save_model(hnas.build_model(g, scale=2, channels=2), tmp_path_factory.mktemp("m") / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    meta.pop("content_sha256")  # a crafted file carries no checksum (or a wrong one, which is refused first)
    return tensors, meta


@st.composite
def metadata(draw: Any, meta: dict[str, str]) -> dict[str, str]:
    meta = dict(meta)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*sorted(meta), "extra"]))
        kind = draw(st.sampled_from(["value", "json", "genotype", "drop"]))
        if kind == "drop":
            meta.pop(key, None)
        elif kind == "value":
            meta[key] = str(draw(st.sampled_from(NASTY) | st.integers() | st.text(max_size=30)))
        elif kind == "json":
            meta[key] = json.dumps(draw(json_values))
        else:
            meta[key] = json.dumps(_mutated(GENOTYPE.to_dict(), draw))
    return meta


def test_model_metadata(model_file: tuple[dict[str, torch.Tensor], dict[str, str]]) -> None:
    tensors, meta = model_file

    @given(metadata(meta), st.booleans())
    def check(header: dict[str, str], cli: bool) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.safetensors"
            save_file(tensors, str(path), metadata=header)
            if cli:  # the CLI's path: hnas eval rebuilds the network the file describes and runs it
                (Path(tmp) / "images").mkdir()
                Image.fromarray(np.full((24, 20, 3), 128, np.uint8)).save(Path(tmp) / "images" / "a.png")
                one_line_or_success(["eval", str(path), "--data", str(Path(tmp) / "images"), "--scale", "2",
                                     "--json"], Path(tmp))
            else:
                before = _listing(Path(tmp))
                hnas_error_or_success(hnas.load_model, path)
                assert _listing(Path(tmp)) == before

    check()


LOG_LINES = [
    {"step": 3, "loss": 12.5, "lr": 0.001, "val_psnr": 30.1, "skipped": 0},
    {"epoch": 1, "phase": "search", "entropy": 20.1, "reward_mean": 22.3, "psnr_mean": 30.2, "loss": 5.0},
    {"epoch": 1, "stage": "search", "hash": "ab" * 8, "genotype": GENOTYPE.to_dict(), "position": 10,
     "psnr": 30.0, "psnr_gain": 0.4, "cost": 1.2, "reward": 22.0, "entropy": 20.0},
    {"stage": "search", "seconds": 3.5, "at": 1e9},
]
LOG_NAMES = ("retrain/train_log.jsonl", "search_log.jsonl", "archive.jsonl", "timings.jsonl")


@st.composite
def log_file(draw: Any) -> tuple[int, bytes]:
    which = draw(st.integers(0, len(LOG_LINES) - 1))
    lines = [json.dumps(LOG_LINES[which]) for _ in range(draw(st.integers(0, 4)))]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["record", "value", "text", "torn"]))
        at = draw(st.integers(0, len(lines)))
        if kind == "record":
            lines.insert(at, json.dumps(_mutated(LOG_LINES[which], draw)))
        elif kind == "value":
            lines.insert(at, json.dumps(draw(json_values)))
        elif kind == "text":
            lines.insert(at, draw(st.text(max_size=40)).replace("\n", " "))
        elif lines:
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=200))
    return which, data


@contextmanager
def _folder_with_log(name: str, content: bytes) -> Iterator[tuple[Path, dict[str, tuple[int, int]]]]:
    """A temporary run folder holding one log file ``name`` with ``content``, and its listing."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "retrain").mkdir()
        (folder / name).write_bytes(content)
        yield folder, _listing(folder)


@given(log_file())
def test_run_folder_json_lines(case: tuple[int, bytes]) -> None:
    from hnas.report.rundata import load_run

    which, content = case
    with _folder_with_log(LOG_NAMES[which], content) as (folder, before):
        records = hnas_error_or_success(read_jsonl, folder / LOG_NAMES[which])
        assert records is None or all(isinstance(r, dict) for r in records)
        hnas_error_or_success(load_run, folder)  # what `hnas report` and `hnas show RUN` read
        assert _listing(folder) == before
        # resuming trims a log back to the saved state: a line hnas did not write is one line, not a KeyError
        trimmed = RunFolder(folder)
        if LOG_NAMES[which] == "archive.jsonl":
            hnas_error_or_success(trimmed.trim, "archive.jsonl", lambda r: r["stage"] == "search" and r["epoch"] <= 1)
        elif LOG_NAMES[which] == "retrain/train_log.jsonl":
            hnas_error_or_success(RunFolder(folder / "retrain").trim, "train_log.jsonl",
                                  lambda r: int(r.get("step", 0)) <= 3)


#: The report draws every log (about a second per example here), so it tries fewer.
REPORT_EXAMPLES = 500 if os.environ.get("HYPOTHESIS_PROFILE") == "hnas-thorough" else 30


@settings(max_examples=REPORT_EXAMPLES)
@given(log_file())
def test_the_report_of_hostile_logs(case: tuple[int, bytes]) -> None:
    from hnas.report.html import render_report
    from hnas.report.rundata import load_run

    which, content = case
    with _folder_with_log(LOG_NAMES[which], content) as (folder, before):
        run = hnas_error_or_success(load_run, folder)
        if run is not None:
            hnas_error_or_success(render_report, run)
        assert _listing(folder) == before
