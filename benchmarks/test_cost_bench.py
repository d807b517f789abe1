"""How fast the search can price a genotype: targets <= 50 ms unseen, <= 0.1 ms cached.

The search prices every sampled architecture at the search width (C = 8) on a 480 x 480 LR input
(HNAS-REFERENCE.md, "Reward and cost"). Run ``python -m pytest benchmarks/test_cost_bench.py``;
the test suite runs these once with ``--benchmark-disable`` as a smoke test.
"""

import random

from hnas.costs import CostSettings, clear_cost_cache, cost_of, get_cost
from hnas.spaces.random import random_genotype

SEARCH_SETTINGS = CostSettings(input=(480, 480), scale=2, channels=8)


def test_cost_cold(benchmark):
    """An unseen genotype each round, every cache (costs and counted cells) cleared first."""
    rng = random.Random(0)
    macs = get_cost("macs")

    def fresh():
        clear_cost_cache()
        return (random_genotype(rng), SEARCH_SETTINGS), {}

    benchmark.extra_info["target_ms"] = 50
    value = benchmark.pedantic(macs, setup=fresh, rounds=15, warmup_rounds=1)
    assert value > 0


def test_cost_cached(benchmark):
    """A genotype priced before: hash, key, dictionary look-up."""
    genotype = random_genotype(random.Random(1))
    expected = cost_of("macs", genotype, SEARCH_SETTINGS)
    benchmark.extra_info["target_ms"] = 0.1
    assert benchmark(get_cost("macs"), genotype, SEARCH_SETTINGS) == expected


def test_cost_of_cached_by_name(benchmark):
    """The convenience form, which also looks the name up and applies keyword settings."""
    genotype = random_genotype(random.Random(2))
    expected = cost_of("macs", genotype, channels=8)
    assert benchmark(cost_of, "macs", genotype, channels=8) == expected
