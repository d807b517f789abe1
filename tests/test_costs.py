"""Costs: MACs and parameters against an independent count on real CPU models, the paper's
convention against Table II, the cache, and user-registered costs."""

import random

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import hnas
from hnas.costs import (
    COST_CACHE,
    COSTS,
    CostSettings,
    CostSettingsError,
    LatencyCost,
    clear_cost_cache,
    cost_of,
    count_macs,
    count_network,
    get_cost,
    measure,
    measure_latency,
    parse_input_size,
)
from hnas.errors import UnknownNameError
from hnas.spaces.genotype import Genotype
from hnas.spaces.random import random_genotype

PRESETS = ["hnas-a", "hnas-b", "hnas-c"]
INTERPOLATION_PER_OUTPUT = {"bilinear": 4, "area": 1, "nearest": 0}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny CPU forwards: one intra-op thread avoids OpenMP spinning on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_genotypes(count: int, seed: int = 0) -> list[Genotype]:
    rng = random.Random(seed)
    return [random_genotype(rng) for _ in range(count)]


def independent_macs(genotype: Genotype, scale: int, channels: int, size: int) -> int:
    """torch's plain FlopCounterMode over a real CPU forward, plus interpolation by formula."""
    torch.manual_seed(0)
    model = hnas.build_model(genotype, scale=scale, channels=channels).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = model(torch.rand(1, 3, size, size) * 255)
    assert out.shape[-2:] == (scale * size, scale * size)
    hr_pixels = (scale * size) ** 2
    interpolated = sum(
        INTERPOLATION_PER_OUTPUT.get(edge.op, 0) * channels * hr_pixels
        for edge in genotype.upsampling.edges
        if edge.source < 2  # edges between intermediate nodes are identities
    )
    return counter.get_total_flops() // 2 + interpolated


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_macs_and_params_match_a_real_cpu_model(scale):
    genotypes = [hnas.resolve_genotype(name) for name in PRESETS] + random_genotypes(20, seed=scale)
    for genotype in genotypes:
        settings = CostSettings(input=(12, 12), scale=scale, channels=8)
        expected = independent_macs(genotype, scale, 8, 12)
        assert cost_of("macs", genotype, settings) == expected, genotype.to_dict()
        model = hnas.build_model(genotype, scale=scale, channels=8)
        assert cost_of("params", genotype, settings) == sum(p.numel() for p in model.parameters())


def test_piecewise_count_equals_a_whole_network_meta_count():
    for genotype in [hnas.resolve_genotype("hnas-b"), *random_genotypes(3, seed=7)]:
        for global_skip in ("none", "bicubic"):
            with torch.device("meta"):
                model = hnas.build_model(genotype, scale=3, channels=16, global_skip=global_skip)
                image = torch.empty(1, 3, 20, 28)
            whole = count_macs(model, image)
            assert count_network(genotype, 3, 16, (20, 28), global_skip).macs == whole


def test_global_bicubic_skip_adds_sixteen_macs_per_output_value():
    plain = cost_of("macs", "hnas-a", input=(10, 10), channels=8)
    skip = cost_of("macs", "hnas-a", input=(10, 10), channels=8, global_skip="bicubic")
    assert skip - plain == 16 * 3 * 20 * 20


@pytest.mark.parametrize(
    ("mode", "per_output"), [("bilinear", 4), ("bicubic", 16), ("nearest", 0), ("area", 1)]
)
def test_interpolation_formulas(mode, per_output):
    image = torch.empty(2, 5, 7, 9, device="meta")
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    count = count_macs(lambda x: F.interpolate(x, scale_factor=3, mode=mode, **kwargs), image)
    assert count.interpolation == per_output * 2 * 5 * 21 * 27
    assert count.total == count.interpolation


def test_area_downsampling_averages_every_input_once():
    image = torch.empty(1, 2, 8, 10, device="meta")
    count = count_macs(lambda x: F.interpolate(x, size=(4, 5), mode="area"), image)
    assert count.interpolation == 2 * 8 * 10


def test_transposed_convolutions_are_counted_and_reported_apart():
    report = measure("hnas-a", input=(48, 48), channels=64)
    assert report.macs_by_kind["transposed_convolution"] > 0
    assert report.macs == sum(report.macs_by_kind.values())


