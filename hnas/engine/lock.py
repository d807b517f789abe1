"""One hnas process per run folder: a lock file holding the owner's pid and host.

Why: two ``hnas run`` commands on the same ``--out`` (a resubmitted job, a second terminal) would
both append to the same logs and replace each other's checkpoints, and the folder would describe
neither run. The commands that own a run folder (``run``, ``train``, ``compare``) hold
``OUT/.hnas.lock`` while they work:

* It is an ``fcntl.flock`` on the file, which the kernel drops when the process dies however it
  dies (``kill -9``, the OOM killer), so a lock is never held by a dead process. The file's text
  (pid, host, start time) is only there to name the holder.
* A second process is refused in one line naming the holder's pid and host, before it writes
  anything (it opens the existing lock file, nothing else).
* A lock file left by a process that is gone (its ``flock`` is free) is taken over, and the
  takeover is said in one warning line. One left by another host is refused instead, since a
  network file system may not share ``flock`` between hosts: the message says to delete the file
  if that run is over.
* Multi-process runs: only rank 0 takes the lock; under ``--nproc`` the launching process takes it
  and tells its workers (``HNAS_RUN_LOCK_HELD``), so rank 0 does not refuse its own parent.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hnas.errors import HnasError

LOCK_FILENAME = ".hnas.lock"
#: Set by a process that holds a folder's lock for the worker processes it launches.
ENV_HELD = "HNAS_RUN_LOCK_HELD"


class FolderLockedError(HnasError, RuntimeError):
    """Another process works in the run folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _holder(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {}


def _describe(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"


class FolderLock:
    """The lock on ``folder``; :meth:`acquire` then :meth:`release` (or use :func:`folder_lock`)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.file = self.folder / LOCK_FILENAME
        self._fd: int | None = None
        self._made: Path | None = None  # the outermost folder acquire() created

    def acquire(self) -> None:
        try:
            self._acquire()
        except OSError as exc:  # a folder that cannot be made or written: the run folder's own one-liner
            from hnas.engine.folder import RunFolderError

            raise RunFolderError(f"cannot write the folder {self.folder}: {exc.strerror or exc}") from None

    def _acquire(self) -> None:
        import fcntl

        if not self.folder.exists():
            missing = self.folder.absolute()
            while not missing.parent.exists():
                missing = missing.parent
            self.folder.mkdir(parents=True)
            self._made = missing
        while True:
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                text = os.read(fd, 4096).decode(errors="replace")
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise FolderLockedError(
                    f"{self.folder} is in use by another hnas process ({_describe(_holder(text))}); wait for it to "
                    "end, or choose another --out"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.file).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder released (and removed) the file between our open and flock
        previous = _holder(os.read(fd, 4096).decode(errors="replace"))
        host = socket.gethostname()
        if previous.get("pid") is not None and previous.get("host") not in (None, host):
            os.close(fd)
            raise FolderLockedError(
                f"{self.folder} is locked by {_describe(previous)}, another host, whose process cannot be checked from "
                f"here; if that run is over, delete {self.file}"
            )
        if previous.get("pid") is not None:
            gone = "has ended" if not _alive(int(previous["pid"])) else "no longer holds it"
            warnings.warn(f"{self.folder}: taking over the lock left by {_describe(previous)}, which {gone}",
                          stacklevel=3)
        mine = json.dumps({"pid": os.getpid(), "host": host, "since": round(time.time(), 3)})
        os.ftruncate(fd, 0)
        os.pwrite(fd, mine.encode() + b"\n", 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.file.unlink(missing_ok=True)  # while still holding it: a waiting opener sees the inode change
        finally:
            os.close(self._fd)
            self._fd = None
        if self._made is not None:  # a run refused before it wrote anything leaves no empty folders behind
            folder = self.folder.absolute()
            try:
                while True:
                    folder.rmdir()
                    if folder == self._made:
                        break
                    folder = folder.parent
            except OSError:
                pass


@contextmanager
def folder_lock(folder: str | Path, *, main: bool = True) -> Iterator[None]:
    """Hold ``folder``'s lock inside the block (see the module docstring).

    ``main``: whether this process is the one that takes it (rank 0 of a multi-process run, or the
    launching process); other ranks, and workers of a launcher that holds it already, pass through.
    """
    target = str(Path(folder).resolve())
    if not main or os.environ.get(ENV_HELD) == target:
        yield
        return
    lock = FolderLock(folder)
    lock.acquire()
    before = os.environ.get(ENV_HELD)
    os.environ[ENV_HELD] = target  # processes started inside the block (--nproc's workers) share it
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_HELD, None)
        else:
            os.environ[ENV_HELD] = before
        lock.release()
