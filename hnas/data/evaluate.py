"""The evaluation loop shared by ``hnas eval``, training and the search: PSNR/SSIM on a set.

A model is anything that maps a float ``1 x C x h x w`` LR tensor in 0..255 to the SR tensor,
usually an ``nn.Module``; :class:`BicubicUpscaler` is the baseline every SR table starts with.
Grayscale images: a model whose first convolution takes 3 channels gets the gray LR replicated
to RGB, and its output is scored by its full-range luma against the gray HR (see
:mod:`hnas.data.metrics`); a channel-agnostic model (bicubic) works on the gray image directly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from hnas.data.datasets import BenchmarkSet
from hnas.data.io import image_to_tensor, to_rgb, write_image
from hnas.data.metrics import capped_psnr, psnr_ssim
from hnas.data.resize import imresize
from hnas.data.sources import Source, open_images, source_label
from hnas.errors import HnasError
from hnas.utils.device import resolve_device

__all__ = ["BicubicUpscaler", "evaluate", "evaluate_sets", "input_channels"]

SRModel = Callable[[Tensor], Tensor]


class BicubicUpscaler(nn.Module):
    """MATLAB-compatible bicubic upscaling, rounded to integers after each pass (the baseline)."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, lr: Tensor) -> Tensor:
        return imresize(lr, float(self.scale), quantize=True)


def input_channels(model: SRModel) -> int | None:
    """Channels the model expects: ``model.in_channels`` or its first Conv2d's; None = any."""
    declared = getattr(model, "in_channels", None)
    if isinstance(declared, int):
        return declared
    if isinstance(model, nn.Module):
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                return module.in_channels
    return None


def _model_device(model: SRModel) -> torch.device | None:
    if isinstance(model, nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return None


def evaluate(
    model: SRModel,
    data: Source | BenchmarkSet,
    scale: int | None = None,
    device: str | torch.device | None = None,
    *,
    save_dir: str | Path | None = None,
    y_channel: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run ``model`` on every image of ``data`` and score it the way SR papers do.

    ``data`` is a source for :class:`BenchmarkSet` (folder, ``builtin:set5``, a node) or a prepared
    set (keep one around to evaluate many models without re-reading images). ``scale`` defaults
    to ``model.scale``. ``device`` None keeps an ``nn.Module`` where its parameters are (CPU for
    parameter-free models); a module is put in eval mode and restored afterwards. Returns
    ``{"psnr": mean, "ssim": mean, "images": {file: {"psnr": .., "ssim": ..}}}``, means over images;
    a perfect image scores :data:`~hnas.data.metrics.PSNR_CAP` (100 dB), not infinity.
    ``save_dir`` receives the SR images as ``<stem>.png``.
    """
    if scale is None:
        scale = getattr(model, "scale", None)
        if not isinstance(scale, int):
            raise HnasError("evaluate: pass scale= (the model has no integer .scale)")
    bench = data if isinstance(data, BenchmarkSet) else BenchmarkSet(data, scale)
    if bench.scale != scale:
        raise HnasError(f"benchmark set was prepared for x{bench.scale}, evaluation asks for x{scale}")
    target = resolve_device(device) if device is not None else (_model_device(model) or torch.device("cpu"))
    wanted = input_channels(model)
    was_training = isinstance(model, nn.Module) and model.training
    if isinstance(model, nn.Module):
        model.to(target).eval()
    images: dict[str, dict[str, float]] = {}
    try:
        for item in bench:
            lr = image_to_tensor(item.lr).unsqueeze(0).to(target)
            if wanted == 3:
                lr = to_rgb(lr)
            elif wanted is not None and wanted != lr.shape[1]:
                raise HnasError(
                    f"model takes {wanted}-channel input but {item.name} has {lr.shape[1]} channels"
                )
            with torch.inference_mode():
                sr = model(lr)
            hr = image_to_tensor(item.hr).unsqueeze(0)
            if sr.dim() != 4 or sr.shape[-2:] != hr.shape[-2:]:
                raise HnasError(
                    f"model output {tuple(sr.shape)} for {item.name} does not match the HR "
                    f"{tuple(hr.shape)}; is the model made for x{scale}?"
                )
            sr = sr.detach().cpu()
            image_psnr, image_ssim = psnr_ssim(sr, hr, shave=scale, y_channel=y_channel)
            images[item.name] = {"psnr": capped_psnr(float(image_psnr[0])), "ssim": float(image_ssim[0])}
            if save_dir is not None:
                write_image(Path(save_dir) / f"{Path(item.name).stem}.png", sr)
            if progress is not None:
                progress(item.name)
    finally:
        if isinstance(model, nn.Module) and was_training:
            model.train()
    count = len(images)
    return {
        "psnr": sum(v["psnr"] for v in images.values()) / count,
        "ssim": sum(v["ssim"] for v in images.values()) / count,
        "images": images,
    }


def evaluate_sets(
    model: SRModel,
    sources: list[Source],
    scale: int,
    device: str | torch.device | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate` on each set, keyed by the name reports give it (``Set5`` for
    ``builtin:set5``, a folder's name); ``progress(done, total, name)`` before each set."""
    results = {}
    for index, source in enumerate(sources):
        label = source_label(source)
        if progress is not None:
            progress(index, len(sources), label)
        results[label] = evaluate(model, BenchmarkSet(open_images(source), scale), scale, device)
    return results
