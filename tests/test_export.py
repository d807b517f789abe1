"""Export: TorchScript and ONNX files follow any input size and match the eager model."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app
from hnas.export import ExportError, export_onnx, export_torchscript, load_exported, max_export_error

runner = CliRunner()
ODD_SHAPES = [(1, 3, 17, 23), (2, 3, 9, 31)]

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A x3 network with every kind of upsampling op, the bicubic skip and a non-zero tail."""
    g = hnas.resolve_genotype("hnas-a")
    upsampling = [["sub_pixel", 0, 2], ["nearest", 1, 2], ["deconvolution", 0, 3], ["area", 2, 3],
                  ["bilinear", 1, 4], ["deconvolution", 3, 4], ["sub_pixel", 2, 5], ["nearest", 4, 5]]
    normal = [["rcab", 1, 2], ["up_and_down", 0, 2], *[list(e) for e in g.normal.edges[2:]]]
    genotype = hnas.Genotype.from_data({"normal": normal, "upsampling": upsampling, "position": 2, "layers": 3})
    torch.manual_seed(0)
    net = hnas.build_model(genotype, scale=3, channels=4, global_skip="bicubic")
    torch.nn.init.normal_(net.tail.weight, std=0.05)
    return hnas.save_model(net, tmp_path_factory.mktemp("export") / "model.safetensors")


def test_torchscript_matches_eager_on_odd_sizes(checkpoint: Path, tmp_path: Path) -> None:
    net = hnas.load_model(checkpoint)
    path = export_torchscript(net, tmp_path / "model.pt")
    scripted = load_exported(path, "torchscript")
    for shape in ODD_SHAPES:
        assert max_export_error(net, scripted, shape) < 1e-3, shape  # absolute, on the 0..255 scale
    extra = {"hnas.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notice
        torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["hnas.json"])["scale"] == "3"


def test_onnx_export_from_the_command_line_has_dynamic_sizes(checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", str(checkpoint), "--format", "onnx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "max |export - eager|" in result.stderr
    net = hnas.load_model(checkpoint)
    session = load_exported(out, "onnx")
    for shape in ODD_SHAPES:  # two odd sizes and two batch sizes on one exported graph
        assert session(torch.zeros(shape)).shape == (shape[0], 3, shape[2] * 3, shape[3] * 3)
        assert max_export_error(net, session, shape) < 1e-3, shape
    import onnx

    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["hnas.format"] == "hnas-model/1" and props["hnas.scale"] == "3"


def test_torchscript_from_the_command_line(checkpoint: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", str(checkpoint), "-f", "torchscript", "-o", str(tmp_path / "m.pt"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["max_abs_error"] < 1e-3


def test_missing_onnx_extra_is_a_one_line_error(checkpoint: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    with pytest.raises(ExportError, match=r"pip install 'hnas\[onnx\]'"):
        export_onnx(hnas.load_model(checkpoint), tmp_path / "m.onnx")
    result = runner.invoke(app, ["export", str(checkpoint), "-f", "onnx", "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "m.onnx").exists()
