"""`hnas cost`, as a user runs it."""

import json

import pytest
from typer.testing import CliRunner

from hnas import resolve_genotype
from hnas.cli import app
from hnas.costs import cost_of

runner = CliRunner()

JSON_KEYS = ["macs", "params", "paper_gflops", "latency_ms", "input", "scale", "channels", "global_skip",
             "macs_by_kind", "genotype_hash"]


def test_json_shape_and_values():
    result = runner.invoke(app, ["cost", "hnas-a", "--channels", "8", "--input", "48x32", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == JSON_KEYS
    assert isinstance(data["macs"], int) and isinstance(data["params"], int)
    assert isinstance(data["paper_gflops"], float)
    assert data["latency_ms"] is None
    assert (data["input"], data["scale"], data["channels"]) == ([48, 32], 2, 8)
    assert data["macs"] == cost_of("macs", "hnas-a", channels=8, input=(48, 32))
    assert data["params"] == cost_of("params", "hnas-a", channels=8)
    assert sum(data["macs_by_kind"].values()) == data["macs"]  # the split the table shows


def test_table_ii_numbers_by_default():
    result = runner.invoke(app, ["cost", "hnas-b", "--json"])
    data = json.loads(result.stdout)
    assert data["input"] == [480, 480] and data["channels"] == 64
    assert round(data["paper_gflops"], 1) == 48.2
    assert data["macs"] == 491_116_983_168


def test_genotype_file_and_latency(tmp_path):
    path = resolve_genotype("hnas-c").save(tmp_path / "c.toml")
    args = ["cost", str(path), "--scale", "3", "--channels", "4", "--input", "8", "--latency",
            "--device", "cpu", "--repeats", "2", "--threads", "1", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["latency_ms"] > 0 and data["input"] == [8, 8] and data["scale"] == 3


def test_table_output():
    result = runner.invoke(app, ["cost", "hnas-a"])
    assert result.exit_code == 0
    assert "358,023,168,000" in result.stdout and "30.6" in result.stdout and "974,019" in result.stdout


@pytest.mark.parametrize("size", ["48xx", "0x48", "big"])
def test_bad_input_is_one_line_and_exit_2(size):
    result = runner.invoke(app, ["cost", "hnas-a", "--input", size])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: input size") and "Traceback" not in result.stderr


def test_unknown_model_is_one_line():
    result = runner.invoke(app, ["cost", "hnas-z"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_the_scale_range_is_every_command_s():
    result = runner.invoke(app, ["cost", "hnas-a", "--scale", "9", "--json"])
    assert result.exit_code == 2 and "--scale" in result.output
