"""A disk that fills up (ENOSPC) at every place a run writes a file, in turn: the run stops with one
line naming the file, every file it wrote before is intact, and ``--resume`` (space freed)
finishes with the files of an uninterrupted run.

How the disk fills: ``os.fsync`` raises ENOSPC, as it does on file systems that allocate late
(ext4's delayed allocation, NFS), and keeps raising it -- a full disk stays full -- until the test
frees it. Every atomic write (:func:`hnas.utils.io.atomic_path`) and every log line
(:func:`hnas.utils.io.append_jsonl`) fsyncs, so each one is reached. A *write site* is the hnas
line that asked for the write (the first frame outside the file-writing plumbing); a recording run
lists them, then one run per site fails at that site's last write in the reference run (the
second write of a checkpoint finds a first one to keep intact).
"""

from __future__ import annotations

import errno
import os
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app

pytestmark = pytest.mark.usefixtures("one_thread")

runner = CliRunner()

REPO = Path(hnas.__file__).resolve().parent
#: The plumbing between a write site and ``os.fsync``: folder, state, checkpoint and genotype
#: writers, collectives; a site is the first frame outside these (and outside the standard library).
PLUMBING = ("utils/", "engine/folder.py", "engine/state.py", "checkpoint.py", "distributed/",
            "spaces/genotype.py")
TRAIN_FILES = ("train.json", "config.json", "genotype.json", "train_log.jsonl", "model.safetensors",
               "last.safetensors", "resume.safetensors", "summary.json")
RUN_FILES = ("spec.json", "state.json", "search_log.jsonl", "archive.jsonl", "derived.json", "genotype.json",
             "retrain.json", "results.json", "model.safetensors", "search_state.safetensors",
             *(f"retrain/{name}" for name in TRAIN_FILES))


def _site() -> str | None:
    """The hnas line that asked for the write being fsynced (None for the run folder's lock)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = Path(frame.filename).resolve()
        if REPO not in path.parents:
            continue
        where = path.relative_to(REPO).as_posix()
        if where == "engine/lock.py":
            return None
        if not where.startswith(PLUMBING):
            return f"{where}:{frame.lineno} ({frame.name})"
    return None


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp") and p.name != ".hnas.lock"}


class Disk:
    """``os.fsync`` that records write sites, or fills the disk at the ``nth`` write of ``site``."""

    def __init__(self, folder: Path, site: str | None = None, nth: int = 0) -> None:
        self.folder, self.site, self.nth = folder, site, nth
        self.order: list[str] = []
        self.full = False
        self.before: dict[str, bytes] | None = None
        self._fsync = os.fsync

    def __call__(self, fd: int) -> None:
        site = _site()
        if site is None:
            return self._fsync(fd)
        if not self.full:
            self.order.append(site)
            if site == self.site and self.order.count(site) == self.nth:
                self.full = True
                self.before = _snapshot(self.folder)
                target = Path(os.readlink(f"/proc/self/fd/{fd}"))
                if not target.name.startswith("."):  # an appended log line: the file as before the line
                    key = target.relative_to(self.folder).as_posix()
                    text = self.before.pop(key)
                    if text.count(b"\n") > 1:  # (a log's first line: the file did not exist before it)
                        self.before[key] = text[: text.rstrip(b"\n").rfind(b"\n") + 1]
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._fsync(fd)


def _every_site_in_turn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: Callable[[Path], list[str]],
                        reference: Path, files: tuple[str, ...]) -> list[str]:
    recorder = Disk(reference)
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", recorder)
        result = runner.invoke(app, command(reference))
    assert result.exit_code == 0, result.output
    sites = list(dict.fromkeys(recorder.order))
    for index, site in enumerate(sites):
        out = tmp_path / f"site{index}"
        disk = Disk(out, site, recorder.order.count(site))
        with monkeypatch.context() as m:
            m.setattr(os, "fsync", disk)
            failed = runner.invoke(app, command(out))
        assert disk.full, site
        assert failed.exit_code == 2, (site, failed.output)
        line = failed.stderr.strip()
        assert "\n" not in line and line.startswith("error: cannot write ") and "No space left on device" in line, (
            site, failed.output)
        assert _snapshot(out) == disk.before, f"{site}: a file written before the full disk changed"
        assert not list(out.rglob("*.tmp")), site
        resumed = runner.invoke(app, [*command(out), "--resume"])
        assert resumed.exit_code == 0, (site, resumed.output)
        for name in files:
            assert (out / name).read_bytes() == (reference / name).read_bytes(), (site, name)
    return sites


def test_a_full_disk_at_every_write_site_of_a_training_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           small_images: Path) -> None:
    shutil.copytree(small_images, tmp_path / "images")
    g = hnas.resolve_genotype("hnas-a")
    hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3).save(tmp_path / "tiny.json")

    def command(out: Path) -> list[str]:
        return ["train", str(tmp_path / "tiny.json"), "--data", str(tmp_path / "images"), "--scale", "2",
                "--channels", "4", "--iters", "6", "--batch", "2", "--patch", "24", "--log-every", "1",
                "--save-every", "2", "--val", str(tmp_path / "images"), "--val-every", "3", "--device", "cpu",
                "--out", str(out)]

    sites = _every_site_in_turn(monkeypatch, tmp_path, command, tmp_path / "reference", TRAIN_FILES)
    print(f"{len(sites)} write sites:", *sites, sep="\n  ")
    assert len(sites) >= 8, sites  # identity, config, genotype, last, model x2, resume, log, timings, summary


@pytest.mark.slow
def test_a_full_disk_at_every_write_site_of_hnas_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     small_images: Path, tiny_spec) -> None:  # type: ignore[no-untyped-def]
    spec = tiny_spec(tmp_path, small_images, epochs=2, iters=4)

    def command(out: Path) -> list[str]:
        return ["run", str(spec), "--out", str(out)]

    sites = _every_site_in_turn(monkeypatch, tmp_path, command, tmp_path / "reference", RUN_FILES)
    print(f"{len(sites)} write sites:", *sites, sep="\n  ")
    assert len(sites) >= 20, sites
