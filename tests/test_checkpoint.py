"""Checkpoints: a model file rebuilds its own network, and loads strictly or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import hnas
from hnas.checkpoint import MODEL_FORMAT, load_weights, read_metadata, save_model
from hnas.engine.state import State, load_state, module_tensors, pack_optimizer, save_state, unpack_optimizer
from hnas.errors import CheckpointError

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


def small(name: str = "hnas-a", scale: int = 2, channels: int = 4, **kw: object) -> hnas.HNASNet:
    """A preset's cells in a 3-layer network: the real ops, a fraction of the time."""
    g = hnas.resolve_genotype(name)
    genotype = hnas.Genotype(normal=g.normal, upsampling=g.upsampling, position=2, layers=3)
    return hnas.build_model(genotype, scale=scale, channels=channels, **kw)  # type: ignore[arg-type]


def rewrite(path: Path, target: Path, tensors: dict | None = None, **meta: str) -> Path:
    """Copy a model file with some tensors and header entries replaced."""
    with safe_open(str(path), framework="pt") as fh:
        header = dict(fh.metadata())
        data = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    header.update(meta)
    header.pop("content_sha256")  # a file crafted by hand, not a damaged hnas file
    save_file(tensors if tensors is not None else data, str(target), metadata=header)
    return target


def test_round_trip_rebuilds_the_network(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = small(scale=3, global_skip="bicubic")
    path = hnas.save_model(net, tmp_path / "net.safetensors", extra_metadata={"note": "hi", "step": 7})
    loaded = hnas.load_model(path)
    assert loaded.config() == net.config()
    assert not loaded.training
    x = torch.rand(1, 3, 9, 11) * 255
    assert torch.equal(loaded(x), net.eval()(x))
    meta = read_metadata(path)
    assert meta["format"] == MODEL_FORMAT
    assert meta["genotype"] == net.genotype.canonical_json()
    assert (meta["scale"], meta["channels"], meta["global_skip"]) == ("3", "4", "bicubic")
    assert meta["hnas_version"] == hnas.__version__
    assert meta["note"] == "hi" and json.loads(meta["step"]) == 7


def test_a_run_folder_loads_its_model_file(tmp_path: Path) -> None:
    net = small()
    save_model(net, tmp_path)  # a folder gets model.safetensors
    assert (tmp_path / "model.safetensors").is_file()
    assert hnas.load_model(tmp_path).config() == net.config()


def test_reserved_metadata_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        save_model(small(), tmp_path / "x.safetensors", extra_metadata={"scale": "4"})


def test_a_different_genotype_in_the_metadata_is_refused_naming_tensors(tmp_path: Path) -> None:
    path = save_model(small("hnas-a"), tmp_path / "a.safetensors")
    other = small("hnas-b").genotype.canonical_json()
    bad = rewrite(path, tmp_path / "bad.safetensors", genotype=other)
    with pytest.raises(CheckpointError) as info:
        hnas.load_model(bad)
    message = str(info.value)
    assert "\n" not in message and str(bad) in message
    assert "missing" in message and "unexpected" in message and "cells." in message


def test_a_missing_tensor_is_named(tmp_path: Path) -> None:
    net = small()
    path = save_model(net, tmp_path / "a.safetensors")
    tensors = {k: v.contiguous() for k, v in net.state_dict().items() if k != "tail.bias"}
    bad = rewrite(path, tmp_path / "bad.safetensors", tensors=tensors)
    with pytest.raises(CheckpointError, match=r"missing 1 tensor\(s\): tail\.bias"):
        hnas.load_model(bad)


def test_a_shape_mismatch_is_named(tmp_path: Path) -> None:
    path = save_model(small(channels=4), tmp_path / "a.safetensors")
    bad = rewrite(path, tmp_path / "bad.safetensors", channels="8")
    with pytest.raises(CheckpointError, match=r"shape mismatch.*stem\.weight \(16, 3, 3, 3\) vs model \(32, 3, 3, 3\)"):
        hnas.load_model(bad)


def test_loading_into_an_existing_model_is_strict(tmp_path: Path) -> None:
    path = save_model(small(channels=4), tmp_path / "a.safetensors")
    load_weights(small(channels=4), path)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_weights(small(channels=8), path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_files_name_the_file(tmp_path: Path, damage: str) -> None:
    path = save_model(small(), tmp_path / "a.safetensors")
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00not a model" * 9, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=str(path)) as info:
        hnas.load_model(path)
    assert "\n" not in str(info.value)


def test_files_without_hnas_metadata_or_missing_files_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="no hnas metadata"):
        hnas.load_model(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        hnas.load_model(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="without model.safetensors"):
        hnas.load_model(tmp_path)


def test_resume_state_round_trips_without_pickle(tmp_path: Path) -> None:
    net = small()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.rand(2, 3, 8, 8) * 255).mean().backward()
    opt.step()
    state = State({"model": module_tensors(net)}, {"step": 1, "note": (1, 2)})
    pack_optimizer(state, "optim", opt)
    path = save_state(tmp_path / "resume.safetensors", state)
    with safe_open(str(path), framework="pt") as fh:  # a plain safetensors file: tensors + JSON header
        assert fh.metadata()["format"] == "hnas-resume/2"
    loaded = load_state(path)
    assert {k: loaded.info[k] for k in ("step", "note")} == {"step": 1, "note": [1, 2]}
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in loaded.group("model").items())
    fresh = torch.optim.Adam(small().parameters(), lr=1e-3)
    unpack_optimizer(loaded, "optim", fresh)
    saved, restored = opt.state_dict()["state"], fresh.state_dict()["state"]
    assert saved.keys() == restored.keys()
    for index, values in saved.items():
        assert all(torch.equal(values[n], restored[index][n]) for n in values), index
    assert fresh.param_groups[0]["betas"] == opt.param_groups[0]["betas"]
    path.write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="resume"):
        load_state(path)


