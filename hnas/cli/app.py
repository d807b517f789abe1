"""The ``hnas`` command line: one typer app; each command lives in its own ``cmd_*`` module."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="hnas",
    help="Hierarchical Neural Architecture Search for image super-resolution.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module registers its commands on ``app`` when imported. Explicit list: no folder scanning.
_COMMAND_MODULES = (
    "hnas.cli.cmd_inspect",
)
for _module in _COMMAND_MODULES:
    importlib.import_module(_module)


def main() -> None:
    """Console-script entry point."""
    app()
