"""Every CPU fast path computes what the reference path computes, forward and backward.

The reference is the same module run the plain way (in float64 where float32 rounding would
blur the comparison). Tolerances: 1e-3 absolute on 0..255 images for whole networks, float32
rounding for single ops.
"""

from __future__ import annotations

import copy
import random

import pytest
import torch
import torch.nn.functional as F

import hnas
from hnas.models.cells import NormalCell, UpsamplingCell
from hnas.ops.fast import (
    FEW_OUTPUTS_MIN_INPUTS,
    ReluFirst,
    depthwise_conv,
    few_output_conv,
    from_phases,
    plain_ops,
    run_edge,
    to_phases,
)
from hnas.ops.normal import DilConv, SepConv
from hnas.registry import UPSAMPLING_OPS
from hnas.search.supernet import SuperNet
from hnas.spaces.random import random_genotype

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


def channels_last(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, dtype=dtype).contiguous(memory_format=torch.channels_last)


def grads(out: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of a loss that weighs every output element differently (a plain sum would hide
    permuted pixels)."""
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    return list(torch.autograd.grad((out * weights).sum() + (out**2).sum() / 2, inputs))


def test_phases_round_trip_and_dilation_two_becomes_dilation_one() -> None:
    x = channels_last(2, 3, 6, 8)
    assert torch.equal(from_phases(to_phases(x), 2), x)
    w = torch.randn(3, 1, 3, 3)
    dilated = F.conv2d(x, w, padding=2, dilation=2, groups=3)
    phased = from_phases(F.conv2d(to_phases(x), w, padding=1, groups=3), 2)
    torch.testing.assert_close(phased, dilated, rtol=1e-5, atol=1e-5)


def test_phases_backward_is_the_inverse_permutation() -> None:
    x = channels_last(2, 3, 6, 8).requires_grad_()
    reference = x.detach().clone().requires_grad_()
    # The same permutation built from views only, differentiated by autograd itself.
    plain = reference.reshape(2, 3, 3, 2, 4, 2).permute(3, 5, 0, 1, 2, 4).reshape(8, 3, 3, 4)
    fast = to_phases(x)
    assert torch.equal(fast, plain)
    assert fast.is_contiguous(memory_format=torch.channels_last)
    (g_fast,), (g_plain,) = grads(fast * 3, [x]), grads(plain * 3, [reference])
    assert torch.equal(g_fast, g_plain)
    y = channels_last(8, 3, 3, 4).requires_grad_()
    back = from_phases(y, 2)
    assert torch.equal(to_phases(back), y)
    (g_back,) = grads(back, [y])
    # what reaches ``back`` from the loss of grads(), sent through the inverse permutation
    upstream = torch.linspace(-1, 1, back.numel()).view_as(back) + back.detach()
    assert torch.equal(g_back, to_phases(upstream))


@pytest.mark.parametrize(("kernel", "padding"), [(5, 2), (5, 0), (5, 3), (7, 3)])
def test_depthwise_weight_gradient_from_3x3_windows_matches_the_convolution(kernel: int, padding: int) -> None:
    x = channels_last(3, 4, 9, 11).requires_grad_()
    w = torch.randn(4, 1, kernel, kernel, requires_grad=True)
    out = depthwise_conv(x, w, padding)
    assert out.grad_fn is not None and "Depthwise" in type(out.grad_fn).__name__  # the fast path ran
    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    reference = F.conv2d(x64, w64, None, 1, padding, 1, 4)
    torch.testing.assert_close(out.double(), reference, rtol=1e-5, atol=1e-5)
    for fast, slow in zip(grads(out, [x, w]), grads(reference, [x64, w64])):
        torch.testing.assert_close(fast.double(), slow, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("outputs", "kernel"), [(3, 3), (1, 3), (3, 5)])
@pytest.mark.parametrize("grad", [True, False])
def test_few_output_conv_as_pointwise_and_shifted_sum_matches_the_convolution(outputs: int, kernel: int,
                                                                              grad: bool) -> None:
    """The RGB tail's form: a 1x1 convolution to one channel per (tap, output), then the taps
    shifted and summed, with zeros beyond the border as "same" padding has."""
    x = channels_last(2, FEW_OUTPUTS_MIN_INPUTS, 7, 9).requires_grad_(grad)
    w = (torch.randn(outputs, FEW_OUTPUTS_MIN_INPUTS, kernel, kernel) / 20).requires_grad_(grad)
    b = torch.randn(outputs).requires_grad_(grad)
    x64, w64, b64 = (t.detach().double().requires_grad_(grad) for t in (x, w, b))
    reference = F.conv2d(x64, w64, b64, 1, kernel // 2)
    with torch.set_grad_enabled(grad):
        out = few_output_conv(x, w, b, kernel // 2)
    assert out.shape == reference.shape and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out.double(), reference, rtol=1e-5, atol=1e-5)
    if grad:
        assert "FewOutput" in type(out.grad_fn).__name__  # the fast path ran
        for fast, slow in zip(grads(out, [x, w, b]), grads(reference, [x64, w64, b64])):
            torch.testing.assert_close(fast.double(), slow, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_area_upscaling_runs_as_nearest_with_the_same_values_and_gradients(scale: int) -> None:
    op = UPSAMPLING_OPS.get("area")(4, scale=scale)
    x = channels_last(2, 4, 5, 7).requires_grad_()
    out = op(x)
    assert "Nearest" in type(out.grad_fn).__name__  # the fast path ran
    reference = F.interpolate(x, scale_factor=scale, mode="area")
    assert "AdaptiveAvgPool" in type(reference.grad_fn).__name__
    assert torch.equal(out, reference)
    for fast, slow in zip(grads(out, [x]), grads(reference, [x])):
        assert torch.equal(fast, slow)


def test_few_output_conv_leaves_narrow_inputs_to_the_plain_convolution() -> None:
    x = channels_last(1, FEW_OUTPUTS_MIN_INPUTS // 2, 5, 5).requires_grad_()
    out = few_output_conv(x, torch.randn(3, FEW_OUTPUTS_MIN_INPUTS // 2, 3, 3), None, 1)
    assert "FewOutput" not in type(out.grad_fn).__name__


def layer_by_layer(op: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The reference path: a sequential op's layers one by one (no fused or rearranged form)."""
    if isinstance(op, torch.nn.Sequential):
        for layer in op:
            x = layer(x)
        return x
    return op(x)


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("search", [False, True])
@pytest.mark.parametrize("size", [(8, 10), (7, 10)])
def test_dilated_conv_fast_path_matches_reference_forward_and_backward(kernel: int, search: bool,
                                                                       size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    op = DilConv(4, kernel, search=search)
    x = channels_last(3, 4, *size).requires_grad_()
    out = op(x)  # the polyphase form when both sides are even
    fast = grads(out, [x, *op.parameters()])
    reference = copy.deepcopy(op).double()
    x64 = x.detach().double().requires_grad_()
    expected = layer_by_layer(reference, x64)
    slow = grads(expected, [x64, *reference.parameters()])
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a.double(), b, rtol=1e-3, atol=1e-4 * float(b.abs().max()))


def test_relued_forms_equal_the_ops() -> None:
    torch.manual_seed(0)
    x = channels_last(2, 4, 8, 8)
    for op in (SepConv(4, 3), SepConv(4, 5, search=True), DilConv(4, 3), DilConv(4, 5, search=True)):
        with torch.no_grad():
            torch.testing.assert_close(op.forward_relued(F.relu(x)), op(x), rtol=1e-5, atol=1e-5)


def test_run_edge_shares_relus_and_parameter_free_ops() -> None:
    torch.manual_seed(0)
    states = [channels_last(1, 4, 8, 8), channels_last(1, 4, 8, 8)]
    memo: dict = {}
    sep, dil = SepConv(4, 3), DilConv(4, 5)
    with torch.no_grad():
        torch.testing.assert_close(run_edge(sep, states, 1, memo), sep(states[1]))
        torch.testing.assert_close(run_edge(dil, states, 1, memo), dil(states[1]))
    assert len(memo) == 1  # one ReLU of node 1 served both
    bilinear = hnas.UPSAMPLING_OPS.build("bilinear", 4, 2)
    first = run_edge(bilinear, states, 0, memo)
    assert run_edge(hnas.UPSAMPLING_OPS.build("bilinear", 4, 2), states, 0, memo) is first


class _Doubled(ReluFirst, torch.nn.Module):
    """A user's op on the edge protocol: ``2 * relu(x)``, told which input it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.given: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * F.relu(x)

    def forward_relued(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        self.given.append(x)
        return 2 * x if add is None else 2 * x + add


def test_an_op_on_the_relu_first_protocol_gets_the_shared_relu_and_a_look_alike_does_not() -> None:
    states = [channels_last(1, 4, 8, 8), channels_last(1, 4, 8, 8)]
    memo: dict = {}
    op, add = _Doubled(), torch.ones(1, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(run_edge(op, states, 1, memo, add=add), op(states[1]) + add)
        assert op.given and op.given[0] is memo[("relu", 1)]

        class LookAlike(torch.nn.Module):  # has the method, not the protocol: called as it is
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x + 1

            def forward_relued(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
                raise AssertionError("only ReluFirst ops are given a shared ReLU")

        torch.testing.assert_close(run_edge(LookAlike(), states, 0, memo), states[0] + 1)

@pytest.mark.parametrize("preset", ["hnas-a", "hnas-b", "hnas-c"])
def test_cells_with_shared_work_match_edge_by_edge(preset: str) -> None:
    """A cell's forward (shared ReLUs, polyphase dilated convs) against its nodes run one by one."""
    torch.manual_seed(0)
    genotype = hnas.resolve_genotype(preset)
    for cell in (NormalCell(genotype.normal, (8, 8), 4), UpsamplingCell(genotype.upsampling, (8, 8), 4, 2)):
        s0, s1 = (channels_last(2, 8, 6, 6).requires_grad_() for _ in range(2))
        out = cell(s0, s1)
        states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        for node in cell.nodes:
            states.append(layer_by_layer(node.op_a, states[node.source_a])
                          + layer_by_layer(node.op_b, states[node.source_b]))
        expected = torch.cat(states[2:], 1)
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
        inputs = [s0, s1, *cell.parameters()]
        for fast, slow in zip(grads(out, inputs), grads(expected, inputs)):
            torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)


