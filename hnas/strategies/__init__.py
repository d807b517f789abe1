"""Search strategies on one ask/tell seam, and the engine that runs them on stand-alone training.

``[strategy]`` in a spec selects one by name from :data:`hnas.registry.STRATEGIES`
(``successive_halving``, ``random_search``, ``controller``; a plugin registers its own with
``@STRATEGIES.register``). Without it, ``hnas run`` searches as the paper does (Algorithm 1 on the
shared weights).
"""

from hnas.strategies.base import BandError, FixedPool, Proposal, Proposer, Strategy

__all__ = ["BandError", "FixedPool", "Proposal", "Proposer", "Strategy"]
