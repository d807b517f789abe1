"""``hnas export MODEL --format torchscript|onnx --out FILE``: a deployable file with dynamic sizes."""

from __future__ import annotations

import importlib.util
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hnas.cli.app import app
from hnas.cli.common import PluginOption, err_console, load_plugins, print_json, user_errors


class ExportFormatChoice(str, Enum):
    torchscript = "torchscript"
    onnx = "onnx"


@app.command("export")
@user_errors
def export_command(
    model: Annotated[str, typer.Argument(help="Checkpoint (.safetensors or run folder).")],
    format: Annotated[ExportFormatChoice, typer.Option("--format", "-f", help="torchscript or onnx.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (.pt / .onnx).")],
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Run the export on an odd-sized input and compare with eager.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print {path, format, max_abs_error} as JSON.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Export a trained model; any batch, height and width work (float 0..255 in, x scale out)."""
    load_plugins(plugin)
    from hnas.checkpoint import load_model
    from hnas.export import CHECK_SHAPE, ExportError, export_model, load_exported, max_export_error

    net = load_model(model, device="cpu")
    path = export_model(net, out, format.value)
    error = None
    if check and format.value == "onnx" and importlib.util.find_spec("onnxruntime") is None:
        err_console().print("[yellow]warning[/]: onnxruntime is not installed; skipped comparing the export with eager")
        check = False
    if check:
        error = max_export_error(net, load_exported(path, format.value), CHECK_SHAPE)
        if error > 1e-2:
            raise ExportError(f"{path} differs from the eager model by {error:.3g} (0..255 scale) on {CHECK_SHAPE}")
        err_console().print(f"checked on a {CHECK_SHAPE[2]}x{CHECK_SHAPE[3]} input: max |export - eager| = {error:.2e}")
    if as_json:
        print_json({"path": str(path), "format": format.value, "max_abs_error": error})
        return
    typer.echo(str(path))
