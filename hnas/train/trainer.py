"""Train a fixed HNAS architecture (the paper's retraining stage; ``hnas train``, ``hnas run``).

The recipe is the authors' (HNAS-REFERENCE.md, "Training as the authors ran it"): L1 loss, Adam,
cosine decay from ``lr`` to ``lr / 100`` over the run, random patches with flips and transposes,
validation PSNR on the Y channel with ``scale`` pixels shaved. The run's chores are the engine's
(:mod:`hnas.engine`), shared with the search and ``hnas compare``:

* **Exact resume.** Batches are a function of ``(seed, step)`` (:mod:`hnas.train.patches`), the
  learning rate a function of the step (:func:`hnas.engine.schedule.cosine_lr`), and the model,
  the Adam moments and the counters go to ``resume.safetensors`` at intervals, at the end and on
  Ctrl-C. A run stopped (or killed) and resumed writes exactly the files of an uninterrupted run.
* **A time budget** (``minutes``) watches the clock (:class:`hnas.engine.budget.TimeBudget`): the
  cosine decays over the fraction of the budget spent, and the run stops when one more step and the
  final validation and save would not fit, so it ends within about a step of the budget at the
  schedule's minimum, validation passes and checkpoint writes included. Such a run depends on the
  clock; a resumed one continues the budget where its last saved state left it.
* **Files in the run folder** (``out``): ``model.safetensors`` is the model to use, the best by
  validation PSNR when validation images are given, else the last; ``last.safetensors`` the last
  weights; ``train_log.jsonl`` one line per log interval (step, mean loss since the previous line,
  the learning rate of the interval's last update, val_psnr, skipped updates); ``train.json`` (what
  the run is), ``config.json``, ``genotype.json``, ``summary.json``; wall times in
  ``timings.jsonl``. Every file is written atomically.
* **Non-finite losses** (or gradients) skip the update with a warning; ``max_bad_steps`` in a row
  stop the run with :class:`TrainingDivergedError`, leaving the last good checkpoints untouched.
* **Ctrl-C** finishes the current step, saves the resume state and re-raises ``KeyboardInterrupt``
  (a second Ctrl-C aborts at once; the last periodic state stays).
* **Multi-process** (``torchrun``, :mod:`hnas.engine.distributed`): the model is wrapped in
  ``DistributedDataParallel`` and rank ``r`` of ``N`` trains on items ``r*B/N .. (r+1)*B/N`` of the
  very batch a one-process run draws at that step, so N processes with ``batch`` B follow the
  one-process run with batch B (to float summation order), and a run saved by N processes resumes
  with M. (A ``DistributedSampler`` would hand each rank different crops and make the run depend on
  the number of processes.) Validation images are split over the ranks and the scores gathered.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from hnas.checkpoint import MODEL_FILENAME, load_model, save_model
from hnas.data import open_images, select_split
from hnas.data.datasets import BenchmarkSet
from hnas.engine.budget import TimeBudget
from hnas.engine.folder import RunFolder, RunFolderError
from hnas.engine.loop import Loop
from hnas.engine.processes import Processes
from hnas.engine.schedule import cosine_lr
from hnas.engine.state import State, module_tensors, pack_optimizer, unpack_optimizer
from hnas.engine.step import SRStep, in_precision
from hnas.engine.validation import Validator
from hnas.models.network import HNASNet
from hnas.spaces.genotype import Genotype
from hnas.spaces.resolve import GenotypeLike, resolve_genotype
from hnas.train.config import IDENTITY_FIELDS, TrainConfig
from hnas.train.hooks import (
    LOG_FILENAME,
    Callbacks,
    Chores,
    ProgressHook,
    Schedule,
    StepHook,
    TrainingDivergedError,
)
from hnas.train.losses import build_loss
from hnas.train.optimizers import build_optimizer
from hnas.train.patches import StepBatches, StepPatchSampler
from hnas.utils.memory import keep_freed_memory

__all__ = ["LAST_FILENAME", "LOG_FILENAME", "RunFolderError", "Trainer", "TrainingDivergedError", "train"]

LAST_FILENAME = "last.safetensors"
RESUME_FILENAME = "resume.safetensors"

#: The length a time-budgeted run without an iteration cap is given until the clock ends it.
UNCAPPED = 2**40


def training_images(config: TrainConfig) -> list[Any]:
    return select_split(open_images(config.data), config.data_split, where=f"{config.data} (training images)")


class Trainer:
    """One training run of ``genotype`` under ``config``, writing into the folder ``out``.

    ``resume=True`` continues the run saved in ``out`` (same data, model and optimiser settings;
    the length and intervals may change). Build, then :meth:`run`.
    """

    #: Opt-in for library users, on in the commands that own their process (``hnas train`` unless
    #: ``--no-fast``, ``hnas run``, ``hnas compare``): keep freed memory in the process
    #: (:func:`hnas.utils.memory.keep_freed_memory`, process-wide), so the step's large maps are
    #: reused instead of page-faulted in afresh every step; results are bit-identical.
    fast: bool = False

    def __init__(self, genotype: GenotypeLike, config: TrainConfig, out: str | Path, *, resume: bool = False) -> None:
        self.created: float | None = time.perf_counter()  # a time budget counts the preparation too
        # the op settings join the genotype, so the run's genotype.json rebuilds the trained network
        self.genotype: Genotype = resolve_genotype(genotype).with_op_params(config.op_params)
        self.config = config
        self.out = Path(out)
        self.folder = RunFolder(self.out, "train.json")
        self.processes = Processes.current()
        self.device = self.processes.device(config.device)
        self.part = self.processes.part(config.batch)
        # A time budget ends the run by the clock; ``iters``, if given, caps it.
        self.budget = TimeBudget(config.minutes * 60.0) if config.minutes is not None else None
        self.total = config.total_iters if self.budget is None or config.iters is not None else UNCAPPED
        # The data first: a wrong folder is one line, and the run folder is not created for nothing.
        self.sampler = StepPatchSampler(training_images(config), config.scale, config.patch, config.batch,
                                        seed=config.seed, augment=config.augment)
        self.validation = (Validator(BenchmarkSet(select_split(open_images(config.val), config.val_split),
                                                  config.scale), config.scale)
                           if config.val is not None else None)
        identity = {"genotype": self.genotype.to_dict(), **{k: getattr(config, k) for k in IDENTITY_FIELDS}}
        self.folder.open(identity, resume, what="training run")

        with torch.random.fork_rng(devices=[]):  # the seed's weights, the caller's generator untouched
            torch.manual_seed(config.seed)
            self.model = HNASNet(self.genotype, scale=config.scale, channels=config.channels,
                                 global_skip=config.global_skip, op_params=config.op_params).to(self.device)
        self.optimizer = build_optimizer(config.optimizer, self.model.parameters(), config.lr)
        self.loss = build_loss(config.loss)

        self.step = 0
        self.best_psnr: float | None = None
        self.best_step: int | None = None
        self.last_val: float | None = None
        self.bad_streak = 0
        self.loss_sum = 0.0
        self.loss_count = 0
        self.skipped = 0
        self.step_lr = config.lr
        self._started: float | None = None
        self.validated_at: int | None = None
        self._saved_step: int | None = None
        self.pending_validation = False
        self._restore(resume)
        # a genotype whose nodes never read one cell input leaves that input's 1x1 projection unused
        p = config.lr_patch
        self.ddp = self.processes.wrap(self.model, self.device, probe=lambda: torch.zeros(1, 3, p, p, device=self.device))
        self.forward = in_precision(self.ddp, config.precision, self.device)
        # the loader's batches are handed to the step (SRStep.update): a data-loader iterator is read in turn
        self.sr_step = SRStep(self.optimizer, self.forward, None, self.device, loss_fn=self.loss,
                              reduce=self.processes.reduce, check_grads=True)

    # -- resume -------------------------------------------------------------------------------------
    def _restore(self, resume: bool) -> None:
        state = self.folder.load_state(RESUME_FILENAME) if resume else None
        if resume and state is None and self.folder.exists(LOG_FILENAME):
            warnings.warn(f"nothing to resume in {self.out} (no {RESUME_FILENAME}); starting at step 0", stacklevel=3)
        if state is not None:
            self.model.load_state_dict(state.group("model"), strict=True)
            unpack_optimizer(state, "optim", self.optimizer)
            info = state.info
            saved_total = int(info.get("total", self.total))
            if self.budget is not None:
                # the budget goes on from the time the saved state had spent; a run the clock
                # already ended stays ended
                self.budget = TimeBudget(self.budget.seconds, float(info.get("spent") or 0.0),
                                         info.get("reserved") or {})
                if info.get("ended") or saved_total < self.total:
                    self.total = saved_total
            elif saved_total != self.total:
                warnings.warn(
                    f"resuming with {self.total} total iterations instead of {saved_total}: the cosine schedule is "
                    "stretched from here on, so the run will differ from one planned this long",
                    stacklevel=3,
                )
            self.step = int(info["step"])
            self.best_psnr = info.get("best_psnr")
            self.best_step = info.get("best_step")
            self.last_val = info.get("last_val")
            self.bad_streak = int(info.get("bad_streak", 0))
            self.loss_sum = float(info.get("loss_sum", 0.0))
            self.loss_count = int(info.get("loss_count", 0))
            self.skipped = int(info.get("skipped", 0))
            self.pending_validation = bool(info.get("pending_validation", False))
            self.step_lr = float(info.get("step_lr", self.step_lr))
        # A kill between a log line and the next resume state leaves lines the resumed run writes
        # again: drop them, so the log reads like one uninterrupted run.
        self.folder.trim(LOG_FILENAME, lambda r: int(r.get("step", 0)) <= self.step)

    def _state(self) -> State:
        state = State({"model": module_tensors(self.model)}, {
            "step": self.step,
            "total": self.total,
            "spent": self.budget.elapsed if self.budget is not None else None,
            "reserved": self.budget.reserved if self.budget is not None else None,
            "ended": self.budget is not None and self.step >= self.total,
            "best_psnr": self.best_psnr,
            "best_step": self.best_step,
            "last_val": self.last_val,
            "bad_streak": self.bad_streak,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "skipped": self.skipped,
        })
        if self.pending_validation:  # the step's log line is still to be written, with its learning rate
            state.info["pending_validation"] = True
            state.info["step_lr"] = self.step_lr
        pack_optimizer(state, "optim", self.optimizer)
        return state

    # -- one step ----------------------------------------------------------------------------------
    def _train_step(self, lr_batch: torch.Tensor, hr_batch: torch.Tensor) -> float | None:
        """One update; returns the loss, or None when the loss or a gradient was not finite.

        Multi-process: the batch is this rank's shard; the loss returned (and checked) is the mean
        over the ranks, i.e. the global batch's, so every rank skips or steps alike; gradients are
        averaged by DDP during ``backward``, so the finiteness check agrees across ranks too.
        """
        if self.fast and self.device.type == "cpu":
            keep_freed_memory()
        self.model.train()
        return self.sr_step.update(self.step, lr_batch, hr_batch, self.step_lr)

    # -- saving and validation -----------------------------------------------------------------------
    def _model_metadata(self) -> dict[str, Any]:
        return {"step": self.step, "val_psnr": self.last_val, "train_config": self.config.model_dump()}

    def save(self) -> None:
        """Write ``last.safetensors`` (and ``model.safetensors`` when there is no validation score
        yet to pick the best by), then the resume state; each atomically, the resume state last.
        Rank 0 only: the replicas are identical."""
        began = time.perf_counter()
        self._saved_step = self.step
        if self.processes.is_writer:
            save_model(self.model, self.out / LAST_FILENAME, self._model_metadata())
            if self.validation is None or self.best_step is None or self.config.select == "last":
                save_model(self.model, self.out / MODEL_FILENAME, self._model_metadata())
            self.save_state()
        if self.budget is not None:
            self.budget.reserve("save", time.perf_counter() - began)

    def save_state(self) -> None:
        """The resume state alone (rank 0): what a run stopped mid-step needs to go on."""
        if self.processes.is_writer:
            self.folder.save_state(RESUME_FILENAME, self._state())

    def validate(self) -> float | None:
        """Mean Y-channel PSNR (shave = scale) on the validation set; a new best is saved as
        ``model.safetensors``."""
        if self.validation is None:
            return None
        began = time.perf_counter()
        value = self._validation_psnr()
        self.last_val, self.validated_at = value, self.step
        if self.best_psnr is None or value > self.best_psnr:
            self.best_psnr, self.best_step = value, self.step
            if self.processes.is_writer and self.config.select == "best":
                save_model(self.model, self.out / MODEL_FILENAME, self._model_metadata())
        seconds = time.perf_counter() - began
        if self.budget is not None:
            self.budget.reserve("validate", seconds)
        if self._started is not None:  # the pass's own time, and the run's wall time at its end
            self.folder.timing("validate", seconds, step=self.step, val_psnr=round(value, 4),
                               elapsed=round(self.budget.elapsed if self.budget is not None
                                             else time.perf_counter() - self._started, 3))
        return value

    # -- the loop ----------------------------------------------------------------------------------
    def _loader(self) -> DataLoader[Any]:
        return DataLoader(
            StepBatches(self.sampler, self.total, None if self.part == slice(None) else self.part),
            batch_size=None,
            sampler=range(self.step, self.total),
            num_workers=self.config.workers,
            pin_memory=self.device.type == "cuda",
        )

    def run(
        self,
        *,
        stop_at: int | None = None,
        on_step: StepHook | None = None,
        progress: ProgressHook | None = None,
    ) -> dict[str, Any]:
        """Train to ``total`` iterations, or until step ``stop_at`` (resumably); returns the summary.

        ``progress(step, total, info)`` is called after every step (the CLI draws a bar with it).
        Multi-process: every rank calls the hooks; ``on_step`` must decide alike on all ranks.
        """
        self.folder.write_json("config.json", self.config.model_dump())
        if self.processes.is_writer:
            self.genotype.save(self.out / "genotype.json")
        started, first = time.perf_counter(), self.step
        self._started = started
        end = self.total if stop_at is None else max(self.step, min(stop_at, self.total))
        batches: Any = None

        def update(step: int, lr: float) -> float | None:
            nonlocal batches
            if batches is None:  # made at the first step: a run with no step to take starts no workers
                batches = iter(self._loader())
            lr_batch, hr_batch = next(batches)
            self.step_lr = lr
            return self._train_step(lr_batch, hr_batch)

        chores = Chores(self)
        loop = Loop(update, lambda step: cosine_lr(step, self.total, self.config.lr, self.config.lr_floor),
                    start=self.step, end=end, processes=self.processes, interruptible=True,
                    hooks=[Schedule(self, chores.end_by_budget), chores, Callbacks(self, progress, on_step)])
        try:
            loop.run()
        finally:
            if self.step > first:
                self.folder.timing("train", time.perf_counter() - started, steps=self.step - first, to_step=self.step,
                                   **({"planned": round(self.budget.seconds, 3)} if self.budget is not None else {}))
        if self.step < self.total and self._saved_step != self.step:  # (saving twice would leave no previous state)
            self.save()
        return self.summary()

    def expected_total(self) -> int:
        """The run's length as far as it is known: under a time budget, the steps done plus those
        that fit at the current speed (capped by ``iters``)."""
        if self.budget is None:
            return self.total
        return min(self.total, self.step + max(1, self.budget.steps_left()))

    def _validation_psnr(self) -> float:
        """One validation pass, unrecorded (no best, no log line)."""
        return self.validation.psnr(self.model)  # type: ignore[union-attr]

    def validation_seconds(self) -> float:
        """Time one validation pass without recording it (no best, no log line)."""
        began = time.perf_counter()
        self._validation_psnr()
        return time.perf_counter() - began

    def summary(self) -> dict[str, Any]:
        """Where the run stands: steps, best validation, files (also ``summary.json``)."""
        summary = {
            "step": self.step,
            "total": self.total,
            "finished": self.step >= self.total,
            "genotype_hash": self.genotype.hash(),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "best_val_psnr": self.best_psnr,
            "best_step": self.best_step,
            "last_val_psnr": self.last_val,
            "checkpoint": self.checkpoint_description(),
            # file names inside the run folder (not absolute paths: a moved or resumed folder says the same)
            "model": MODEL_FILENAME,
            "last": LAST_FILENAME,
            "log": LOG_FILENAME,
        }
        self.folder.write_json("summary.json", summary)
        return summary

    def checkpoint_description(self) -> str:
        """Which weights ``model.safetensors`` holds, in words (results name it)."""
        if self.validation is not None and self.best_step is not None and self.config.select == "best":
            return (f"best validation PSNR ({self.best_psnr:.3f} dB at step {self.best_step} of {self.step}, "
                    f"on {len(self.validation)} validation images)")
        watched = "validation watched, not selected on" if self.validation is not None else "no validation images"
        return f"last (step {self.step}; {watched})"


def train(
    genotype: GenotypeLike,
    config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    stop_at: int | None = None,
    on_step: StepHook | None = None,
    progress: ProgressHook | None = None,
) -> tuple[HNASNet, dict[str, Any]]:
    """Train ``genotype`` under ``config`` into the folder ``out``; returns ``(model, summary)``.

    The returned model is the one ``out/model.safetensors`` holds (best by validation PSNR when
    ``config.val`` is set, else the last), in eval mode on ``config.device``. This is what the
    search's retraining stage and ``hnas compare`` call.
    """
    trainer = Trainer(genotype, config, out, resume=resume)
    summary = trainer.run(stop_at=stop_at, on_step=on_step, progress=progress)
    model: HNASNet = trainer.model
    if (trainer.validation is not None and trainer.best_step is not None and trainer.best_step != trainer.step
            and config.select == "best"):
        if trainer.processes.distributed:  # rank 0 reads the best weights, the others receive them
            if trainer.processes.is_writer:
                model.load_state_dict(load_model(trainer.out / MODEL_FILENAME, device=trainer.device).state_dict())
            trainer.processes.share(model)
        else:
            model = load_model(trainer.out / MODEL_FILENAME, device=trainer.device)
    return model.eval(), summary
