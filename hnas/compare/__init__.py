"""``hnas compare``: retrain architectures at equal budget, over seeds, and compare them.

``resolve_members(["runs/q", "random:8@runs/q", "baseline-plain", "hnas-a"], ...)`` names the
architectures; ``run_compare(Recipe(data=..., iters=1000), members, out)`` trains, evaluates,
prices and ranks them (``compare.json``, ``compare.png``).
"""

from hnas.compare.members import Member, MemberError, Space, resolve_members, space_of_run
from hnas.compare.runner import Recipe, run_compare
from hnas.compare.stats import kendall_tau, mean_std, spearman_rho

__all__ = [
    "Member",
    "MemberError",
    "Recipe",
    "Space",
    "kendall_tau",
    "mean_std",
    "resolve_members",
    "run_compare",
    "space_of_run",
    "spearman_rho",
]
