"""The per-op latency table (``hnas latency build``, ``[cost] type = "latency_table"``): a tiny build
and prediction, the file it writes, and the one-line refusals of a table that cannot be used."""

from __future__ import annotations

import builtins
import json
import math

import pytest
import torch
from typer.testing import CliRunner

from hnas.cli import app
from hnas.costs import clear_cost_cache, get_cost
from hnas.costs.latency_table import (
    LatencyTableError,
    TableConditions,
    Timer,
    build_table,
    load_table,
    measure_network,
    network_terms,
    predict_latency,
    write_table,
)
from hnas.errors import HnasError
from hnas.spaces.genotype import Genotype

runner = CliRunner()

NORMAL = ("skip_connect", "sep_conv_3x3", "conv_3x3")
UPSAMPLING = ("sub_pixel", "nearest")
CONDITIONS = TableConditions(input=(8, 8), channels=2, nodes=2, threads=1, clock="cpu", normal_ops=NORMAL,
                             upsampling_ops=UPSAMPLING)


def _genotype(normal: str = "conv_3x3", up: str = "sub_pixel", position: int = 2, layers: int = 3) -> Genotype:
    return Genotype.model_validate({
        "normal": [[normal, 1, 2], ["skip_connect", 0, 2], ["sep_conv_3x3", 2, 3], [normal, 1, 3]],
        "upsampling": [[up, 0, 2], ["nearest", 1, 2], [up, 2, 3], ["nearest", 0, 3]],
        "position": position, "layers": layers,
    })


@pytest.fixture(scope="module")
def table():
    timer = Timer(threads=1, budget_s=0.002, min_repeats=3, max_repeats=20, clock="cpu", warmup=1)
    return build_table(CONDITIONS, calibration_cells=2, calibration_networks=2, calibration_layers=3, timer=timer)


@pytest.fixture()
def table_file(table, tmp_path):
    return write_table(table, tmp_path / "table.json")


def test_build_records_conditions_and_every_piece(table):
    assert table.conditions == CONDITIONS
    env = table.environment
    assert env["torch"] and env["device_name"] and env["created"]
    # Every op at the LR (8x8) and HR (16x16) size, upsampling ops at x2 on LR and x1 on HR.
    for op in NORMAL:
        assert f"normal/{op}/2@8x8" in table.forward and f"normal/{op}/2@16x16" in table.forward
    for op in UPSAMPLING:
        assert f"upsampling/{op}/x2/2@8x8" in table.forward and f"upsampling/{op}/x1/2@16x16" in table.forward
    assert all(value >= 0 and math.isfinite(value) for value in table.forward.values())
    assert set(table.forward_overhead) == {"normal_lr", "normal_hr", "upsampling"}
    assert all(len(values) == 2 for values in table.calibration.values())


def test_prediction_is_the_sum_of_its_terms(table):
    genotype = _genotype()
    breakdown: dict[str, float] = {}
    predicted = predict_latency(table, genotype, breakdown=breakdown)
    expected = 0.0
    for key, times in network_terms(genotype, table.conditions):
        value = table.forward_overhead[key[9:]] if key.startswith("overhead/") else table.forward[key]
        expected += value * times
    assert predicted == pytest.approx(expected * table.forward_factor)
    assert sum(breakdown.values()) == pytest.approx(expected)
    assert table.forward_factor > 0 and len(table.calibration["forward/network_ratio"]) == 2
    # Three layers: one normal cell on LR, the upsampling cell, one normal cell on HR.
    assert breakdown["overhead"] == pytest.approx(sum(table.forward_overhead.values()))
    # A bicubic skip adds its own piece.
    assert predict_latency(table, genotype, "bicubic") > predicted


def test_prediction_tracks_the_measured_network(table):
    """Smoke check of the model itself: conv-heavy networks are predicted slower than skip-heavy ones,
    and a prediction is within a factor 3 of the thread's measured CPU time (tiny tensors, so the
    per-op overheads dominate both)."""
    light, heavy = _genotype("skip_connect", "nearest"), _genotype("conv_3x3", "sub_pixel", layers=5)
    assert predict_latency(table, heavy) > predict_latency(table, light)
    timer = Timer(threads=1, budget_s=0.01, min_repeats=5, clock="cpu")
    measured = measure_network(heavy, CONDITIONS, timer=timer)
    assert 1 / 3 < predict_latency(table, heavy) / measured < 3


