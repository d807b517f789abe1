"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: The benchmark data next to the repository (``../shared/data``); tests skip without it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    its models are tiny, so a thread pool only adds wake-ups, and two threads on a busy 2-core
    machine mostly wait for each other; launched subprocesses pin one thread the same way."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data`` (Set5, Set14, ...), or skip the test when it is absent."""
    if not (SHARED_DATA / "Set5").is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


TINY_SPEC = (Path(__file__).parent / "specs" / "tiny.toml.in").read_text()  # str.format: data, epochs, warmup, iters


@pytest.fixture(scope="session")
def training_folder():  # type: ignore[no-untyped-def]
    """``training_folder(root)`` writes three smooth synthetic photos to ``root/data`` and a 3-layer
    HNAS-A genotype to ``root/tiny.json`` (what the training, DDP and restart tests train)."""

    def write(root: Path) -> Path:
        import numpy as np
        from PIL import Image

        import hnas

        rng = np.random.default_rng(0)
        (root / "data").mkdir()
        for i, size in enumerate([(70, 64), (61, 75), (48, 52)]):
            coarse = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
            Image.fromarray(coarse).resize(size, Image.BICUBIC).save(root / "data" / f"img{i}.png")
        g = hnas.resolve_genotype("hnas-a")
        hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3).save(root / "tiny.json")
        return root

    return write


@pytest.fixture(scope="session")
def images_and_tiny_genotype(tmp_path_factory: pytest.TempPathFactory, small_images: Path) -> Callable[[str], Path]:
    """Makes a new folder (named after its argument) holding a copy of ``small_images`` (``images/``) and
    ``tiny.json``: HNAS-A's cells in a 3-layer network, quick to train from the command line."""
    import shutil

    import hnas

    def make(name: str) -> Path:
        root = tmp_path_factory.mktemp(name)
        shutil.copytree(small_images, root / "images")
        g = hnas.resolve_genotype("hnas-a")
        hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3).save(root / "tiny.json")
        return root

    return make


@pytest.fixture(scope="session")
def small_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 48x40 crops of the built-in photographs: quick to search, retrain and evaluate on."""
    import numpy as np
    from PIL import Image

    from hnas.data import open_images, read_image

    folder = tmp_path_factory.mktemp("images")
    for record in open_images("builtin:skimage"):
        image = read_image(record.path)
        crop = image[:40, :48] if image.shape[2] == 3 else np.repeat(image[:40, :48], 3, axis=2)
        Image.fromarray(crop).save(folder / f"{record.stem}.png")
    return folder


@pytest.fixture(scope="session")
def tiny_spec():  # type: ignore[no-untyped-def]
    """``tiny_spec(folder, data, epochs=2, iters=3, warmup=0)`` writes a search spec that runs in seconds."""

    def write(folder: Path, data: Path, epochs: int = 2, iters: int = 3, warmup: int = 0) -> Path:
        path = folder / "tiny.toml"
        path.write_text(TINY_SPEC.format(data=data, epochs=epochs, iters=iters, warmup=warmup))
        return path

    return write
