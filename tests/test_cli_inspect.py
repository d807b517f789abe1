"""`hnas list` and `hnas show`, as a user runs them."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from hnas import Genotype, resolve_genotype
from hnas.cli import app

runner = CliRunner()


def test_list_ops_json():
    result = runner.invoke(app, ["list", "ops", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)[:2] == ["skip_connect", "sep_conv_3x3"]


def test_list_with_pattern_and_table():
    result = runner.invoke(app, ["list", "upsampling", "--pattern", "*a*", "--json"])
    assert json.loads(result.stdout) == ["bilinear", "nearest", "area"]
    table = runner.invoke(app, ["list", "presets"])
    assert table.exit_code == 0 and "hnas-a" in table.stdout


def test_show_json_is_the_canonical_genotype():
    result = runner.invoke(app, ["show", "hnas-a", "--json"])
    assert result.exit_code == 0
    assert Genotype.model_validate_json(result.stdout) == resolve_genotype("hnas-a")


def test_show_table_has_layers_and_total():
    result = runner.invoke(app, ["show", "hnas-a", "--channels", "64"])
    assert result.exit_code == 0
    assert "974,019" in result.stdout and "upsampling" in result.stdout


def test_show_genotype_file(tmp_path):
    path = resolve_genotype("hnas-b").save(tmp_path / "b.toml")
    assert runner.invoke(app, ["show", str(path), "--json"]).exit_code == 0


def test_user_mistakes_are_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["show", "hnas-q"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "hnas-a, hnas-b, hnas-c" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"normal": [], "upsampling": [], "position": 1}')
    result = runner.invoke(app, ["show", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_python_dash_m_works_like_the_script():
    out = subprocess.run([sys.executable, "-m", "hnas", "show", "hnas-c", "--json"], capture_output=True, text=True)
    assert out.returncode == 0
    assert Genotype.model_validate_json(out.stdout) == resolve_genotype("hnas-c")


def test_help_shows_plain_value_hints_and_the_real_file_names():
    import re

    for command in ("list", "show", "cost", "train", "eval", "upscale", "export", "run", "compare", "report", "inspect"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert not re.search(r"<(list\[|int|float|str|path|bool)", result.stdout), (command, result.stdout)
    inspect = runner.invoke(app, ["inspect", "--help"]).stdout
    assert "search_state.safetensors" in inspect and "search_state.pt" not in inspect
