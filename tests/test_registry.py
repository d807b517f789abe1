"""The one Registry class: decorator registration, aliases, errors that suggest the fix."""

import pytest

from hnas import NORMAL_OPS, UPSAMPLING_OPS, Registry
from hnas.errors import DuplicateNameError, HnasError, UnknownNameError


def make_registry() -> Registry:
    reg: Registry = Registry("widgets", "widget")

    @reg.register("sep_conv_3x3", aliases=("sep3",))
    def sep3():
        """A widget."""
        return "sep3"

    @reg.register("sep_conv_5x5")
    class Sep5:
        pass

    return reg


def test_register_get_build_and_alias():
    reg = make_registry()
    assert reg.get("sep_conv_3x3")() == "sep3"
    assert reg.build("sep3") == "sep3"
    assert reg.canonical("sep3") == "sep_conv_3x3"
    assert "sep3" in reg and "nope" not in reg
    assert reg.names() == ["sep_conv_3x3", "sep_conv_5x5"]
    assert reg.entry("sep3").help == "A widget."


def test_duplicate_names_where_the_first_came_from():
    reg = make_registry()
    with pytest.raises(DuplicateNameError, match=r"already registered by .*test_registry.*sep3"):
        reg.add("sep_conv_3x3", lambda: None)
    with pytest.raises(DuplicateNameError):
        reg.add("other", lambda: None, aliases=("sep3",))
    reg.add("sep_conv_3x3", lambda: "new", force=True)
    assert reg.build("sep_conv_3x3") == "new"
    assert "sep3" not in reg  # the replaced entry's aliases went with it


def test_unknown_name_lists_close_matches_and_everything():
    reg = make_registry()
    with pytest.raises(UnknownNameError) as info:
        reg.get("sep_conv3x3")
    message = str(info.value)
    assert "did you mean 'sep_conv_3x3'" in message
    assert "registered widgets: sep_conv_3x3, sep_conv_5x5" in message
    assert isinstance(info.value, LookupError) and isinstance(info.value, HnasError)


def test_wildcard_listing_matches_names_and_aliases():
    assert NORMAL_OPS.list("*conv*") == ["sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "conv_3x3"]
    assert NORMAL_OPS.list("udpb") == ["up_and_down"]
    assert UPSAMPLING_OPS.list() == ["sub_pixel", "deconvolution", "bilinear", "nearest", "area"]


def test_unregister_removes_aliases():
    reg = make_registry()
    reg.unregister("sep3")
    assert "sep_conv_3x3" not in reg and "sep3" not in reg
