"""The ``hnas`` command line: one typer app; each command lives in its own ``cmd_*`` module."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException


def _readable_metavar(typed: str) -> str:
    """typer's ``<list[str]>``, ``<int range>``, ``<path>`` as the plain words click always showed
    (``TEXT``, ``INTEGER``, ``PATH``; choices as ``none|bicubic``)."""
    inner = typed.strip("<>").removesuffix("...")
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    words = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "int range": "INTEGER",
             "float range": "NUMBER", "file": "FILE", "directory": "FOLDER", "bool": "BOOLEAN"}
    return words.get(inner, inner)


def readable_metavars(command: Any, ctx: Any) -> None:
    """Give every option and argument of ``command`` (and its subcommands) a plain metavar, once."""
    for sub in getattr(command, "commands", {}).values():
        readable_metavars(sub, ctx)
    for param in getattr(command, "params", []):
        if getattr(param, "is_flag", False) or not hasattr(param, "display_type"):
            continue
        if param.param_type_name == "argument":
            # the argument's name says what it is; choices are worth listing
            choices = _readable_metavar(param.display_type(ctx)) if "|" in param.display_type(ctx) else None
            param.display_type_rich = lambda ctx, shown=choices: shown
            param.metavar = param.metavar or param.name.upper()
        elif param.metavar is None:
            param.metavar = _readable_metavar(param.display_type(ctx))


class OneLineErrorGroup(TyperGroup):
    """Usage errors (bad option values, missing arguments) as one line on stderr, exit code 2.

    click would print a usage block and a framed message; a user mistake deserves one line that
    says what is wrong and where the help is.
    """

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        from hnas.plugins import for_command_line

        for_command_line()
        import click

        readable_metavars(self, click.Context(self))
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            typer.echo("aborted", err=True)
            rv = 1
        except TyperException as exc:  # typer's vendored click errors: usage, bad values, no args
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                typer.echo(ctx.get_help())
                rv = 0
            else:
                where = ctx.command_path if ctx is not None else "hnas"
                message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
                typer.echo(f"error: {message} (see '{where} --help')", err=True)
                rv = getattr(exc, "exit_code", 2)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=OneLineErrorGroup,
    name="hnas",
    help="Hierarchical Neural Architecture Search for image super-resolution.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # -h as well as --help, on the app and (click contexts inherit it) on every command
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from hnas import __version__

        typer.echo(f"hnas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print hnas's version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """Hierarchical Neural Architecture Search for image super-resolution."""

# Each module registers its commands on ``app`` when imported. Explicit list: no folder scanning.
_COMMAND_MODULES = (
    "hnas.cli.cmd_inspect",
    "hnas.cli.cmd_eval",
    "hnas.cli.cmd_cost",
    "hnas.cli.cmd_latency",
    "hnas.cli.cmd_train",
    "hnas.cli.cmd_upscale",
    "hnas.cli.cmd_export",
    "hnas.cli.cmd_run",
    "hnas.cli.cmd_compare",
    "hnas.cli.cmd_report",
)
for _module in _COMMAND_MODULES:
    importlib.import_module(_module)


def main() -> None:
    """Console-script entry point (and ``python -m hnas``). Records when the command started, so
    that an end-to-end time budget (``budget_minutes``) counts the start-up too."""
    from hnas.engine.budget import STARTED_ENV, process_started

    os.environ.setdefault(STARTED_ENV, repr(process_started()))
    app()
