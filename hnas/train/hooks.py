"""The retraining's chores, as hooks of the engine's loop (:mod:`hnas.engine.loop`).

:class:`Schedule` gives each step its learning rate (by the step, or by the share of a time
budget spent, which rank 0 reads and every process follows) and ends a budgeted run when one
more step would not fit; :class:`Chores` counts the step's loss and validates, logs and saves
as the intervals say, and saves the resume state on Ctrl-C; :class:`Callbacks` hands each whole
step to the caller's progress bar and ``on_step``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hnas.engine.loop import Hook, Loop
from hnas.engine.schedule import cosine_lr
from hnas.errors import DataError, HnasError

if TYPE_CHECKING:
    from hnas.train.trainer import Trainer

LOG_FILENAME = "train_log.jsonl"

#: ``on_step(step, info)`` runs after every completed step (and its logging and saving). Raising
#: ``KeyboardInterrupt`` there acts like Ctrl-C; returning ``False`` stops the run resumably.
StepHook = Callable[[int, dict[str, Any]], "bool | None"]
ProgressHook = Callable[[int, int, dict[str, Any]], None]


class TrainingDivergedError(HnasError, RuntimeError):
    """Too many non-finite losses in a row; the last good checkpoints were kept."""


class Schedule(Hook):
    """The cosine learning rate, and the time budget when there is one (:class:`~hnas.engine.budget.TimeBudget`):
    the rate follows the share of the budget spent (rank 0's clock, followed by every process), and
    the run ends, through ``end``, when one more step and the last chores would not fit."""

    def __init__(self, trainer: Trainer, end: Callable[[], None]) -> None:
        self.trainer, self.end = trainer, end
        self._began = 0.0

    def before_run(self, loop: Loop) -> None:
        if self.trainer.budget is not None:
            self.trainer.budget.start(at=self.trainer.created)
            self.trainer.created = None  # a second run() call counts from its own start

    def before_step(self, loop: Loop) -> None:
        trainer, budget = self.trainer, self.trainer.budget
        if budget is not None:
            fraction, fits = loop.processes.same((budget.progress(), budget.fits()))
            if not fits and loop.step > 0:  # the clock ends the run here
                self.end()
                loop.stop()
                return
            loop.lr = cosine_lr(fraction, 1.0, trainer.config.lr, trainer.config.lr_floor)
        self._began = time.perf_counter()

    def after_step(self, loop: Loop) -> None:
        if self.trainer.budget is not None:
            self.trainer.budget.record_step(time.perf_counter() - self._began)

    def after_run(self, loop: Loop) -> None:
        if self.trainer.budget is not None:
            self.trainer.budget.stop()


class Chores(Hook):
    """What each step leaves behind: its loss counted (a non-finite one skipped, too many in a row
    stop the run), and the validation, log line and save its step's intervals ask for; on Ctrl-C
    the resume state."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self._logged_at: int | None = None

    def before_run(self, loop: Loop) -> None:
        trainer, budget = self.trainer, self.trainer.budget
        if trainer.pending_validation:  # stopped by an unreadable validation image at this step
            trainer.pending_validation = False
            self.finish_step()
        if budget is not None and trainer.validation is not None and "validate" not in budget.reserved \
                and trainer.step < trainer.total:
            budget.reserve("validate", trainer.validation_seconds())  # room for the final pass, timed once

    def after_step(self, loop: Loop) -> None:
        self.trainer.step = loop.step
        loop.info["record"] = self.count(loop.loss)

    def on_interrupt(self, loop: Loop) -> None:
        self.trainer.save()

    def count(self, loss: float | None) -> dict[str, Any] | None:
        """Count the step, then validate, log and save as the intervals say."""
        trainer = self.trainer
        if loss is None:
            trainer.skipped += 1
            trainer.bad_streak += 1
            if not trainer.processes.silent:
                warnings.warn(f"step {trainer.step}: non-finite loss or gradient, update skipped", stacklevel=3)
            if trainer.bad_streak >= trainer.config.max_bad_steps:
                self.log(None)
                raise TrainingDivergedError(
                    f"{trainer.bad_streak} non-finite losses in a row up to step {trainer.step}; stopped and kept "
                    f"the last good checkpoints in {trainer.out} (try a lower --lr)"
                )
        else:
            trainer.bad_streak = 0
            trainer.loss_sum += loss
            trainer.loss_count += 1
        return self.finish_step()

    def finish_step(self) -> dict[str, Any] | None:
        """Validate, log and save as the intervals say, for the step just counted.

        Validation images are read at the first validation; one that became unreadable since the
        run started is a one-line :class:`DataError` naming it, after the state of this step is
        saved with its validation pending: ``--resume`` (the file fixed) validates, logs and saves
        this step as the uninterrupted run did, and goes on."""
        trainer, cfg = self.trainer, self.trainer.config
        last = trainer.step == trainer.total
        val = None
        if trainer.validation is not None and (trainer.step % cfg.val_every == 0 or last):
            try:
                val = trainer.validate()
            except DataError as exc:
                trainer.pending_validation = True
                trainer.save_state()
                raise DataError(f"{exc}; the run is saved at step {trainer.step}: fix the file, then continue "
                                "with --resume") from None
        record = None
        if trainer.step % cfg.log_every == 0 or last or val is not None:
            record = self.log(val)
        if trainer.step % cfg.save_every == 0 or last:
            trainer.save()
        return record

    def log(self, val_psnr: float | None) -> dict[str, Any]:
        """One line of the training log: the mean loss since the previous line, and the counters reset."""
        trainer = self.trainer
        record = {
            "step": trainer.step,
            "loss": trainer.loss_sum / trainer.loss_count if trainer.loss_count else None,
            "lr": trainer.step_lr,
            "val_psnr": val_psnr,
            "skipped": trainer.skipped,
        }
        trainer.folder.append(LOG_FILENAME, record)
        self._logged_at = trainer.step
        trainer.loss_sum, trainer.loss_count, trainer.skipped = 0.0, 0, 0
        return record

    def end_by_budget(self) -> None:
        """The budget has no room for another step: make this step the last, with the chores of a
        last step (a validation pass unless one just ran, a log line, the save)."""
        trainer = self.trainer
        trainer.total = trainer.step
        val = None
        if trainer.validation is not None and trainer.validated_at != trainer.step:
            val = trainer.validate()
        if val is not None or self._logged_at != trainer.step:
            self.log(val)
        trainer.save()


class Callbacks(Hook):
    """The caller's ``progress(step, total, info)`` and ``on_step(step, info)`` after each whole step."""

    def __init__(self, trainer: Trainer, progress: ProgressHook | None, on_step: StepHook | None) -> None:
        self.trainer, self.progress, self.on_step = trainer, progress, on_step

    def report(self, loop: Loop) -> None:
        info = {"loss": loop.loss, "lr": loop.lr, "record": loop.info.get("record")}
        if self.progress is not None:
            self.progress(loop.step, self.trainer.expected_total(), info)
        if self.on_step is not None and self.on_step(loop.step, info) is False:
            loop.stop()
