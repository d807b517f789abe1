"""How fast a derived network runs: HNAS-A/B/C x2 at 64 channels, and how close they get to a plain conv.

Targets (issue #14, benchmarks/README.md): on 120x120 and 480x480 LR images, at least 0.5 (stretch
0.8) of the multiply-adds per second of a plain 64-channel 3x3 convolution measured in the same
test. The networks' multiply-adds come from the cost model (``hnas.costs.count_network``, every
convolution and transposed convolution plus interpolation); the reference conv's are
``64 * 64 * 9 * H * W``. The reference is timed before and after the network, in both memory
layouts, and the faster layout counts (the stricter comparison). Freed memory is kept in the
process unless ``HNAS_BENCH_KEEP_MEMORY=0`` (``hnas upscale``/``eval`` keep it; see conftest.py).

Both ``torch.no_grad`` and ``torch.inference_mode`` are measured: on torch 2.14 CPU the latter was
seen to make a comparable model many times slower.

The smoke run (``--benchmark-disable``) runs both on a 24x24 image instead, to check the code path
only (the 480x480 forward takes tens of seconds), without the conv reference and memory probe.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import _workloads as w
import pytest
import torch
from _memory import peak_memory

pytestmark = pytest.mark.usefixtures("pinned_threads")
MODES = ["no_grad", "inference_mode"]


def _conv_reference(size: int, mode: str, repeats: int) -> dict[str, float]:
    """Seconds per call (median) of a plain 64->64 3x3 conv on 1 x 64 x size x size, per layout."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    times: dict[str, float] = {}
    for layout, fmt in (("channels_last", torch.channels_last), ("contiguous", torch.contiguous_format)):
        x = torch.randn(1, 64, size, size).contiguous(memory_format=fmt)
        with w.grad_mode(mode):
            conv(x)
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                conv(x)
                samples.append(time.perf_counter() - start)
        times[layout] = statistics.median(samples)
    return times


def _inference_bench(benchmark: Any, size: int, mode: str, rounds: int, preset: str = "hnas-a") -> None:
    run_size = size if not benchmark.disabled else 24
    model, image = w.make_preset(run_size, preset)
    macs = w.preset_macs(run_size, preset)
    benchmark.extra_info.update(preset=preset, lr_size=run_size, mode=mode, channels=64, scale=2, macs=macs)
    repeats = 20 if size <= 120 else 3
    before = _conv_reference(run_size, mode, repeats) if not benchmark.disabled else {}
    out = benchmark.pedantic(w.inference, args=(model, image, mode), rounds=rounds, warmup_rounds=1)
    assert out.shape == (1, 3, 2 * run_size, 2 * run_size)
    if benchmark.disabled:
        return
    after = _conv_reference(run_size, mode, repeats)
    conv_s = {k: statistics.median([before[k], after[k]]) for k in before}
    layout = min(conv_s, key=conv_s.get)
    conv_gmacs = 64 * 64 * 9 * run_size * run_size / conv_s[layout] / 1e9
    model_gmacs = macs / benchmark.stats.stats.median / 1e9
    benchmark.extra_info.update(
        gmacs_per_s=round(model_gmacs, 2),
        conv_gmacs_per_s=round(conv_gmacs, 2),
        conv_layout=layout,
        conv_gmacs_per_s_by_layout={k: round(64 * 64 * 9 * run_size**2 / v / 1e9, 2) for k, v in conv_s.items()},
        ratio_to_conv=round(model_gmacs / conv_gmacs, 3),
        target_ratio=0.5,
    )
    peak_memory(benchmark, "inference", size=run_size, mode=mode, preset=preset)


@pytest.mark.parametrize("mode", MODES)
def test_hnas_a_inference_120(benchmark: Any, mode: str) -> None:
    """One HNAS-A x2 forward, 64 channels, 120x120 LR (-> 240x240)."""
    _inference_bench(benchmark, 120, mode, rounds=10)


@pytest.mark.parametrize("mode", MODES)
def test_hnas_a_inference_480(benchmark: Any, mode: str) -> None:
    """One HNAS-A x2 forward, 64 channels, 480x480 LR (-> 960x960; Table II's input size)."""
    _inference_bench(benchmark, 480, mode, rounds=3)


@pytest.mark.parametrize("size", [120, 480])
@pytest.mark.parametrize("preset", ["hnas-b", "hnas-c"])
def test_preset_inference(benchmark: Any, preset: str, size: int) -> None:
    """One HNAS-B / HNAS-C x2 forward (``no_grad``), 64 channels, 120x120 and 480x480 LR."""
    _inference_bench(benchmark, size, "no_grad", rounds=10 if size == 120 else 2, preset=preset)