def test_paper_gflops_reproduce_table_ii():
    """Table II (x2, C = 64): 30.6 and 48.2; HNAS-C is 55.9 at its published position 12, and
    Table II's 83.6 is what it gives at position 10 (HNAS-REFERENCE.md)."""
    assert cost_of("paper_gflops", "hnas-a", channels=64) == pytest.approx(30.6, abs=0.05)
    assert cost_of("paper_gflops", "hnas-b", channels=64) == pytest.approx(48.2, abs=0.05)
    assert cost_of("paper_gflops", "hnas-c", channels=64) == pytest.approx(55.9, abs=0.05)
    at_ten = Genotype.model_validate({**hnas.resolve_genotype("hnas-c").to_dict(), "position": 10})
    assert cost_of("paper_gflops", at_ten, channels=64) == pytest.approx(83.6, abs=0.1)


def test_true_macs_at_480_are_ten_times_the_paper_number_plus_what_it_leaves_out():
    report = measure("hnas-a", channels=64)  # 480 x 480, the Table II input
    assert report.macs == 358_023_168_000
    assert report.macs_by_kind["convolution"] == pytest.approx(10 * report.paper_gflops * 1e9, rel=1e-6)


def test_params_of_presets():
    assert cost_of("params", "hnas-a", channels=64) == 974_019
    assert cost_of("params", "hnas-b", channels=64) == 2_141_290


def test_costs_are_cached_by_genotype_hash_and_relevant_settings():
    clear_cost_cache()
    genotype = random_genotypes(1, seed=99)[0]
    first = cost_of("macs", genotype, channels=8, input=(48, 48))
    misses = COST_CACHE.misses
    same = Genotype.model_validate(genotype.to_dict())  # an equal genotype, a different object
    assert cost_of("macs", same, channels=8, input=(48, 48)) == first
    assert COST_CACHE.misses == misses
    assert cost_of("macs", genotype, channels=8, input=(24, 24)) != first  # input matters to MACs
    cost_of("params", genotype, channels=8, input=(48, 48))
    hits = COST_CACHE.hits
    cost_of("params", genotype, channels=8, input=(96, 96))  # ... but not to parameters
    assert COST_CACHE.hits == hits + 1
    clear_cost_cache()
    assert len(COST_CACHE) == 0


def test_a_user_cost_registers_and_is_cached():
    calls = []

    @COSTS.register("test_edge_count")
    def edge_count(genotype: Genotype, settings: CostSettings) -> float:
        calls.append(genotype.hash())
        return float(len(genotype.normal.edges) * settings.channels)

    try:
        assert cost_of("test_edge_count", "hnas-a", channels=3) == 24.0
        assert cost_of("test_edge_count", "hnas-a", channels=3) == 24.0
        assert len(calls) == 1
        assert "test_edge_count" in COSTS.list("test_*")
    finally:
        COSTS.unregister("test_edge_count")


def test_unknown_cost_lists_the_registered_ones():
    with pytest.raises(UnknownNameError, match="did you mean 'macs'.*registered costs: macs, params"):
        cost_of("mac", "hnas-a")
    with pytest.raises(UnknownNameError):
        get_cost("nope")


@pytest.mark.parametrize(
    ("text", "size"), [("480x480", (480, 480)), ("48X32", (48, 32)), (" 24 ", (24, 24)), ((5, 7), (5, 7))]
)
def test_input_sizes_parse(text, size):
    assert parse_input_size(text) == size
    assert CostSettings(input=text).input == size


@pytest.mark.parametrize("text", ["48xx", "x48", "0x4", "48x-1", "", "1.5x2"])
def test_bad_input_sizes_are_one_line_errors(text):
    with pytest.raises(CostSettingsError) as info:
        CostSettings.make(input=text)
    assert "\n" not in str(info.value)


def test_latency_records_its_settings_and_restores_threads():
    torch.set_num_threads(2)
    settings = CostSettings(input=(8, 8), channels=4, repeats=2, warmup=1, threads=1, device="cpu")
    result = measure_latency(hnas.resolve_genotype("hnas-a"), settings)
    assert result.median_ms > 0
    assert (result.device, result.threads, result.repeats, result.input) == ("cpu", 1, 2, (8, 8))
    assert result.grad_mode == "no_grad"
    assert torch.get_num_threads() == 2
    assert LatencyCost()("hnas-a", settings) > 0


def test_random_genotypes_are_reproducible_and_cover_the_space():
    first = random_genotypes(30, seed=3)
    assert [g.hash() for g in first] == [g.hash() for g in random_genotypes(30, seed=3)]
    ops = {op for g in first for op in g.normal.ops()}
    assert ops == set(hnas.NORMAL_OPS.names())
    assert {op for g in first for op in g.upsampling.ops()} == set(hnas.UPSAMPLING_OPS.names())
    assert {g.position for g in first} <= set(range(1, 13))
    small = random_genotype(random.Random(0), nodes=2, layers=3)
    assert small.normal.nodes == 2 and small.layers == 3
