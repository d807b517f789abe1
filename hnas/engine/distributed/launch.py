"""Starting N processes from the CLI (torchrun's launcher) and rebuilding the command line they run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import Enum
from typing import Any

from hnas.engine.distributed.ranks import DistributedError, launched


# -- launching -----------------------------------------------------------------------------------
def launch(nproc: int, argv: Sequence[str], max_restarts: int = 0) -> int:
    """Run ``python -m hnas ARGV`` in ``nproc`` processes on this machine through torchrun's own
    launcher (its standalone rendezvous on localhost picks a free port); returns the exit code
    (rank 0's on failure, so a user error still exits 2).

    ``max_restarts``: when a process fails, torchrun stops the others and starts them all again,
    up to that many times; the restarted processes resume from the last checkpoint
    (:func:`restart_count`), so the run ends as an uninterrupted one would.

    CPU threads: torchrun would give each process one; we give each ``cpus // nproc`` unless
    ``OMP_NUM_THREADS`` is set, so N processes share the machine instead of using 1/N of it.
    The launcher's own log lines are muted: the processes print their errors themselves (rank 0
    a user error, every rank a traceback), and a failure that is not a user error gets one line.
    """
    import logging
    import sys

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun_main

    if launched():
        raise DistributedError("--nproc inside torchrun: drop --nproc (torchrun already started the processes)")
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    args = ["--standalone", "--nproc-per-node", str(nproc), "--max-restarts", str(max_restarts),
            "-m", "hnas", *argv]
    agent_logs = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)
                  if name.startswith("torch.distributed")]
    levels = [log.level for log in agent_logs]
    for log in agent_logs:
        log.setLevel(logging.CRITICAL)
    try:
        torchrun_main(args)
    except ChildFailedError as exc:
        # An exit of its own (the agent SIGTERMs the rest once one fails), rank 0's if it has one.
        exits = {r: f for r, f in exc.failures.items() if f.exitcode > 0}
        which = (0 if 0 in exits else min(exits, key=lambda r: exits[r].timestamp)) if exits else exc.get_first_failure()[0]
        code = exc.failures[which].exitcode
        code = code if code > 0 else 128 - code  # killed by signal N -> 128 + N, as a shell reports it
        if code not in (2, 130):
            print(f"error: process {which} of {nproc} failed with exit code {code} (its output is above)",
                  file=sys.stderr)
        return code
    except SignalException as exc:  # Ctrl-C or a kill: the processes got it too and report themselves
        return 128 + int(exc.sigval)
    finally:
        for log, level in zip(agent_logs, levels):
            log.setLevel(level)
    return 0


def argv_from_click(ctx: Any, skip: Sequence[str] = ()) -> list[str]:
    """Rebuild a command line from a typer/click context's parsed values (for :func:`launch`).

    Why not ``sys.argv``: the command may have been invoked in-process (a test's CliRunner, a
    script calling the app), where ``sys.argv`` is someone else's. Every given option is written
    out explicitly; parameters named in ``skip`` (e.g. ``nproc``) are left out. Duck-typed on
    click's ``Parameter`` attributes, so typer's vendored click and click itself both work.
    """
    positional: list[str] = []
    options: list[str] = []
    for param in ctx.command.params:
        if param.name in skip or param.name not in ctx.params:
            continue
        value = ctx.params[param.name]
        if value is None:
            continue
        many = getattr(param, "multiple", False) or param.nargs != 1
        values = list(value) if many else [value]
        if getattr(param, "param_type_name", "option") == "argument":
            positional += [_cli_str(v) for v in values]
        elif getattr(param, "is_flag", False) and not getattr(param, "count", False):
            if value:
                options.append(param.opts[0])
            elif param.secondary_opts:
                options.append(param.secondary_opts[0])
        else:
            for item in values:
                options += [param.opts[0], _cli_str(item)]
    return [*positional, *options]


def _cli_str(value: Any) -> str:
    """How a parsed value is written on a command line (an Enum choice by its value)."""
    return str(value.value) if isinstance(value, Enum) else str(value)
