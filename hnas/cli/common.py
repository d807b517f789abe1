"""Helpers shared by the CLI commands: one-line user errors, stderr console, JSON output."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from hnas.errors import HnasError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def err_console() -> Console:
    """rich's console on stderr: progress bars, tables meant for people and warnings go there;
    stdout carries results. Made on first use, so ``hnas --help`` never imports rich."""
    from rich.console import Console

    return Console(stderr=True)


@functools.cache
def _bars_class() -> type[Progress]:
    from rich.progress import Progress

    class Bars(Progress):
        """rich's ``Progress`` on stderr that stays silent when the block fails: a user error is then
        exactly one line (rich would print the bar's last state, or an empty line, before it)."""

        def __init__(self, *columns: Any, **kwargs: Any) -> None:
            kwargs.setdefault("console", err_console())
            super().__init__(*columns, **kwargs)

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            if exc_type is None:
                return super().__exit__(exc_type, exc, tb)
            self.console.quiet = True
            try:
                return super().__exit__(exc_type, exc, tb)
            finally:
                self.console.quiet = False

    return Bars


def bars(*columns: Any, **kwargs: Any) -> Progress:
    """Progress bars on stderr (rich's ``Progress`` arguments) that print nothing if the block fails."""
    return _bars_class()(*columns, **kwargs)


class StageBars:
    """One bar per stage (``__call__(stage, completed, total, message)``, the shape of the search
    pipeline's and the comparison's progress callbacks)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, completed: float, total: float, message: str) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=completed, total=total, description=f"{stage:<8} {message}")


class GlobalSkipChoice(str, Enum):
    """``--global-skip``: add the bicubic upscaled input to the network's output, or not."""

    none = "none"
    bicubic = "bicubic"


class PrecisionChoice(str, Enum):
    """``--precision``: the training forward's arithmetic."""

    fp32 = "fp32"
    bf16 = "bf16"


#: The ``--scale`` every command allows: the search space's (``space.scale`` in a spec).
MIN_SCALE, MAX_SCALE = 2, 8


#: ``--plugin MODULE`` (repeatable), taken by every command: the modules whose registrations (ops,
#: cells, controllers, rewards, costs, data sources) the command needs. Nothing is imported
#: because a file mentions it.
PluginOption = Annotated[
    list[str] | None,
    typer.Option("--plugin", metavar="MODULE|FILE.py",
                 help="Import MODULE (or a .py file) first, so its @REGISTRY.register decorators run; repeatable."),
]


#: ``--tensorboard``: also show the run's log lines as TensorBoard scalars (the extra ``hnas[tensorboard]``).
TensorBoardOption = Annotated[
    bool, typer.Option("--tensorboard", help="Also write TensorBoard scalars to OUT/tensorboard (hnas[tensorboard]).")
]


@contextlib.contextmanager
def tensorboard(enabled: bool, out: Path) -> Iterator[None]:
    """Inside the block, the run's log lines also go to TensorBoard in ``out/tensorboard``."""
    if not enabled:
        yield
        return
    from hnas.engine.folder import watching
    from hnas.report.tensorboard import LogWatcher

    watcher = LogWatcher(out / "tensorboard")
    try:
        with watching(watcher):
            yield
    finally:
        watcher.close()


#: ``--max-restarts K`` (``run``, ``train``, ``compare`` with ``--nproc``): torchrun's elastic restarts.
MaxRestartsOption = Annotated[
    int,
    typer.Option("--max-restarts", min=0, help="With --nproc: when a process dies, start them all again up to K "
                 "times; they resume from the last checkpoint (under torchrun, give torchrun --max-restarts)."),
]


def resume_after_restart(resume: bool, out: Path) -> bool:
    """``resume``, or True in processes torchrun restarted (they continue from the last checkpoint
    instead of refusing the folder their first attempt made); rank 0 says so in one line."""
    from hnas.engine import distributed as dist

    count = dist.restart_count()
    if count and not dist.silent():
        err_console().print(f"restart {count}: resuming {out} from its last checkpoint")
    return resume or count > 0


def parse_source(text: str, option: str = "--data") -> str | dict[str, Any]:
    """An option's registry node: a name (for ``--data`` a folder or ``builtin:NAME``), or a
    ``{type, params}`` node written as a TOML inline table or JSON
    (``{ type = "union", params = { sources = ["T91", "builtin:skimage"] } }``)."""
    if not text.strip().startswith("{"):
        return text
    from hnas.utils.compat import tomllib

    try:
        return dict(tomllib.loads(f"v = {text}")["v"])
    except tomllib.TOMLDecodeError:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            what = "a folder" if option == "--data" else "a name"
            raise HnasError(f"{option} {text!r} is neither {what} nor a {{type, params}} table (TOML or JSON)") from None
        if not isinstance(value, dict):
            what = "a data source node" if option == "--data" else "a node"
            raise HnasError(f"{option} {text!r}: {what} is a table with 'type' and 'params'") from None
        return value


def _checked_node(text: str | None, option: str, check: Any) -> str | dict[str, Any] | None:
    """An option's registry node, built once by ``check`` so that a wrong name or param is one
    line before any work."""
    if text is None:
        return None
    node = parse_source(text, option)
    check(node)
    return node


def checked_loss(text: str | None) -> str | dict[str, Any] | None:
    """A ``--loss`` value (:mod:`hnas.train.losses`)."""
    from hnas.train.losses import build_loss

    return _checked_node(text, "--loss", build_loss)


def checked_optimizer(text: str | None) -> str | dict[str, Any] | None:
    """An ``--optimizer`` value (:mod:`hnas.train.optimizers`)."""
    from hnas.train.optimizers import check_optimizer

    return _checked_node(text, "--optimizer", check_optimizer)


#: ``--optimizer``: the training optimizer (hnas train, hnas compare).
OptimizerOption = Annotated[str | None, typer.Option(
    "--optimizer", help="Optimizer: adam (the default, the authors'), adamw, sgd, a plugin's, or a {type, params} "
                        "table, e.g. '{type = \"sgd\", params = {momentum = 0.9}}'; --lr is its learning rate.")]

#: ``--precision``: the training forward's arithmetic (hnas train, hnas compare).
PrecisionOption = Annotated[PrecisionChoice | None, typer.Option(
    "--precision", help="Training arithmetic: fp32 (the default) or bf16 autocast (faster on CPUs with AVX-512 BF16 "
                        "and on GPUs; validation and saved weights stay fp32).")]

#: ``--loss``: the training loss (hnas train, hnas compare).
LossOption = Annotated[str | None, typer.Option(
    "--loss", help="Training loss: l1 (the default, the authors'), l2, charbonnier, a plugin's, or a "
                   "{type, params} table, e.g. '{type = \"charbonnier\", params = {eps = 0.01}}'.")]


def load_plugins(modules: list[str] | None) -> list[str]:
    """Import the ``--plugin`` modules (one-line error for a module that does not import)."""
    from hnas.plugins import import_plugins

    return import_plugins(modules or [])


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on one line of stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _one_line_warning(message: Any, *args: Any, **kwargs: Any) -> None:
    """A warning as ``warning: message`` on stderr (Python's default adds the file and a source line)."""
    from rich.markup import escape

    err_console().print(f"[yellow]warning[/]: {escape(str(message))}")


def user_errors(func: F) -> F:
    """Turn :class:`HnasError` (and a few OS errors on user paths) into one line and exit code 2.

    Everything else is a bug and keeps its traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _one_line_warning
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


def finite_json(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by ``None``.

    Python's ``json`` writes them as ``NaN``/``Infinity``, which is not JSON: strict parsers
    (``jq``, JavaScript, Go) reject the whole document. Producers should say what a non-number
    means (evaluation caps a perfect PSNR at 100 dB); ``null`` is the fallback for the rest.
    """
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite_json(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_json(value) for value in data]
    return data


def print_json(data: Any) -> None:
    """Write ``data`` as strict JSON on stdout (the machine-readable channel); see :func:`finite_json`."""
    sys.stdout.write(json.dumps(finite_json(data), indent=2, allow_nan=False) + "\n")
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

    from hnas.ops.fast import plain_ops
    from hnas.utils.memory import keep_freed_memory

    plain = plain_ops()
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
                with plain_ops():
                    reference = net(probe)
            net.train(was_training)
            error = float((quick - reference).abs().max())
            if error > FAST_PATH_TOLERANCE:
                err_console().print(
                    f"[yellow]warning[/]: the fast path differs from the plain ops by {error:.2g} here; "
                    "using the plain ops"
                )
                return plain
    keep_freed_memory()
    return contextlib.nullcontext()
