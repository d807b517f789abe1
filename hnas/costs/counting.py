"""Multiply-adds of any module's forward, from ``torch.utils.flop_counter.FlopCounterMode``.

The paper's cost (Sec. II-C, Eq. 1) is "FLOPs (i.e., the number of multiply-add operations)".
hnas counts what torch's own counter counts (convolutions, transposed convolutions, matrix
products) and adds explicit formulas, passed to the counter as ``custom_mapping``, for the ops it
leaves at zero but that the HNAS upsampling cell uses: interpolation and adaptive average pooling.
No forward hooks: the counter sees every aten op of one forward, so nothing accumulates across
calls (a defect of the authors' hook-based count, HNAS-REFERENCE.md).

Conventions (per output element, per channel, per image; see docs/costs.md):

============================  =====  =========================================================
aten op (F.interpolate mode)  MACs   why
============================  =====  =========================================================
upsample_nearest2d (nearest)  0      a copy; no arithmetic
_upsample_nearest_exact2d     0      a copy
upsample_bilinear2d           4      weighted sum of 2 x 2 neighbours
upsample_bicubic2d            16     weighted sum of 4 x 4 neighbours
_adaptive_avg_pool2d (area)   k      one per averaged input (k = window size; 1 for integer
                                     upscaling, where area equals nearest plus a scaling)
============================  =====  =========================================================

Not counted (as in every MAC count of SR papers): additions of node sums and residuals, ReLU /
PReLU / sigmoid, the channel-attention mean, the channel-attention product, concatenation,
PixelShuffle, the mean shift, and convolution biases.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

aten = torch.ops.aten

#: MACs per output element of the interpolation kernels (module docstring).
INTERPOLATION_MACS = {"nearest": 0, "nearest-exact": 0, "bilinear": 4, "bicubic": 16}

_CONV_PACKETS = (aten.convolution, aten._convolution)
#: Backend convolution ops the counter may see instead; its own formula counts them (never transposed).
_BACKEND_CONV_PACKETS = (aten.cudnn_convolution, aten._slow_conv2d_forward, aten.convolution_overrideable)
_MATMUL_PACKETS = (aten.mm, aten.addmm, aten.bmm, aten.baddbmm)


@dataclass(frozen=True)
class MacCount:
    """Multiply-adds of one forward, by kind. ``total`` is what the ``macs`` cost reports."""

    convolution: int = 0
    transposed_convolution: int = 0
    interpolation: int = 0
    matmul: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.convolution + self.transposed_convolution + self.interpolation + self.matmul + self.other

    def __add__(self, other: MacCount) -> MacCount:
        return MacCount(
            self.convolution + other.convolution,
            self.transposed_convolution + other.transposed_convolution,
            self.interpolation + other.interpolation,
            self.matmul + other.matmul,
            self.other + other.other,
        )

    def __mul__(self, times: int) -> MacCount:
        return MacCount(
            self.convolution * times,
            self.transposed_convolution * times,
            self.interpolation * times,
            self.matmul * times,
            self.other * times,
        )

    __rmul__ = __mul__

    def as_dict(self) -> dict[str, int]:
        return {
            "convolution": self.convolution,
            "transposed_convolution": self.transposed_convolution,
            "interpolation": self.interpolation,
            "matmul": self.matmul,
            "other": self.other,
        }


def _per_output(macs_per_element: int) -> Callable[..., int]:
    """A counter formula (in FLOPs = 2 x MACs, the counter's unit) charging a fixed cost per output."""

    def formula(*args: Any, out_shape: Any = None, **kwargs: Any) -> int:
        return 2 * macs_per_element * math.prod(out_shape)

    return formula


def _window_total(size_in: int, size_out: int) -> int:
    """Sum over outputs of the adaptive-pool window length (torch's start/end index rule)."""
    return sum(
        -((-(i + 1) * size_in) // size_out) - (i * size_in) // size_out for i in range(size_out)
    )


def _adaptive_avg_pool2d(x_shape: Any, output_size: Any, *args: Any, out_shape: Any = None, **kw: Any) -> int:
    """One MAC per averaged input element (area interpolation, global pooling)."""
    height, width = x_shape[-2], x_shape[-1]
    out_h, out_w = out_shape[-2], out_shape[-1]
    planes = math.prod(x_shape[:-2])
    return 2 * planes * _window_total(height, out_h) * _window_total(width, out_w)


class _Tally:
    """Remembers the transposed share of convolutions, which the counter files with the rest."""

    def __init__(self) -> None:
        self.transposed = 0

    def conv(
        self,
        x_shape: Any,
        w_shape: Any,
        _bias: Any,
        _stride: Any,
        _padding: Any,
        _dilation: Any,
        transposed: bool,
        *args: Any,
        out_shape: Any = None,
        **kwargs: Any,
    ) -> int:
        flops = conv_flop_count(x_shape, w_shape, out_shape, transposed=transposed)
        if transposed:
            self.transposed += flops
        return flops


def _mapping(tally: _Tally) -> dict[Any, Callable[..., int]]:
    mapping: dict[Any, Callable[..., int]] = {packet: tally.conv for packet in _CONV_PACKETS}
    mapping[aten.upsample_nearest2d] = _per_output(INTERPOLATION_MACS["nearest"])
    mapping[aten._upsample_nearest_exact2d] = _per_output(INTERPOLATION_MACS["nearest-exact"])
    mapping[aten.upsample_bilinear2d] = _per_output(INTERPOLATION_MACS["bilinear"])
    mapping[aten.upsample_bicubic2d] = _per_output(INTERPOLATION_MACS["bicubic"])
    mapping[aten._adaptive_avg_pool2d] = _adaptive_avg_pool2d
    return mapping


_INTERPOLATION_PACKETS = (
    aten.upsample_nearest2d,
    aten._upsample_nearest_exact2d,
    aten.upsample_bilinear2d,
    aten.upsample_bicubic2d,
    aten._adaptive_avg_pool2d,
)


_SHAPE_PRESERVING = frozenset(
    {aten.relu.default, aten.sigmoid.default, aten.tanh.default, aten.gelu.default, aten.silu.default,
     aten.hardswish.default, aten.hardsigmoid.default, aten.leaky_relu.default, aten._prelu_kernel.default}
)
_BROADCASTING = frozenset({aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor})
#: Resizes whose second argument is the output size (their meta kernels are Python decompositions).
_RESIZING = frozenset(
    {aten.upsample_bilinear2d.default, aten.upsample_bicubic2d.default, aten.upsample_nearest2d.default}
)


class _FastMetaElementwise(TorchDispatchMode):
    """Shape-only results for activations, elementwise arithmetic and resizing on ``meta`` tensors.

    Their meta kernels are Python reference implementations costing 0.1-0.8 ms each (bilinear
    resizing 15 ms), most of a meta forward's time; their result is just an empty tensor of the
    input's, the broadcast, or the requested output shape.
    This mode sits *below* the flop counter, so the counter still sees every op and counts
    exactly what it would count otherwise (these ops carry no formula); only the shape
    computation is shortened. Anything not meta, or not listed, runs its real kernel.
    """

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        first = args[0] if args else None
        if isinstance(first, torch.Tensor) and first.device.type == "meta" and first.is_floating_point():
            if func in _SHAPE_PRESERVING:
                return torch.empty_like(first)
            second = args[1] if len(args) == 2 else None
            if func in _BROADCASTING and isinstance(second, torch.Tensor) and second.device.type == "meta" \
                    and set(kwargs) <= {"alpha"}:
                shape = torch.broadcast_shapes(first.shape, second.shape)
                return torch.empty(shape, dtype=torch.result_type(first, second), device="meta")
            size = args[1] if len(args) > 1 else None
            if func in _RESIZING and first.dim() == 4 and isinstance(size, (list, tuple)) and len(size) == 2:
                return first.new_empty((*first.shape[:2], int(size[0]), int(size[1])))
        return func(*args, **kwargs)


def count_macs(forward: Callable[..., Any], *inputs: Any) -> MacCount:
    """Multiply-adds of ``forward(*inputs)`` (a module or any callable), by kind.

    Works on any device; on ``meta`` tensors it allocates nothing and takes milliseconds.
    FLOPs are the counter's (2 per multiply-add), halved.
    """
    tally = _Tally()
    counter = FlopCounterMode(display=False, custom_mapping=_mapping(tally))
    with torch.no_grad(), _FastMetaElementwise(), counter:
        forward(*inputs)
    by_op = counter.get_flop_counts().get("Global", {})
    conv = interp = matmul = other = 0
    for packet, flops in by_op.items():
        if packet in _CONV_PACKETS or packet in _BACKEND_CONV_PACKETS:
            conv += flops
        elif packet in _INTERPOLATION_PACKETS:
            interp += flops
        elif packet in _MATMUL_PACKETS:
            matmul += flops
        else:
            other += flops
    return MacCount(
        convolution=(conv - tally.transposed) // 2,
        transposed_convolution=tally.transposed // 2,
        interpolation=interp // 2,
        matmul=matmul // 2,
        other=other // 2,
    )
