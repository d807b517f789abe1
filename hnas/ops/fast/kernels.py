"""The CPU kernels: oneDNN 1x1 convolutions with post-ops, polyphase dilated and tiled 5x5 depthwise
convolutions, and few-output convolutions, each an exact substitute for the standard op."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hnas.ops.fast.gates import _can_fuse, _eager_nhwc, eager_cpu


def pointwise_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    relu: bool = False,
    add: torch.Tensor | None = None,
) -> torch.Tensor:
    """``F.conv2d(x, weight, bias)`` for a 1x1, stride-1, ungrouped ``weight``, through oneDNN on CPU;
    then ``+ add`` if given, then the ReLU if ``relu`` (in the same pass where oneDNN can)."""
    if not torch.jit.is_scripting():  # noqa: SIM102  (alone, so TorchScript skips the branch)
        if eager_cpu(x) and x.dim() == 4:
            if (relu or add is not None) and _can_fuse(x, add):
                if add is None:
                    return torch.ops.mkldnn._convolution_pointwise(
                        x, weight, bias, [0, 0], [1, 1], [1, 1], 1, "relu", [], ""
                    )
                return torch.ops.mkldnn._convolution_pointwise.binary(
                    x, add, weight, bias, [0, 0], [1, 1], [1, 1], 1, "add", None, "relu" if relu else None, [], None
                )
            out = torch.mkldnn_convolution(x, weight, bias, [0, 0], [1, 1], [1, 1], 1)
            if add is not None:
                out = out + add
            return out.relu_() if relu else out  # in place: a convolution's backward needs no output
    out = F.conv2d(x, weight, bias)
    if add is not None:
        out = out + add
    return out.relu_() if relu else out


class PointwiseConv2d(nn.Conv2d):
    """A bias-optional 1x1 ``nn.Conv2d`` (same parameters and state-dict keys) using :func:`pointwise_conv`."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pointwise_conv(x, self.weight, self.bias)


def phases_fit(x: torch.Tensor) -> bool:
    """Whether ``x`` (N x C x H x W) has even sides, so that :func:`to_phases` applies."""
    return x.dim() == 4 and x.shape[-2] % 2 == 0 and x.shape[-1] % 2 == 0


