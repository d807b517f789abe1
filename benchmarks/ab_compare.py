"""Old code against new code, interleaved in one process (the protocol of benchmarks/README.md).

    python benchmarks/ab_compare.py REV train 16 [--rounds 5]
    python benchmarks/ab_compare.py REV search 32 --ops authors|all [--rounds 10]
    python benchmarks/ab_compare.py REV inference 120 --preset hnas-a [--rounds 5]

``REV`` is a git revision of this repository (e.g. the commit before issue #14's work). Its
``hnas`` package is exported to a temporary folder as ``hnas_base`` (imports renamed), so both
versions live in this process and their rounds alternate: the machine's load, which moves a lot
on a shared machine, hits both alike. Prints one JSON line with medians, minima, the speed-up
and the 1-minute load. Both versions build the same weights (same seed, or copied state).

``train``: one HNAS-A x2 step (batch 16, HR patch 64, Adam), three variants: ``old``, ``new``,
and ``new+kept`` (freed memory kept, as ``hnas train --fast``); the allocator setting is switched
between variants with ``mallopt``/``malloc_trim``. ``search``: one supernet step at search
settings (L 12, C 8, 4 nodes, batch 16), the same random architectures for both, round ``i``
with seed ``i``. ``inference``: one forward of a preset at 64 channels (``no_grad``), and a plain
64-channel 3x3 convolution for the GMAC/s ratio.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AUTHORS_NORMAL_OPS = ["skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "rcab"]


def export_old(rev: str, into: Path) -> None:
    """``git archive REV hnas`` into ``into/hnas_base`` with every ``hnas`` import renamed."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "hnas"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "hnas").rename(into / "hnas_base")
    for path in (into / "hnas_base").rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\bfrom hnas\b", "from hnas_base", text)
        text = re.sub(r"\bimport hnas\b", "import hnas_base", text)
        text = re.sub(r'"hnas\.([a-z_.]+)"', r'"hnas_base.\1"', text)
        path.write_text(text)


def _libc() -> Any:
    return ctypes.CDLL("libc.so.6")


def allocator(keep: bool) -> None:
    libc = _libc()
    if keep:
        libc.mallopt(-4, 0), libc.mallopt(-1, 2**31 - 1)
    else:
        libc.mallopt(-4, 65536), libc.mallopt(-1, 128 * 1024), libc.malloc_trim(0)


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summarize(times: dict[str, list[float]], old: str = "old") -> dict[str, Any]:
    out: dict[str, Any] = {k: {"median_s": round(statistics.median(v), 4), "min_s": round(min(v), 4)}
                           for k, v in times.items()}
    for k in times:
        if k != old:
            out[f"speedup_{k}"] = round(statistics.median(times[old]) / statistics.median(times[k]), 2)
    return out


def optimizer(pkg: Any, params: Any) -> Any:
    """The Adam each version's training loops build (fused since round 5), lr 1e-4."""
    import torch

    try:
        build = importlib.import_module(f"{pkg.__name__}.utils.optim").adam
    except ImportError:
        return torch.optim.Adam(params, lr=1e-4)
    return build(params, lr=1e-4)


def ab_train(old: Any, new: Any, channels: int, rounds: int) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    def make(pkg: Any) -> tuple[Any, Any]:
        torch.manual_seed(0)
        model = pkg.build_model("hnas-a", scale=2, channels=channels)
        return model, optimizer(pkg, model.parameters())

    variants = {"old": (*make(old), False), "new": (*make(new), False), "new+kept": (*make(new), True)}
    gen = torch.Generator().manual_seed(1)
    lr, hr = torch.rand(16, 3, 32, 32, generator=gen) * 255, torch.rand(16, 3, 64, 64, generator=gen) * 255

    def step(model: Any, opt: Any) -> None:
        opt.zero_grad(set_to_none=True)
        F.l1_loss(model(lr), hr).backward()
        opt.step()

    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds + 1):
        for name, (model, opt, keep) in variants.items():
            allocator(keep)
            step(model, opt)  # settles the allocator setting
            times[name].append(timed(lambda: step(model, opt)))
    return summarize({k: v[1:] for k, v in times.items()})


