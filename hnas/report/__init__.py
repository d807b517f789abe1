"""Looking at a run: cells drawn as in the paper, the learned policy, one self-contained HTML report.

``write_report(run_dir)`` writes ``run_dir/report.html`` (the pipeline calls it at the end of
``hnas run``; ``hnas report`` on any run folder); ``save_drawing(genotype, "cells.svg")`` draws a
genotype (``hnas show --draw``); ``run_policy(run_dir)`` reads the controller's learned policy
(``hnas inspect``). Everything is read from the run folder through :mod:`hnas.report.rundata`.
"""

from __future__ import annotations

from hnas.report.draw import draw_genotype, save_drawing
from hnas.report.html import write_report
from hnas.report.policy import Policy, load_controller, run_policy
from hnas.report.rundata import NotARunFolderError, RunData, load_run

__all__ = [
    "Policy",
    "RunData",
    "NotARunFolderError",
    "draw_genotype",
    "load_controller",
    "load_run",
    "run_policy",
    "save_drawing",
    "write_report",
]
