"""Named presets (hnas_a_x2 ...), in hnas and through timm."""

from __future__ import annotations

import importlib
import warnings

import pytest
import timm
import torch

import hnas
from hnas import zoo
from hnas.errors import HnasError, UnknownNameError

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_preset_builds_its_genotype_at_its_scale(name: str) -> None:
    arch, scale = name.split("_")[1], int(name[-1])
    net = getattr(zoo, name)(channels=2)
    assert isinstance(net, hnas.HNASNet) and net.scale == scale and net.channels == 2
    assert net.genotype == hnas.resolve_genotype(f"hnas-{arch}")
    assert net(torch.rand(1, 3, 5, 7) * 255).shape == (1, 3, 5 * scale, 7 * scale)


def test_listing_and_creating_by_name() -> None:
    assert len(zoo.list_models()) == 9
    assert zoo.list_models("*_x4") == ["hnas_a_x4", "hnas_b_x4", "hnas_c_x4"]
    net = zoo.create_model("hnas-b-x3", channels=2, global_skip="bicubic")
    assert (net.scale, net.global_skip) == (3, "bicubic")
    with pytest.raises(UnknownNameError, match="did you mean 'hnas_a_x2'"):
        zoo.create_model("hnas_a_x22")


def test_timm_creates_the_presets() -> None:
    assert timm.list_models("hnas_*") == zoo.list_models()
    net = timm.create_model("hnas_c_x2", channels=2)
    assert isinstance(net, hnas.HNASNet) and net.genotype == hnas.resolve_genotype("hnas-c")
    with pytest.raises(HnasError, match="no pretrained weights"):
        timm.create_model("hnas_a_x2", pretrained=True)
    assert timm.is_model("resnet18")  # timm's own registry is untouched


def test_timm_s_usual_keywords_are_taken_as_an_sr_network_can() -> None:
    for classes in (None, 0, 3):  # no classifier head; the 3 output channels
        net = timm.create_model("hnas_c_x2", channels=2, num_classes=classes, in_chans=3)
        assert net(torch.zeros(1, 3, 4, 4)).shape == (1, 3, 8, 8)
    with pytest.raises(HnasError, match="outputs an RGB image"):
        timm.create_model("hnas_c_x2", channels=2, num_classes=1000)
    with pytest.raises(HnasError, match="in_chans must be 3"):
        timm.create_model("hnas_c_x2", channels=2, in_chans=1)


def test_registration_is_idempotent_and_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zoo.register_timm_models() == zoo.list_models()
        assert zoo.register_timm_models() == zoo.list_models()
        reloaded = importlib.reload(zoo)  # new function objects, same names: replaced silently
    try:
        assert timm.models.model_entrypoint("hnas_a_x2") is reloaded.hnas_a_x2
        assert timm.list_models("hnas_*") == zoo.list_models()
    finally:
        reloaded.register_timm_models()


def test_a_name_taken_by_another_package_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from timm.models import _registry

    def foreign(pretrained: bool = False, **kwargs: object) -> torch.nn.Module:
        return torch.nn.Identity()

    foreign.__module__ = "somebody.else"
    monkeypatch.setitem(_registry._model_entrypoints, "hnas_a_x2", foreign)
    with pytest.warns(UserWarning, match="already has a model named 'hnas_a_x2' from somebody.else"):
        names = zoo.register_timm_models()
    assert "hnas_a_x2" not in names
    assert timm.models.model_entrypoint("hnas_a_x2") is foreign
