"""One truth per run: a run whose space configures a plugin op with params (a 5x5 ``plugin_conv``),
retrained at a width other than the defaults with a bicubic skip, is described alike by
``results.json``, ``hnas show``, ``hnas cost``, ``hnas train``, ``hnas compare``,
``hnas.build_model`` and ``hnas.load_model``: parameters and multiply-adds agree exactly.

Everything runs in one subprocess (the plugin's registrations must not leak into the other
tests' registries), the commands through typer's test runner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN_PATH = Path(__file__).parent / "plugin_pkg"

SPEC = (Path(__file__).parent / "specs" / "consistency.toml").read_text()

SCRIPT = r"""
import json, re, sys
from pathlib import Path

from typer.testing import CliRunner

import hnas
from hnas.cli.app import app

runner = CliRunner()


def call(*args):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def count(net):
    return sum(p.numel() for p in net.parameters())


call("run", "spec.toml", "--out", "run")
results = json.loads(Path("run/results.json").read_text())
facts = {"results.json": (results["params"], results["macs"])}

genotype = json.loads(Path("run/genotype.json").read_text())
assert genotype["op_params"] == {"normal": {"plugin_conv": {"kernel": 5}}}, genotype
# the 5x5 kernel is what was trained: the op at its default 3x3 would be smaller
default_kernel = hnas.build_model(hnas.Genotype.from_data(genotype).without_op_params(), 2, 3, "bicubic")
assert count(default_kernel) < results["params"], (count(default_kernel), results["params"])

show = call("show", "run", "--plugin", "hnas_test_plugin")
total = re.search(r"total\D*?([\d,]+)\s*\S*\s*$", show.strip().splitlines()[-2])
facts["show"] = (int(total.group(1).replace(",", "")), None)

cost = json.loads(call("cost", "run", "--input", "24x20", "--json", "--plugin", "hnas_test_plugin"))
facts["cost"] = (cost["params"], cost["macs"])
assert cost["global_skip"] == "bicubic" and cost["channels"] == 3

trained = json.loads(call("train", "run", "--data", '{ type = "plugin_gradients", params = { count = 4 } }',
                          "--iters", "1", "--batch", "1", "--patch", "16", "--out", "trained", "--json",
                          "--plugin", "hnas_test_plugin"))
facts["train"] = (trained["parameters"], None)
from_file = json.loads(call("train", "run/genotype.json", "--scale", "2", "--channels", "3", "--global-skip",
                            "bicubic", "--data", '{ type = "plugin_gradients", params = { count = 4 } }',
                            "--iters", "1", "--batch", "1", "--patch", "16", "--out", "from-file", "--json"))
facts["train genotype.json"] = (from_file["parameters"], None)

compared = json.loads(call("compare", "run", "--data", '{ type = "plugin_gradients", params = { count = 4 } }',
                           "--eval", "builtin:set5", "--iters", "1", "--seeds", "1", "--batch", "1", "--patch", "16",
                           "--channels", "3", "--global-skip", "bicubic", "--cost-input", "24x20",
                           "--latency-input", "8x8", "--out", "compared", "--json"))
facts["compare"] = (compared["members"][0]["params"], compared["members"][0]["macs"])

facts["build_model"] = (count(hnas.build_model("run")), None)
loaded = hnas.load_model("run")
facts["load_model"] = (count(loaded), None)
assert loaded.global_skip == "bicubic" and loaded.channels == 3
facts["trained folder"] = (count(hnas.load_model("trained")), None)
print(json.dumps(facts))
"""


def test_show_cost_train_compare_and_results_agree_on_a_plugin_op_run(tmp_path: Path) -> None:
    (tmp_path / "spec.toml").write_text(SPEC)
    (tmp_path / "check.py").write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(PLUGIN_PATH), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run([sys.executable, "check.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    params, macs = facts["results.json"]
    for command, (their_params, their_macs) in facts.items():
        assert their_params == params, (command, facts)
        assert their_macs in (None, macs), (command, facts)
