"""Command line interface (typer). ``hnas --help`` lists the commands."""

from hnas.cli.app import app, main

__all__ = ["app", "main"]
