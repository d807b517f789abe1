"""Running a trained model on whole images, tile by tile when they are large.

An HNAS network keeps every intermediate state of a cell alive (the cell output concatenates four
nodes) and the last cells run at high resolution, so a 2K image at 64 channels needs several GB.
:func:`upscale_tensor` bounds memory by cutting the low-resolution input into tiles, running each
with ``overlap`` extra pixels of context on every side and keeping only the tile's own part of the
output. Context is what makes the seams invisible: the convolutions see real neighbours instead of
zero padding, and the bicubic global skip (4 taps) is exact for ``overlap >= 2``. With the default
16 pixels the tiled result matches the untiled one to within one grey level (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

__all__ = ["model_device", "tile_boxes", "upscale_tensor"]

Progress = Callable[[int, int], None]


def model_device(model: nn.Module, default: torch.device | str = "cpu") -> torch.device:
    """The device of the model's first parameter or buffer (``default`` if it has neither)."""
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device(default)


def _spans(length: int, tile: int) -> list[tuple[int, int]]:
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def tile_boxes(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """The ``(top, bottom, left, right)`` cores of a ``tile`` x ``tile`` grid over the image."""
    return [(t, b, l, r) for t, b in _spans(height, tile) for l, r in _spans(width, tile)]


def _tiles(x: Tensor, tile: int, overlap: int) -> Iterator[tuple[Tensor, tuple[int, int, int, int], tuple[int, int]]]:
    """Yield (input patch with context, core box, offset of the core inside the patch)."""
    height, width = x.shape[-2:]
    for top, bottom, left, right in tile_boxes(height, width, tile):
        t0, b0 = max(0, top - overlap), min(height, bottom + overlap)
        l0, r0 = max(0, left - overlap), min(width, right + overlap)
        yield x[..., t0:b0, l0:r0], (top, bottom, left, right), (top - t0, left - l0)


@torch.inference_mode()
def upscale_tensor(
    model: nn.Module,
    x: Tensor,
    tile: int | None = None,
    overlap: int = 16,
    *,
    scale: int | None = None,
    progress: Progress | None = None,
) -> Tensor:
    """Super-resolve ``x`` (``[N x] 3 x H x W``, 0..255) with ``model``; returns ``[N x] 3 x sH x sW``.

    The output is clamped to 0..255 (not rounded) and lives on ``x``'s device; the model runs on
    its own device. ``tile`` (low-resolution pixels per side) bounds memory: ``None`` runs the whole
    image at once. ``scale`` defaults to ``model.scale``. ``progress(done, total)`` is called after
    each tile.
    """
    single = x.dim() == 3
    batch = x.unsqueeze(0) if single else x
    if batch.dim() != 4:
        raise ValueError(f"expected a [N x] C x H x W image tensor, got shape {tuple(x.shape)}")
    scale = int(scale if scale is not None else model.scale)  # type: ignore[arg-type]
    if tile is not None and tile < 1:
        raise ValueError(f"tile must be a positive number of pixels, got {tile}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    device = model_device(model, x.device)
    height, width = batch.shape[-2:]
    if tile is None or (tile >= height and tile >= width):
        out = model(batch.to(device)).clamp_(0.0, 255.0).to(x.device)
        if progress is not None:
            progress(1, 1)
        return out[0] if single else out

    boxes = tile_boxes(height, width, tile)
    out = torch.empty(batch.shape[0], batch.shape[1], height * scale, width * scale, dtype=batch.dtype, device=x.device)
    for done, (patch, (top, bottom, left, right), (dy, dx)) in enumerate(_tiles(batch, tile, overlap), start=1):
        sr = model(patch.to(device))
        expected = (patch.shape[-2] * scale, patch.shape[-1] * scale)
        if tuple(sr.shape[-2:]) != expected:
            raise ValueError(f"model returned {tuple(sr.shape[-2:])} for a {tuple(patch.shape[-2:])} tile; expected x{scale}")
        core = sr[..., dy * scale : (dy + bottom - top) * scale, dx * scale : (dx + right - left) * scale]
        out[..., top * scale : bottom * scale, left * scale : right * scale] = core.clamp(0.0, 255.0).to(x.device)
        if progress is not None:
            progress(done, len(boxes))
    return out[0] if single else out
