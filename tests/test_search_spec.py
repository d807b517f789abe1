"""Experiment specs: TOML in, validated model out; every mistake names the key."""

from pathlib import Path

import pytest

from hnas.errors import SpecError, UnknownNameError
from hnas.search.spec import Spec, apply_overrides, load_spec

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.parametrize("name", ["quickstart.toml", "paper-x2.toml", "sweep.toml"])
def test_shipped_specs_validate(name):
    spec = load_spec(EXAMPLES / name)
    assert spec.space.resolved_normal_ops()[0] == "skip_connect"


def test_paper_defaults():
    spec = Spec()
    assert (spec.space.layers, spec.space.channels, spec.data.batch, spec.data.patch) == (12, 8, 16, 96)
    assert spec.controller.lr == 3e-4 and spec.controller.baseline_decay == 0.95
    assert (spec.search.epochs, spec.search.lr, spec.search.lr_min) == (400, 1e-3, 1e-5)
    assert spec.retrain.channels == 64


def test_overrides_use_dotted_keys_and_toml_values():
    spec = load_spec(EXAMPLES / "quickstart.toml", ["reward.lambda=0.2", "search.epochs=3", "space.global_skip=none"])
    assert spec.reward.lambda_ == 0.2 and spec.search.epochs == 3 and spec.space.global_skip == "none"
    assert apply_overrides({}, ["data.w_split=[1, 320]"]) == {"data": {"w_split": [1, 320]}}


def test_sweep_expands_to_one_spec_per_lambda():
    spec = load_spec(EXAMPLES / "sweep.toml")
    assert spec.lambdas() == [0.2, 0.6, 0.9]
    assert [spec.for_lambda(v).lambdas() for v in spec.lambdas()] == [[0.2], [0.6], [0.9]]


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[space]\nlayerz = 3\n", "unknown key 'space.layerz'"),
        ("[space]\nlayers = 'many'\n", "space.layers"),
        ("[reward]\nlambda = 1.5\n", "reward.lambda"),
        ("[reward]\nlambdas = [0.2, 2.0]\n", "every lambda must be in [0, 1]"),
        ("[reward]\ntype = 'jiont'\n", "did you mean 'joint'"),
        ("[reward]\ncost = 'flopz'\n", "unknown cost 'flopz'"),
        ("[controller]\ntype = 'gru'\n", "unknown controller 'gru'"),
        ("[space]\nnormal_ops = ['sep_conv3x3']\n", "did you mean 'sep_conv_3x3'"),
        ("[data]\nw_split = [0.5, 0.2]\n", "data.w_split"),
        ("[search]\nepochs = 0\n", "search.epochs"),
        ("plugins = ['no_such_module_hnas']\n", "plugin 'no_such_module_hnas' could not be imported"),
        ("[space\nlayers = 3\n", "is not valid TOML"),
    ],
)
def test_spec_errors_are_one_line_and_name_the_key(tmp_path, toml, message):
    path = tmp_path / "spec.toml"
    path.write_text(toml)
    with pytest.raises((SpecError, UnknownNameError)) as info:
        load_spec(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match="key=value"):
        load_spec(EXAMPLES / "quickstart.toml", ["reward.lambda"])
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.toml")
