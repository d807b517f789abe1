"""When a fast path may run: eager float32 CPU tensors, oneDNN on, nothing tracing or counting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode

#: ``torch.compiler.is_compiling`` (torch >= 2.3) or dynamo's own (torch 2.2).
_is_compiling = getattr(torch.compiler, "is_compiling", None) or torch._dynamo.is_compiling


def eager_cpu(x: torch.Tensor) -> bool:
    """Whether ``x`` may take a CPU fast path (the docstring of :mod:`hnas.ops.fast`). Not for TorchScript."""
    return (
        not _is_compiling()  # first: the rest need not be traceable by dynamo
        and not torch.jit.is_tracing()
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and bool(torch.backends.mkldnn.enabled)
        and _get_current_dispatch_mode() is None
    )


@contextlib.contextmanager
def plain_ops() -> Iterator[None]:
    """Inside the block oneDNN is off, so every fast path here runs its standard op.

    Why not ``torch.backends.mkldnn.flags(enabled=False)``: that context also sets oneDNN's TF32
    flag (to its default, True), and torch builds without Intel GPU support warn about TF32 on
    every such call; only the ``enabled`` switch is touched here.
    """
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def cpu_rewrite(x: torch.Tensor) -> bool:
    """Whether ``x`` may take a CPU fast path built only of standard ops: eager CPU tensors of any
    dtype. Not under compiling or exporting (a shape-dependent choice would be baked into the
    graph), tracing, scripting or a ``TorchDispatchMode`` (cost counting)."""
    return (
        not _is_compiling()
        and not torch.jit.is_tracing()
        and x.device.type == "cpu"
        and _get_current_dispatch_mode() is None
    )


def _eager_nhwc(x: torch.Tensor) -> bool:
    """:func:`eager_cpu` for a channels-last N x C x H x W tensor, the layout the custom
    autograd forms below (and oneDNN's fast kernels) take."""
    return eager_cpu(x) and x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)


def _can_fuse(x: torch.Tensor, add: torch.Tensor | None) -> bool:
    """Post-ops apply without autograd, to a channels-last output and an ``add`` of its layout."""
    return (
        not torch.is_grad_enabled()
        and x.is_contiguous(memory_format=torch.channels_last)
        and (add is None or add.is_contiguous(memory_format=torch.channels_last))
    )