def test_cost_prices_like_the_prediction(table, table_file):
    clear_cost_cache()
    cost = get_cost("latency_table", table=str(table_file))
    genotype = _genotype()
    value = cost(genotype, input=(8, 8), channels=2)
    assert value == pytest.approx(predict_latency(load_table(table_file), genotype))
    assert cost.unit == "ms"
    # The joint reward's default scale: the macs normaliser at conv_3x3's rate on this device.
    ms_per_mac = table.forward["normal/conv_3x3/2@8x8"] / (2 * 2 * 9 * 8 * 8)
    from hnas.costs import CostSettings, macs_normaliser

    settings = CostSettings.make(input=(8, 8), channels=2)
    assert cost.reward_normaliser(settings) == pytest.approx(macs_normaliser((8, 8)) * ms_per_mac)


@pytest.mark.parametrize(("asked", "named"), [
    ({"threads": 2}, "threads 1, but 2"),
    ({"backend": "onnxruntime"}, "backend eager, but onnxruntime"),
    ({"device": "cuda"}, "device cpu, but cuda"),
])
def test_table_built_otherwise_is_refused(table_file, asked, named):
    with pytest.raises(LatencyTableError, match=named):
        get_cost("latency_table", table=str(table_file), **asked)


@pytest.mark.parametrize(("settings", "named"), [
    ({"input": (16, 16), "channels": 2}, "input 8x8, but 16x16"),
    ({"input": (8, 8), "channels": 4}, "channels 2, but 4"),
    ({"input": (8, 8), "channels": 2, "scale": 3}, "scale 2, but 3"),
])
def test_settings_other_than_the_table_are_refused(table_file, settings, named):
    cost = get_cost("latency_table", table=str(table_file))
    with pytest.raises(LatencyTableError, match=named):
        cost(_genotype(), cache=False, **settings)


def test_op_or_nodes_not_in_table_are_refused(table_file):
    cost = get_cost("latency_table", table=str(table_file))
    with pytest.raises(LatencyTableError, match="no normal op 'rcab'"):
        cost(_genotype("rcab"), input=(8, 8), channels=2, cache=False)
    with pytest.raises(LatencyTableError, match="2 nodes per cell"):
        cost("hnas-a", input=(8, 8), channels=2, cache=False)


def test_missing_or_corrupt_table(tmp_path, table_file):
    with pytest.raises(LatencyTableError, match="does not exist"):
        load_table(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LatencyTableError, match="not readable JSON"):
        load_table(bad)
    data = json.loads(table_file.read_text())
    data["format"] = 0
    bad.write_text(json.dumps(data))
    with pytest.raises(LatencyTableError, match="has format 0"):
        load_table(bad)
    data = json.loads(table_file.read_text())
    data["forward"] = {"normal/conv_3x3/2@8x8": "fast"}
    bad.write_text(json.dumps(data))
    with pytest.raises(LatencyTableError, match="corrupt at forward"):
        load_table(bad)


def test_train_mode_needs_a_train_table(table_file):
    with pytest.raises(LatencyTableError, match="--train"):
        get_cost("latency_table", table=str(table_file), mode="train")


def test_train_table_prices_forward_and_backward():
    conditions = CONDITIONS.model_copy(update={"train": True, "normal_ops": ("conv_3x3",),
                                               "upsampling_ops": ("sub_pixel",)})
    timer = Timer(threads=1, budget_s=0.002, min_repeats=3, max_repeats=10, clock="cpu", warmup=1)
    table = build_table(conditions, calibration_cells=1, calibration_networks=1, calibration_layers=2, timer=timer)
    genotype = Genotype.model_validate({"normal": [["conv_3x3", 0, 2], ["conv_3x3", 1, 2], ["conv_3x3", 2, 3],
                                                   ["conv_3x3", 1, 3]],
                                        "upsampling": [["sub_pixel", 0, 2], ["sub_pixel", 1, 2], ["sub_pixel", 2, 3],
                                                       ["sub_pixel", 0, 3]], "position": 2, "layers": 3})
    assert predict_latency(table, genotype, mode="train") > 0
    assert set(table.train) == set(table.forward) and table.train_factor > 0


