"""Peak memory and step time of a search at the paper's search settings, for a few steps.

L = 12, C = 8, batch 16, HR patch 96 (LR 48), all ops, on the built-in images:

    /usr/bin/time -v python experiments/search_memory.py --epochs 1 --w-steps 3 --controller-steps 3

Prints per-phase times; ``Maximum resident set size`` from /usr/bin/time is the peak memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from hnas.search.pipeline import build_search, run_folder
from hnas.search.spec_loader import spec_from_dict
from hnas.utils.device import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--w-steps", type=int, default=3)
    parser.add_argument("--controller-steps", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    spec = spec_from_dict({
        "space": {"layers": 12, "channels": 8, "scale": 2},
        "data": {"source": "builtin:skimage", "w_split": [1, 3], "theta_split": [4, 6],
                 "patch": 96, "batch": 16, "score_patches": 16, "score_patch": 96},
        "search": {"epochs": args.epochs, "w_steps": args.w_steps, "controller_steps": args.controller_steps},
    })
    with tempfile.TemporaryDirectory() as out:
        folder = run_folder(Path(out))
        folder.open(spec.to_dict(), resume=False)
        search = build_search(spec, folder, resolve_device(args.device))
        started = time.perf_counter()
        search.run(lambda s: print(f"epoch {s['epoch']}: {time.perf_counter() - started:.1f} s, loss {s['loss']:.2f}, "
                                   f"psnr {s['psnr_mean']:.2f}"))
        elapsed = time.perf_counter() - started
    steps = args.epochs * (args.w_steps + args.controller_steps)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{steps} steps in {elapsed:.1f} s; peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
