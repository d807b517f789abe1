"""Peak memory of one benchmark call, measured in a fresh process.

    python benchmarks/_memory.py supernet_step '{"lr_size": 32}'
    python benchmarks/_memory.py controller_update '{}'
    python benchmarks/_memory.py inference '{"size": 120, "mode": "no_grad"}'

prints one JSON object. Why this way: torch's CPU tensors come from the C allocator, which
``tracemalloc`` does not see, and ``torch.cuda.max_memory_allocated`` exists only on CUDA. What
the OS charges the process is honest and complete (tensors, oneDNN scratch space, allocator
slack), so this reads the kernel's peak resident set (``VmHWM``). The workload is built and its
resident size noted (``built_mb``: interpreter, torch, model, data); one call runs as a warm-up
(lazy initialisation, oneDNN primitive caches, Adam's state), the peak is reset through
``/proc/self/clear_refs``, and a second, identical call runs. ``peak_mb`` is the process's peak
during that call, ``delta_mb = peak_mb - built_mb`` what running the benchmark costs on top of the
built workload in steady state (activations, saved tensors, gradients, optimizer state, workspace).
A fresh process keeps other tests' memory out of the number, and ``VmHWM`` of this process avoids
``ru_maxrss``, which a child can inherit from its parent's image. Linux only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _workloads as w
import torch


def peak_memory(benchmark: Any, workload: str, **args: Any) -> None:
    """Run this probe for ``workload`` in a fresh process and put its numbers in the benchmark's
    ``extra_info``. Skipped in the smoke run (``--benchmark-disable``), where it would only add time."""
    if benchmark.disabled:
        return
    args.setdefault("threads", w.THREADS)
    args.setdefault("keep_memory", w.KEEP_MEMORY)
    result = subprocess.run(
        [sys.executable, str(HERE / "_memory.py"), workload, json.dumps(args)],
        capture_output=True, text=True, check=True, timeout=1800,
    )
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    benchmark.extra_info.update(
        peak_rss_mb=probe["peak_mb"], peak_delta_mb=probe["delta_mb"], memory_method=probe["method"]
    )


def peak_memory_over_seeds(benchmark: Any, workload: str, seeds: list[int], **args: Any) -> None:
    """:func:`peak_memory` for each architecture seed (one fresh process each); ``extra_info``
    gets the worst peak and every seed's. The worst case is the one that decides whether a run
    fits in memory: an early upsampling position puts most cells at high resolution."""
    if benchmark.disabled:
        return
    peaks = {}
    for seed in seeds:
        args.setdefault("threads", w.THREADS)
        args.setdefault("keep_memory", w.KEEP_MEMORY)
        result = subprocess.run(
            [sys.executable, str(HERE / "_memory.py"), workload, json.dumps({**args, "seed": seed})],
            capture_output=True, text=True, check=True, timeout=1800,
        )
        probe = json.loads(result.stdout.strip().splitlines()[-1])
        peaks[seed] = probe["peak_mb"]
    benchmark.extra_info.update(peak_rss_mb=max(peaks.values()), peak_rss_mb_by_seed=peaks,
                                memory_method=probe["method"])


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measure(workload: str, args: dict[str, Any]) -> dict[str, Any]:
    torch.set_num_threads(int(args.get("threads", w.THREADS)))
    if args.get("keep_memory", w.KEEP_MEMORY):
        from hnas.utils.memory import keep_freed_memory

        keep_freed_memory()
    with tempfile.TemporaryDirectory() as tmp:
        if workload in ("supernet_step", "controller_update"):
            search = w.make_search(Path(tmp), int(args.get("lr_size", 32)), args.get("normal_ops"))
            fn = w.supernet_step if workload == "supernet_step" else w.controller_update
            seed = int(args.get("seed", 0))

            def call() -> None:
                fn(search, seed)
        elif workload == "inference":
            model, image = w.make_preset(int(args["size"]), args.get("preset", "hnas-a"))

            def call() -> None:
                w.inference(model, image, args.get("mode", "no_grad"))
        else:
            raise SystemExit(f"unknown workload {workload!r}")
        built = _status_kb("VmRSS")
        call()
        reset = _reset_peak()
        call()
        peak = _status_kb("VmHWM")
    return {
        "workload": workload,
        **args,
        "built_mb": round(built / 1024, 1),
        "peak_mb": round(peak / 1024, 1),
        "delta_mb": round(max(0, peak - built) / 1024, 1),
        "peak_reset": reset,
        "method": "fresh process; VmHWM of the 2nd call (peak reset by clear_refs) minus VmRSS once built",
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})))
