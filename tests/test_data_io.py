"""Reading odd image files into uint8 H x W x {1, 3}, and clear errors for unreadable ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hnas.data import image_size, image_to_tensor, read_image, tensor_to_image, to_rgb, write_image
from hnas.errors import DataError

RNG = np.random.default_rng(7)


def _rgb(h: int = 6, w: int = 5) -> np.ndarray:
    return RNG.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_rgb_png_round_trip(tmp_path: Path) -> None:
    pixels = _rgb()
    write_image(tmp_path / "a.png", pixels)
    assert np.array_equal(read_image(tmp_path / "a.png"), pixels)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


def test_grayscale_stays_one_channel(tmp_path: Path) -> None:
    gray = RNG.integers(0, 256, size=(6, 5), dtype=np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (6, 5, 1) and np.array_equal(out[:, :, 0], gray)


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    rgba = np.concatenate([_rgb(), np.full((6, 5, 1), 10, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), rgba[:, :, :3])


def test_gray_alpha_drops_alpha(tmp_path: Path) -> None:
    Image.new("LA", (4, 3), (90, 20)).save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    assert out.shape == (3, 4, 1) and (out == 90).all()


def test_16_bit_png_is_scaled_to_8_bit(tmp_path: Path) -> None:
    wide = np.array([[0, 257, 65535], [32896, 1000, 128]], dtype=np.uint16)
    Image.fromarray(wide).save(tmp_path / "w.png")
    assert Image.open(tmp_path / "w.png").mode.startswith("I")
    out = read_image(tmp_path / "w.png")
    assert out.dtype == np.uint8 and out.shape == (2, 3, 1)
    assert out[:, :, 0].tolist() == [[0, 1, 255], [128, 4, 0]]


def test_palette_is_expanded_to_rgb(tmp_path: Path) -> None:
    image = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    image.info["transparency"] = 0
    image.save(tmp_path / "p.png", transparency=0)
    out = read_image(tmp_path / "p.png")
    assert out.shape == (6, 5, 3)
    assert np.array_equal(out, np.asarray(image.convert("RGB")))


def test_bmp_and_jpeg(tmp_path: Path) -> None:
    pixels = _rgb(16, 16)
    Image.fromarray(pixels).save(tmp_path / "a.BMP")
    Image.fromarray(pixels).save(tmp_path / "a.JPG", quality=95)
    assert np.array_equal(read_image(tmp_path / "a.BMP"), pixels)
    assert read_image(tmp_path / "a.JPG").shape == (16, 16, 3)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((2, 4, 3), np.uint8)
    pixels[0, 0] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    Image.fromarray(pixels).save(tmp_path / "phone.png", exif=exif)
    out = read_image(tmp_path / "phone.png")
    assert out.shape == (4, 2, 3)
    assert tuple(out[0, 1]) == (255, 0, 0)
    assert image_size(tmp_path / "phone.png") == (4, 2)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.png", b"", "empty file"),
        ("notes.png", b"this is text, not pixels\n" * 4, "not an image"),
    ],
)
def test_unreadable_files_raise_data_error(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=reason) as info:
        read_image(tmp_path / name)
    assert str(tmp_path / name) in str(info.value) and "\n" not in str(info.value)


def test_truncated_png_raises_data_error(tmp_path: Path) -> None:
    write_image(tmp_path / "full.png", RNG.integers(0, 256, size=(64, 64, 3), dtype=np.uint8))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated") as info:
        read_image(tmp_path / "cut.png")
    assert "cut.png" in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(DataError, match="folder"):
        read_image(tmp_path)


def test_decompression_bomb_guard_stays_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_image(tmp_path / "big.png", _rgb(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(DataError, match="decompression-bomb"):
        read_image(tmp_path / "big.png")


def test_write_image_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="suffix"):
        write_image(tmp_path / "a.xyz", _rgb())


def test_tensor_helpers_round_trip() -> None:
    pixels = _rgb()
    tensor = image_to_tensor(pixels)
    assert tensor.shape == (3, 6, 5) and tensor.dtype == torch.float32
    assert np.array_equal(tensor_to_image(tensor), pixels)
    assert np.array_equal(tensor_to_image(tensor.unsqueeze(0) + 0.4), pixels)
    assert tensor_to_image(torch.full((1, 2, 2), 300.0)).max() == 255


def test_to_rgb_replicates_gray() -> None:
    gray = torch.rand(2, 1, 4, 4)
    rgb = to_rgb(gray)
    assert rgb.shape == (2, 3, 4, 4) and torch.equal(rgb[:, 2], gray[:, 0])
    color = torch.rand(3, 4, 4)
    assert to_rgb(color) is color


def _move_chunk_after_pixels(path: Path, kind: bytes) -> None:
    """Rewrite a PNG with chunk ``kind`` moved just before IEND (valid: CRCs are per chunk)."""
    data = path.read_bytes()
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos : pos + 12 + length])
        pos += 12 + length
    moved = [c for c in chunks if c[4:8] == kind]
    rest = [c for c in chunks if c[4:8] != kind]
    assert len(moved) == 1 and rest[-1][4:8] == b"IEND"
    path.write_bytes(data[:8] + b"".join(rest[:-1] + moved + rest[-1:]))


def test_image_size_reads_png_headers_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import PngImagePlugin

    write_image(tmp_path / "plain.png", np.zeros((30, 20, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(tmp_path / "late.png", exif=exif)
    _move_chunk_after_pixels(tmp_path / "late.png", b"eXIf")
    assert read_image(tmp_path / "late.png").shape == (4, 2, 3)
    assert image_size(tmp_path / "late.png") == (4, 2)  # found behind the pixels, as read_image does

    def no_decoding(self: object) -> None:
        raise AssertionError("image_size decoded the pixels")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    assert image_size(tmp_path / "plain.png") == (30, 20)
