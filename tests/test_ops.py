"""Every Table I op keeps (normal) or multiplies by the scale (upsampling) any input size."""

import pytest

from hnas.ops import TABLE_I_NORMAL, TABLE_I_UPSAMPLING
import torch

from hnas.ops import NORMAL_OPS, UPSAMPLING_OPS

SIZES = [(7, 9), (12, 12), (5, 16)]


def test_table_one_is_complete():
    assert NORMAL_OPS.names() == [
        "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "up_and_down", "rcab",
        "conv_3x3", "res_block",  # for the hand-designed baselines, not in the default search space
    ]
    assert list(TABLE_I_NORMAL) == NORMAL_OPS.names()[:7]
    assert sorted(UPSAMPLING_OPS.names()) == sorted(TABLE_I_UPSAMPLING) == ["area", "bilinear", "deconvolution",
                                                                            "nearest", "sub_pixel"]
    assert NORMAL_OPS.canonical("identity") == "skip_connect"
    assert NORMAL_OPS.canonical("udpb") == "up_and_down"


@pytest.mark.parametrize("name", NORMAL_OPS.names())
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("search", [False, True])
def test_normal_ops_keep_shape(name, size, search):
    op = NORMAL_OPS.build(name, 6, search=search)
    x = torch.randn(2, 6, *size, requires_grad=True)
    y = op(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", UPSAMPLING_OPS.names())
@pytest.mark.parametrize("scale", [1, 2, 3, 4])
@pytest.mark.parametrize("size", SIZES)
def test_upsampling_ops_scale_exactly(name, scale, size):
    op = UPSAMPLING_OPS.build(name, 6, scale)
    y = op(torch.randn(2, 6, *size))
    assert y.shape == (2, 6, size[0] * scale, size[1] * scale)


def test_stride_one_forms_are_identities_except_deconvolution():
    x = torch.randn(1, 4, 5, 7)
    for name in ("sub_pixel", "bilinear", "nearest", "area"):
        assert torch.equal(UPSAMPLING_OPS.build(name, 4, 1)(x), x)
    deconv = UPSAMPLING_OPS.build("deconvolution", 4, 1)
    assert deconv.kernel_size == (3, 3) and deconv.stride == (1, 1) and deconv.bias is not None


def test_op_construction_follows_the_reference():
    sep = NORMAL_OPS.build("sep_conv_5x5", 8)
    convs = [m for m in sep.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5), (1, 1), (5, 5), (1, 1)]
    assert all(c.bias is None for c in convs)
    dil = NORMAL_OPS.build("dil_conv_3x3", 8)
    assert [m.dilation for m in dil.modules() if isinstance(m, torch.nn.Conv2d)] == [(2, 2), (1, 1)]
    rcab = NORMAL_OPS.build("rcab", 9)
    attn = [m for m in rcab.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1)]
    assert [c.out_channels for c in attn] == [3, 9]  # reduction 3, as the published genotypes
    sub = UPSAMPLING_OPS.build("sub_pixel", 8, 4)
    assert [m.out_channels for m in sub.modules() if isinstance(m, torch.nn.Conv2d)] == [32, 32]
    assert UPSAMPLING_OPS.build("sub_pixel", 8, 3)[0].out_channels == 72
    assert sum(p.numel() for p in UPSAMPLING_OPS.build("bilinear", 8, 2).parameters()) == 0


def test_search_mode_adds_affine_free_batchnorm():
    bns = [m for m in NORMAL_OPS.build("sep_conv_3x3", 8, search=True).modules()
           if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 2 and not bns[0].affine
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in NORMAL_OPS.build("sep_conv_3x3", 8).modules())


def test_up_and_down_supports_other_projection_factors():
    x = torch.randn(1, 4, 7, 5)
    assert NORMAL_OPS.build("up_and_down", 4, factor=4)(x).shape == x.shape
    with pytest.raises(ValueError, match="factors"):
        NORMAL_OPS.build("up_and_down", 4, factor=3)


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("size", [(7, 9), (12, 12)])
def test_up_and_down_fast_path_matches_the_reference_form(factor, size):
    """The CPU fast path (pixel-unshuffled convolutions) computes the D-DBPN unit exactly."""
    torch.manual_seed(0)
    op = NORMAL_OPS.build("up_and_down", 4, factor=factor)
    x = torch.randn(2, 4, *size, requires_grad=True)
    fast, reference = op.subpixel_forward(x), op.reference_forward(x)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(op(x), reference, rtol=1e-4, atol=1e-4)
    grad_fast = torch.autograd.grad(fast.sum(), x)[0]
    grad_ref = torch.autograd.grad(reference.sum(), x)[0]
    torch.testing.assert_close(grad_fast, grad_ref, rtol=1e-4, atol=1e-4)
