"""A damaged checkpoint: found by its checksum, reported in one line, the previous state used.

Every run here is tiny (4 channels, 8 steps of 24-pixel patches; the 3-epoch tiny search) and
runs in this process through the CLI, so a test costs seconds.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app
from hnas.engine.state import State, load_state, previous_path, save_state
from hnas.errors import CheckpointError
from hnas.utils.checksum import CHECKSUM_KEY, DamagedFileError, verify_safetensors

pytestmark = pytest.mark.usefixtures("one_thread")

runner = CliRunner()

#: What a finished ``hnas train`` run holds, wall times left out.
TRAIN_FILES = ("train.json", "config.json", "genotype.json", "train_log.jsonl", "model.safetensors",
               "last.safetensors", "resume.safetensors", "summary.json")
SEARCH_FILES = ("search_log.jsonl", "archive.jsonl", "derived.json", "genotype.json", "search_state.safetensors")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])


def flip_bit(path: Path) -> None:
    """One flipped bit in the last tensor byte: safetensors itself would load it without a word."""
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10
    path.write_bytes(bytes(data))


DAMAGES = {"truncated": truncate, "bit-flipped": flip_bit}


def train_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(root / "tiny.json"), "--data", str(root / "images"), "--scale", "2", "--channels", "4",
            "--iters", "8", "--batch", "2", "--patch", "24", "--log-every", "1", "--save-every", "2",
            "--val", str(root / "images"), "--val-every", "3", "--device", "cpu", "--seed", "1",
            "--out", str(out), *extra]


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def train_root(images_and_tiny_genotype: Callable[[str], Path]) -> Path:
    root = images_and_tiny_genotype("damage")
    invoke(*train_args(root, root / "reference"))
    return root


def test_every_file_hnas_writes_carries_a_checksum_that_any_changed_byte_fails(tmp_path: Path) -> None:
    path = save_state(tmp_path / "s.safetensors", State({"w": {"a": torch.arange(6.0)}}, {"step": 3}))
    assert verify_safetensors(path)
    original = path.read_bytes()
    for position in (3, 20, len(original) - 1):  # the length field, the header, the data
        data = bytearray(original)
        data[position] ^= 0x01
        path.write_bytes(bytes(data))
        with pytest.raises(CheckpointError) as info:
            load_state(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    path.write_bytes(original[:-8])
    with pytest.raises(DamagedFileError, match="truncated"):
        verify_safetensors(path)
    model = hnas.save_model(hnas.build_model("baseline-plain", scale=2, channels=2), tmp_path / "m.safetensors")
    assert CHECKSUM_KEY in hnas.checkpoint.read_metadata(model)
    flip_bit(model)
    with pytest.raises(DamagedFileError, match="checksum"):
        hnas.load_model(model)


def test_a_file_without_a_checksum_is_read_unchecked(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"w/a": torch.ones(2)}, str(tmp_path / "old.safetensors"), metadata={"format": "hnas-resume/2",
                                                                                 "info": "{}"})
    assert not verify_safetensors(tmp_path / "old.safetensors")
    assert torch.equal(load_state(tmp_path / "old.safetensors").group("w")["a"], torch.ones(2))


def test_saving_keeps_the_state_before(tmp_path: Path) -> None:
    path = tmp_path / "resume.safetensors"
    for step in (1, 2, 3):
        save_state(path, State({}, {"step": step}), keep_previous=True)
    assert previous_path(path).name == "resume.prev.safetensors"
    assert load_state(path).info["step"] == 3 and load_state(previous_path(path)).info["step"] == 2


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_latest_training_state_resumes_from_the_previous_one(train_root: Path, tmp_path: Path,
                                                                       damage: str) -> None:
    out = tmp_path / "run"
    invoke(*train_args(train_root, out, "--stop-at", "6"))
    assert load_state(out / "resume.prev.safetensors").info["step"] == 4
    DAMAGES[damage](out / "resume.safetensors")
    output = invoke(*train_args(train_root, out, "--resume"))
    text = "".join(output.split())  # rich wraps long lines at the terminal width
    assert output.count("warning:") == 1 and "damaged" in text, output
    assert "resumingfromthepreviousstate,resume.prev.safetensors" in text, output
    for name in TRAIN_FILES:
        assert (out / name).read_bytes() == (train_root / "reference" / name).read_bytes(), name


def test_no_usable_state_is_one_line_and_overwrites_nothing(train_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    invoke(*train_args(train_root, out, "--stop-at", "6"))
    truncate(out / "resume.safetensors")
    flip_bit(out / "resume.prev.safetensors")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    output = invoke(*train_args(train_root, out, "--resume"), code=2)
    assert output.startswith("error: no usable resume state") and output.count("\n") == 1, output
    assert "resume.safetensors" in output and "resume.prev.safetensors" in output
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


@pytest.fixture(scope="module")
def search_root(tmp_path_factory: pytest.TempPathFactory, small_images: Path, tiny_spec) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("damage_search")
    spec = tiny_spec(root, small_images, epochs=3)
    spec.write_text(spec.read_text().replace("[retrain]", "[retrain]\nenabled = false"))
    invoke("run", str(spec), "--out", str(root / "reference"))
    return root


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_last_search_state_searches_its_epoch_again(search_root: Path, tmp_path: Path, damage: str) -> None:
    """The search finished and was derived; its last state is damaged afterwards: resuming falls
    back to the epoch before, searches the last epoch again and derives the same architecture."""
    out = tmp_path / "run"
    shutil.copytree(search_root / "reference", out)
    (out / "state.json").write_text('{"stage": "derive"}')  # as if killed during derivation
    DAMAGES[damage](out / "search_state.safetensors")
    output = invoke("run", str(search_root / "tiny.toml"), "--out", str(out), "--resume")
    assert output.count("warning:") == 1 and "search_state.prev.safetensors" in "".join(output.split()), output
    for name in SEARCH_FILES:
        assert (out / name).read_bytes() == (search_root / "reference" / name).read_bytes(), name
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert os.path.getsize(out / "search_state.prev.safetensors") > 0
