"""CPU fast paths that compute what the standard ops compute, in fewer or faster kernels.

hnas networks run many small ops on few channels, where the choices PyTorch makes by default cost
a lot on a CPU (benchmarks/README.md has the measurements):

* A 1x1 convolution of a batch under 16 on one thread goes to PyTorch's own GEMM path, which the
  dispatcher prefers there; oneDNN runs the same convolution 2-3x faster (channels-last input).
  :func:`pointwise_conv` calls oneDNN directly.
* Each cell output is passed through ReLU by both cells that read it (their input preprocessing);
  :func:`concat` can return the ReLU of the concatenation in the pass that concatenates, so the
  network computes it once (see ``HNASNet.forward``).

Each fast path runs only where it is an exact substitute: eager float32 CPU tensors, oneDNN
available and enabled, and no tracing, scripting, compiling or ``TorchDispatchMode`` (e.g.
``FlopCounterMode``, fake tensors under ``torch.export``). Everywhere else the standard op runs,
so cost counting, export and other devices see exactly the operations they always saw.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import _get_current_dispatch_mode

#: ``torch.compiler.is_compiling`` (torch >= 2.3) or dynamo's own (torch 2.2).
_is_compiling = getattr(torch.compiler, "is_compiling", None) or torch._dynamo.is_compiling


def eager_cpu(x: torch.Tensor) -> bool:
    """Whether ``x`` may take a CPU fast path (module docstring). Not for TorchScript."""
    return (
        not _is_compiling()  # first: the rest need not be traceable by dynamo
        and not torch.jit.is_tracing()
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and bool(torch.backends.mkldnn.enabled)
        and _get_current_dispatch_mode() is None
    )


def pointwise_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.conv2d(x, weight, bias)`` for a 1x1, stride-1, ungrouped ``weight``, through oneDNN on CPU."""
    if not torch.jit.is_scripting():  # noqa: SIM102  (alone, so TorchScript skips the branch)
        if eager_cpu(x) and x.dim() == 4:
            return torch.mkldnn_convolution(x, weight, bias, [0, 0], [1, 1], [1, 1], 1)
    return F.conv2d(x, weight, bias)


class PointwiseConv2d(nn.Conv2d):
    """A bias-optional 1x1 ``nn.Conv2d`` (same parameters and state-dict keys) using :func:`pointwise_conv`."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pointwise_conv(x, self.weight, self.bias)


def concat(parts: list[torch.Tensor], relu: bool) -> torch.Tensor:
    """``torch.cat(parts, 1)``, or with ``relu`` its ReLU.

    Without autograd the ReLU is written straight into the concatenation (one pass over the
    data, no second tensor); with autograd it is applied in place to the concatenation, which
    ``cat``'s backward does not need.
    """
    if not torch.jit.is_scripting():  # noqa: SIM102  (alone, so TorchScript skips the branch)
        if relu and not torch.is_grad_enabled() and eager_cpu(parts[0]) and parts[0].dim() == 4:
            first = parts[0]
            channels = sum(int(p.shape[1]) for p in parts)
            out = torch.empty(
                (first.shape[0], channels, first.shape[2], first.shape[3]),
                dtype=first.dtype,
                memory_format=torch.channels_last
                if first.is_contiguous(memory_format=torch.channels_last) and not first.is_contiguous()
                else torch.contiguous_format,
            )
            start = 0
            for part in parts:
                stop = start + int(part.shape[1])
                torch.clamp_min(part, 0, out=out[:, start:stop])
                start = stop
            return out
    out = torch.cat(parts, 1)
    return out.relu_() if relu else out
