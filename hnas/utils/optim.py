"""Adam as hnas's training loops build it: the fused kernel where this torch has it for the device.

The default (for-loop) Adam runs about six small ops per parameter tensor; an hnas network has
about 200 of them, so on a CPU the update cost 7-9 ms a step, 1-2 % of a 16-channel retraining
step. The fused kernel does the same update in one pass per tensor (1.3-1.7 ms; benchmarks/README.md,
round 5). Same algorithm and state-dict format; its float rounding may differ from the for-loop
form, so a run and its resume use the same form (both come from here).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def adam(params: Iterable[torch.nn.Parameter], lr: float, **kwargs: object) -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr, **kwargs)``, fused when every parameter is a float tensor on
    one device type this torch fuses for (CPU from torch 2.4, CUDA); the for-loop form otherwise."""
    params = list(params)
    kinds = {p.device.type for p in params}
    fusable = (len(kinds) == 1 and kinds <= {"cpu", "cuda"} and all(p.dtype.is_floating_point for p in params)
               and "fused" not in kwargs and "foreach" not in kwargs)
    if fusable:
        try:
            return torch.optim.Adam(params, lr=lr, fused=True, **kwargs)  # type: ignore[arg-type]
        except (RuntimeError, TypeError, ValueError):  # a torch without the fused kernel for this device
            pass
    return torch.optim.Adam(params, lr=lr, **kwargs)  # type: ignore[arg-type]
