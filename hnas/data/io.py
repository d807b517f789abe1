"""Reading and writing images: uint8 ``H x W x C`` arrays on disk, float tensors in the models.

Every benchmark and training folder in the wild holds some odd files: grayscale (Set14
``bridge.png``), RGBA, 16-bit or palette PNGs, phone photos with an EXIF rotation, and sometimes a
zero-byte or half-copied file. ``read_image`` turns all readable ones into one form and the rest
into a one-line :class:`~hnas.errors.DataError` naming the file, instead of a Pillow traceback deep
inside a data loader. Pillow's decompression-bomb guard stays on.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from hnas.errors import DataError
from hnas.utils.io import atomic_path

__all__ = [
    "IMAGE_SUFFIXES",
    "image_size",
    "image_to_tensor",
    "is_image_file",
    "read_image",
    "tensor_to_image",
    "to_rgb",
    "write_image",
]

#: File suffixes treated as images when listing a folder (compared case-insensitively).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

#: EXIF orientations (5..8) that swap width and height.
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


def is_image_file(path: Path) -> bool:
    """True for a regular file whose suffix is one of :data:`IMAGE_SUFFIXES` (any case)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def _open_error(path: Path, exc: BaseException) -> DataError:
    if isinstance(exc, Image.DecompressionBombError):
        reason = "larger than Pillow's decompression-bomb limit (Image.MAX_IMAGE_PIXELS)"
    elif isinstance(exc, UnidentifiedImageError):
        reason = (
            "empty file" if path.exists() and path.stat().st_size == 0 else "not an image Pillow can read"
        )
    elif isinstance(exc, FileNotFoundError):
        reason = "no such file"
    elif isinstance(exc, IsADirectoryError):
        reason = "is a folder, not an image"
    else:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in reason or isinstance(exc, (SyntaxError, ValueError, EOFError)):
            reason = f"truncated or corrupt ({reason})"
    return DataError(f"cannot read image {path}: {reason}")


def _to_array(image: Image.Image) -> np.ndarray:
    """Pillow image in any mode -> uint8 H x W x {1, 3}."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grayscale (Pillow decodes 16-bit PNG as I;16 or I): 0..65535 -> 0..255.
        wide = np.asarray(image).astype(np.float64)
        return np.floor(np.clip(wide, 0, 65535) / 257.0 + 0.5).astype(np.uint8)[:, :, None]
    if mode == "F":
        return np.floor(np.clip(np.asarray(image, dtype=np.float64), 0, 255) + 0.5).astype(np.uint8)[
            :, :, None
        ]
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(image.convert("L"), dtype=np.uint8)[:, :, None]
    if mode in ("P", "PA"):
        # A palette may carry transparency; go through RGBA so Pillow applies it, then drop alpha.
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 ``H x W x C`` with ``C`` 1 (grayscale) or 3 (RGB).

    Grayscale stays one channel (a gray HR is its own Y channel for metrics); alpha is dropped;
    16-bit is scaled to 8-bit; palettes are expanded; the EXIF orientation is applied, so a phone
    photo comes out the way it is displayed. Anything unreadable raises :class:`DataError`.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            return np.array(_to_array(upright), dtype=np.uint8, order="C", copy=True)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise _open_error(path, exc) from None


#: PNG chunks that can carry an EXIF orientation (eXIf, or EXIF/XMP inside a text chunk).
_PNG_METADATA_CHUNKS = {b"eXIf", b"tEXt", b"zTXt", b"iTXt"}


def _png_metadata_after_pixels(image: Image.Image) -> bool:
    """Whether a PNG has a metadata chunk after its pixel data, by hopping over chunk headers.

    Pillow parses the chunks before the pixels at open time but finds later ones only by decoding
    the whole image (its ``getexif`` does that), which costs tens of milliseconds a megapixel.
    """
    fp = image.fp
    if fp is None:
        return True
    start = fp.tell()
    try:
        fp.seek(8)
        seen_pixels = False
        while len(head := fp.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IEND":
                return False
            seen_pixels = seen_pixels or kind == b"IDAT"
            if seen_pixels and kind in _PNG_METADATA_CHUNKS:
                return True
            fp.seek(length + 4, os.SEEK_CUR)
        return False
    finally:
        fp.seek(start)


def _orientation(image: Image.Image) -> int:
    if image.format == "PNG" and not _png_metadata_after_pixels(image):
        # Everything that can rotate this PNG was parsed at open: read it without decoding.
        return Image.Image.getexif(image).get(_EXIF_ORIENTATION, 1)
    return image.getexif().get(_EXIF_ORIENTATION, 1)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` as :func:`read_image` will return it, from the headers only (cheap)."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = _orientation(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise _open_error(path, exc) from None
    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    return height, width


def write_image(path: str | Path, image: np.ndarray | Tensor) -> Path:
    """Write an image atomically (temp file + rename); the format follows the suffix.

    Accepts a uint8 ``H x W [x C]`` array or a float ``[1 x] C x H x W`` tensor in 0..255 (rounded).
    """
    path = Path(path)
    array = tensor_to_image(image) if isinstance(image, Tensor) else image
    if array.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8 pixels, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"write_image expects H x W [x 1|3|4], got shape {array.shape}")
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise DataError(f"cannot write image {path}: unknown image suffix '{path.suffix}'; use .png")
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format=image_format)
    return path


def image_to_tensor(image: np.ndarray) -> Tensor:
    """uint8 ``H x W [x C]`` -> float32 ``C x H x W`` in 0..255 (the model convention)."""
    if image.ndim == 2:
        image = image[:, :, None]
    chw = np.ascontiguousarray(image.transpose(2, 0, 1))
    return torch.from_numpy(chw if chw.flags.writeable else chw.copy()).float()


def tensor_to_image(tensor: Tensor) -> np.ndarray:
    """Float ``[1 x] C x H x W`` in 0..255 -> uint8 ``H x W x C``, clamped and rounded half up."""
    if tensor.dim() == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"tensor_to_image takes one image, got a batch of {tensor.shape[0]}")
        tensor = tensor[0]
    if tensor.dim() != 3:
        raise ValueError(f"tensor_to_image expects C x H x W, got shape {tuple(tensor.shape)}")
    pixels = tensor.detach()
    if pixels.is_floating_point():
        pixels = torch.floor(pixels.float().clamp(0, 255) + 0.5)
    return pixels.to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def to_rgb(image: Tensor) -> Tensor:
    """Replicate a one-channel ``[N x] 1 x H x W`` image to three channels; RGB passes through.

    Models take RGB; a grayscale image is the RGB image with R = G = B.
    """
    channels = image.shape[-3]
    if channels == 3:
        return image
    if channels != 1:
        raise ValueError(f"to_rgb expects 1 or 3 channels, got {channels}")
    return image.expand(*image.shape[:-3], 3, *image.shape[-2:]).contiguous()


def warn_skipped(path: Path, reason: str) -> None:
    """One warning per skipped file, naming it (training folders may hold a few odd images)."""
    warnings.warn(f"skipping {path}: {reason}", stacklevel=3)
