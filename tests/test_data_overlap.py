"""Content hashes and leak checks: the same picture under another name or format is caught."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hnas.data import (
    ImageRecord,
    check_disjoint,
    content_hash,
    find_overlap,
    open_images,
    overlap,
    write_image,
)
from hnas.errors import DataError

RNG = np.random.default_rng(11)


def _noise(h: int, w: int, c: int = 3) -> np.ndarray:
    return RNG.integers(0, 256, size=(h, w, c), dtype=np.uint8)


def _records(folder: Path) -> list[ImageRecord]:
    return open_images(folder)


def test_hash_ignores_name_and_lossless_format(tmp_path: Path) -> None:
    pixels = _noise(20, 30)
    write_image(tmp_path / "a" / "baby.png", pixels)
    write_image(tmp_path / "b" / "img_003.bmp", pixels)
    changed = pixels.copy()
    changed[5, 7, 1] ^= 1
    write_image(tmp_path / "c" / "baby.png", changed)
    a, b, c = (content_hash(tmp_path / name) for name in ("a/baby.png", "b/img_003.bmp", "c/baby.png"))
    assert a == b != c
    assert content_hash(ImageRecord(tmp_path / "a" / "baby.png")) == a


def test_gray_saved_as_rgb_is_the_same_picture(tmp_path: Path) -> None:
    gray = _noise(16, 16, 1)
    write_image(tmp_path / "gray.png", gray)
    write_image(tmp_path / "rgb.png", np.repeat(gray, 3, axis=2))
    assert content_hash(tmp_path / "gray.png") == content_hash(tmp_path / "rgb.png")
    transposed = gray.transpose(1, 0, 2).copy()
    write_image(tmp_path / "t.png", transposed)
    assert content_hash(tmp_path / "t.png") != content_hash(tmp_path / "gray.png")


def test_hash_is_memoised_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    write_image(path, _noise(12, 12))
    first = content_hash(path)
    hits = overlap._file_hash.cache_info().hits
    assert content_hash(path) == first and overlap._file_hash.cache_info().hits == hits + 1
    write_image(path, _noise(12, 12))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert content_hash(path) != first


def test_find_overlap_names_both_images(tmp_path: Path) -> None:
    train, bench = tmp_path / "mydata", tmp_path / "Set5"
    for index in range(4):
        write_image(train / f"img_{index:03d}.png", _noise(24, 24))
    write_image(bench / "woman.png", _noise(24, 24))
    assert find_overlap(_records(bench), _records(train)) is None
    shutil.copy(train / "img_003.png", tmp_path / "baby.png")
    Image.open(tmp_path / "baby.png").save(bench / "baby.bmp")  # re-encoded, renamed
    pair = find_overlap(_records(bench), _records(train))
    assert pair is not None and (pair[0].name, pair[1].name) == ("baby.bmp", "img_003.png")
    assert find_overlap(_records(bench), _records(train), workers=1) == pair


def test_check_disjoint_is_one_line_with_the_fix(tmp_path: Path) -> None:
    train, bench = tmp_path / "mydata", tmp_path / "Set5"
    pixels = _noise(20, 20)
    write_image(train / "img_003.png", pixels)
    write_image(bench / "baby.png", pixels)
    with pytest.raises(DataError) as caught:
        check_disjoint(
            _records(bench), _records(train), "evaluation", "training",
            fix="evaluate on images the model never trained on",
        )
    assert str(caught.value) == (
        "evaluation image Set5/baby.png is the same picture as training image mydata/img_003.png "
        "(same pixels); evaluate on images the model never trained on"
    )
    with pytest.raises(DataError, match=r"\(same file\); use controller images that are not among"):
        check_disjoint(_records(train), _records(train), "controller", "weight-training")
    write_image(bench / "baby.png", _noise(20, 20))
    check_disjoint(_records(bench), _records(train), "evaluation", "training")


def test_only_images_of_a_shared_size_are_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(3):
        write_image(tmp_path / "a" / f"{index}.png", _noise(20 + index, 30))
        write_image(tmp_path / "b" / f"{index}.png", _noise(40 + index, 30))
    write_image(tmp_path / "b" / "same_size.png", _noise(21, 30))
    decoded: list[str] = []
    real = overlap.read_image
    monkeypatch.setattr(overlap, "read_image", lambda path: decoded.append(Path(path).name) or real(path))
    overlap._file_hash.cache_clear()
    assert find_overlap(_records(tmp_path / "a"), _records(tmp_path / "b"), workers=1) is None
    assert sorted(decoded) == ["1.png", "same_size.png"]


def test_builtin_sets_do_not_overlap_each_other() -> None:
    assert find_overlap(open_images("builtin:set5"), open_images("builtin:set14")) is None