class _Recording(torch.nn.Module):
    """Passes through, noting the batch and whether bf16 autocast was on for every call."""

    def __init__(self, inner: torch.nn.Module, seen: list[tuple[int, bool]]) -> None:
        super().__init__()
        self.inner, self.seen = inner, seen

    def forward(self, *xs):
        self.seen.append((xs[0].shape[0], torch.is_autocast_enabled("cpu")))
        return self.inner(*xs)


class _RecordingTimer(Timer):
    def __init__(self, seen, **kwargs):
        super().__init__(threads=1, budget_s=0.001, min_repeats=2, max_repeats=4, clock="cpu", warmup=1, **kwargs)
        self.seen = seen

    def time(self, module, inputs, train=False):
        return super().time(_Recording(module, self.seen), inputs, train=train)


def test_training_batch_table_times_the_batch_in_its_precision(tmp_path):
    """A table for the retraining's step: every piece and calibration network is timed on the batch,
    under bf16 autocast; a cost that asks for another batch or precision is refused."""
    conditions = CONDITIONS.model_copy(update={"train": True, "batch": 3, "precision": "bf16"})
    seen: list[tuple[int, bool]] = []
    table = build_table(conditions, calibration_cells=1, calibration_networks=1, calibration_layers=2,
                        timer=_RecordingTimer(seen, precision="bf16"))
    assert seen and set(seen) == {(3, True)}
    path = write_table(table, tmp_path / "t.json")
    assert load_table(path).conditions.batch == 3 and "3 x 8x8 LR input, bf16" in table.describe()
    cost = get_cost("latency_table", table=str(path), mode="train", batch=3, precision="bf16")
    assert cost(_genotype(), input=(8, 8), channels=2, cache=False) > 0
    with pytest.raises(LatencyTableError, match="batch 3, but 16"):
        get_cost("latency_table", table=str(path), batch=16)
    with pytest.raises(LatencyTableError, match="precision bf16, but fp32"):
        get_cost("latency_table", table=str(path), precision="fp32")
    seen.clear()
    measure_network(_genotype(), conditions, timer=_RecordingTimer(seen))
    assert set(seen) == {(3, False)}  # the caller's timer decides the arithmetic; the batch is the table's


def test_table_from_before_batch_and_precision_is_one_fp32_image(table_file):
    data = json.loads(table_file.read_text())
    for key in ("batch", "precision"):
        del data["conditions"][key]
    table_file.write_text(json.dumps(data))
    conditions = load_table(table_file).conditions
    assert (conditions.batch, conditions.precision) == (1, "fp32")


def test_bf16_is_timed_in_eager_only():
    with pytest.raises(LatencyTableError, match="--backend eager with --precision bf16"):
        Timer(backend="onnxruntime", precision="bf16")
    with pytest.raises(LatencyTableError, match="unknown latency precision 'fp8'"):
        Timer(precision="fp8")


# ---------------------------------------------------------------------------------------------- CLI