def ab_search(old: Any, new: Any, size: int, ops: str, rounds: int) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from hnas.ops.blocks import TABLE_I_NORMAL, TABLE_I_UPSAMPLING  # the search space of both versions

    normal = AUTHORS_NORMAL_OPS if ops == "authors" else list(TABLE_I_NORMAL)
    upsampling = list(TABLE_I_UPSAMPLING)
    torch.manual_seed(0)
    nets = {"old": old.search.supernet.SuperNet(normal, upsampling, layers=12, nodes=4, channels=8),
            "new": new.search.supernet.SuperNet(normal, upsampling, layers=12, nodes=4, channels=8)}
    nets["new"].load_state_dict(nets["old"].state_dict())
    opts = {k: optimizer(pkg, n.parameters()) for (k, n), pkg in zip(nets.items(), (old, new))}
    gen = torch.Generator().manual_seed(1)
    lr, hr = torch.rand(16, 3, size, size, generator=gen) * 255, torch.rand(16, 3, 2 * size, 2 * size, generator=gen) * 255

    def genotype(seed: int) -> Any:
        rng = random.Random(seed)
        cell = [[[rng.choice(o), rng.randrange(n), n] for n in range(2, 6) for _ in range(2)] for o in (normal, upsampling)]
        return new.Genotype.from_data({"normal": cell[0], "upsampling": cell[1], "position": rng.randint(1, 12),
                                       "layers": 12})

    def step(name: str, g: Any) -> None:
        opts[name].zero_grad(set_to_none=True)
        F.l1_loss(nets[name](lr, g), hr).backward()
        torch.nn.utils.clip_grad_norm_(nets[name].used_parameters(g), 5.0)
        opts[name].step()

    for name in nets:
        step(name, genotype(1000))
    times: dict[str, list[float]] = {k: [] for k in nets}
    for seed in range(rounds):
        g = genotype(seed)
        for name in (("old", "new") if seed % 2 == 0 else ("new", "old")):
            times[name].append(timed(lambda: step(name, g)))
    out = summarize(times)
    # Architectures differ several-fold in cost, so a ratio of medians moves with which ones land
    # in the middle; these two compare the same architectures pair by pair.
    out["speedup_total"] = round(sum(times["old"]) / sum(times["new"]), 2)
    out["speedup_median_pair"] = round(statistics.median(o / n for o, n in zip(times["old"], times["new"])), 2)
    return out


def ab_inference(old: Any, new: Any, size: int, preset: str, rounds: int) -> dict[str, Any]:
    import torch

    from hnas.costs import count_network

    torch.manual_seed(0)
    models = {"old": old.build_model(preset, scale=2, channels=64).eval()}
    models["new"] = new.build_model(preset, scale=2, channels=64).eval()
    models["new"].load_state_dict(models["old"].state_dict())
    models["new+kept"] = models["new"]
    x = torch.rand(1, 3, size, size) * 255
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    conv_x = torch.randn(1, 64, size, size).contiguous(memory_format=torch.channels_last)
    times: dict[str, list[float]] = {k: [] for k in models}
    conv_times: list[float] = []
    with torch.no_grad():
        error = float((models["old"](x) - models["new"](x)).abs().max())
        for _ in range(rounds):
            for name, model in models.items():
                allocator(name.endswith("kept"))
                model(x)
                times[name].append(timed(lambda: model(x)))
            conv_times.append(timed(lambda: conv(conv_x)))
    macs = count_network(new.resolve_genotype(preset), 2, 64, (size, size)).macs.total
    conv_rate = 64 * 64 * 9 * size * size / min(conv_times) / 1e9
    out = summarize(times)
    out.update(max_abs_diff=error, conv_gmacs_per_s=round(conv_rate, 1))
    for name, values in times.items():
        out[name]["gmacs_per_s"] = round(macs / statistics.median(values) / 1e9, 1)
        out[name]["ratio_to_conv"] = round(macs / statistics.median(values) / 1e9 / conv_rate, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("what", choices=["train", "search", "inference"])
    parser.add_argument("size", type=int, help="channels (train) or LR size (search, inference)")
    parser.add_argument("--ops", choices=["authors", "all"], default="all")
    parser.add_argument("--preset", default="hnas-a")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        export_old(args.rev, Path(tmp))
        sys.path[:0] = [tmp, str(ROOT)]
        import torch

        import hnas
        import hnas.search.supernet
        import hnas_base
        import hnas_base.search.supernet

        torch.set_num_threads(args.threads)
        if args.what == "train":
            result = ab_train(hnas_base, hnas, args.size, args.rounds)
        elif args.what == "search":
            result = ab_search(hnas_base, hnas, args.size, args.ops, args.rounds)
        else:
            result = ab_inference(hnas_base, hnas, args.size, args.preset, args.rounds)
    result.update(rev=args.rev, what=args.what, size=args.size, threads=args.threads, rounds=args.rounds,
                  ops=args.ops if args.what == "search" else None,
                  preset=args.preset if args.what == "inference" else None, load_1m=round(os.getloadavg()[0], 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
