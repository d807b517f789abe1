"""The one training loop of hnas, and the hooks that give each use its chores.

Retraining (``hnas train``, ``hnas run``'s last stage, every ``hnas compare`` member), the
stand-alone proxy that strategies and derivation train candidates with, and the supernet's
weight steps all run here: step ``k`` from ``start`` to ``end`` takes the learning rate of step
``k`` and the update :func:`~hnas.engine.step.train_step` makes. What differs between them is a
hook's business (mmengine's ``Runner``/``Hook`` split): the retraining's hooks keep the time
budget, validate, log, save and resume; the proxy has none.

A step is *whole* once its update is made and every ``after_step`` hook has run (its counters,
log line and checkpoint written). Ctrl-C is a request (:class:`~hnas.engine.stop.StopFlag`,
agreed across the processes after each step): the loop stops after a whole step and calls
``on_interrupt``, so the state a hook saves there is one an uninterrupted run passed through. A
``KeyboardInterrupt`` raised elsewhere (a second Ctrl-C, a hook) reaches ``on_interrupt`` only
when it struck between whole steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

from hnas.engine.processes import Processes
from hnas.engine.stop import StopFlag

#: ``step_fn(k, lr)`` makes update ``k`` (0-based) at learning rate ``lr``; returns its loss, or
#: None when it was skipped (a non-finite loss or gradient).
StepFn = Callable[[int, float], "float | None"]


class Hook:
    """One chore of a :class:`Loop`. Every method is optional; hooks run in the order given."""

    def before_run(self, loop: Loop) -> None:
        """Before the first step (resumed state is already in place)."""

    def before_step(self, loop: Loop) -> None:
        """Before step ``loop.step``: may set ``loop.lr`` or call ``loop.stop()`` (no step is taken)."""

    def after_step(self, loop: Loop) -> None:
        """After the update, ``loop.step`` counted and ``loop.loss`` set: the step's chores."""

    def report(self, loop: Loop) -> None:
        """After a whole step: progress bars, callbacks; may call ``loop.stop()``."""

    def on_interrupt(self, loop: Loop) -> None:
        """Ctrl-C after a whole step: save what a resumed run needs."""

    def after_run(self, loop: Loop) -> None:
        """Always, also after an error: release what ``before_run`` took."""


class Loop:
    """Steps ``start .. end - 1`` of ``step_fn``, the learning rate from ``schedule(k)`` unless a
    hook sets ``lr``. ``interruptible`` installs the Ctrl-C handler (the main thread only)."""

    def __init__(self, step_fn: StepFn, schedule: Callable[[int], float], *, start: int, end: int,
                 hooks: Sequence[Hook] = (), processes: Processes | None = None, interruptible: bool = False) -> None:
        self.step_fn, self.schedule = step_fn, schedule
        self.step, self.end = start, end
        self.hooks = list(hooks)
        self.processes = processes or Processes()
        self.interruptible = interruptible
        self.lr: float | None = None
        self.loss: float | None = None
        self.info: dict[str, Any] = {}  # what the hooks of one step tell each other (and the callbacks)
        self._stopping = False

    def stop(self) -> None:
        """End the run before the next step."""
        self._stopping = True

    def run(self) -> int:
        """Run to ``end`` or a stop; returns the step reached."""
        flag = StopFlag()
        whole = True
        try:
            with flag.installed() if self.interruptible else nullcontext(flag):
                self._call("before_run")
                while self.step < self.end and not flag.requested and not self._stopping:
                    self.lr, self.info = None, {}
                    self._call("before_step")
                    if self._stopping:
                        break
                    lr = self.schedule(self.step) if self.lr is None else self.lr
                    self.lr = lr
                    whole = False
                    self.loss = self.step_fn(self.step, lr)
                    self.step += 1
                    self._call("after_step")
                    whole = True
                    if self.processes.distributed:  # a Ctrl-C seen by one process stops all after this step
                        flag.requested = self.processes.any(flag.requested)
                    self._call("report")
                if flag.requested:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if whole:
                self._call("on_interrupt")
            raise
        finally:
            self._call("after_run")
        return self.step

    def _call(self, name: str) -> None:
        for hook in self.hooks:
            getattr(hook, name)(self)

