"""Running a cell's edges: the protocol an op follows to share its input's ReLU, and node sums
and concatenations in fewer passes."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hnas.ops.fast.gates import cpu_rewrite, eager_cpu


class ReluFirst:
    """The edge protocol: an op whose forward starts with a ReLU of its input (a separable or dilated
    convolution) subclasses this, beside ``nn.Module``, to share that ReLU with the other edges of
    its cell reading the same node (:func:`run_edge` computes it once per node).

    ``forward_relued(x, add)`` is the op on ``x`` already ReLU'd, plus ``add`` if given (so a node's
    sum of its two edges can be written in the op's last pass); it must equal ``op(x_raw) + add``.
    ``takes_raw_input(x)`` says, per call, that the op would rather ReLU ``x`` itself (then it is
    called as ``op(x)``). Other ops need nothing: they are called as they are.
    """

    def forward_relued(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} subclasses ReluFirst but has no forward_relued")

    def takes_raw_input(self, x: torch.Tensor) -> bool:
        return False


def _parameter_free_key(op: nn.Module) -> tuple[type, str] | None:
    """A key equal for two parameter- and buffer-free ops that compute the same function."""
    if next(op.parameters(), None) is not None or next(op.buffers(), None) is not None:
        return None
    return type(op), op.extra_repr()


def run_edge(
    op: nn.Module,
    states: list[torch.Tensor],
    source: int,
    memo: dict[Any, torch.Tensor],
    add: torch.Tensor | None = None,
) -> torch.Tensor:
    """``op(states[source])`` (``+ add`` if given), sharing work with the other edges of the same
    cell call via ``memo`` (one empty dict per cell call).

    A :class:`ReluFirst` op (``SepConv``, ``DilConv``) gets the node's ReLU, computed once, and adds
    ``add`` in its last pass (unless its ``takes_raw_input(x)`` says it ReLUs a copy of its own). Off the eager CPU path
    (cost counting on meta tensors, other devices, export) every op runs on its own, so the cost
    model counts every edge of the architecture. A
    parameter-free op is computed once per (node, op). Same values as calling each op on its own
    (the gradient of a shared ReLU is the sum of the gradients its readers send, then masked once:
    equal up to float summation order).
    """
    relu_first = isinstance(op, ReluFirst)
    if not cpu_rewrite(states[source]) or (relu_first and op.takes_raw_input(states[source])):
        out = op(states[source])
        return out if add is None else out + add
    if relu_first:
        key: Any = ("relu", source)
        if key not in memo:
            memo[key] = F.relu(states[source])
        return op.forward_relued(memo[key], add=add)
    free = _parameter_free_key(op)
    if free is None:
        out = op(states[source])
    else:
        key = (source, free)
        if key not in memo:
            memo[key] = op(states[source])
        out = memo[key]
    return out if add is None else out + add


def run_node(
    op_a: nn.Module, source_a: int, op_b: nn.Module, source_b: int, states: list[torch.Tensor],
    memo: dict[Any, torch.Tensor],
) -> torch.Tensor:
    """One intermediate node, ``op_a(states[source_a]) + op_b(states[source_b])``, with
    :func:`run_edge`'s sharing; the edge that can add in its last pass goes second."""
    if not isinstance(op_b, ReluFirst) and isinstance(op_a, ReluFirst):
        op_a, source_a, op_b, source_b = op_b, source_b, op_a, source_a
    return run_edge(op_b, states, source_b, memo, add=run_edge(op_a, states, source_a, memo))


def concat(parts: list[torch.Tensor], relu: bool) -> torch.Tensor:
    """``torch.cat(parts, 1)``, or with ``relu`` its ReLU.

    Without autograd the ReLU is written straight into the concatenation (one pass over the
    data, no second tensor); with autograd it is applied in place to the concatenation, which
    ``cat``'s backward does not need.
    """
    if not torch.jit.is_scripting():  # noqa: SIM102  (alone, so TorchScript skips the branch)
        # (parts of mixed dtypes, as under bf16 autocast, go to cat, which promotes them)
        if (relu and not torch.is_grad_enabled() and eager_cpu(parts[0]) and parts[0].dim() == 4
                and all(p.dtype == parts[0].dtype for p in parts)):
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
