"""The latency table (issue #27): how fast it prices a network, and a small predicted-vs-measured check.

The full validation (30 random networks of the latency-priced space plus the presets and
baselines, at 120x120 and C = 16, eager and ONNX Runtime) is ``benchmarks/latency_table_validate.py``
(minutes); its figures are in benchmarks/README.md, round 7. Here: a table at a small size, built
once per session, so the test suite's smoke run stays in seconds.
"""

from __future__ import annotations

import random
import statistics

import pytest

from hnas.compare.stats import spearman_rho
from hnas.costs import clear_cost_cache
from hnas.costs.latency_table import (
    LatencyTableCost,
    TableConditions,
    Timer,
    build_table,
    measure_network,
    predict_latency,
    write_table,
)
from hnas.ops import TABLE_I_UPSAMPLING
from hnas.spaces.random import random_genotype

NORMAL = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "rcab", "conv_3x3",
          "res_block")
CONDITIONS = TableConditions(input=(16, 16), channels=4, threads=1, clock="cpu", normal_ops=NORMAL,
                             upsampling_ops=TABLE_I_UPSAMPLING)


@pytest.fixture(scope="module")
def table():
    timer = Timer(threads=1, budget_s=0.005, min_repeats=3, max_repeats=50, clock="cpu")
    return build_table(CONDITIONS, calibration_cells=2, calibration_networks=2, calibration_layers=3, timer=timer)


def test_latency_table_prices_an_unseen_genotype(pinned_threads, table, tmp_path):
    """The search prices every sample: a prediction must be far below a MACs count (tens of ms)."""
    path = write_table(table, tmp_path / "table.json")
    cost = LatencyTableCost(path)
    rng = random.Random(0)

    def fresh():
        clear_cost_cache()
        genotype = random_genotype(rng, layers=6, normal_ops=NORMAL, upsampling_ops=TABLE_I_UPSAMPLING)
        return (genotype,), {"input": (16, 16), "channels": 4}

    pinned_threads.extra_info["target_ms"] = 1.0
    value = pinned_threads.pedantic(cost, setup=fresh, rounds=30, warmup_rounds=1)
    assert value > 0


def test_latency_table_predicts_measured_networks(pinned_threads, table):
    """Predicted against measured latency for a few random networks (rank correlation and median
    error go into extra_info; the thread's CPU time, so other processes do not inflate them)."""
    rng = random.Random(1)
    genotypes = [random_genotype(rng, layers=4, normal_ops=NORMAL, upsampling_ops=TABLE_I_UPSAMPLING)
                 for _ in range(5)]
    timer = Timer(threads=1, budget_s=0.02, min_repeats=3, clock="cpu")

    def run():
        measured = [measure_network(g, CONDITIONS, timer=timer) for g in genotypes]
        return [predict_latency(table, g) for g in genotypes], measured

    predicted, measured = pinned_threads.pedantic(run, rounds=1, iterations=1)
    rho = spearman_rho(predicted, measured)
    error = statistics.median(abs(p / m - 1) for p, m in zip(predicted, measured))
    pinned_threads.extra_info.update(spearman_rho=rho, median_abs_rel_error=error, networks=len(genotypes))
    assert all(p > 0 for p in predicted) and all(m > 0 for m in measured)
