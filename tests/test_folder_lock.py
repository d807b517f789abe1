"""One process per run folder: a second one is refused in one line and writes nothing; a lock
left by a process that died is taken over, and says so."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hnas.cli.app import app
from hnas.engine.lock import LOCK_FILENAME, FolderLock, FolderLockedError, folder_lock

pytestmark = pytest.mark.usefixtures("one_thread")

runner = CliRunner()

#: Holds the lock on argv[1] until its stdin closes; prints "held" once it has it.
HOLDER = """
import sys
from hnas.engine.lock import folder_lock
with folder_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def root(images_and_tiny_genotype: Callable[[str], Path]) -> Path:
    return images_and_tiny_genotype("lock")


def train_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(root / "tiny.json"), "--data", str(root / "images"), "--scale", "2", "--channels", "4",
            "--iters", "2", "--batch", "2", "--patch", "24", "--device", "cpu", "--out", str(out), *extra]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_a_second_process_on_the_folder_is_refused_and_writes_nothing(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    runner.invoke(app, train_args(root, out))  # a first run's files, as a folder being resumed would hold
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        before = snapshot(out)
        for command in (train_args(root, out, "--resume"), train_args(root, out)):
            result = runner.invoke(app, command)
            assert result.exit_code == 2, result.output
            assert result.output.count("\n") == 1, result.output
            assert f"pid {holder.pid} on {socket.gethostname()}" in result.output, result.output
            assert "in use by another hnas process" in result.output
            assert snapshot(out) == before
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=30)
    assert not (out / LOCK_FILENAME).exists(), "released on exit"
    result = runner.invoke(app, train_args(root, out, "--resume"))
    assert result.exit_code == 0, result.output


def test_a_stale_lock_is_taken_over_and_said_so(root: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILENAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": 0}))
    result = runner.invoke(app, train_args(root, out))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("warning:") == 1 and f"taking over the lock left by pid {dead.pid}" in text, result.output
    assert "which has ended" in text
    assert not (out / LOCK_FILENAME).exists()


def test_a_lock_from_another_host_is_refused_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILENAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "since": 0}))
    with pytest.raises(FolderLockedError, match=f"pid 1 on elsewhere.example.*delete {tmp_path / LOCK_FILENAME}"):
        FolderLock(tmp_path).acquire()


def test_a_refused_command_leaves_no_folder_and_the_lock_is_reentrant(tmp_path: Path) -> None:
    out = tmp_path / "new" / "run"
    with folder_lock(out):
        assert json.loads((out / LOCK_FILENAME).read_text())["pid"] == os.getpid()
        with folder_lock(out):  # the same process again (a launcher's workers pass the same way)
            pass
        assert (out / LOCK_FILENAME).exists()
    assert not (tmp_path / "new").exists(), "a lock that made folders removes them when nothing else was written"
    with folder_lock(out, main=False):  # ranks other than 0 take nothing
        assert not out.exists()


def test_the_lock_is_taken_before_the_data_is_checked_and_leaves_nothing(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "never"
    result = runner.invoke(app, ["train", str(root / "tiny.json"), "--data", str(tmp_path / "missing"), "--scale", "2",
                                 "--out", str(out)])
    assert result.exit_code == 2 and not out.exists(), result.output
