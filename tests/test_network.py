"""Derived networks: exact output sizes, published structure, bicubic skip, custom ops."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import hnas
from hnas import NORMAL_OPS, Genotype, build_model


@pytest.mark.parametrize("preset", ["hnas-a", "hnas-b", "hnas-c"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_presets_upscale_any_size_exactly(preset, scale):
    model = build_model(preset, scale=scale, channels=4)
    y = model(torch.rand(1, 3, 9, 7) * 255)
    assert y.shape == (1, 3, 9 * scale, 7 * scale)
    assert torch.isfinite(y).all()


def test_parameter_counts_at_64_channels():
    counts = {p: sum(t.numel() for t in build_model(p, channels=64).parameters()) for p in ("hnas-a", "hnas-b", "hnas-c")}
    assert counts == {"hnas-a": 974_019, "hnas-b": 2_141_290, "hnas-c": 2_542_545}


def test_structure_follows_the_reference():
    model = build_model("hnas-a", scale=2, channels=8)
    assert model.stem.in_channels == 3 and model.stem.out_channels == 32 and model.stem.bias is None
    assert len(model.cells) == 12 and model.upsample_index == 9
    assert model.tail.in_channels == 32 and model.tail.out_channels == 3 and model.tail.bias is not None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert type(model.cells[9]).__name__ == "UpsamplingCell"


def test_upsampling_cell_runs_once_and_feeds_both_inputs():
    model = build_model("hnas-b", scale=2, channels=4)
    calls = []
    model.cells[11].register_forward_hook(lambda *args: calls.append(1))
    model(torch.rand(1, 3, 6, 6))
    assert calls == [1]
    seen = {}
    model = build_model("hnas-a", scale=2, channels=4)
    model.cells[10].register_forward_pre_hook(lambda m, args: seen.setdefault("in", args))
    model(torch.rand(1, 3, 6, 6))
    s0, s1 = seen["in"]
    assert s0 is s1 and s0.shape[-1] == 12


def test_bicubic_skip_starts_at_bicubic():
    x = torch.rand(1, 3, 10, 8) * 255
    model = build_model("hnas-a", scale=3, channels=4, global_skip="bicubic")
    expected = F.interpolate(x, scale_factor=3.0, mode="bicubic", align_corners=False)
    torch.testing.assert_close(model(x), expected)
    assert model.config()["global_skip"] == "bicubic"
    with pytest.raises(ValueError, match="global_skip"):
        build_model("hnas-a", global_skip="lanczos")


def test_channels_last_matches_contiguous():
    torch.manual_seed(0)
    model = build_model("hnas-c", scale=2, channels=4).eval()
    x = torch.rand(2, 3, 8, 10) * 255
    with torch.no_grad():
        ref = model(x)
        out = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-3)


def test_user_registered_op_builds_end_to_end():
    @NORMAL_OPS.register("test_conv_1x1_relu")
    class Conv1x1Relu(nn.Sequential):
        """A user's op: 1x1 conv and ReLU."""

        def __init__(self, channels: int, **kw):
            super().__init__(nn.Conv2d(channels, channels, 1), nn.ReLU())

    try:
        genotype = Genotype.model_validate(
            {"normal": [["test_conv_1x1_relu", 0, 2], ["skip_connect", 1, 2]],
             "upsampling": [["sub_pixel", 0, 2], ["nearest", 1, 2]], "position": 2, "layers": 3}
        )
        model = hnas.build_model(genotype, scale=2, channels=4)
        assert any(isinstance(m, Conv1x1Relu) for m in model.modules())
        assert model(torch.rand(1, 3, 5, 5)).shape == (1, 3, 10, 10)
    finally:
        NORMAL_OPS.unregister("test_conv_1x1_relu")


def test_config_rebuilds_the_same_network():
    model = build_model("hnas-b", scale=4, channels=4)
    config = model.config()
    again = build_model(Genotype.from_data(config.pop("genotype")), **{k: v for k, v in config.items() if k != "rgb_range"})
    assert [tuple(p.shape) for p in again.parameters()] == [tuple(p.shape) for p in model.parameters()]
