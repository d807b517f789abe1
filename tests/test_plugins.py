"""A plugin package registers one of each kind (op, upsampling op, cell, controller, reward, cost,
data source), and one spec uses them all: search -> retrain -> evaluate -> load_model -> export.

Run in subprocesses (one thread, a timeout) so the plugin's registrations never leak into the
other tests' registries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_PATH = Path(__file__).parent / "plugin_pkg"

SPEC = (Path(__file__).parent / "specs" / "plugins.toml").read_text()


def hnas(*args: str, cwd: Path, plugin_path: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if plugin_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PLUGIN_PATH), env.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-m", "hnas", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_one_spec_uses_a_plugin_of_every_kind_end_to_end(tmp_path: Path) -> None:
    spec = tmp_path / "plugins.toml"
    spec.write_text(SPEC)
    run = hnas("run", str(spec), "--out", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    genotype = results["genotype"]
    assert genotype["normal_cell"] == "plugin_residual" and genotype["position"] == 3  # the plugin controller
    assert {op for op, _, _ in genotype["normal"]} <= {"skip_connect", "plugin_conv"}
    archive = [json.loads(line) for line in (tmp_path / "run" / "archive.jsonl").read_text().splitlines()]
    assert all(r["reward"] == pytest.approx(r["psnr"] + 1.0, abs=1e-5) for r in archive)  # the plugin reward
    assert all(r["cost"] == float(int(r["cost"])) for r in archive)  # edges counted by the plugin cost
    assert set(results["evaluation"]) == {"Set5"}

    model = str(tmp_path / "run" / "model.safetensors")
    # a model file never imports code by itself: without the plugin, one line names the module to pass
    missing = hnas("eval", model, "--data", "builtin:set5", cwd=tmp_path, plugin_path=False)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "--plugin hnas_test_plugin" in missing.stderr
    loaded = hnas("eval", model, "--data", "builtin:set5", "--plugin", "hnas_test_plugin", "--json", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["Set5"]["psnr"] == pytest.approx(results["evaluation"]["Set5"]["psnr"], abs=1e-4)
    exported = hnas("export", model, "--format", "torchscript", "--out", "model.pt", "--plugin", "hnas_test_plugin",
                    cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "model.pt").is_file()



def test_a_plugin_strategy_and_loss_run_from_a_spec(tmp_path: Path) -> None:
    """A strategy is one class on the ask/tell seam, a loss one module: a spec line each."""
    spec = tmp_path / "strategy.toml"
    spec.write_text(SPEC.replace("[search]", '[strategy]\ntype = "plugin_cheapest_first"\nparams = { pool = 2, steps = 2 }\n'
                                "budget_steps = 4\n\n[search]")
                    .replace("val_every = 1", 'val_every = 1\nloss = { type = "plugin_weighted_l1", params = { weight = 2.0 } }'))
    run = hnas("run", str(spec), "--out", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in (tmp_path / "run" / "strategy.jsonl").read_text().splitlines()]
    assert [line["steps"] for line in lines] == [2, 2] and lines[0]["macs"] <= lines[1]["macs"]  # cheapest first
    plan = json.loads((tmp_path / "run" / "strategy.json").read_text())
    assert plan["type"] == "plugin_cheapest_first"
    identity = json.loads((tmp_path / "run" / "retrain" / "train.json").read_text())
    assert identity["loss"] == {"type": "plugin_weighted_l1", "params": {"weight": 2.0}}

MYOPS = '''
from torch import nn
from hnas.registry import NORMAL_OPS


@NORMAL_OPS.register("my_wide_conv")
class MyWideConv(nn.Conv2d):
    def __init__(self, channels, kernel=3, **kw):
        super().__init__(channels, channels, kernel, padding=kernel // 2)
'''

SAVE = '''
import sys
import hnas
from hnas.search.spec_loader import load_spec

spec = load_spec(sys.argv[1])  # plugins = ["myops"]: found beside the spec, not on sys.path
genotype = hnas.Genotype.from_data({"normal": [["my_wide_conv", 0, 2], ["my_wide_conv", 1, 2]],
                                    "upsampling": [["nearest", 0, 2], ["nearest", 1, 2]], "position": 1, "layers": 2,
                                    "op_params": spec.space.op_params()})
hnas.save_model(hnas.build_model(genotype, channels=2), "model.safetensors")
'''

LOAD = '''
import hnas
from hnas.errors import HnasError

try:
    hnas.load_model("model.safetensors")
except HnasError as exc:
    print("error:", exc)
net = hnas.load_model("model.safetensors", plugins=["./specs/myops.py"])
plain = hnas.build_model(net.genotype.without_op_params(), channels=2)
print(sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in plain.parameters()))
'''


def test_a_plugin_is_a_file_or_a_module_beside_the_spec_or_in_the_current_folder(tmp_path: Path) -> None:
    """As the installed ``hnas`` script runs (``python -P``: the current folder is not on sys.path)."""
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "myops.py").write_text(MYOPS)
    (specs / "s.toml").write_text('plugins = ["myops"]\n[space]\nlayers = 2\nnodes = 1\n'
                                  'normal_ops = [{ type = "my_wide_conv", params = { kernel = 5 } }]\n'
                                  'upsampling_ops = ["nearest"]\n')
    (tmp_path / "save.py").write_text(SAVE)
    (tmp_path / "load.py").write_text(LOAD)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def python(*args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-P", *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300)

    by_file = python("-m", "hnas", "list", "ops", "--plugin", "specs/myops.py", "--pattern", "my_*", "--json")
    assert by_file.returncode == 0 and json.loads(by_file.stdout) == ["my_wide_conv"], by_file.stderr
    here = python("-m", "hnas", "list", "ops", "--plugin", "myops", "--pattern", "my_*", "--json", cwd=specs)
    assert here.returncode == 0 and json.loads(here.stdout) == ["my_wide_conv"], here.stderr
    missing = python("-m", "hnas", "list", "ops", "--plugin", "myops")
    assert missing.returncode == 2 and "--plugin ./myops.py" in missing.stderr

    saved = python("save.py", "specs/s.toml")
    assert saved.returncode == 0, saved.stderr
    loaded = python("load.py")
    assert loaded.returncode == 0, loaded.stderr
    error, extra = loaded.stdout.splitlines()
    # a Python caller is told what a Python caller can pass
    assert "plugins=['myops']" in error and "--plugin" not in error
    assert int(extra) == 2 * 2 * 2 * (25 - 9)  # the kernel 5 travelled: two 2->2 convolutions, 5x5 not 3x3
