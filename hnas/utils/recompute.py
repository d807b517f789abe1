"""Recomputation in backward (``torch.utils.checkpoint``) that does not nest.

The supernet recomputes its large cells and ``up_and_down`` recomputes itself on large inputs.
Nested, an ``up_and_down`` edge inside a recomputed cell ran its forward three times per step: once
in the forward pass, once when the cell was recomputed, and once more for its own checkpoint. The
outer recomputation already keeps none of the inner maps during the forward pass, so the inner one
only adds a forward; inside a recomputed call, :func:`recomputed` runs its function plainly.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

_INSIDE = contextvars.ContextVar("hnas_inside_recomputed", default=False)


def recomputed(fn: Callable[..., torch.Tensor], *args: Any) -> torch.Tensor:
    """``fn(*args)``, its activations recomputed in backward instead of kept (non-reentrant
    checkpoint), unless this call is already inside a recomputed one."""
    if _INSIDE.get():
        return fn(*args)

    def marked(*inner: Any) -> torch.Tensor:
        token = _INSIDE.set(True)
        try:
            return fn(*inner)
        finally:
            _INSIDE.reset(token)

    return checkpoint(marked, *args, use_reentrant=False)  # type: ignore[no-any-return]
