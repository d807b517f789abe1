"""The engine's one loop: steps, hooks, stops, Ctrl-C; and the one-process view of the processes."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from hnas.engine.loop import Hook, Loop
from hnas.engine.processes import Processes


class Recorder(Hook):
    """Writes down every call, with the step the loop stood at."""

    def __init__(self, calls: list[tuple[str, int]]) -> None:
        self.calls = calls

    def before_run(self, loop: Loop) -> None:
        self.calls.append(("before_run", loop.step))

    def before_step(self, loop: Loop) -> None:
        self.calls.append(("before_step", loop.step))

    def after_step(self, loop: Loop) -> None:
        self.calls.append(("after_step", loop.step))

    def report(self, loop: Loop) -> None:
        self.calls.append(("report", loop.step))

    def on_interrupt(self, loop: Loop) -> None:
        self.calls.append(("on_interrupt", loop.step))

    def after_run(self, loop: Loop) -> None:
        self.calls.append(("after_run", loop.step))


def test_steps_run_from_start_to_end_at_the_scheduled_rates():
    taken: list[tuple[int, float]] = []
    loop = Loop(lambda k, lr: taken.append((k, lr)) or float(k), lambda k: 1.0 / (k + 1), start=2, end=5)
    assert loop.run() == 5
    assert taken == [(2, 1 / 3), (3, 1 / 4), (4, 1 / 5)]
    assert loop.loss == 4.0


def test_hooks_are_called_in_order_around_every_step():
    calls: list[tuple[str, int]] = []
    Loop(lambda k, lr: 0.0, lambda k: 0.1, start=0, end=2, hooks=[Recorder(calls)]).run()
    assert calls == [("before_run", 0),
                     ("before_step", 0), ("after_step", 1), ("report", 1),
                     ("before_step", 1), ("after_step", 2), ("report", 2),
                     ("after_run", 2)]


def test_a_hook_sets_the_rate_or_stops_before_a_step_is_taken():
    class Cap(Hook):
        def before_step(self, loop: Loop) -> None:
            if loop.step == 3:
                loop.stop()
            loop.lr = 0.5

    taken: list[tuple[int, float]] = []
    loop = Loop(lambda k, lr: taken.append((k, lr)) or 0.0, lambda k: 1.0, start=0, end=10, hooks=[Cap()])
    assert loop.run() == 3
    assert taken == [(0, 0.5), (1, 0.5), (2, 0.5)]


def test_ctrl_c_ends_the_step_in_flight_then_interrupts():
    calls: list[tuple[str, int]] = []

    def step(k: int, lr: float) -> float:
        if k == 1:
            os.kill(os.getpid(), signal.SIGINT)  # a request: this step still finishes
        return 0.0

    loop = Loop(step, lambda k: 0.1, start=0, end=5, hooks=[Recorder(calls)], interruptible=True)
    with pytest.raises(KeyboardInterrupt):
        loop.run()
    assert loop.step == 2
    assert calls[-3:] == [("report", 2), ("on_interrupt", 2), ("after_run", 2)]


def test_an_interrupt_inside_a_step_skips_the_save_and_an_error_still_releases():
    calls: list[tuple[str, int]] = []

    def broken(k: int, lr: float) -> float:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Loop(broken, lambda k: 0.1, start=0, end=3, hooks=[Recorder(calls)]).run()
    assert [name for name, _ in calls] == ["before_run", "before_step", "after_run"]

    calls.clear()
    with pytest.raises(ValueError):
        Loop(lambda k, lr: (_ for _ in ()).throw(ValueError("bad")), lambda k: 0.1, start=0, end=3,
             hooks=[Recorder(calls)]).run()
    assert calls[-1] == ("after_run", 0)


def test_one_process_answers_trivially():
    one = Processes()
    assert not one.distributed and one.is_writer and not one.silent
    assert one.part(6) == slice(None) and one.reduce is None
    model = torch.nn.Linear(2, 2)
    assert one.wrap(model, torch.device("cpu"), probe=lambda: pytest.fail("probed with one process")) is model
    assert one.any(True) and not one.any(False) and one.same((0.5, True)) == (0.5, True)
    assert one.spread([3, 4], lambda i, x: x * 10) == [30, 40]
    assert Processes.current() == one  # no process group in the test process


def test_a_batch_that_does_not_split_over_the_processes_is_one_line():
    from hnas.engine.distributed import DistributedError

    assert Processes(rank=1, world=2).part(6) == slice(3, 6)
    with pytest.raises(DistributedError, match="multiple of 4"):
        Processes(rank=0, world=4).part(6)


def test_the_probe_finds_parameters_a_forward_leaves_unused():
    from hnas.engine.distributed import leaves_parameters_unused

    class Branches(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.spare = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    net = Branches()
    assert leaves_parameters_unused(net, torch.zeros(1, 2))
    assert all(p.grad is None for p in net.parameters())  # the probe leaves no gradient behind
    assert not leaves_parameters_unused(net.used, torch.zeros(1, 2))
