"""``hnas upscale MODEL INPUT... --out DIR``: super-resolve image files to PNG.

Colour handling (decided here, documented in the command help):

* grayscale inputs are replicated to RGB for the model and the output is turned back into one
  channel by BT.601 luma (``0.299 R + 0.587 G + 0.114 B``, what Pillow's ``convert("L")`` and the
  metrics use), so a gray photo stays a gray PNG;
* an alpha channel is kept: it is upscaled with MATLAB-compatible bicubic (a mask has no texture
  for an SR model to restore) and reattached, because dropping it would turn transparent regions
  into whatever colour happens to lie under them;
* everything else (palette, 16-bit, EXIF rotation) is what ``hnas.data.read_image`` makes of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hnas.cli.app import app
from hnas.cli.common import (
    MAX_SCALE,
    MIN_SCALE,
    PluginOption,
    bars,
    inference_path,
    load_plugins,
    print_json,
    user_errors,
)
from hnas.errors import DataError, HnasError

if TYPE_CHECKING:  # numpy, torch and Pillow are imported when a command runs (``hnas --help`` stays fast)
    import numpy as np
    import torch


def read_alpha(path: Path) -> np.ndarray | None:
    """The alpha channel (uint8 ``H x W``) of an image that has one, upright like read_image."""
    import numpy as np
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            if "A" not in image.getbands() and "transparency" not in image.info:
                return None
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGBA"), dtype=np.uint8)[:, :, 3].copy()
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from None


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; folders replaced by their image files (sorted). Missing paths are errors."""
    from hnas.data.io import is_image_file

    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if is_image_file(p))
            if not found:
                raise DataError(f"no images (png, jpg, jpeg, bmp) in folder {item}")
            files.extend(found)
        elif item.exists():
            files.append(item)
        else:
            raise DataError(f"input not found: {item}")
    return files


def output_paths(files: list[Path], out: Path) -> list[Path]:
    """``OUT/<stem>.png`` per input; two inputs with the same stem are an error, not an overwrite."""
    targets: dict[Path, Path] = {}
    for file in files:
        target = out / f"{file.stem}.png"
        if target in targets:
            raise HnasError(f"{targets[target]} and {file} would both be written to {target}; rename one")
        targets[target] = file
    return list(targets)


def _load_upscaler(model: str, scale: int | None, device: str) -> torch.nn.Module:
    if model == "bicubic":
        if scale is None:
            raise HnasError("MODEL bicubic needs --scale")
        from hnas.data.evaluate import BicubicUpscaler

        return BicubicUpscaler(scale)
    from hnas.checkpoint import load_model
    from hnas.utils.device import resolve_device

    net = load_model(model, device=resolve_device(device))
    if scale is not None and scale != net.scale:
        raise HnasError(f"{model} is a x{net.scale} model, but --scale {scale} was asked for; drop --scale")
    return net


def upscale_file(net: torch.nn.Module, path: Path, target: Path, tile: int | None, overlap: int) -> tuple[int, int]:
    """Super-resolve one image file into the PNG ``target``; returns the output ``(height, width)``."""
    import numpy as np
    from PIL import Image

    from hnas.data.io import image_to_tensor, read_image, tensor_to_image, write_image
    from hnas.data.metrics import rgb_to_luma
    from hnas.data.resize import upscale_uint8
    from hnas.inference import upscale_tensor
    from hnas.utils.io import atomic_path

    image = read_image(path)
    gray = image.shape[2] == 1
    x = image_to_tensor(image).unsqueeze(0)
    if gray:
        x = x.expand(-1, 3, -1, -1)
    if not hasattr(net, "genotype"):
        tile = None  # bicubic has no activations to bound; tiling it would only cost time
    sr = upscale_tensor(net, x, tile=tile, overlap=overlap)
    pixels = tensor_to_image(rgb_to_luma(sr) if gray else sr)
    alpha = read_alpha(path)
    if alpha is not None:
        pixels = np.concatenate([pixels, upscale_uint8(alpha, int(net.scale))[:, :, None]], axis=2)
    if pixels.shape[2] == 2:  # gray + alpha: write_image takes 1, 3 or 4 channels
        with atomic_path(target) as tmp:
            Image.fromarray(pixels).save(tmp, format="PNG")
    else:
        write_image(target, pixels)
    return pixels.shape[0], pixels.shape[1]


@app.command("upscale")
@user_errors
def upscale_command(
    model: Annotated[str, typer.Argument(help="Checkpoint (.safetensors or run folder) or 'bicubic'.")],
    inputs: Annotated[list[Path], typer.Argument(metavar="INPUT...", help="Image files or folders of images.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the PNG results (<stem>.png).")],
    scale: Annotated[int | None, typer.Option("--scale", min=MIN_SCALE, max=MAX_SCALE, help="Needed for bicubic; checked for a model.")] = None,
    tile: Annotated[
        int | None, typer.Option("--tile", min=8, help="Run in tiles of N LR pixels to bound memory.")
    ] = None,
    tile_overlap: Annotated[int, typer.Option("--tile-overlap", min=0, help="Context pixels around each tile.")] = 16,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N.")] = "auto",
    fast: Annotated[
        bool, typer.Option("--fast/--plain", help="CPU fast path (checked against the plain ops) or the plain ops.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print {input: output} as JSON.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Upscale images to exactly scale x their size, as PNG.

    Grayscale stays grayscale (the model sees it as RGB; the result is its luma); an alpha channel is
    upscaled with bicubic and kept.
    """
    load_plugins(plugin)
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    files = expand_inputs(inputs)
    targets = output_paths(files, out)
    net = _load_upscaler(model, scale, device)
    written: dict[str, str] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with inference_path(net, fast), bars(*columns, transient=False) as progress:
        task = progress.add_task("upscale", total=len(files))
        for file, target in zip(files, targets):
            progress.update(task, description=f"upscale {file.name}")
            upscale_file(net, file, target, tile, tile_overlap)
            written[str(file)] = str(target)
            progress.advance(task)
    if as_json:
        print_json(written)
        return
    for target in written.values():
        typer.echo(target)
