"""Costs of architectures (paper Eq. 1's ``Cost(alpha)``): MACs, parameters, latency, the paper's FLOPs.

``cost_of("macs", genotype, channels=8)`` prices one genotype (cached by its hash and the
settings); ``measure(genotype)`` reports every cost at once; ``latency_table`` predicts ms from a per-op table
(``hnas latency build``, :mod:`hnas.costs.latency_table`); ``@COSTS.register("name")`` adds one.
Importing this package registers the built-in costs.
"""

from hnas.costs import builtin as builtin  # noqa: F401  (registers macs, params, paper_gflops, latency)
from hnas.costs.base import COST_CACHE, Cost, CostCache, FunctionCost, clear_cost_cache, cost_of, get_cost
from hnas.costs.builtin import (
    AUTHORS_MACS_NORMALISER,
    PAPER_INPUT,
    LatencyCost,
    MacsCost,
    PaperGflopsCost,
    ParamsCost,
    macs_normaliser,
)
from hnas.costs.counting import INTERPOLATION_MACS, MacCount, count_macs
from hnas.costs.latency import LatencyResult, measure_latency
from hnas.costs.latency_table import (
    LatencyTable,
    LatencyTableCost,
    LatencyTableError,
    TableConditions,
    build_table,
    load_table,
    predict_latency,
)
from hnas.costs.network import NetworkCount, count_network
from hnas.costs.report import CostReport, measure
from hnas.costs.settings import TABLE_II_INPUT, CostSettings, CostSettingsError, parse_input_size
from hnas.registry import COSTS

__all__ = [
    "AUTHORS_MACS_NORMALISER",
    "COSTS",
    "COST_CACHE",
    "INTERPOLATION_MACS",
    "PAPER_INPUT",
    "TABLE_II_INPUT",
    "TableConditions",
    "Cost",
    "CostCache",
    "CostReport",
    "CostSettings",
    "CostSettingsError",
    "FunctionCost",
    "LatencyCost",
    "LatencyResult",
    "LatencyTable",
    "LatencyTableCost",
    "LatencyTableError",
    "MacCount",
    "MacsCost",
    "NetworkCount",
    "PaperGflopsCost",
    "ParamsCost",
    "build_table",
    "clear_cost_cache",
    "cost_of",
    "count_macs",
    "count_network",
    "get_cost",
    "load_table",
    "macs_normaliser",
    "measure",
    "measure_latency",
    "parse_input_size",
    "predict_latency",
]
