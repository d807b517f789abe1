"""Search throughput (issue #27): stand-alone training steps per second of small candidate networks.

The search's stand-alone proxy (hnas/search/proxy.py) trains every candidate alone, briefly, from
the same seeded start: Adam (fused), cosine learning rate, L1 loss, batch 16 of 48x48 HR patches
(LR 24x24) at the search width. This times exactly that loop on random candidates of the
latency-priced space (examples/cpu-hour-latency.toml) and reports steps per second:

* 1 process, 1 thread, every candidate in turn;
* 1 process, 2 threads (intra-op parallelism only);
* 2 processes, 1 thread each, the candidates split between them (how ``--nproc 2`` spreads
  candidates): the target is >= 1.8x the steps of 1 process x 1 thread on 2 cores.

Batches are random tensors of the proxy's shapes (reading patches is not what is timed). The
1-minute load average is printed with every figure: on a machine shared with other work, 2
processes cannot reach 2 cores' worth.

    python benchmarks/search_throughput.py --candidates 8 --steps 20 --out throughput.json

``--hnas-run SPEC`` times the real thing instead: ``hnas run SPEC`` with ``random_search``
(``--steps`` per candidate, ``--budget`` steps), no retraining, at 1 process (the process's threads
and ``strategy.threads = 1``) and at ``--nproc 2`` (1 thread each); steps per second of the search
stage as the run's ``timings.jsonl`` has it (its data loading excluded), and whether the 1-thread
logs agree byte for byte:

    python benchmarks/search_throughput.py --hnas-run examples/strategy-halving.toml --steps 50 --budget 800 --out tput.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPACE_NORMAL = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "rcab", "conv_3x3",
                "res_block")


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def _candidates(count: int, seed: int, layers: int) -> list[dict]:
    from hnas.ops import TABLE_I_UPSAMPLING
    from hnas.spaces.random import random_genotype

    rng = random.Random(seed)
    return [random_genotype(rng, layers=layers, normal_ops=SPACE_NORMAL, upsampling_ops=TABLE_I_UPSAMPLING).to_dict()
            for _ in range(count)]


def _train(genotypes: list[dict], steps: int, threads: int, channels: int, batch: int, patch: int,
           start_at: float | None = None) -> tuple[int, float]:
    """Train each genotype for ``steps`` proxy steps; (steps done, seconds). ``start_at``: wall time
    to wait for, so that processes start together."""
    import torch
    import torch.nn.functional as F

    from hnas.engine.schedule import cosine_lr, set_lr
    from hnas.models.network import HNASNet
    from hnas.spaces.genotype import Genotype
    from hnas.utils.memory import keep_freed_memory
    from hnas.utils.optim import adam

    keep_freed_memory()
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    lr_img = torch.rand(batch, 3, patch // 2, patch // 2, generator=generator) * 255
    hr_img = torch.rand(batch, 3, patch, patch, generator=generator) * 255
    if start_at is not None:
        while time.time() < start_at:
            time.sleep(0.005)
    begin = time.perf_counter()
    done = 0
    for data in genotypes:
        torch.manual_seed(0)
        model = HNASNet(Genotype.from_data(data), scale=2, channels=channels, global_skip="bicubic").train()
        optimizer = adam(model.parameters(), lr=1e-3)
        for step in range(steps):
            set_lr(optimizer, cosine_lr(step, steps, 1e-3, 1e-5))
            loss = F.l1_loss(model(lr_img), hr_img)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
    return done, time.perf_counter() - begin


def _worker(args: tuple) -> tuple[int, float]:
    return _train(*args)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="proxy steps per candidate")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=48, help="HR patch side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--hnas-run", type=Path, default=None, metavar="SPEC",
                        help="time `hnas run SPEC` (random_search) at 1 and 2 processes instead")
    parser.add_argument("--budget", type=int, default=800, help="with --hnas-run: strategy.budget_steps")
    parser.add_argument("--work", type=Path, default=Path("runs/throughput"), help="with --hnas-run: run folders")
    args = parser.parse_args(argv)
    if args.hnas_run is not None:
        return end_to_end(args.hnas_run, args.steps, args.budget, args.work, args.out)
    genotypes = _candidates(args.candidates, args.seed, args.layers)
    common = (args.steps,)
    shape = (args.channels, args.batch, args.patch)
    record: dict = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "runs": {}}

    # Warm-up (imports, oneDNN primitive caches) outside the timed runs.
    _train(genotypes[:1], 2, 1, *shape)

    def report(name: str, steps: int, seconds: float, load: tuple[float, float]) -> None:
        rate = steps / seconds
        record["runs"][name] = {"steps": steps, "seconds": round(seconds, 2), "steps_per_s": round(rate, 3),
                                "load_start": load[0], "load_end": load[1]}
        print(f"{name:<22} {steps} steps in {seconds:7.1f} s = {rate:6.2f} steps/s  (load {load[0]} -> {load[1]})",
              file=sys.stderr)

    load0 = _load()
    steps, seconds = _train(genotypes, *common, 1, *shape)
    report("1 process x 1 thread", steps, seconds, (load0, _load()))
    load0 = _load()
    steps, seconds = _train(genotypes, *common, 2, *shape)
    report("1 process x 2 threads", steps, seconds, (load0, _load()))

    halves = [genotypes[0::2], genotypes[1::2]]
    context = mp.get_context("spawn")
    with context.Pool(2) as pool:
        pool.map(_worker, [(half[:1], 2, 1, *shape) for half in halves])  # each process warms up
        load0 = _load()
        start_at = time.time() + 0.5
        begin = time.perf_counter()
        results = pool.map(_worker, [(half, *common, 1, *shape, start_at) for half in halves])
        wall = time.perf_counter() - begin - 0.5
    report("2 processes x 1 thread", sum(r[0] for r in results), max(r[1] for r in results), (load0, _load()))
    base = record["runs"]["1 process x 1 thread"]["steps_per_s"]
    record["ratio_2proc_vs_1x1"] = round(record["runs"]["2 processes x 1 thread"]["steps_per_s"] / base, 3)
    record["ratio_1x2threads_vs_1x1"] = round(record["runs"]["1 process x 2 threads"]["steps_per_s"] / base, 3)
    record["pool_wall_seconds"] = round(wall, 2)
    record["cpu_count"] = os.cpu_count()
    print(json.dumps({k: v for k, v in record.items() if k != "args"}, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    return record


def end_to_end(spec: Path, steps: int, budget: int, work: Path, out: Path | None) -> dict:
    """``hnas run SPEC`` with random search at 1 process (2 threads, 1 thread) and 2 processes."""
    import shutil
    import subprocess

    common = ["--set", "strategy.type=random_search", "--set", f"strategy.params={{steps={steps}}}",
              "--set", f"strategy.budget_steps={budget}", "--set", "retrain.enabled=false"]
    configs = {"1 process x cores threads": (1, []), "1 process x 1 thread": (1, ["--set", "strategy.threads=1"]),
               "2 processes x 1 thread": (2, ["--set", "strategy.threads=1"])}
    record: dict = {"spec": str(spec), "steps": steps, "budget": budget, "cpu_count": os.cpu_count(), "runs": {}}
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # hnas gives each process cores/N
    for index, (name, (nproc, extra)) in enumerate(configs.items()):
        folder = work / f"run{index}"
        shutil.rmtree(folder, ignore_errors=True)
        load0 = _load()
        subprocess.run([sys.executable, "-m", "hnas", "run", str(spec), "--out", str(folder), "--nproc", str(nproc),
                        *common, *extra], check=True, env=env, capture_output=True)
        timings = [json.loads(line) for line in (folder / "timings.jsonl").read_text().splitlines()]
        seconds = next(t["seconds"] for t in timings if t["stage"] == "search")
        spent = json.loads((folder / "strategy.jsonl").read_text().splitlines()[-1])["spent"]
        record["runs"][name] = {"steps": spent, "seconds": seconds, "steps_per_s": round(spent / seconds, 3),
                                "load_start": load0, "load_end": _load()}
        print(f"{name:<26} {spent} steps in {seconds:7.1f} s = {spent / seconds:6.2f} steps/s  "
              f"(load {load0} -> {_load()})", file=sys.stderr)
    rate = {name: run["steps_per_s"] for name, run in record["runs"].items()}
    record["ratio_2proc_vs_1x1"] = round(rate["2 processes x 1 thread"] / rate["1 process x 1 thread"], 3)
    record["ratio_2proc_vs_1xcores"] = round(rate["2 processes x 1 thread"] / rate["1 process x cores threads"], 3)
    record["same_log_1_and_2_processes"] = (work / "run1" / "strategy.jsonl").read_bytes() == \
        (work / "run2" / "strategy.jsonl").read_bytes()
    print(json.dumps({k: v for k, v in record.items() if k != "runs"}, indent=2))
    if out is not None:
        out.write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
