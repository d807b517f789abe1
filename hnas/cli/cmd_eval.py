"""``hnas eval``: PSNR/SSIM of a model (or the bicubic baseline) on benchmark sets.

``builtin:set5`` and ``builtin:set14`` ship with hnas, so the standard baselines need no download.

Scores follow the SR convention (Y channel, ``scale``-pixel border shave, MATLAB bicubic LR);
see :mod:`hnas.data.metrics`. Grayscale HR images are scored against the output's luma, with the
gray LR replicated to RGB for models that take three channels.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from hnas.cli.app import app
from hnas.cli.common import (
    MAX_SCALE,
    MIN_SCALE,
    PluginOption,
    bars,
    err_console,
    inference_path,
    load_plugins,
    print_json,
    user_errors,
)
from hnas.errors import CheckpointError, HnasError

if TYPE_CHECKING:
    from torch import nn


def _is_checkpoint(model: str) -> bool:
    path = Path(model)
    return (
        model.endswith(".safetensors")
        or path.is_dir()
        or (path.is_file() and path.suffix not in (".json", ".toml"))
    )


def _load_preset(name: str, weights: Path, scale: int, channels: int) -> nn.Module:
    """Build a preset (or genotype file) and load ``weights`` strictly, with one-line errors."""
    import safetensors.torch
    from safetensors import SafetensorError, safe_open

    from hnas.checkpoint import CONFIG_TENSOR
    from hnas.models.network import build_model

    model = build_model(name, scale=scale, channels=channels)
    if not weights.is_file():
        raise CheckpointError(f"weights file not found: {weights}")
    try:
        tensors = safetensors.torch.load_file(str(weights))
        tensors.pop(CONFIG_TENSOR, None)  # an hnas model file's architecture, not a weight
        model.load_state_dict(tensors, strict=True)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"cannot read weights {weights} (not a safetensors file?): {exc}") from None
    except RuntimeError:
        with safe_open(str(weights), framework="pt") as fh:
            stored = set(fh.keys()) - {CONFIG_TENSOR}
        expected = set(model.state_dict())
        missing, unexpected = sorted(expected - stored), sorted(stored - expected)
        detail = (
            f"{len(missing)} missing (e.g. {missing[0]}), {len(unexpected)} unexpected"
            if missing
            else (
                f"{len(unexpected)} unexpected (e.g. {unexpected[0]})"
                if unexpected
                else "tensor shapes differ"
            )
        )
        raise CheckpointError(
            f"weights {weights} do not fit {name} at x{scale} with {channels} channels: {detail}; "
            f"check --scale and --channels"
        ) from None
    return model


def _resolve_model(
    model: str, scale: Optional[int], weights: Optional[Path], channels: int, device: str
) -> tuple[Any, int]:
    if model == "bicubic":
        if weights is not None:
            raise HnasError("--weights does not apply to the bicubic baseline")
        if scale is None:
            raise HnasError("--scale is required for the bicubic baseline")
        from hnas.data.evaluate import BicubicUpscaler

        return BicubicUpscaler(scale), scale
    if _is_checkpoint(model):
        if weights is not None:
            raise HnasError(f"{model} is a checkpoint with its own weights; --weights is for preset names")
        from hnas.checkpoint import load_model

        net = load_model(model, device=device)
        net_scale = int(getattr(net, "scale"))
        if scale is not None and scale != net_scale:
            raise HnasError(f"{model} is a x{net_scale} model but --scale {scale} was given")
        return net, net_scale
    if scale is None:
        raise HnasError(f"--scale is required for preset '{model}'")
    if weights is None:
        raise HnasError(
            f"preset '{model}' needs --weights FILE.safetensors (an untrained network scores noise)"
        )
    return _load_preset(model, weights, scale, channels), scale


def _unique_labels(sources: list[str]) -> list[str]:
    from hnas.data.sources import source_label

    labels: list[str] = []
    for source in sources:
        label = source_label(source)
        if label in labels:
            label = str(source)
        labels.append(label)
    return labels


@app.command("eval")
@user_errors
def eval_command(
    model: Annotated[
        str, typer.Argument(help="'bicubic', a .safetensors checkpoint, or a preset name with --weights.")
    ],
    data: Annotated[
        list[str],
        typer.Option(
            "--data",
            "-d",
            help="HR folder, DIV2K root, builtin:set5, builtin:set14 or builtin:skimage; repeat for several.",
        ),
    ],
    scale: Annotated[
        Optional[int],
        typer.Option("--scale", "-s", min=MIN_SCALE, max=MAX_SCALE, help="Upscaling factor (a checkpoint knows its own)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON results only.")] = False,
    save: Annotated[
        Optional[Path], typer.Option("--save", help="Write SR images to DIR/<set>/<name>.png.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    weights: Annotated[Optional[Path], typer.Option(help="safetensors weights for a preset name.")] = None,
    channels: Annotated[int, typer.Option(min=1, help="Channels per op when building a preset.")] = 64,
    fast: Annotated[
        bool, typer.Option("--fast/--plain", help="CPU fast path (checked against the plain ops) or the plain ops.")
    ] = True,
    plugin: PluginOption = None,
) -> None:
    """Score a model on benchmark sets: PSNR and SSIM on the Y channel, per set and per image."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.table import Table

    from hnas.data.datasets import BenchmarkSet
    from hnas.data.evaluate import evaluate
    from hnas.utils.device import resolve_device

    load_plugins(plugin)
    target = resolve_device(device)
    net, net_scale = _resolve_model(model, scale, weights, channels, str(target))
    sets = [BenchmarkSet(source, net_scale) for source in data]
    labels = _unique_labels(data)
    results: dict[str, Any] = {}
    with inference_path(net, fast), bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
    ) as progress:
        for label, bench in zip(labels, sets):
            task = progress.add_task(f"{label} x{net_scale}", total=len(bench))
            save_dir = save / re.sub(r"[^\w.-]+", "_", label) if save is not None else None
            results[label] = evaluate(
                net, bench, net_scale, target, save_dir=save_dir, progress=lambda _: progress.advance(task)
            )
    if as_json:
        print_json(results)
        return
    table = Table(title=f"{model} x{net_scale} (Y channel, {net_scale}-pixel border shaved)")
    for column in ("data", "images", "PSNR (dB)", "SSIM"):
        table.add_column(column, justify="left" if column == "data" else "right")
    for label, result in results.items():
        table.add_row(label, str(len(result["images"])), f"{result['psnr']:.3f}", f"{result['ssim']:.4f}")
    Console().print(table)
    if save is not None:
        err_console().print(f"SR images written under {save}")
