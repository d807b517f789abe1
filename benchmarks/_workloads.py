"""The workloads the benchmarks time, built one way for the timed runs and the memory probe.

``benchmarks/_memory.py`` rebuilds the same workload in a fresh process to measure its peak memory,
so everything that defines a workload lives here: the search at the paper's search settings
(L = 12, C = 8, 4 nodes, x2, batch 16, every registered op) and HNAS-A x2 at 64 channels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

#: Intra-op threads of every timed run, fixed so a different default cannot change what is
#: measured. 1, not torch's default of 2 on this 2-core machine: on the shared machine the
#: benchmarks were written on, 2 threads made a supernet step 10-30x slower (README). Override
#: with HNAS_BENCH_THREADS=2 to measure that.
THREADS = int(os.environ.get("HNAS_BENCH_THREADS", "1"))

SEARCH_BATCH = 16
POOL = 4  # distinct batches cycled through, drawn once before timing

#: The authors' search space: their code leaves ``up_and_down`` out of the normal ops.
AUTHORS_NORMAL_OPS = ["skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "rcab"]

#: 1 (default): keep freed memory in the benchmark process (``hnas.utils.memory``), as
#: ``hnas upscale``/``eval``/``train --fast`` do; 0: glibc's defaults (a library user's process).
KEEP_MEMORY = os.environ.get("HNAS_BENCH_KEEP_MEMORY", "1") == "1"


def loadavg() -> float:
    """The 1-minute load average (the machine is shared; the README reports it with the numbers)."""
    return round(os.getloadavg()[0], 2)


def make_search(out: Path, lr_size: int = 32, normal_ops: list[str] | None = None) -> Any:
    """A :class:`hnas.search.algorithm.Search` at search settings, one step per call.

    ``w_steps = controller_steps = 1`` so ``train_weights`` is one supernet step and
    ``train_controller`` one controller update. The weight batches are drawn before timing and
    cycled: the benchmarks time the search, not patch cropping (1 ms a batch from memory). The
    supernet does not depend on the patch size, so one search serves every size
    (``training_batches``). Architectures are drawn from the step's seed, so every version of the
    code times the same ones.
    """
    from hnas.search.pipeline import build_search, run_folder
    from hnas.search.spec_loader import spec_from_dict

    space: dict[str, Any] = {"layers": 12, "nodes": 4, "channels": 8, "scale": 2}
    if normal_ops is not None:
        space["normal_ops"] = normal_ops
    spec = spec_from_dict(
        {
            "name": "bench",
            "space": space,
            "data": {"source": "builtin:skimage", "w_split": [1, 3], "theta_split": [4, 6], "patch": 2 * lr_size,
                     "batch": SEARCH_BATCH, "score_patches": SEARCH_BATCH, "score_patch": 2 * lr_size},
            "search": {"epochs": 100_000, "w_steps": 1, "controller_steps": 1},
        }
    )
    folder = run_folder(out)
    folder.open(spec.to_dict(), resume=True)
    search = build_search(spec, folder, torch.device("cpu"))
    pool = [search.data.w_batch(i) for i in range(POOL)]
    search.data.w_batch = lambda step, part=None: pool[step % POOL]  # type: ignore[method-assign]
    return search


def training_batches(lr_size: int) -> Any:
    """``POOL`` training batches (w split) at another LR size, for an existing search's
    ``data.w_batch`` (``search.data.w_batch = training_batches(48)``)."""
    from hnas.data import open_images, select_split
    from hnas.train.patches import StepPatchSampler

    records = select_split(open_images("builtin:skimage"), (1, 3))
    sampler = StepPatchSampler(records, 2, 2 * lr_size, SEARCH_BATCH, seed=0)
    pool = [sampler.batch_at(i) for i in range(POOL)]
    return lambda step, part=None: pool[step % POOL]


def supernet_step(search: Any, seed: int) -> None:
    """One shared-weight update (Algorithm 1, lines 4-7): draw, forward, L1, backward, clip, Adam.

    ``seed`` fixes the drawn architecture (it is the step's index).
    """
    from hnas.search.algorithm import EpochStats

    search.train_weights(seed, EpochStats(seed + 1, "search"))


def controller_update(search: Any, seed: int, cold_cost: bool = True) -> None:
    """One controller update (lines 9-12): sample, PSNR on the fixed scoring patches with the shared
    weights, cost, reward, REINFORCE step, archive line. ``cold_cost`` clears every cost cache
    first (the genotype priced from scratch: the worst case, and the common one early in a search)."""
    from hnas.costs import clear_cost_cache
    from hnas.search.algorithm import EpochStats

    if cold_cost:
        clear_cost_cache()
    search.train_controller(seed, EpochStats(seed + 1, "search"))


def make_preset(size: int, preset: str = "hnas-a") -> tuple[torch.nn.Module, torch.Tensor]:
    """A published architecture x2 at 64 channels (the published width) in eval mode, and one LR
    image of ``size``."""
    import hnas

    torch.manual_seed(0)
    model = hnas.build_model(preset, scale=2, channels=64).eval()
    return model, torch.rand(1, 3, size, size) * 255


def make_hnas_a(size: int) -> tuple[torch.nn.Module, torch.Tensor]:
    return make_preset(size, "hnas-a")


def preset_macs(size: int, preset: str = "hnas-a") -> int:
    """Multiply-adds of one x2 forward at 64 channels on a ``size`` x ``size`` input."""
    from hnas.costs import count_network
    from hnas.spaces.resolve import resolve_genotype

    return count_network(resolve_genotype(preset), 2, 64, (size, size)).macs.total


def hnas_a_macs(size: int) -> int:
    return preset_macs(size, "hnas-a")


def make_trainer(out: Path, channels: int, fast: bool = True) -> tuple[Any, list[Any]]:
    """The retraining stage's :class:`hnas.train.trainer.Trainer` for HNAS-A x2 (batch 16, HR patch
    64, the issue's setting) and ``POOL`` of its batches, drawn before timing."""
    from hnas.train.config import TrainConfig
    from hnas.train.trainer import Trainer

    config = TrainConfig.create(data="builtin:skimage", scale=2, channels=channels, iters=1000, batch=16,
                                patch=64, device="cpu", seed=0)
    trainer = Trainer("hnas-a", config, out)
    trainer.fast = fast
    return trainer, [trainer.sampler.batch_at(step) for step in range(POOL)]


def grad_mode(mode: str) -> Any:
    """The context a forward runs under: ``no_grad`` or ``inference_mode``."""
    return torch.inference_mode() if mode == "inference_mode" else torch.no_grad()


def inference(model: torch.nn.Module, image: torch.Tensor, mode: str) -> torch.Tensor:
    with grad_mode(mode):
        return model(image)
