"""A content checksum inside every safetensors file hnas writes, checked before the file is used.

Why: a checkpoint can be damaged after it was written (a truncated copy, a bit flip on disk, a
half-synced network file system). safetensors notices a truncation only sometimes and a flipped
bit in a tensor never: the run would resume from garbage weights. So the header's metadata
carries ``content_sha256``, the SHA-256 of the canonical header *without* that entry followed by
the whole data section; any change to any byte of the file (the header, a tensor, the length)
then fails :func:`verify_safetensors` with a one-line :class:`DamagedFileError`.

The digest is computed over bytes, not tensors, so checking needs neither torch nor the memory for
the tensors: the data section is streamed through the hash. Files without the entry (written by
hnas before 0.3, or by other tools) are accepted unchecked.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from hnas.errors import CheckpointError

#: The metadata entry holding the checksum (hex SHA-256).
CHECKSUM_KEY = "content_sha256"
#: safetensors' own ceiling on the header (100 MB): a larger length field is damage, not a header.
MAX_HEADER_BYTES = 100_000_000
_CHUNK = 1 << 20


class DamagedFileError(CheckpointError):
    """A safetensors file whose bytes are not those that were written (checksum or length)."""


def canonical_header(header: dict[str, Any]) -> bytes:
    """The header's JSON with sorted keys, padded with spaces to 8 bytes (as the format asks)."""
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return text + b" " * (-len(text) % 8)


def _without_checksum(header: dict[str, Any]) -> dict[str, Any]:
    meta = dict(header.get("__metadata__") or {})
    meta.pop(CHECKSUM_KEY, None)
    out = {k: v for k, v in header.items() if k != "__metadata__"}
    if meta:
        out["__metadata__"] = meta
    return out


def digest(header: dict[str, Any], data: bytes) -> str:
    """The checksum of a file with this header (any checksum entry left out) and data section."""
    h = hashlib.sha256(canonical_header(_without_checksum(header)))
    h.update(data)
    return h.hexdigest()


def with_checksum(header: dict[str, Any], data: bytes) -> bytes:
    """A complete safetensors file: ``header`` with the checksum entry added, then ``data``."""
    header = _without_checksum(header)
    meta = dict(header.get("__metadata__") or {})
    meta[CHECKSUM_KEY] = digest(header, data)
    header["__metadata__"] = meta
    text = canonical_header(header)
    return struct.pack("<Q", len(text)) + text + data


def verify_safetensors(path: str | Path) -> bool:
    """Check ``path`` against its checksum; True if it had one, False if it has none (unchecked).

    Raises :class:`DamagedFileError` (one line naming the file and what is wrong) for a file
    whose header does not parse, whose length does not match its tensors, or whose checksum
    differs. Reading errors other than a short file (permissions, missing) propagate as ``OSError``.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        size = path.stat().st_size
        head = fh.read(8)
        if len(head) < 8:
            raise DamagedFileError(f"{path} is damaged: {size} bytes, shorter than a safetensors header")
        (length,) = struct.unpack("<Q", head)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise DamagedFileError(f"{path} is damaged (truncated?): its header claims {length} bytes of {size}")
        try:
            header = json.loads(fh.read(length))
            if not isinstance(header, dict):
                raise ValueError("the header is not a JSON object")
            meta = header.get("__metadata__") or {}
            ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise DamagedFileError(f"{path} is damaged: unreadable header ({type(exc).__name__})") from None
        expected = meta.get(CHECKSUM_KEY) if isinstance(meta, dict) else None
        data_size = size - 8 - length
        if expected is None:
            return False
        if data_size != max(ends, default=0):
            raise DamagedFileError(
                f"{path} is damaged (truncated or extended): {data_size} data bytes, its tensors need {max(ends, default=0)}"
            )
        h = hashlib.sha256(canonical_header(_without_checksum(header)))
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    if h.hexdigest() != expected:
        raise DamagedFileError(f"{path} is damaged: its content does not match its checksum (a changed byte)")
    return True