def _to_phases(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    out = torch.empty((4 * n, c, h // 2, w // 2), dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    phases, pixels = out.permute(0, 2, 3, 1).view(2, 2, n, h // 2, w // 2, c), x.permute(0, 2, 3, 1)
    for row in (0, 1):
        for col in (0, 1):
            phases[row, col].copy_(pixels[:, row::2, col::2, :])
    return out


def _from_phases(y: torch.Tensor, batch: int) -> torch.Tensor:
    # Four strided copies (here and above) into a channels-last tensor: 3x faster at 8-16
    # channels than one copy of the 6-D permutation (benchmarks/README.md, round 5).
    _, c, h2, w2 = y.shape
    out = torch.empty((batch, c, 2 * h2, 2 * w2), dtype=y.dtype, device=y.device, memory_format=torch.channels_last)
    pixels, phases = out.permute(0, 2, 3, 1), y.permute(0, 2, 3, 1).reshape(2, 2, batch, h2, w2, c)
    for row in (0, 1):
        for col in (0, 1):
            pixels[:, row::2, col::2, :].copy_(phases[row, col])
    return out


class _ToPhases(torch.autograd.Function):
    """The permutation and its inverse as one autograd pair, so the backward of each is the
    other's fast copy (autograd's own backward of the 6-D permutation is the slow form)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.batch = x.shape[0]
        return _to_phases(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return _from_phases(grad, ctx.batch)


class _FromPhases(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, y: torch.Tensor, batch: int) -> torch.Tensor:
        return _from_phases(y, batch)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _to_phases(grad), None


def to_phases(x: torch.Tensor) -> torch.Tensor:
    """N x C x H x W -> 4N x C x H/2 x W/2: the four polyphase sub-images (row parity, column
    parity) stacked along the batch, channels-last (one copy).

    A convolution with dilation 2 and padding 2p on ``x`` equals the same kernel with dilation 1
    and padding p on each sub-image; pointwise ops (ReLU, 1x1 convolutions, batch statistics over
    all pixels) are indifferent to the order of the pixels.
    """
    return _ToPhases.apply(x)  # type: ignore[no-any-return]


def from_phases(y: torch.Tensor, batch: int) -> torch.Tensor:
    """Inverse of :func:`to_phases` for an original batch of ``batch`` (channels-last, one copy)."""
    return _FromPhases.apply(y, batch)  # type: ignore[no-any-return]


def _depthwise_weight_grad(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
    """The weight gradient of a stride-1 depthwise convolution with an odd kernel k > 3, as the
    3x3 weight gradients of the windows starting at taps 0, 2, ..., k - 3 (they overlap by one
    tap, which is written twice with the same value). Tap (i, j) of the k x k gradient is
    sum_q grad[q] * x_padded[q + (i, j)]; the window at (a, b) is a 3x3 convolution, padding 0,
    over ``x_padded`` cut to start at (a, b)."""
    channels, k = weight.shape[0], weight.shape[-1]
    h, w = grad.shape[-2:]
    padded = F.pad(x, (padding,) * 4)
    small = weight.new_empty((channels, 1, 3, 3))
    out = weight.new_empty(weight.shape)
    for a in range(0, k - 2, 2):
        for b in range(0, k - 2, 2):
            window = padded[:, :, a : a + h + 2, b : b + w + 2]
            out[:, :, a : a + 3, b : b + 3] = torch.ops.aten.convolution_backward(
                grad, window, small, None, [1, 1], [0, 0], [1, 1], False, [0, 0], channels, [False, True, False]
            )[1]
    return out


class _Depthwise(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return F.conv2d(x, weight, None, 1, padding, 1, weight.shape[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, weight = ctx.saved_tensors
        p, channels = ctx.padding, weight.shape[0]
        grad = grad.contiguous(memory_format=torch.channels_last)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [1, 1], [p, p], [1, 1], False, [0, 0], channels, [True, False, False]
            )[0]
        if ctx.needs_input_grad[1]:
            grad_w = _depthwise_weight_grad(grad, x, weight, p)
        return grad_x, grad_w, None


def depthwise_conv(x: torch.Tensor, weight: torch.Tensor, padding: int, dilation: int = 1) -> torch.Tensor:
    """A stride-1 depthwise convolution without bias (``weight`` C x 1 x k x k, square padding);
    with autograd on the eager CPU path and an undilated odd kernel over 3, through
    :func:`_depthwise_weight_grad` in backward (same gradients up to float rounding)."""
    if not torch.jit.is_scripting():  # alone, so TorchScript skips the branch
        k = weight.shape[-1]
        # _eager_nhwc first: under tracing the shape entries are tensors, and comparing them
        # would make the tracer warn that a Python bool is baked into the graph
        if (_eager_nhwc(x) and dilation == 1 and k > 3 and k % 2 == 1 and weight.shape[-2] == k
                and torch.is_grad_enabled()):
            return _Depthwise.apply(x, weight, padding)  # type: ignore[no-any-return]
    return F.conv2d(x, weight, None, 1, padding, dilation, weight.shape[0])


class DepthwiseConv2d(nn.Conv2d):
    """A bias-free depthwise ``nn.Conv2d`` (same parameters and state-dict keys) using
    :func:`depthwise_conv`."""

    def __init__(self, channels: int, kernel_size: int, padding: int, dilation: int = 1) -> None:
        super().__init__(channels, channels, kernel_size, padding=padding, dilation=dilation, groups=channels,
                         bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_conv(x, self.weight, self.padding[0], self.dilation[0])


def _taps(k: int) -> list[tuple[int, int, int]]:
    """(tap index, row shift, column shift) of a k x k kernel with padding k // 2: output pixel
    (h, w) reads input pixel (h + dy, w + dx) through tap ``t``."""
    return [(i * k + j, i - k // 2, j - k // 2) for i in range(k) for j in range(k)]


def _span(shift: int, size: int) -> tuple[slice, slice]:
    """Where output rows (or columns) read input rows shifted by ``shift``, within ``size``: the
    output slice and the input slice."""
    return slice(max(0, -shift), size - max(0, shift)), slice(max(0, shift), size - max(0, -shift))


def _shifted_sum(z: torch.Tensor, bias: torch.Tensor | None, k: int, outputs: int) -> torch.Tensor:
    """y[n, o, h, w] = bias[o] + sum_t z[n, t * outputs + o, h + dy_t, w + dx_t] (zero outside)."""
    n, _, h, w = z.shape
    y = torch.empty((n, outputs, h, w), dtype=z.dtype, device=z.device, memory_format=torch.channels_last)
    out, taps = y.permute(0, 2, 3, 1), z.permute(0, 2, 3, 1).reshape(n, h, w, k * k, outputs)
    center = (k // 2) * k + k // 2  # the middle tap reads every pixel unshifted
    out.copy_(taps[:, :, :, center])
    for t, dy, dx in _taps(k):
        if t == center:
            continue
        (rows_out, rows_in), (cols_out, cols_in) = _span(dy, h), _span(dx, w)
        out[:, rows_out, cols_out].add_(taps[:, rows_in, cols_in, t])
    if bias is not None:
        out.add_(bias)
    return y


def _shifted_spread(grad: torch.Tensor, k: int) -> torch.Tensor:
    """The adjoint of :func:`_shifted_sum` (without the bias): the gradient of ``z``."""
    n, outputs, h, w = grad.shape
    gz = torch.empty((n, k * k * outputs, h, w), dtype=grad.dtype, device=grad.device,
                     memory_format=torch.channels_last).zero_()
    taps, g = gz.permute(0, 2, 3, 1).view(n, h, w, k * k, outputs), grad.permute(0, 2, 3, 1)
    for t, dy, dx in _taps(k):
        (rows_out, rows_in), (cols_out, cols_in) = _span(dy, h), _span(dx, w)
        taps[:, rows_in, cols_in, t].copy_(g[:, rows_out, cols_out])
    return gz


def _as_pointwise(weight: torch.Tensor) -> torch.Tensor:
    """O x C x k x k -> (k k O) x C x 1 x 1, tap-major: one 1x1 output channel per (tap, output)."""
    o, c, k, _ = weight.shape
    return weight.permute(2, 3, 0, 1).reshape(k * k * o, c, 1, 1)


def _few_output_forward(x: torch.Tensor, pointwise: torch.Tensor, bias: torch.Tensor | None,
                        shape: torch.Size) -> torch.Tensor:
    """The convolution of weight shape ``shape`` from its :func:`_as_pointwise` form."""
    z = torch.mkldnn_convolution(x, pointwise, None, [0, 0], [1, 1], [1, 1], 1)
    return _shifted_sum(z, bias, shape[-1], shape[0])


class _FewOutputConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        pointwise = _as_pointwise(weight)
        ctx.save_for_backward(x, pointwise)
        ctx.shape, ctx.has_bias = weight.shape, bias is not None
        return _few_output_forward(x, pointwise, bias, weight.shape)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, pointwise = ctx.saved_tensors
        o, c, k, _ = ctx.shape
        gz = _shifted_spread(grad, k)
        grad_x, grad_p, _ = torch.ops.aten.convolution_backward(
            gz, x, pointwise, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False],
        )
        grad_w = grad_p.reshape(k, k, o, c).permute(2, 3, 0, 1).contiguous() if grad_p is not None else None
        grad_b = grad.sum((0, 2, 3)) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


#: Convolutions with at most this many outputs, from at least this many inputs, take
#: :func:`few_output_conv`'s form (from 32 inputs it was no faster, and slower without autograd).
FEW_OUTPUTS, FEW_OUTPUTS_MIN_INPUTS = 4, 64


def few_output_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    padding: int) -> torch.Tensor:
    """A stride-1, "same"-padded ``F.conv2d`` with few outputs (the RGB tail), as one 1x1
    convolution to one channel per (tap, output) and a shifted sum of its taps on the eager CPU path.

    oneDNN runs a 3x3 convolution with 3 outputs at a fifth of its rate for 64 outputs (8 ms
    forward and 10 ms weight gradient at 16 x 64 x 64 x 64); the 1x1 form keeps its GEMM full:
    forward + backward 40 -> 23 ms there, 203 -> 125 ms from 256 inputs (benchmarks/README.md,
    round 5). Same values up to float summation order.
    """
    if not torch.jit.is_scripting():  # alone, so TorchScript skips the branch
        o, c, kh, k = weight.shape
        if (_eager_nhwc(x) and o <= FEW_OUTPUTS and c >= FEW_OUTPUTS_MIN_INPUTS and kh == k and k % 2 == 1
                and k > 1 and padding == k // 2):  # _eager_nhwc first: see depthwise_conv
            if torch.is_grad_enabled():
                return _FewOutputConv.apply(x, weight, bias)  # type: ignore[no-any-return]
            return _few_output_forward(x, _as_pointwise(weight), bias, weight.shape)
    return F.conv2d(x, weight, bias, 1, padding)


class FewOutputConv2d(nn.Conv2d):
    """A stride-1 ``nn.Conv2d`` with few outputs (same parameters and state-dict keys) using
    :func:`few_output_conv`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int,
                 bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return few_output_conv(x, self.weight, self.bias, self.padding[0])
