"""Candidate operations of the HNAS search space (paper Table I) and their registries.

Register a new op with ``@NORMAL_OPS.register("my_op")`` on a class or factory taking
``(channels, **kw)`` (or ``@UPSAMPLING_OPS.register`` taking ``(channels, scale, **kw)``); it is
then usable in genotypes, derived networks and the supernet with no other change.
"""

from hnas.ops import normal as normal  # noqa: F401  (registers the built-in normal ops)
from hnas.ops import upsampling as upsampling  # noqa: F401  (registers the upsampling ops)
from hnas.ops import blocks as blocks  # noqa: F401  (registers conv_3x3 and res_block, for baselines)
from hnas.ops.blocks import TABLE_I_NORMAL, TABLE_I_UPSAMPLING
from hnas.registry import NORMAL_OPS, UPSAMPLING_OPS

__all__ = ["NORMAL_OPS", "TABLE_I_NORMAL", "TABLE_I_UPSAMPLING", "UPSAMPLING_OPS"]
