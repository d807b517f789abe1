"""Data sources through the DATASETS registry: strings, {type, params} nodes, user sources, the
packaged Set5/Set14 and what a wheel carries."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hnas.data import (
    BenchmarkSet,
    ImageRecord,
    SourceSpec,
    open_images,
    read_image,
    resolve_source,
    source_label,
    validate_source,
    write_image,
)
from hnas.data.sources import BUILTIN_DIR
from hnas.errors import DataError, UnknownNameError
from hnas.registry import DATASETS

REPO = Path(__file__).resolve().parents[1]
SET5 = ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "mydata"
    for index in range(3):
        write_image(root / f"img_{index:03d}.png", np.full((24, 20, 3), 40 * index, np.uint8))
    return root


@pytest.fixture
def every_other() -> Iterator[None]:
    """A user source, registered the way a plugin would and removed afterwards."""

    @DATASETS.register("every_other")
    def every_other(root: str, start: int = 0) -> list[ImageRecord]:
        """Every second image of a folder."""
        return [ImageRecord(p) for p in sorted(Path(root).glob("*.png"))[start::2]]

    yield
    DATASETS.unregister("every_other")


def test_builtin_sets_ship_with_the_package() -> None:
    set5, set14 = open_images("builtin:set5"), open_images("builtin:set14")
    assert [r.name for r in set5] == SET5
    assert len(set14) == 14 and "bridge.png" in {r.name for r in set14}
    assert all(r.path.is_relative_to(BUILTIN_DIR) for r in set5 + set14)
    assert source_label("builtin:set5") == "Set5" and source_label({"type": "set14"}) == "Set14"
    assert BenchmarkSet("builtin:set5", 2).name == "Set5"
    assert read_image(set14[[r.name for r in set14].index("bridge.png")].path).shape[2] == 1


def test_builtin_sets_are_the_published_files(shared_data: Path) -> None:
    for name in ("Set5", "Set14"):
        shipped = sorted((BUILTIN_DIR / name).glob("*.png"))
        reference = sorted((shared_data / name).glob("*.png"))
        assert [p.name for p in shipped] == [p.name for p in reference]
        for ours, theirs in zip(shipped, reference):
            assert hashlib.sha256(ours.read_bytes()).digest() == hashlib.sha256(theirs.read_bytes()).digest()


def test_every_form_resolves_through_the_registry(folder: Path) -> None:
    names = [r.name for r in open_images(folder)]
    assert names == ["img_000.png", "img_001.png", "img_002.png"]
    assert resolve_source(str(folder)) == SourceSpec(type="folder", params={"path": str(folder)})
    assert [r.name for r in open_images({"type": "folder", "params": {"path": str(folder)}})] == names
    assert [r.name for r in open_images(SourceSpec(type="folder", params={"path": str(folder)}))] == names
    set5 = open_images("builtin:set5")
    assert open_images({"type": "set5"}) == set5 == open_images({"type": "builtin:set5"})
    assert resolve_source("builtin:skimage") == SourceSpec(type="skimage")
    assert source_label(folder) == "mydata" and source_label("builtin:skimage") == "builtin:skimage"


def test_div2k_string_is_detected_and_the_node_is_explicit(tmp_path: Path) -> None:
    root = tmp_path / "DIV2K"
    for index in range(1, 3):
        write_image(root / "DIV2K_train_HR" / f"{index:04d}.png", np.zeros((8, 8, 3), np.uint8))
    assert resolve_source(root).type == "div2k"
    node = {"type": "div2k", "params": {"path": str(root)}}
    assert [r.name for r in open_images(node, (2, 2))] == ["0002.png"]
    assert source_label(node) == "DIV2K"
    write_image(tmp_path / "plain" / "a.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DataError, match="plain does not have the DIV2K layout"):
        open_images({"type": "div2k", "params": {"path": str(tmp_path / "plain")}})


def test_a_user_source_takes_its_params(folder: Path, every_other: None) -> None:
    node = {"type": "every_other", "params": {"root": str(folder), "start": 1}}
    assert [r.name for r in open_images(node)] == ["img_001.png"]
    assert validate_source(node) == "builtin:every_other"
    assert open_images({"type": "builtin:every_other", "params": {"root": str(folder)}})[1].name == "img_002.png"
    assert source_label("builtin:nope") == "builtin:nope"
    with pytest.raises(DataError) as caught:
        open_images({"type": "every_other", "params": {"rot": str(folder)}})
    assert str(caught.value) == (
        "data source 'every_other' has no param 'rot' (did you mean 'root'?); it takes root, start"
    )
    with pytest.raises(DataError, match=r"^data source 'every_other' needs param 'root'"):
        open_images("builtin:every_other")
    with pytest.raises(DataError, match=r"^data source 'every_other': param 'start' = 'one'"):
        open_images({"type": "every_other", "params": {"root": str(folder), "start": "one"}})
    assert "every_other" in DATASETS.list("every*")


def test_unknown_types_and_bad_nodes_are_one_line(folder: Path) -> None:
    suggestion = r"^unknown dataset 'builtin:Set5' \(did you mean 'builtin:set5'"
    with pytest.raises(UnknownNameError, match=suggestion):
        open_images("builtin:Set5")
    with pytest.raises(DataError, match=r"registered datasets: folder, div2k, skimage, set5, set14"):
        open_images({"type": "imagenet"})
    with pytest.raises(DataError, match=r"unknown key 'path'; a source node is \{type = \"NAME\""):
        open_images({"type": "folder", "path": str(folder)})
    with pytest.raises(DataError, match="lacks 'type'"):
        open_images({"params": {"path": str(folder)}})
    with pytest.raises(DataError, match=r"^data source 'set5' has no param 'scale'; it takes no params"):
        open_images({"type": "set5", "params": {"scale": 2}})
    with pytest.raises(DataError, match=r"^data source 'folder': param 'path' = 3: "):
        open_images({"type": "folder", "params": {"path": 3}})
    for bad in ("", 5):
        with pytest.raises(DataError, match="pass a folder, builtin:NAME or"):
            open_images(bad)  # type: ignore[arg-type]


def test_a_missing_folder_named_like_a_builtin_set_says_how_to_write_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    hint = "^data folder Set5 does not exist; the built-in set is written builtin:set5$"
    with pytest.raises(DataError, match=hint):
        open_images("Set5")
    with pytest.raises(DataError, match="^data folder folder does not exist$"):
        open_images("folder")


def test_a_source_must_return_image_records() -> None:
    DATASETS.add("broken", lambda: ["a.png"])
    DATASETS.add("nothing", list)
    try:
        with pytest.raises(DataError, match="'broken' returned list, not a list of hnas.data.ImageRecord"):
            open_images("builtin:broken")
        with pytest.raises(DataError, match="'nothing' has no images"):
            open_images("builtin:nothing")
    finally:
        DATASETS.unregister("broken")
        DATASETS.unregister("nothing")


def test_validate_source_checks_without_decoding(tmp_path: Path) -> None:
    root = tmp_path / "odd"
    root.mkdir()
    (root / "broken.png").write_bytes(b"not a png")  # listed, never decoded
    assert validate_source(root) == "odd"
    assert validate_source("builtin:set14", "1-14") == "Set14"
    with pytest.raises(DataError, match="asks for image 15 but Set14 has 14 images"):
        validate_source("builtin:set14", (1, 15))
    with pytest.raises(DataError, match="does not exist"):
        validate_source({"type": "folder", "params": {"path": str(tmp_path / "gone")}})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        validate_source(tmp_path / "empty")


def test_sources_are_data_sources_only() -> None:
    """Data set classes (patches, benchmark) are built from sources; they are not sources."""
    assert DATASETS.names()[:5] == ["folder", "div2k", "skimage", "set5", "set14"]
    assert "patches" not in DATASETS and "benchmark" not in DATASETS


def _copy_project(target: Path) -> Path:
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, target / name)
    shutil.copytree(REPO / "hnas", target / "hnas", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _wheel(tmp_path: Path) -> Path:
    project = _copy_project(tmp_path / "project")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", "dist"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    (wheel,) = (project / "dist").glob("hnas-*.whl")
    return wheel


def test_the_wheel_carries_set5_and_set14(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    names = set(zipfile.ZipFile(_wheel(tmp_path)).namelist())
    for set_name in ("Set5", "Set14"):
        for image in (BUILTIN_DIR / set_name).glob("*.png"):
            assert f"hnas/data/builtin/{set_name}/{image.name}" in names
    assert "hnas/data/builtin/README.md" in names


@pytest.mark.slow
def test_installed_wheel_evaluates_builtin_sets_offline(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
         str(_wheel(tmp_path))],
        check=True,
        capture_output=True,
    )
    script = (
        "import hnas.data as d, json; records = d.open_images('builtin:set5'); "
        "score = d.evaluate(d.BicubicUpscaler(2), 'builtin:set5', 2)['psnr']; "
        "print(json.dumps([str(records[0].path), score]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    )
    path, value = json.loads(run.stdout)
    assert Path(path).is_relative_to(site)
    assert abs(value - 33.674) <= 0.001
