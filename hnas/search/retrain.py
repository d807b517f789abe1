"""The retrain stage of ``hnas run``: train the derived genotype from scratch (paper Sec. II-C).

Uses the same trainer as ``hnas train`` (:mod:`hnas.train`), in ``OUT/retrain/``, on the
retraining's training images only, validating on its validation images when the spec names some
(the best checkpoint is kept; ``results.json`` says which one was evaluated), and publishes the
result as ``OUT/model.safetensors``. Under torchrun it is data-parallel like ``hnas train``.
"""

from __future__ import annotations

import shutil
from typing import Any

import torch

from hnas.engine.folder import RunFolder
from hnas.search.spec import Spec
from hnas.spaces.genotype import Genotype
from hnas.train import TrainConfig, train
from hnas.utils.io import atomic_path


def retrain_config(spec: Spec, device: torch.device, minutes: float | None = None) -> TrainConfig:
    """The retraining's settings; ``minutes`` (the share of an end-to-end budget) replaces the
    spec's ``retrain.minutes``."""
    r = spec.retrain
    source = r.data if r.data is not None else spec.data.source
    return TrainConfig.create(
        data=source,
        data_split=r.train_split,
        scale=spec.space.scale,
        channels=r.channels,
        global_skip=r.global_skip or spec.space.global_skip,
        op_params=spec.space.op_params(),
        iters=r.iters,
        minutes=minutes if minutes is not None else r.minutes,
        batch=r.batch,
        patch=r.patch,
        lr=r.lr,
        loss=r.loss,
        optimizer=r.optimizer,
        precision=r.precision,
        val=r.val_data if r.val_data is not None else (source if r.val_split is not None else None),
        val_split=r.val_split,
        select=r.select,
        log_every=max(1, min(100, r.iters // 10)),
        save_every=max(1, min(1000, r.iters // 10)),
        val_every=r.val_every,
        device=str(device),
        seed=spec.seed,
    )


def retrain(spec: Spec, genotype: Genotype, folder: RunFolder, device: torch.device, progress: Any,
            minutes: float | None = None) -> dict[str, Any]:
    """Train ``genotype`` at the retraining width (for ``minutes`` when given); returns the
    trainer's summary (resumes a killed one)."""
    _, summary = train(
        genotype,
        retrain_config(spec, device, minutes),
        folder / "retrain",
        resume=True,
        progress=lambda step, total, info: progress("retrain", step, total, f"loss {info['loss'] or 0:.3f}"),
    )
    if folder.is_writer:
        with atomic_path(folder / "model.safetensors") as tmp:
            shutil.copyfile(folder / "retrain" / summary["model"], tmp)
    return {k: summary[k] for k in ("step", "total", "parameters", "best_val_psnr", "best_step", "checkpoint")}
