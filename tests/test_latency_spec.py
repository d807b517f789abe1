"""examples/cpu-hour-latency.toml: the latency-priced spec validates, refuses a missing table in one
line, and a scaled-down copy of it runs end to end with a tiny table priced by ``latency_table``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hnas.cli import app
from hnas.costs.latency_table import TableConditions, Timer, build_table, write_table
from hnas.search.spec import Spec
from hnas.search.spec_loader import load_spec
from hnas.utils.compat import tomllib

EXAMPLE = Path(__file__).parents[1] / "examples" / "cpu-hour-latency.toml"
runner = CliRunner()


def _example() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


def test_the_example_validates_and_uses_the_extended_op_set():
    data = _example()
    spec = Spec.model_validate(data)  # every section and key (the table itself is checked when it exists)
    assert spec.cost.type == "latency_table" and spec.cost.params["threads"] == 2
    assert {"conv_3x3", "res_block"} <= set(spec.space.resolved_normal_ops())
    assert spec.cost.input == (120, 120) and spec.space.channels == 16


def test_a_missing_table_is_one_line(tmp_path):
    result = runner.invoke(app, ["run", str(EXAMPLE), "--out", str(tmp_path / "run"),
                                 "--set", f"cost.params.table={json.dumps(str(tmp_path / 'none.json'))}"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0] and "hnas latency build" in lines[0]
    assert not (tmp_path / "run").exists()


def test_a_scaled_down_copy_runs_end_to_end(tmp_path, small_images):
    ops = tuple(_example()["space"]["normal_ops"])
    conditions = TableConditions(input=(8, 8), channels=2, nodes=2, threads=2, normal_ops=ops,
                                 upsampling_ops=("sub_pixel", "deconvolution", "bilinear", "nearest", "area"))
    timer = Timer(threads=2, budget_s=0.001, min_repeats=2, max_repeats=5, warmup=1)
    table = write_table(build_table(conditions, calibration_cells=1, calibration_networks=1, calibration_layers=2,
                                    timer=timer), tmp_path / "table.json")
    tiny = [
        f"cost.params.table={json.dumps(str(table))}", "cost.input=[8, 8]",
        "space.layers=2", "space.nodes=2", "space.channels=2", f"data.source={json.dumps(str(small_images))}",
        "data.w_split=[1, 3]", "data.theta_split=[4, 5]", "data.patch=16", "data.batch=2", "data.score_patches=4",
        "data.score_patch=16", "controller.params={population = 2, sample_size = 2}", "search.epochs=2",
        "search.warmup_epochs=1", "search.w_steps=2", "search.controller_steps=1", "search.derive_samples=1",
        "retrain.channels=2", "retrain.minutes=0.02", "retrain.iters=3", "retrain.batch=2", "retrain.patch=16",
        "retrain.val_data=\"builtin:set5\"", "retrain.val_every=2", "evaluate.data=[\"builtin:set5\"]",
    ]
    spec = load_spec(EXAMPLE, tiny)
    assert spec.cost.type == "latency_table"
    args = ["run", str(EXAMPLE), "--out", str(tmp_path / "run")]
    for item in tiny:
        args += ["--set", item]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    archive = [json.loads(line) for line in (tmp_path / "run" / "archive.jsonl").read_text().splitlines()]
    costs = [r["cost"] for r in archive if r["stage"] == "search"]
    assert costs and all(0 < c < 1e4 for c in costs)  # milliseconds from the table, not MACs
    assert (tmp_path / "run" / "results.json").is_file()


def test_the_latency_priced_strategy_draws_within_a_band_of_predicted_ms(tmp_path, small_images):
    """examples/strategy-latency.toml, scaled down: successive halving draws only networks whose
    predicted latency is in the band (milliseconds, band_by = "cost") and retrains its pick."""
    example = EXAMPLE.with_name("strategy-latency.toml")
    data = tomllib.loads(example.read_text())
    assert data["strategy"]["band_by"] == "cost" and data["cost"]["type"] == "latency_table"
    conditions = TableConditions(input=(8, 8), channels=2, nodes=2, threads=1, normal_ops=tuple(data["space"]["normal_ops"]),
                                 upsampling_ops=("sub_pixel", "deconvolution", "bilinear", "nearest", "area"))
    timer = Timer(threads=1, budget_s=0.001, min_repeats=2, max_repeats=5, warmup=1)
    table = write_table(build_table(conditions, calibration_cells=1, calibration_networks=1, calibration_layers=2,
                                    timer=timer), tmp_path / "table.json")
    tiny = [f"cost.params.table={json.dumps(str(table))}", "cost.input=[8, 8]", "space.layers=2", "space.nodes=2",
            "space.channels=2", f"data.source={json.dumps(str(small_images))}", "data.w_split=[1, 3]",
            "data.theta_split=[4, 5]", "data.score_patches=4", "data.score_patch=16", "search.proxy.batch=2",
            "search.proxy.patch=16", "strategy.params={min_steps = 1, eta = 2, rungs = 2}", "strategy.budget_steps=8",
            "retrain.channels=2", "retrain.iters=2", "retrain.batch=2", "retrain.patch=16", "retrain.val_every=2",
            "evaluate.data=[\"builtin:set5\"]"]
    everything = load_spec(example, [*tiny, "strategy.band=[1e-6, 1e6]"])
    from hnas.search.components import build_components, build_strategy

    parts = build_components(everything)
    ms = sorted(parts.cost(g, parts.cost_settings) for g in build_strategy(everything, parts).members)
    band = [ms[0], ms[len(ms) // 2]]
    args = ["run", str(example), "--out", str(tmp_path / "run")]
    for item in [*tiny, f"strategy.band={band}"]:
        args += ["--set", item]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "run" / "strategy.jsonl").read_text().splitlines()]
    # predicted ms within the band (the log rounds to 6 decimals)
    assert lines and all(band[0] - 1e-6 <= r["cost"] <= band[1] + 1e-6 for r in lines)
    assert (tmp_path / "run" / "results.json").is_file()