def _one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_cli_build_and_cost(tmp_path):
    out = tmp_path / "t.json"
    result = runner.invoke(app, ["latency", "build", "--input", "8x8", "--channels", "2", "--nodes", "2",
                                 "--normal-ops", "skip_connect,conv_3x3", "--upsampling-ops", "nearest",
                                 "--calibration-cells", "1", "--calibration-networks", "1", "--calibration-layers",
                                 "2", "--time-per-piece", "0.001", "--clock", "cpu",
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["conditions"]["input"] == [8, 8] and summary["conditions"]["clock"] == "cpu"
    assert load_table(out).conditions.normal_ops == ("skip_connect", "conv_3x3")
    genotype = Genotype.model_validate({"normal": [["conv_3x3", 0, 2], ["skip_connect", 1, 2],
                                                   ["conv_3x3", 2, 3], ["skip_connect", 0, 3]],
                                        "upsampling": [["nearest", 0, 2], ["nearest", 1, 2], ["nearest", 2, 3],
                                                       ["nearest", 1, 3]], "position": 2, "layers": 2})
    path = genotype.save(tmp_path / "g.json")
    result = runner.invoke(app, ["cost", str(path), "--latency-table", str(out), "--latency", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["predicted_latency_ms"] > 0 and data["latency_ms"] > 0
    assert data["input"] == [8, 8] and data["channels"] == 2  # taken from the table
    # Human-readable form shows both.
    result = runner.invoke(app, ["cost", str(path), "--latency-table", str(out)])
    assert result.exit_code == 0 and "predicted" in result.stdout
    _one_line_error(runner.invoke(app, ["cost", str(path), "--latency-table", str(out), "--threads", "2"]),
                    "threads 1, but 2")
    _one_line_error(runner.invoke(app, ["cost", str(path), "--latency-table", str(out), "--input", "16x16"]),
                    "input 8x8, but 16x16")
    _one_line_error(runner.invoke(app, ["latency", "show", str(tmp_path / "none.json")]), "does not exist")


def test_cli_missing_and_corrupt_table(tmp_path):
    _one_line_error(runner.invoke(app, ["cost", "hnas-a", "--latency-table", str(tmp_path / "x.json")]),
                    "does not exist")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    _one_line_error(runner.invoke(app, ["cost", "hnas-a", "--latency-table", str(bad)]), "not readable JSON")


def test_cli_onnxruntime_missing_is_one_line(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError(f"No module named '{name}'", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    out = tmp_path / "t.json"
    result = runner.invoke(app, ["latency", "build", "--backend", "onnxruntime", "--input", "8x8", "--out", str(out)])
    _one_line_error(result, "onnxruntime", "hnas[onnx]")
    assert not out.exists()


def test_cli_bad_backend_is_one_line(tmp_path):
    result = runner.invoke(app, ["latency", "build", "--backend", "tvm", "--out", str(tmp_path / "t.json")])
    _one_line_error(result, "unknown latency backend 'tvm'")


@pytest.mark.parametrize(("args", "named"), [
    (["--precision", "fp16"], "unknown latency precision 'fp16'"),
    (["--precision", "bf16", "--backend", "onnxruntime"], "--backend eager with --precision bf16"),
])
def test_cli_bad_precision_is_one_line(tmp_path, args, named):
    out = tmp_path / "t.json"
    _one_line_error(runner.invoke(app, ["latency", "build", *args, "--out", str(out)]), named)
    assert not out.exists()


def test_cli_builds_a_training_batch_table(tmp_path):
    out = tmp_path / "t.json"
    result = runner.invoke(app, ["latency", "build", "--input", "8x8", "--channels", "2", "--nodes", "2",
                                 "--normal-ops", "conv_3x3", "--upsampling-ops", "nearest", "--train",
                                 "--batch", "2", "--precision", "bf16", "--calibration-cells", "1",
                                 "--calibration-networks", "0", "--time-per-piece", "0.001", "--clock", "cpu",
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    conditions = load_table(out).conditions
    assert (conditions.batch, conditions.precision, conditions.train) == (2, "bf16", True)


def test_spec_with_mismatched_table_is_refused(table_file):
    from hnas.search.spec_loader import check_spec, spec_from_dict

    data = {"space": {"channels": 2, "nodes": 2, "layers": 3, "normal_ops": list(NORMAL),
                      "upsampling_ops": list(UPSAMPLING)},
            "cost": {"type": "latency_table", "params": {"table": str(table_file)}, "input": [16, 16]}}
    with pytest.raises(HnasError, match="input 8x8, but 16x16"):
        check_spec(spec_from_dict(data))
    data["cost"]["input"] = [8, 8]
    check_spec(spec_from_dict(data))
    data["cost"]["params"]["threads"] = 4
    with pytest.raises(HnasError, match="threads 1, but 4"):
        check_spec(spec_from_dict(data))


@pytest.mark.slow
def test_onnxruntime_table_smoke():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    conditions = CONDITIONS.model_copy(update={"backend": "onnxruntime", "normal_ops": ("conv_3x3",),
                                               "upsampling_ops": ("nearest",)})
    timer = Timer("onnxruntime", threads=1, budget_s=0.002, min_repeats=3, max_repeats=10, clock="cpu", warmup=1)
    table = build_table(conditions, calibration_cells=1, calibration_networks=1, calibration_layers=2, timer=timer)
    genotype = Genotype.model_validate({"normal": [["conv_3x3", 0, 2], ["conv_3x3", 1, 2], ["conv_3x3", 2, 3],
                                                   ["conv_3x3", 1, 3]],
                                        "upsampling": [["nearest", 0, 2], ["nearest", 1, 2], ["nearest", 2, 3],
                                                       ["nearest", 1, 3]], "position": 2, "layers": 2})
    assert predict_latency(table, genotype) > 0
    assert measure_network(genotype, conditions, timer=timer) > 0
    assert table.environment["onnxruntime"]
