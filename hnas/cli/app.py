"""The ``hnas`` command line: one typer app; each command lives in its own ``cmd_*`` module."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException


class OneLineErrorGroup(TyperGroup):
    """Usage errors (bad option values, missing arguments) as one line on stderr, exit code 2.

    click would print a usage block and a framed message; a user mistake deserves one line that
    says what is wrong and where the help is.
    """

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
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
)

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
    """Console-script entry point."""
    app()