def test_supernet_forward_and_backward_in_float32_match_float64() -> None:
    """A whole supernet step with every fast path, float32 against the same in float64 (the
    algebra of each fast path is checked above; this checks the float32 rounding end to end)."""
    torch.manual_seed(0)
    net = SuperNet(hnas.NORMAL_OPS.names(), hnas.UPSAMPLING_OPS.names(), layers=3, nodes=3, channels=2)
    genotype = random_genotype(random.Random(3), layers=3, nodes=3)
    x = torch.rand(2, 3, 8, 8) * 255
    out = net(x, genotype)
    params = list(net.used_parameters(genotype))
    fast = grads(out, params)
    net64 = net.double()
    expected = net64(x.double(), genotype)
    slow = grads(expected, params)
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-3)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a.double(), b, rtol=1e-3, atol=1e-3 * float(b.abs().max()))


@pytest.mark.parametrize("preset", ["hnas-a", "hnas-b", "hnas-c"])
def test_inference_fast_path_matches_reference_within_1e3(preset: str) -> None:
    """Without autograd the network fuses ReLUs and node sums into oneDNN convolutions; with
    oneDNN switched off (``plain_ops``) every op runs its plain form."""
    torch.manual_seed(0)
    net = hnas.build_model(preset, scale=2, channels=8).eval()
    x = torch.rand(1, 3, 13, 16) * 255
    with torch.no_grad():
        fast = net(x)
        with plain_ops():
            reference = net(x)
    assert float((fast - reference).abs().max()) <= 1e-3