def test_the_architecture_also_travels_inside_the_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from hnas.checkpoint import CONFIG_TENSOR, RESERVED_KEYS, config_from_tensor, model_from_metadata

    torch.manual_seed(0)
    net = small(scale=3, global_skip="bicubic").eval()
    path = save_model(net, tmp_path / "net.safetensors", extra_metadata={"note": "hi"})
    tensors = load_file(str(path))  # what a loader that drops the header sees
    meta = config_from_tensor(tensors.pop(CONFIG_TENSOR))
    # every reserved key but the checksum, which covers the tensor and so cannot be inside it
    assert meta == {k: v for k, v in read_metadata(path).items() if k in RESERVED_KEYS and k != "content_sha256"}
    rebuilt = model_from_metadata(meta).eval()
    rebuilt.load_state_dict(tensors, strict=True)
    x = torch.rand(1, 3, 9, 11) * 255
    assert torch.equal(rebuilt(x), net(x))
    load_weights(small(scale=3, global_skip="bicubic"), path)  # the tensor is not a weight
    with pytest.raises(CheckpointError, match=CONFIG_TENSOR):
        config_from_tensor(torch.tensor(list(b"not json"), dtype=torch.uint8))
    with pytest.raises(CheckpointError, match="format"):
        config_from_tensor(torch.tensor(list(b'{"format": "other/1"}'), dtype=torch.uint8))
def test_a_header_claiming_a_huge_network_is_refused_before_allocating_it(tmp_path: Path) -> None:
    """Found by tests/test_hostile_files.py: ``channels = 100000`` in a crafted header made
    load_model allocate the described network (tens of GB) before the shapes were compared; it is
    now compared on the meta device first."""
    path = save_model(small(), tmp_path / "a.safetensors")
    for channels in ("100000", "2147483648"):
        bad = rewrite(path, tmp_path / "bad.safetensors", channels=channels)
        with pytest.raises(CheckpointError) as info:
            hnas.load_model(bad)
        assert "\n" not in str(info.value) and str(bad) in str(info.value)
    bad = rewrite(path, tmp_path / "bad.safetensors", channels="9223372036854775808")  # torch's overflow: a C++ trace
    with pytest.raises(CheckpointError) as info:
        hnas.load_model(bad)
    assert "\n" not in str(info.value)
