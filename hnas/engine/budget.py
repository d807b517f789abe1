"""A time budget that watches the clock while a run trains, instead of predicting once.

The first CPU-hour runs planned their length from the speed of the first twenty steps and one timed
validation pass; ``retrain.minutes = 47`` then ran 59 minutes, because what the plan could not see
(validation passes, checkpoint writes, a machine that slows down) all landed after it. Here the
elapsed wall time is the measure of progress: the learning rate decays on a cosine over the
*fraction of the budget spent*, and the run stops when one more step, plus what must still happen
after the last step (the final validation pass and save, measured when they last ran), would not
fit. Whatever the machine does, the run ends within about one step of its budget, at the
schedule's minimum. The price is repeatability: a budgeted run depends on the clock, as it always
did; a run stated in iterations does not use this class.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from pathlib import Path

#: Recent step durations the speed is estimated from: enough to ignore one slow step (a garbage
#: collection), few enough to follow a machine that slows down within a handful of steps.
WINDOW = 9


class TimeBudget:
    """``seconds`` of wall time, of which ``spent`` were used before (by a run now resumed).

    The owner calls :meth:`start` when the clock should run, :meth:`record_step` after each step
    with the step's own duration (not the validation or saving done after it), and
    :meth:`reserve` with the duration of each chore that must also run after the last step.
    """

    def __init__(self, seconds: float, spent: float = 0.0, reserved: dict[str, float] | None = None) -> None:
        if seconds <= 0:
            raise ValueError(f"a time budget must be positive, got {seconds} s")
        self.seconds = float(seconds)
        self.spent = float(spent)
        self.reserved: dict[str, float] = dict(reserved or {})
        self._steps: deque[float] = deque(maxlen=WINDOW)
        self._since: float | None = None

    def start(self, at: float | None = None) -> None:
        """Run the clock from now, or from ``at`` (a ``time.perf_counter()`` in the past: the
        work that prepared the run counts too)."""
        if self._since is None:
            self._since = time.perf_counter() if at is None else at

    def stop(self) -> None:
        """Stop the clock (the time so far moves into ``spent``)."""
        if self._since is not None:
            self.spent += time.perf_counter() - self._since
            self._since = None

    @property
    def elapsed(self) -> float:
        running = time.perf_counter() - self._since if self._since is not None else 0.0
        return self.spent + running

    def record_step(self, seconds: float) -> None:
        self._steps.append(float(seconds))

    def reserve(self, chore: str, seconds: float) -> None:
        """Keep room for ``chore`` after the last step: its latest measured duration."""
        self.reserved[chore] = float(seconds)

    @property
    def step_seconds(self) -> float | None:
        """The expected duration of the next step: the recent median, or the last step if it was
        slower (a machine that has just slowed down is believed at once; one that has just sped
        up, after a few steps). None before the first step."""
        if not self._steps:
            return None
        return max(statistics.median(self._steps), self._steps[-1])

    @property
    def usable(self) -> float:
        """The seconds steps may take: the budget less the chores reserved for the end."""
        return max(self.seconds - sum(self.reserved.values()), 1e-9)

    def fits(self, steps: int = 1) -> bool:
        """Whether ``steps`` more steps fit before the chores at the end."""
        step = self.step_seconds or 0.0
        return self.elapsed + steps * step <= self.usable

    def progress(self) -> float:
        """The fraction of the usable time that will have passed at the end of the next step, in
        [0, 1]; 1 when the next step is expected to be one of the last two that fit (a margin of
        one step, so that a step slower than expected still leaves the run at the end of its
        schedule)."""
        if not self.fits(3):
            return 1.0
        return min(1.0, (self.elapsed + (self.step_seconds or 0.0)) / self.usable)

    def steps_left(self) -> int:
        """How many more steps fit at the current speed (for a progress bar's total)."""
        step = self.step_seconds
        if not step:
            return 0
        return max(0, int((self.usable - self.elapsed) / step))


#: When the command the user typed started (``time.time()``), set by the CLI's entry point and
#: inherited by the launcher's workers: an end-to-end budget counts from there.
STARTED_ENV = "HNAS_STARTED_AT"


def process_started() -> float:
    """This process's start time as ``time.time()``, where ``/proc`` tells it (interpreter
    start-up and imports count against a budget too); else now."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()
    return time.time() - max(age, 0.0)


def command_started() -> float:
    """When the command began: the entry point's record (see ``STARTED_ENV``), else now (a
    library call, or a command invoked inside a longer-lived process)."""
    try:
        return float(os.environ[STARTED_ENV])
    except (KeyError, ValueError):
        return time.time()
