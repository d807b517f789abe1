"""The search: the paper's Algorithm 1 on a two-branch supernet, and ``hnas run``'s stages.

``load_spec("examples/quickstart.toml")`` reads an experiment; ``run_spec(spec, out)`` runs it
(search -> derive -> retrain -> evaluate, resumable); ``build_search(spec, folder, device)`` gives
the :class:`Search` itself (supernet, controller, scorer) for experiments of your own.
"""

from hnas.search.algorithm import Search
from hnas.search.checks import check_data  # noqa: F401
from hnas.search.components import Components, build_components
from hnas.search.pipeline import build_search, run_folder, run_one, run_spec
from hnas.search.scoring import Scorer
from hnas.search.spec import Spec
from hnas.search.spec_loader import load_spec, spec_from_dict
from hnas.search.supernet import SuperNet

__all__ = [
    "Components",
    "Scorer",
    "Search",
    "Spec",
    "SuperNet",
    "build_components",
    "build_search",
    "check_data",
    "load_spec",
    "run_folder",
    "run_one",
    "run_spec",
    "spec_from_dict",
]
