"""Helpers shared by the CLI commands: one-line user errors, stderr console, JSON output."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from hnas.errors import HnasError

F = TypeVar("F", bound=Callable[..., Any])

#: Progress bars, tables meant for people and warnings go to stderr; stdout carries results.
err_console = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on one line of stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def user_errors(func: F) -> F:
    """Turn :class:`HnasError` (and a few OS errors on user paths) into one line and exit code 2.

    Everything else is a bug and keeps its traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HnasError as exc:
            raise fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            path = getattr(exc, "filename", None)
            what = exc.strerror or type(exc).__name__
            raise fail(f"{what}: {path}" if path else str(exc)) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: finished work is checkpointed; run the same command with --resume", err=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (the machine-readable channel)."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


#: Largest difference (0..255 scale) between the fast and the plain forward for which the
#: commands keep the fast path.
FAST_PATH_TOLERANCE = 1e-3


def inference_path(net: Any, fast: bool = True) -> contextlib.AbstractContextManager[Any]:
    """The context a command runs ``net``'s forwards in (``hnas upscale``, ``hnas eval``).

    The fast path: freed memory kept in this process (:mod:`hnas.utils.memory`; every large map
    reused instead of page-faulted in again) and the ops' oneDNN fusions (ReLU and node sums inside
    1x1 convolutions). It is checked once, on a small input, against the plain ops (oneDNN off);
    a difference over :data:`FAST_PATH_TOLERANCE`, or ``fast=False``, runs the plain ops instead.
    """
    import torch

    from hnas.utils.memory import keep_freed_memory

    plain = torch.backends.mkldnn.flags(enabled=False)
    if not fast:
        return plain
    if isinstance(net, torch.nn.Module) and hasattr(net, "genotype"):
        device = next(net.parameters()).device
        if device.type == "cpu":
            was_training = net.training
            net.eval()
            probe = torch.rand(1, 3, 12, 14, generator=torch.Generator().manual_seed(0)) * 255
            with torch.inference_mode():
                quick = net(probe)
                with torch.backends.mkldnn.flags(enabled=False):
                    reference = net(probe)
            net.train(was_training)
            error = float((quick - reference).abs().max())
            if error > FAST_PATH_TOLERANCE:
                err_console.print(
                    f"[yellow]warning[/]: the fast path differs from the plain ops by {error:.2g} here; "
                    "using the plain ops"
                )
                return plain
    keep_freed_memory()
    return contextlib.nullcontext()
