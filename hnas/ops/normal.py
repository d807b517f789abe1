"""Normal-cell operations (paper Table I, left column): each keeps N x C x H x W.

Built as HNAS-REFERENCE.md describes the published genotypes. Factories take ``(channels, **kw)``;
``search=True`` adds the BatchNorm(affine=False) the authors used inside the weight-sharing
supernet, which a derived network never has. Unknown keyword arguments are ignored so that a
factory can be called uniformly with the options meant for other ops.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hnas.ops.fast import (
    DepthwiseConv2d,
    PointwiseConv2d,
    ReluFirst,
    cpu_rewrite,
    depthwise_conv,
    eager_cpu,
    from_phases,
    phases_fit,
    pointwise_conv,
    to_phases,
)
from hnas.registry import NORMAL_OPS
from hnas.utils.recompute import recomputed


def _maybe_bn(channels: int, search: bool) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels, affine=False, track_running_stats=False)] if search else []


@NORMAL_OPS.register("skip_connect", aliases=("identity",))
class Identity(nn.Identity):
    """Identity mapping (skip connection)."""

    def __init__(self, channels: int, **kw: Any) -> None:
        super().__init__()


class SepConv(ReluFirst, nn.Sequential):
    """Separable convolution applied twice: (ReLU, depthwise kxk, pointwise 1x1) x 2, no bias.

    ``forward_relued`` runs it on an input that is already ReLU'd: a cell computes the ReLU of a
    node once for all the ops that read it (``hnas.ops.fast.run_edge``, the :class:`~hnas.ops.fast.ReluFirst`
    protocol).
    """

    def __init__(self, channels: int, kernel_size: int, *, search: bool = False, **kw: Any) -> None:
        pad = kernel_size // 2
        layers: list[nn.Module] = []
        for _ in range(2):
            layers += [
                nn.ReLU(inplace=False),
                DepthwiseConv2d(channels, kernel_size, padding=pad),
                PointwiseConv2d(channels, channels, bias=False),
                *_maybe_bn(channels, search),
            ]
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x)
        return x

    def forward_relued(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        """The op after its first ReLU, plus ``add`` if given. The second ReLU runs in place (its
        input is a fresh convolution or batch-norm output that nothing else reads and whose
        backward does not need it), or, without autograd and batch norm, inside the first
        pointwise convolution, as the final ``+ add`` inside the last (``pointwise_conv``)."""
        if len(self) == 6:  # derived form: ReLU, dw, pw, ReLU, dw, pw (no batch norm)
            x = pointwise_conv(self[1](x), self[2].weight, relu=True)
            return pointwise_conv(self[4](x), self[5].weight, add=add)
        middle = len(self) // 2
        for index, layer in enumerate(self):
            if index == middle:
                x = F.relu(x, inplace=True)
            elif index > 0:
                x = layer(x)
        return x if add is None else x + add


class DilConv(ReluFirst, nn.Sequential):
    """Dilated separable convolution: ReLU, depthwise kxk with dilation 2, pointwise 1x1, no bias.

    When gradients are needed on CPU (training, search), the forward runs on the four polyphase
    sub-images (``hnas.ops.fast.to_phases``), where the depthwise kernel is undilated: the
    same result up to float rounding, with oneDNN's fast depthwise backward instead of its GEMM
    fallback for dilated kernels (2-3x for the op's forward + backward, benchmarks/README.md).
    Same layers, parameters and state-dict keys either way.
    """

    def __init__(self, channels: int, kernel_size: int, *, search: bool = False, **kw: Any) -> None:
        pad = 2 * (kernel_size // 2)
        super().__init__(
            nn.ReLU(inplace=False),
            DepthwiseConv2d(channels, kernel_size, padding=pad, dilation=2),
            PointwiseConv2d(channels, channels, bias=False),
            *_maybe_bn(channels, search),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():  # noqa: SIM102  (alone, so TorchScript skips the branch)
            if torch.is_grad_enabled() and cpu_rewrite(x) and phases_fit(x):
                return self.phase_forward(x, relu=True)
        for layer in self:
            x = layer(x)
        return x

    def takes_raw_input(self, x: torch.Tensor) -> bool:
        """Whether this op would rather ReLU ``x`` itself than get a shared ReLU (``run_edge``):
        the polyphase form copies its input anyway and ReLUs the copy in place, so a shared ReLU
        would only add a map kept for backward."""
        return torch.is_grad_enabled() and cpu_rewrite(x) and phases_fit(x)

    def forward_relued(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        """The op on an input that is already ReLU'd, plus ``add`` if given (see
        ``SepConv.forward_relued``)."""
        if torch.is_grad_enabled() and cpu_rewrite(x) and phases_fit(x):
            out = self.phase_forward(x, relu=False)
            return out if add is None else out + add
        if len(self) == 3:  # derived form: ReLU, dw, pw (no batch norm)
            return pointwise_conv(self[1](x), self[2].weight, add=add)
        for index, layer in enumerate(self):
            if index > 0:
                x = layer(x)
        return x if add is None else x + add

    def phase_forward(self, x: torch.Tensor, relu: bool) -> torch.Tensor:
        """The op on the polyphase sub-images of ``x`` (class docstring); the ReLU, if asked for,
        in place on the copy."""
        depthwise: nn.Conv2d = self[1]  # type: ignore[assignment]
        y = to_phases(x)
        if relu:
            y = y.relu_()
        y = depthwise_conv(y, depthwise.weight, depthwise.padding[0] // 2)
        for layer in list(self)[2:]:
            y = layer(y)
        return from_phases(y, x.shape[0])


@NORMAL_OPS.register("sep_conv_3x3")
def sep_conv_3x3(channels: int, **kw: Any) -> nn.Module:
    """3x3 separable convolution (twice)."""
    return SepConv(channels, 3, **kw)


@NORMAL_OPS.register("sep_conv_5x5")
def sep_conv_5x5(channels: int, **kw: Any) -> nn.Module:
    """5x5 separable convolution (twice)."""
    return SepConv(channels, 5, **kw)


@NORMAL_OPS.register("dil_conv_3x3")
def dil_conv_3x3(channels: int, **kw: Any) -> nn.Module:
    """3x3 dilated separable convolution (dilation 2)."""
    return DilConv(channels, 3, **kw)


@NORMAL_OPS.register("dil_conv_5x5")
def dil_conv_5x5(channels: int, **kw: Any) -> nn.Module:
    """5x5 dilated separable convolution (dilation 2)."""
    return DilConv(channels, 5, **kw)


#: Inputs of at least this many elements (4 MB in float32) make ``up_and_down`` recompute its
#: forward during backward instead of keeping its maps for it: the unit keeps about 30 times its
#: input (six maps at twice the resolution), so at the search width after the upsampling cell
#: (16 x 8 x 96 x 96 at the paper's LR 48) one unit kept 140 MB and a step with several such edges
#: needed 4-6 GB (benchmarks/README.md). Smaller inputs keep their maps (no recomputation).
RECOMPUTE_NUMEL = 2**20

#: D-DBPN projection geometry (kernel, stride, padding) per internal factor; all keep sizes exact.
_PROJECTION = {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}


def _phase_selection(kernel: int, stride: int, padding: int, transposed: bool) -> tuple[torch.Tensor, int, int]:
    """Which tap of a strided 1-D kernel serves each (phase, offset) of its sub-pixel form.

    A stride-``s`` convolution reads ``s`` interleaved phases of its input, and a stride-``s``
    transposed convolution writes ``s`` interleaved phases of its output; either is a stride-1
    correlation between the low-resolution grid and the ``s`` phases stacked as channels
    (pixel-unshuffle / pixel-shuffle order). Returns ``S`` (``s x taps x kernel``, 0/1) with
    ``S[phase, j, i] = 1`` when tap ``i`` of the strided kernel is tap ``j`` of the stride-1 kernel
    of that phase, and the stride-1 kernel's padding before/after. The output sizes are exactly
    the strided op's for the geometries in ``_PROJECTION`` (``(n - 1) s - 2p + k = s n``).
    """
    pairs: list[tuple[int, int, int]] = []  # (phase, offset, tap)
    for i in range(kernel):
        if transposed:  # out[s q + t] += in[q + d] w[i]  with  s q + t + p = s (q + d) + i
            for t in range(stride):
                if (t + padding - i) % stride == 0:
                    pairs.append((t, (t + padding - i) // stride, i))
        else:  # out[q] += in[s q - p + i] = phase r of the unshuffled input at q + d
            pairs.append(((i - padding) % stride, (i - padding) // stride, i))
    low = min(d for _, d, _ in pairs)
    high = max(d for _, d, _ in pairs)
    selection = torch.zeros(stride, high - low + 1, kernel)
    for phase, offset, tap in pairs:
        selection[phase, offset - low, tap] = 1.0
    return selection, -low, high


def _same(pad: list[int]) -> int:
    """The conv's own padding when it is the same on every side (the usual case), else 0."""
    return pad[0] if pad[0] == pad[1] else 0


