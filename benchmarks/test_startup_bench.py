"""How fast hnas starts: ``hnas --help``, ``hnas list ops``, ``import hnas`` against ``import torch``.

Targets (issue #14): ``hnas --help`` <= 0.5 s; ``hnas list ops`` and ``import hnas`` <= the time
of ``import torch`` + 0.3 s, measured in the same test (each a fresh interpreter, run in turn,
several rounds: the machine is shared, so medians and minima are recorded with the load).
What is imported is tested in tests/test_startup.py; here only time is measured.

The smoke run (``--benchmark-disable``) starts ``hnas --help`` once.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _workloads as w

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "help": [sys.executable, "-m", "hnas", "--help"],
    "list_ops": [sys.executable, "-m", "hnas", "list", "ops"],
    "import_hnas": [sys.executable, "-c", "import hnas"],
    "import_torch": [sys.executable, "-c", "import torch"],
    "python": [sys.executable, "-c", "pass"],
}


def _run(command: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    # With PYTHONDONTWRITEBYTECODE (set on some CI machines) every start compiles hnas's sources
    # again, about 50 ms a user never pays (pip writes the bytecode at install): the warm-up round
    # writes it here, as a first start after installing would.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=300)
    return time.perf_counter() - start


def test_startup(benchmark: Any) -> None:
    """``hnas --help`` timed by pytest-benchmark; before each of its rounds (untimed there) the other
    commands run once, their times in ``extra_info`` (median and minimum seconds)."""
    benchmark.extra_info.update(load_1m_start=w.loadavg(), target_help_s=0.5, target_margin_over_torch_s=0.3)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS if name != "help"}

    def others() -> tuple[tuple[()], dict[str, Any]]:
        if not benchmark.disabled:
            for name in samples:
                samples[name].append(_run(COMMANDS[name]))
        return (), {}

    benchmark.pedantic(lambda: _run(COMMANDS["help"]), setup=others, rounds=7, warmup_rounds=1)
    if benchmark.disabled:
        return
    for name, values in samples.items():
        benchmark.extra_info[f"{name}_median_s"] = round(statistics.median(values), 3)
        benchmark.extra_info[f"{name}_min_s"] = round(min(values), 3)
    benchmark.extra_info["load_1m_end"] = w.loadavg()
