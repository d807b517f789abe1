"""Data sources, splits, training patches, benchmark sets and the loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hnas.data import (
    BenchmarkSet,
    PatchDataset,
    downscale_uint8,
    load_pair,
    make_loader,
    open_images,
    read_image,
    select_split,
    write_image,
)
from hnas.data.sources import parse_split
from hnas.errors import DataError
from hnas.registry import DATASETS

RNG = np.random.default_rng(3)


def _image(h: int, w: int, c: int = 3) -> np.ndarray:
    """A smooth random image (LR of noise would be all mid-gray)."""
    base = RNG.integers(0, 256, size=(h // 4 + 2, w // 4 + 2, c), dtype=np.uint8)
    return np.kron(base, np.ones((4, 4, 1), np.uint8))[:h, :w]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    root.mkdir()
    for name, size in (("b.png", (40, 36)), ("a.PNG", (32, 32)), ("c.jpeg", (48, 40)), ("d.bmp", (24, 28))):
        write_image(root / name, _image(*size))
    (root / "notes.txt").write_text("not an image")
    (root / "sub").mkdir()
    return root


def test_folder_lists_images_sorted_case_insensitive(folder: Path) -> None:
    assert [r.name for r in open_images(folder)] == ["a.PNG", "b.png", "c.jpeg", "d.bmp"]


def test_missing_empty_and_file_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        open_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        open_images(tmp_path / "empty")
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(DataError, match="is a file"):
        open_images(tmp_path / "x.png")
    with pytest.raises(DataError, match="registered datasets: .*skimage"):
        open_images("builtin:nope")


def test_index_and_fraction_splits(folder: Path) -> None:
    records = open_images(folder)
    assert [r.name for r in select_split(records, (2, 3))] == ["b.png", "c.jpeg"]
    assert [r.name for r in open_images(folder, "2-4")] == ["b.png", "c.jpeg", "d.bmp"]
    first = open_images(folder, (0.0, 0.4))
    last = open_images(folder, (0.4, 1.0))
    assert len(first) == 2 and len(last) == 2 and {*first, *last} == set(records)
    assert parse_split("0%-40%") == (0.0, 0.4)
    for bad in [(0, 2), (3, 9), (0.5, 0.2)]:
        with pytest.raises(DataError):
            select_split(records, bad)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="1-320"):
        parse_split("first half")


def test_builtin_skimage_loads_offline() -> None:
    records = open_images("builtin:skimage")
    assert {"astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"} <= {r.name for r in records}
    assert all(read_image(r.path).shape[2] == 3 for r in records)
    train, val = open_images("builtin:skimage", (0.0, 0.4)), open_images("builtin:skimage", (0.4, 1.0))
    assert len(train) + len(val) == len(records) and not set(train) & set(val)


def _div2k(tmp_path: Path) -> Path:
    root = tmp_path / "DIV2K"
    hr_dir, lr_dir = root / "DIV2K_train_HR", root / "DIV2K_train_LR_bicubic" / "X2"
    for index in range(1, 4):
        write_image(hr_dir / f"{index:04d}.png", _image(24, 20))
    for index in range(1, 3):  # 0003 has no pre-made LR: made by downscaling
        write_image(lr_dir / f"{index:04d}x2.png", np.full((12, 10, 3), index * 50, np.uint8))
    return root


def test_div2k_layout_uses_premade_lr(tmp_path: Path) -> None:
    root = _div2k(tmp_path)
    records = open_images(root, (1, 2))
    assert [r.name for r in records] == ["0001.png", "0002.png"]
    lr, hr = load_pair(records[1], 2)
    assert lr.shape == (12, 10, 3) and (lr == 100).all() and hr.shape == (24, 20, 3)
    third = open_images(root / "DIV2K_train_HR")[2]
    lr, hr = load_pair(third, 2)
    assert np.array_equal(lr, downscale_uint8(hr, 2))
    assert third.premade_lr(3) is None


def test_load_pair_disk_cache(tmp_path: Path, folder: Path) -> None:
    record = open_images(folder)[1]
    cache = tmp_path / "cache"
    lr, hr = load_pair(record, 3, cache_dir=cache)
    assert hr.shape == (39, 36, 3) and lr.shape == (13, 12, 3)
    cached = list(cache.glob("*_x3.png"))
    assert len(cached) == 1 and np.array_equal(read_image(cached[0]), lr)
    again, _ = load_pair(record, 3, cache_dir=cache)
    assert np.array_equal(again, lr)


def test_patch_dataset_shapes_and_skips_small_images(folder: Path) -> None:
    with pytest.warns(UserWarning, match="d.bmp"):
        data = PatchDataset(folder, scale=2, patch_size=32, samples_per_epoch=10)
    assert len(data) == 10 and len(data.records) == 3
    lr, hr = data[0]
    assert lr.shape == (3, 16, 16) and hr.shape == (3, 32, 32)
    assert lr.dtype == torch.float32 and 0 <= float(lr.min()) and float(hr.max()) <= 255


def test_short_epochs_still_reach_every_image(tmp_path: Path) -> None:
    """Two items per epoch from four images: over many epochs, all four images are used."""
    for index in range(4):
        write_image(tmp_path / f"{index}.png", np.full((16, 16, 3), 10 + 50 * index, np.uint8))
    data = PatchDataset(tmp_path, scale=2, patch_size=16, samples_per_epoch=2, augment=False)
    torch.manual_seed(0)
    seen = {int(data[item][1][0, 0, 0]) for _ in range(40) for item in range(len(data))}
    assert seen == {10, 60, 110, 160}


def test_patches_stay_aligned_under_augmentation(tmp_path: Path) -> None:
    write_image(tmp_path / "x.png", _image(64, 64))
    data = PatchDataset(tmp_path, scale=2, patch_size=32, samples_per_epoch=16)
    torch.manual_seed(0)
    for index in range(16):
        lr, hr = data[index]
        remade = downscale_uint8(hr.permute(1, 2, 0).numpy().astype(np.uint8), 2)
        inner = np.abs(remade[2:-2, 2:-2].astype(int) - lr.permute(1, 2, 0).numpy()[2:-2, 2:-2])
        assert inner.max() <= 1  # same pixels up to per-pass rounding order (transpose)


def test_full_size_patch_without_augmentation_is_the_pair(tmp_path: Path) -> None:
    write_image(tmp_path / "g.png", _image(32, 32, 1))
    data = PatchDataset(tmp_path, scale=2, patch_size=32, augment=False, in_memory=False)
    lr, hr = data[0]
    full_lr, full_hr = load_pair(open_images(tmp_path)[0], 2)
    assert lr.shape == (3, 16, 16)  # gray replicated to RGB for the model
    assert np.array_equal(lr[0].numpy(), full_lr[:, :, 0]) and np.array_equal(hr[1].numpy(), full_hr[:, :, 0])


def test_patch_dataset_errors(folder: Path) -> None:
    with pytest.raises(DataError, match="multiple of the scale"):
        PatchDataset(folder, scale=3, patch_size=32)
    with pytest.warns(UserWarning), pytest.raises(DataError, match="at least 64x64"):
        PatchDataset(folder, scale=2, patch_size=64)


def test_loader_batches(folder: Path) -> None:
    data = PatchDataset(folder, scale=2, patch_size=16, samples_per_epoch=8)
    loader = make_loader(data, batch_size=4, seed=1)
    assert loader.num_workers == 0
    batches = list(loader)
    assert len(batches) == 2 and batches[0][0].shape == (4, 3, 8, 8) and batches[0][1].shape == (4, 3, 16, 16)


def test_benchmark_set_mod_crops_and_keeps_gray(tmp_path: Path) -> None:
    write_image(tmp_path / "rgb.png", _image(38, 41))
    write_image(tmp_path / "gray.png", _image(30, 30, 1))
    bench = BenchmarkSet(tmp_path, 4)
    items = list(bench)
    assert [i.name for i in items] == ["gray.png", "rgb.png"]
    assert items[0].hr.shape == (28, 28, 1) and items[0].lr.shape == (7, 7, 1)
    assert items[1].hr.shape == (36, 40, 3) and items[1].lr.shape == (9, 10, 3)
    assert bench.name == tmp_path.name


def test_benchmark_set_rejects_tiny_image(tmp_path: Path) -> None:
    write_image(tmp_path / "ok.png", _image(40, 40))
    write_image(tmp_path / "tiny.png", _image(12, 30))
    with pytest.raises(DataError, match="tiny.png is too small for x2"):
        BenchmarkSet(tmp_path, 2)


def test_data_sources_are_registered() -> None:
    assert {"folder", "div2k", "skimage", "set5", "set14"} <= set(DATASETS.names())
    assert DATASETS.get("builtin:skimage") is DATASETS.get("skimage")
