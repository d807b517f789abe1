"""MATLAB-compatible bicubic ``imresize``: the resize every published SR number was made with.

SR papers make LR images with MATLAB's ``imresize(hr, 1/s, 'bicubic')`` and compare against
bicubic upscaling done the same way, so a different kernel or border rule shifts the baseline by
up to a dB (torch's ``interpolate`` without antialias is ~0.8 dB off at x2). The definition:

* cubic convolution kernel with a = -0.5 (Keys 1981), support 4 taps;
* when shrinking by ``s < 1`` the kernel is stretched by ``1/s`` and scaled by ``s`` (antialias);
* output pixel ``x`` (1-based) samples input position ``u = x/s + (1 - 1/s)/2``;
* taps outside the image are clamped to the edge pixel (replicate), weights normalised to sum 1;
* dimensions are resized one at a time, the one with the smaller scale first (rows first on a tie);
* for uint8 images the result is rounded (half away from zero) and saturated after each pass.

This reproduces the MATLAB-made LR images of Set5 (RCAN test code) bit-exactly. The weights of a
pass form a sparse (out x in) matrix with a few taps per row, precomputed and cached per size. It
is applied as one dense matmul for benchmark-sized sides, or tap by tap with ``index_select`` for
long sides (memory stays at the output size); either way any device torch supports works.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "cubic",
    "downscale_uint8",
    "imresize",
    "mod_crop",
    "output_size",
    "resize_weights",
    "upscale_uint8",
]

#: Tolerance for ``scale * length`` landing a hair above an integer (1/3 * 510 in floating point).
_SIZE_EPS = 1e-9


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's and the SR literature's)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def output_size(length: int, scale: float) -> int:
    """MATLAB's ``ceil(scale * length)``, forgiving floating-point noise above an integer."""
    return max(1, math.ceil(length * scale - _SIZE_EPS))


