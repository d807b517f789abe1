"""``hnas report``: a run folder as one self-contained web page (``hnas inspect`` is the terminal's view)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hnas.cli.app import app
from hnas.cli.common import PluginOption, err_console, load_plugins, user_errors


@app.command("report")
@user_errors
def report_command(
    run: Annotated[
        Path, typer.Argument(help="A run folder (what 'hnas run --out' wrote) or a compare folder.")
    ],
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Where to write the page (default RUN/report.html).")
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open the page in the default web browser.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Write one self-contained report.html: spec, timings, search curves, policy, Pareto front,
    candidates, the chosen cells, retraining, evaluation (and the comparison when there is one)."""
    load_plugins(plugin)
    from hnas.report.html import write_report

    with err_console().status(f"writing the report of {run}"):
        path = write_report(run, out)
    typer.echo(str(path))
    if open_:
        import webbrowser

        try:
            opened = webbrowser.open(path.resolve().as_uri())
        except webbrowser.Error:
            opened = False
        if not opened:
            err_console().print(f"no web browser to open here; open {path} yourself")
