"""How much of a search's score variation is the architecture, and how much the images?

Loads a finished (or interrupted) ``hnas run`` folder's shared weights, draws K architectures from
its controller, splits the run's fixed scoring patches into K groups, scores every architecture on
every group, and splits the variation two ways (architecture, image group, rest) -- the analysis of
``../shared/tools/search_signal.py``, for hnas's fixed scoring images. The reward itself scores an
architecture on *all* the patches at once, so the image share cannot move a ranking; it is shown
to compare with hnas 0.1, where every architecture drew its own batch.

    python experiments/search_signal.py runs/quickstart [K]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

from hnas.search.pipeline import build_search, run_folder
from hnas.search.scoring import mean_psnr
from hnas.search.spec_loader import load_run_spec


def split(matrix: list[list[float]]) -> dict[str, float]:
    """Standard deviations of the architecture means, the group means, and the interaction."""
    k, g = len(matrix), len(matrix[0])
    arch = [statistics.mean(row) for row in matrix]
    group = [statistics.mean(matrix[i][j] for i in range(k)) for j in range(g)]
    grand = statistics.mean(arch)
    rest = [matrix[i][j] - arch[i] - group[j] + grand for i in range(k) for j in range(g)]
    return {"architecture": statistics.pstdev(arch), "images": statistics.pstdev(group),
            "rest": statistics.pstdev(rest)}


def main() -> None:
    run = Path(sys.argv[1])
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    torch.set_num_threads(2)
    spec = load_run_spec(run)
    search = build_search(spec, run_folder(run), torch.device("cpu"))
    if not search.load():
        sys.exit(f"no search state in {run}")
    generator = torch.Generator().manual_seed(123)
    archs = [search.controller.training_sample(generator) for _ in range(k)]
    lr, hr = search.scorer.lr, search.scorer.hr
    groups = [slice(j * len(lr) // k, (j + 1) * len(lr) // k) for j in range(k)]
    bicubic = [search.scorer.bicubic_psnr_of(g) for g in groups]
    search.supernet.train()
    psnr, gain = [], []
    with torch.no_grad():
        for genotype in archs:
            row = [mean_psnr(search.supernet(lr[g], genotype), hr[g], spec.space.scale) for g in groups]
            psnr.append(row)
            gain.append([p - b for p, b in zip(row, bicubic)])
    for name, matrix in (("PSNR", psnr), ("PSNR gain over bicubic", gain)):
        parts = split(matrix)
        print(f"{name}: sd across architectures {parts['architecture']:.4f} dB, across image groups "
              f"{parts['images']:.4f} dB, rest {parts['rest']:.4f} dB")
    print("architecture scores on all patches (what the reward sees):",
          [round(search.score(g)["psnr"], 4) for g in archs])


if __name__ == "__main__":
    main()