def _pad(x: torch.Tensor, pad: list[int]) -> torch.Tensor:
    """Explicit padding only when it is uneven: ``F.pad`` copies the whole map."""
    return x if pad[0] == pad[1] else F.pad(x, pad)


class _Projection:
    """Builds the conv/deconv layers of the D-DBPN projection units (Haris et al., CVPR 2018)."""

    def __init__(self, channels: int, factor: int) -> None:
        if factor not in _PROJECTION:
            raise ValueError(f"up_and_down supports factors {sorted(_PROJECTION)}, got {factor}")
        k, s, p = _PROJECTION[factor]
        self.k, self.s, self.p = k, s, p
        self.channels = channels

    def up(self) -> nn.Sequential:
        return nn.Sequential(
            nn.ConvTranspose2d(self.channels, self.channels, self.k, self.s, self.p), nn.PReLU()
        )

    def down(self) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(self.channels, self.channels, self.k, self.s, self.p), nn.PReLU())


@NORMAL_OPS.register("up_and_down", aliases=("udpb",))
class UpAndDownProjection(nn.Module):
    """D-DBPN up-projection then down-projection unit: back-projects the error at both scales.

    The pair returns to the input size, so it is a normal op; ``factor`` is the internal
    projection factor (2 by default, as D-DBPN's x2 model).

    The parameters are those of D-DBPN's layers (``up_h0.0`` a ``ConvTranspose2d``, ...), but the
    forward never materialises the high-resolution maps. Every high-resolution tensor of the unit
    is kept pixel-unshuffled, ``factor**2 * C`` channels at the input resolution: a stride-``s``
    transposed convolution is then a stride-1 convolution with ``s**2`` times the outputs, a
    stride-``s`` convolution one with ``s**2`` times the inputs (weights rearranged from the
    original kernels at every call, so gradients reach them), and the shuffle between the two is
    never done because unshuffle(shuffle(z)) = z and the single-parameter PReLUs, sums and
    differences commute with it. Same multiply-adds, same result up to float rounding, but plain
    small-kernel convolutions, which oneDNN runs faster on CPU than the strided 6x6 kernels
    (benchmarks/README.md). That form runs on eager CPU tensors (``hnas.ops.fast.eager_cpu``);
    scripting, export, cost counting and other devices run :meth:`reference_forward`, so they see
    (and count) the transposed convolutions of the definition.
    """

    def __init__(self, channels: int, factor: int = 2, **kw: Any) -> None:
        super().__init__()
        geo = _Projection(channels, factor)
        self.up_h0, self.up_l0, self.up_h1 = geo.up(), geo.down(), geo.up()
        self.down_l0, self.down_h0, self.down_l1 = geo.down(), geo.up(), geo.down()
        self.factor = factor
        up_sel, up_before, up_after = _phase_selection(geo.k, geo.s, geo.p, transposed=True)
        down_sel, down_before, down_after = _phase_selection(geo.k, geo.s, geo.p, transposed=False)
        # Not persistent: derived from the geometry, so checkpoints hold only D-DBPN's parameters.
        self.register_buffer("up_selection", up_sel, persistent=False)
        self.register_buffer("down_selection", down_sel, persistent=False)
        self.up_pad = [up_before, up_after, up_before, up_after]
        self.down_pad = [down_before, down_after, down_before, down_after]

    def _up(self, layer: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        """``layer`` (ConvTranspose2d + PReLU) on ``x``, the result pixel-unshuffled."""
        deconv: nn.ConvTranspose2d = layer[0]
        sel = self.up_selection.to(deconv.weight.dtype)
        # weight (in, out, ky, kx) -> (out, phase_y, phase_x, in, jy, jx): pixel-shuffle order
        weight = torch.einsum("ajy,bkx,ioyx->oabijk", sel, sel, deconv.weight).flatten(0, 2)
        bias = deconv.bias.repeat_interleave(self.factor * self.factor) if deconv.bias is not None else None
        return layer[1](F.conv2d(_pad(x, self.up_pad), weight, bias, padding=_same(self.up_pad)))

    def _down(self, layer: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        """``layer`` (strided Conv2d + PReLU) on the high-resolution map whose unshuffle is ``x``."""
        conv: nn.Conv2d = layer[0]
        sel = self.down_selection.to(conv.weight.dtype)
        # weight (out, in, ky, kx) -> (out, in, phase_y, phase_x, jy, jx): pixel-unshuffle order
        weight = torch.einsum("ajy,bkx,oiyx->oiabjk", sel, sel, conv.weight).flatten(1, 3)
        return layer[1](F.conv2d(_pad(x, self.down_pad), weight, conv.bias, padding=_same(self.down_pad)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():  # noqa: SIM102  (alone, so TorchScript skips the branch)
            if eager_cpu(x):
                if torch.is_grad_enabled() and x.requires_grad and x.numel() >= RECOMPUTE_NUMEL:
                    return recomputed(self.subpixel_forward, x)
                return self.subpixel_forward(x)
        return self.reference_forward(x)

    def subpixel_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The unit with every high-resolution map pixel-unshuffled (class docstring)."""
        h0 = self._up(self.up_h0, x)
        h = h0 + self._up(self.up_h1, self._down(self.up_l0, h0) - x)
        l0 = self._down(self.down_l0, h)
        return l0 + self._down(self.down_l1, self._up(self.down_h0, l0) - h)

    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """D-DBPN's formulation with the strided layers as built: what export, cost counting and
        other devices run, and what :meth:`subpixel_forward` equals."""
        h0 = self.up_h0(x)
        h = h0 + self.up_h1(self.up_l0(h0) - x)
        l0 = self.down_l0(h)
        return l0 + self.down_l1(self.down_h0(l0) - h)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate of RCAN's RCAB (Hu et al., CVPR 2018; Zhang et al., ECCV 2018):
    global average pool, 1x1 conv down to ``reduced`` channels, ReLU, 1x1 conv back, sigmoid, scale.

    Written here rather than taken from ``timm.layers.SEModule`` because importing timm (and the
    torchvision it pulls in) costs seconds at every ``import hnas``. The attribute names are
    timm's (``fc1``, ``fc2``), so state-dict keys and checkpoints are the same as before.
    """

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1, bias=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


@NORMAL_OPS.register("rcab")
class RCAB(nn.Module):
    """RCAN's residual channel attention block (Zhang et al., ECCV 2018).

    ``reduction`` defaults to 3, the value the published HNAS genotypes were trained with (RCAN
    itself uses 16).
    """

    def __init__(self, channels: int, reduction: int = 3, **kw: Any) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=True),
            ChannelAttention(channels, max(1, channels // reduction)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