@lru_cache(maxsize=256)
def resize_weights(
    in_length: int, out_length: int, scale: float, antialias: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based source indices (both out_length x taps) of one resize pass.

    Row ``i`` of the implied sparse matrix has ``weights[i]`` at columns ``indices[i]``. Taps whose
    weight is zero for every output pixel are dropped, as MATLAB does.
    """
    if scale < 1 and antialias:
        width = 4.0 / scale

        def kernel(v: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * v)

    else:
        width = 4.0
        kernel = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    indices = np.clip(indices, 1, in_length).astype(np.int64) - 1
    keep = np.any(weights != 0, axis=0)
    weights, indices = np.ascontiguousarray(weights[:, keep]), np.ascontiguousarray(indices[:, keep])
    weights.setflags(write=False)
    indices.setflags(write=False)
    return weights, indices


def _work_dtype(device: torch.device) -> torch.dtype:
    """float64 like MATLAB (needed for bit-exact rounding); MPS has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def _quantize(x: Tensor) -> Tensor:
    """MATLAB's double -> uint8: saturate, then round half away from zero (values are >= 0)."""
    return torch.floor(x.clamp(0.0, 255.0) + 0.5)


#: A pass is a dense matmul while ``in_length <= DENSE_RATIO * taps`` (one BLAS call: fastest for
#: benchmark-sized images), else a loop over the few taps (cheaper for 2K DIV2K images).
DENSE_RATIO = 100


@lru_cache(maxsize=256)
def _weight_tensors(in_length: int, out_length: int, scale: float, antialias: bool) -> tuple[Tensor, Tensor]:
    weights, indices = resize_weights(in_length, out_length, scale, antialias)
    return torch.tensor(weights), torch.tensor(indices)


@lru_cache(maxsize=256)
def _dense_matrix(in_length: int, out_length: int, scale: float, antialias: bool) -> Tensor:
    """The (out x in) matrix of a pass; clamped taps landing on the same pixel add up."""
    weights, indices = resize_weights(in_length, out_length, scale, antialias)
    matrix = np.zeros((out_length, in_length))
    rows = np.repeat(np.arange(out_length), weights.shape[1])
    np.add.at(matrix, (rows, indices.ravel()), weights.ravel())
    return torch.from_numpy(matrix)


def _resize_dim(x: Tensor, dim: int, out_length: int, scale: float, antialias: bool) -> Tensor:
    key = (x.shape[dim], out_length, float(scale), antialias)
    weights, indices = _weight_tensors(*key)
    if x.shape[dim] <= DENSE_RATIO * weights.shape[1]:
        matrix = _dense_matrix(*key).to(device=x.device, dtype=x.dtype)
        return torch.matmul(matrix, x) if dim == -2 else torch.matmul(x, matrix.T)
    weights = weights.to(device=x.device, dtype=x.dtype)
    indices = indices.to(x.device)
    view = [1] * x.dim()
    view[dim] = out_length
    out = x.index_select(dim, indices[:, 0]) * weights[:, 0].view(view)
    for tap in range(1, weights.shape[1]):
        out += x.index_select(dim, indices[:, tap]) * weights[:, tap].view(view)
    return out


def imresize(
    img: Tensor,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    *,
    quantize: bool | None = None,
    antialias: bool = True,
) -> Tensor:
    """Resize like MATLAB's ``imresize(img, scale | [h w], 'bicubic')``.

    ``img`` is ``(N, C, H, W)`` or ``(C, H, W)``, uint8 or float in 0..255, on any device. Give
    exactly one of ``scale`` (0.5 halves each side; output ``ceil(scale * side)``) or ``size``
    ``(height, width)``. ``quantize`` rounds and saturates to integers after each pass, as MATLAB
    does for uint8 images; ``None`` means "iff ``img`` is uint8". The result has ``img``'s dtype.
    """
    if (scale is None) == (size is None):
        raise ValueError("imresize: give exactly one of scale= or size=")
    if img.dim() not in (3, 4):
        raise ValueError(f"imresize: expected (N, C, H, W) or (C, H, W), got shape {tuple(img.shape)}")
    height, width = img.shape[-2], img.shape[-1]
    if scale is not None:
        if not scale > 0 or not math.isfinite(scale):
            raise ValueError(f"imresize: scale must be a positive number, got {scale!r}")
        out_h, out_w = output_size(height, scale), output_size(width, scale)
        scales = (float(scale), float(scale))
    else:
        assert size is not None
        out_h, out_w = int(size[0]), int(size[1])
        if out_h < 1 or out_w < 1:
            raise ValueError(f"imresize: size must be positive, got {size!r}")
        scales = (out_h / height, out_w / width)
    if quantize is None:
        quantize = img.dtype == torch.uint8
    if img.dtype != torch.uint8 and not img.is_floating_point():
        raise ValueError(f"imresize: expected a uint8 or floating-point tensor, got {img.dtype}")

    x = img.to(_work_dtype(img.device))
    targets = {-2: (out_h, scales[0]), -1: (out_w, scales[1])}
    order = (-1, -2) if scales[1] < scales[0] else (-2, -1)
    for dim in order:
        length, dim_scale = targets[dim]
        if length == x.shape[dim] and dim_scale == 1.0:
            continue
        x = _resize_dim(x, dim, length, dim_scale, antialias)
        if quantize:
            x = _quantize(x)
    return x.to(img.dtype)


def downscale_uint8(img: np.ndarray, scale: int) -> np.ndarray:
    """Make the LR image of an ``H x W x C`` uint8 HR image, shrunk by the SR ``scale`` (2 -> half).

    The HR should already be mod-cropped to a multiple of ``scale`` (see ``mod_crop``); the LR is
    then exactly ``H/scale x W/scale``, as in every SR benchmark.
    """
    return _resize_uint8(img, 1.0 / scale)


def upscale_uint8(img: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB bicubic upscaling of an ``H x W x C`` uint8 image by ``scale`` (the bicubic baseline)."""
    return _resize_uint8(img, float(scale))


def _resize_uint8(img: np.ndarray, scale: float) -> np.ndarray:
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {img.dtype}")
    squeeze = img.ndim == 2
    arr = img[:, :, None] if squeeze else img
    if arr.ndim != 3:
        raise ValueError(f"expected an H x W x C image, got shape {img.shape}")
    arr = np.ascontiguousarray(arr)
    tensor = torch.from_numpy(arr if arr.flags.writeable else arr.copy()).permute(2, 0, 1)
    out = imresize(tensor, scale).permute(1, 2, 0).contiguous().numpy()
    return out[:, :, 0] if squeeze else out


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop an ``H x W [x C]`` image to the largest multiple of ``scale`` per side (top-left kept).

    The SR protocol does this to the HR image so that LR x ``scale`` is exactly the HR size.
    """
    height, width = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    return img[:height, :width]
