"""The ``latency_table`` cost: a network's ms predicted from a table, priced by the reward."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from hnas.costs.base import Cost
from hnas.costs.builtin import macs_normaliser
from hnas.costs.latency_table.pieces import op_key
from hnas.costs.latency_table.predict import predict_latency
from hnas.costs.latency_table.table import BACKENDS, LatencyTableError, Mode, check_conditions, table_at
from hnas.costs.settings import CostSettings
from hnas.registry import COSTS
from hnas.spaces.genotype import Genotype


@COSTS.register("latency_table", aliases=("latency_lut",))
class LatencyTableCost(Cost):
    """Latency in ms predicted from a per-op table (``hnas latency build``): microseconds per network.

    ``table``: the table file. ``device``, ``threads``, ``backend``, ``batch``, ``precision``: what the
    run means to price for (``batch = 16, precision = "bf16"``: the retraining's step, not one image);
    when given, a table built otherwise is refused (one line naming the difference). The input,
    scale, channels and op params of the cost settings must be the table's. ``mode = "train"``
    prices forward + backward (a table built with ``--train``).
    """

    name = "latency_table"
    unit = "ms"
    depends_on: ClassVar[tuple[str, ...]] = ("input", "scale", "channels", "global_skip", "op_params")

    def __init__(self, table: str | Path, device: str | None = None, threads: int | None = None,
                 backend: str | None = None, mode: Mode = "forward", batch: int | None = None,
                 precision: str | None = None) -> None:
        if mode not in ("forward", "train"):
            raise LatencyTableError(f"latency_table mode must be 'forward' or 'train', got {mode!r}")
        if backend is not None and backend not in BACKENDS:
            raise LatencyTableError(f"unknown latency backend '{backend}'; use one of {', '.join(BACKENDS)}")
        self.path = Path(table)
        self.table = table_at(self.path)
        self.mode: Mode = mode
        check_conditions(self.table, f"latency table '{self.path}'", device=device, threads=threads, backend=backend,
                         batch=batch, precision=precision)
        self.table.entries(mode)  # a train-mode cost on a forward-only table fails here

    def check(self, settings: CostSettings) -> None:
        """Refuse settings the table was not built for (input, scale, channels, op params)."""
        check_conditions(self.table, f"latency table '{self.path}'", input=settings.input, scale=settings.scale,
                         channels=settings.channels, op_params=settings.op_params)

    def cache_token(self) -> tuple[str, str, str]:
        return ("latency_table", self.table.digest(), self.mode)

    def compute(self, genotype: Genotype, settings: CostSettings) -> float:
        self.check(settings)
        return predict_latency(self.table, genotype, settings.global_skip, self.mode)

    def reward_normaliser(self, settings: CostSettings) -> float:
        """The ms this device spends on the MACs that weigh one dB (``macs`` normaliser) at the rate
        of its plain 3x3 convolution on the LR input: a network of plain convolutions is then
        priced as under ``macs``, and one of slower ops pays for the time they take."""
        c = self.table.conditions
        key = op_key("normal", "conv_3x3", c.channels, c.input)
        ms = self.table.forward.get(key)
        if ms is None:
            raise LatencyTableError("the joint reward's default normaliser for latency_table needs conv_3x3 in the "
                                    "table's normal ops; add it, or give reward params.normaliser (ms worth one dB)")
        macs = c.batch * c.channels * c.channels * 9 * c.input[0] * c.input[1]  # the ms are of a whole batch
        return macs_normaliser(settings.input) * ms / macs

    def __repr__(self) -> str:
        return f"LatencyTableCost({str(self.path)!r}, mode={self.mode!r})"
