"""Atomic file writes: a reader (or a resumed run) never sees half a file.

Every result, checkpoint and genotype goes through a temporary file in the same folder, flushed and
fsynced, then ``os.replace``-d over the target, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from hnas.errors import HnasError
from hnas.utils.compat import tomllib


def jsonable(value: Any) -> Any:
    """``value`` as strict JSON data: tuples as lists, tensors as numbers or lists, and non-finite
    floats as ``None`` (``Infinity``/``NaN`` are not JSON; strict parsers reject them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "tolist"):  # tensors and numpy arrays/scalars
        return jsonable(value.tolist())
    return repr(value)


def dumps(data: Any, indent: int | None = None) -> str:
    """Strict JSON text of ``data`` (see :func:`jsonable`); compact without ``indent``."""
    separators = (",", ":") if indent is None else None
    return json.dumps(jsonable(data), indent=indent, separators=separators, allow_nan=False)


class WriteFailedError(HnasError, OSError):
    """A file could not be written (a full disk, an I/O error); the previous version is intact."""


#: errno values that mean "the disk failed us", not "the user named a bad path": the run stops
#: with one line, its files as they were before the failed write, and resumes once it is fixed.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def _failed(path: Path, exc: OSError) -> WriteFailedError:
    reason = exc.strerror or os.strerror(exc.errno or 0) or type(exc).__name__
    return WriteFailedError(
        f"cannot write {path}: {reason}; the files written before it are intact (free space, then run the command "
        "again; a run continues with --resume)"
    )


@contextmanager
def atomic_path(path: str | Path, keep_previous: str | Path | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    ``keep_previous``: the file ``path`` held until now becomes that file (hard-linked, or copied
    where links are not supported) before the replacement, so the last two versions exist at every
    moment: a kill between the two renames leaves both the old ``path`` and its copy.

    A disk error (:data:`DISK_ERRNOS`: full, I/O error, quota, read-only) at any point leaves
    ``path`` as it was and raises :class:`WriteFailedError`, a one-line user error naming the path.
    """
    path = Path(path)
    tmp_path: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; results should be as open() makes them
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        if keep_previous is not None and path.exists():
            _link_or_copy(path, Path(keep_previous))
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno in DISK_ERRNOS and not isinstance(exc, HnasError):
            raise _failed(path, exc) from None
        raise
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def _link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` hold ``source``'s bytes, atomically (a hard link where possible)."""
    spare = target.with_name(f".{target.name}.{os.getpid()}.link.tmp")
    spare.unlink(missing_ok=True)
    try:
        os.link(source, spare)
    except OSError:
        import shutil

        shutil.copyfile(source, spare)
        with open(spare, "rb") as fh:
            os.fsync(fh.fileno())
    try:
        os.replace(spare, target)
    finally:
        spare.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[IO[Any]], None], binary: bool = False,
                 keep_previous: str | Path | None = None) -> Path:
    with atomic_path(path, keep_previous) as tmp:
        with open(tmp, "wb" if binary else "w", encoding=None if binary else "utf-8") as fh:
            write(fh)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, dumps(data, indent=2) + "\n")


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line and fsync it, so a killed run loses at most the line being written.

    A disk error cuts the file back to its length before the line (a half line would be in the
    middle of the log once the resumed run appends again) and raises :class:`WriteFailedError`.
    """
    path = Path(path)
    line = dumps(record) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        with open(path, "a", encoding="utf-8") as fh:
            start = fh.tell()
            try:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                with contextlib.suppress(OSError):
                    if existed:
                        os.truncate(path, start)
                    else:
                        path.unlink()
                raise
    except OSError as exc:
        if exc.errno in DISK_ERRNOS:
            raise _failed(path, exc) from None
        raise


class LogFileError(HnasError, ValueError):
    """A JSON-lines file of a run folder that hnas did not write that way (damaged or edited)."""


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file, dropping a torn last line left by a kill mid-write.

    Any other line that is not a JSON object is a one-line :class:`LogFileError` naming the file
    and the line: a log hnas did not write that way is reported, not half-read.
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise LogFileError(f"{path} is not a log hnas wrote: not UTF-8 text ({exc.reason})") from None
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            if i == len(lines) - 1 and isinstance(exc, json.JSONDecodeError):
                break
            raise LogFileError(f"{path}, line {i + 1}, is not a log line hnas wrote (not JSON)") from None
        if not isinstance(record, dict):
            raise LogFileError(f"{path}, line {i + 1}, is not a log line hnas wrote (a {type(record).__name__}, "
                               "not an object)")
        records.append(record)
    return records


def atomic_write_jsonl(path: str | Path, records: list[dict[str, Any]]) -> Path:
    """Rewrite a JSON-lines file atomically (used to trim logs back to a resumed checkpoint)."""
    text = "".join(dumps(r) + "\n" for r in records)
    return atomic_write_text(path, text)


def read_structured(path: str | Path, what: str, error: type[HnasError], *, toml: bool) -> Any:
    """Parse a TOML (``toml=True``) or JSON file a user named; every problem is one ``error`` line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    try:
        return tomllib.loads(text) if toml else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path} is not valid {'TOML' if toml else 'JSON'}: {exc}") from None
    except RecursionError:  # (nesting deeper than Python's parsers go)
        raise error(f"{path} is nested too deeply to be a {what}") from None


def safetensors_bytes(tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file's bytes with a canonical header and a content checksum: the same tensors
    and metadata always give the same bytes, and a damaged copy is recognised on loading.

    safetensors keeps the header in a hash map, whose order changes from process to process, so
    two writes of the same state would differ in bytes; a run resumed after a kill must write
    exactly the files of an uninterrupted one. The header is re-serialised with sorted keys and
    padded with spaces to 8 bytes (as the format asks), with the SHA-256 of the file's content in
    its metadata (:mod:`hnas.utils.checksum`); the data section is untouched.
    """
    import struct

    from safetensors.torch import save

    from hnas.utils.checksum import with_checksum

    raw = save(tensors, metadata=metadata)
    (size,) = struct.unpack("<Q", raw[:8])
    return with_checksum(json.loads(raw[8 : 8 + size]), raw[8 + size :])


def atomic_write_safetensors(path: str | Path, tensors: dict[str, Any], metadata: dict[str, str] | None = None,
                             keep_previous: str | Path | None = None) -> Path:
    """Write a safetensors file atomically, byte-reproducibly (:func:`safetensors_bytes`);
    ``keep_previous`` as in :func:`atomic_path`."""
    data = safetensors_bytes(tensors, metadata)
    return atomic_write(path, lambda fh: fh.write(data), binary=True, keep_previous=keep_previous)
