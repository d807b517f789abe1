"""The retrain stage of ``hnas run``: train the derived genotype from scratch (paper Sec. II-C).

Uses the same trainer as ``hnas train`` (``hnas.train``), in ``OUT/retrain/``, and publishes the
result as ``OUT/model.safetensors``. Under torchrun it is data-parallel like ``hnas train``, and
rank 0 publishes the model.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from hnas import distributed as dist
from hnas.search.spec import Spec
from hnas.spaces.genotype import Genotype
from hnas.train import TrainConfig, train
from hnas.utils.io import atomic_path


def retrain_config(spec: Spec, device: torch.device) -> TrainConfig:
    r = spec.retrain
    return TrainConfig.create(
        data=spec.data.source,
        scale=spec.space.scale,
        channels=r.channels,
        global_skip=r.global_skip or spec.space.global_skip,
        iters=r.iters,
        batch=r.batch,
        patch=r.patch,
        lr=r.lr,
        log_every=max(1, min(100, r.iters // 10)),
        save_every=max(1, min(1000, r.iters // 10)),
        val_every=r.val_every,
        device=str(device),
        seed=spec.seed,
    )


def retrain(spec: Spec, genotype: Genotype, out: Path, device: torch.device, resume: bool, progress: Any) -> dict[str, Any]:
    """Train ``genotype`` at the retraining width; returns the trainer's summary."""
    folder = out / "retrain"
    config = retrain_config(spec, device)
    _, summary = train(
        genotype,
        config,
        folder,
        resume=resume,
        progress=lambda step, total, info: progress("retrain", step, total, f"loss {info['loss'] or 0:.3f}"),
    )
    if dist.is_main():
        with atomic_path(out / "model.safetensors") as tmp:
            shutil.copyfile(summary["model"], tmp)
    return summary
