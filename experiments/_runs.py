"""What the experiment scripts share: one ``hnas run`` in its own folder, resumable, timed, and the
machine the numbers were computed on."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]


def hnas_run(spec: Path, folder: Path, args: list[str], threads: int) -> Path:
    """``hnas run SPEC --out FOLDER ARGS`` on ``threads`` threads, from the repository root, its output
    in ``FOLDER.log``; a folder with results is left as it is, an unfinished one is resumed. The wall
    time this call saw goes to ``FOLDER/wall.json``."""
    folder = folder.resolve()
    if not (folder / "results.json").exists():
        resume = ["--resume"] if (folder / "spec.json").exists() else []
        started = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        with open(folder.parent / f"{folder.name}.log", "a") as log:
            subprocess.run([sys.executable, "-m", "hnas", "run", str(spec), "--out", str(folder), *args, *resume],
                           check=True, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        (folder / "wall.json").write_text(json.dumps({"seconds": time.perf_counter() - started}))
    return folder


def machine() -> dict[str, Any]:
    """What the numbers were computed on: oneDNN picks its kernels by the CPU's instruction set, so
    the same run gives other float sums (and scores that differ like a seed's) on another ISA;
    ``ONEDNN_MAX_CPU_ISA=AVX2`` on an AVX-512 CPU reproduces an AVX2 machine's numbers exactly."""
    import torch

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    field = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in info.splitlines())}
    return {"cpu": field.get("model name", platform.machine()), "avx512": "avx512f" in field.get("flags", ""),
            "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"), "torch": torch.__version__}