def test_pointwise_post_ops_match_separate_ops() -> None:
    from hnas.ops.fast import pointwise_conv

    x, other = channels_last(1, 8, 5, 7), channels_last(1, 4, 5, 7)
    w = torch.randn(4, 8, 1, 1)
    with torch.no_grad():
        for relu in (False, True):
            for add in (None, other):
                expected = F.conv2d(x, w) + (0 if add is None else add)
                expected = F.relu(expected) if relu else expected
                torch.testing.assert_close(pointwise_conv(x, w, relu=relu, add=add), expected)


def test_commands_check_the_fast_path_against_the_plain_ops() -> None:
    """``hnas upscale``/``eval`` run in :func:`inference_path`: fast when it agrees with the plain
    ops within 1e-3, the plain ops (oneDNN off) with ``--plain``."""
    from hnas.cli.common import inference_path

    torch.manual_seed(0)
    net = hnas.build_model("hnas-b", scale=2, channels=4).eval()
    x = torch.rand(1, 3, 10, 12) * 255
    with inference_path(net, fast=True), torch.inference_mode():
        assert torch.backends.mkldnn.is_available() == bool(torch.backends.mkldnn.enabled)
        fast = net(x)
    with inference_path(net, fast=False), torch.inference_mode():
        assert not torch.backends.mkldnn.enabled
        plain = net(x)
    assert torch.backends.mkldnn.enabled
    assert float((fast - plain).abs().max()) <= 1e-3
