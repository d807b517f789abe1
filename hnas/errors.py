"""Exceptions that mean "the user asked for something wrong".

The CLI turns any :class:`HnasError` into one line on stderr and exit code 2; everything else is a
bug and keeps its traceback. Library callers can catch :class:`HnasError` to tell the two apart.
"""

from __future__ import annotations

from typing import Any


class HnasError(Exception):
    """A mistake in user input (spec, genotype, file, option), with a message that says the fix."""


class UnknownNameError(HnasError, LookupError):
    """A registry was asked for a name nobody registered."""


class DuplicateNameError(HnasError, ValueError):
    """Two registrations claimed the same name in one registry."""


class GenotypeError(HnasError, ValueError):
    """A genotype that does not describe a valid network (names the cell, node and edge)."""


class SpecError(HnasError, ValueError):
    """An experiment spec (TOML) that does not validate."""


class DataError(HnasError, OSError):
    """An image or data folder that cannot be used (names the file)."""


class CheckpointError(HnasError, ValueError):
    """A checkpoint that cannot be loaded into the model it claims to be for."""


def first_error(exc: Any) -> tuple[str, str]:
    """``(location, message)`` of a pydantic ``ValidationError``'s first error, for one-line messages.

    The location is the dotted path of the offending key (``space.layers``), empty for a
    model-level check; the message drops pydantic's ``Value error, `` prefix.
    """
    err = exc.errors()[0]
    return ".".join(str(part) for part in err["loc"]), err["msg"].removeprefix("Value error, ")


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message: torch and safetensors errors can go on with a C++ stack
    trace, and a user error is one line."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class NotARunFolderError(HnasError, ValueError):
    """A path that is not a run folder, or lacks what the command needs from it (one line: what it
    is and what to pass instead)."""
