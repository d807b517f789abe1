"""Experiment specs: TOML in, validated model out; every mistake names the key."""

from pathlib import Path

import pytest

import hnas
from hnas.errors import HnasError, SpecError
from hnas.ops import TABLE_I_NORMAL, TABLE_I_UPSAMPLING
from hnas.search.components import build_components
from hnas.search.spec import Spec
from hnas.search.spec_loader import apply_overrides, check_spec, load_spec

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.parametrize("name", ["quickstart.toml", "paper-x2.toml", "sweep.toml"])
def test_shipped_specs_validate(name):
    spec = load_spec(EXAMPLES / name)
    assert spec.space.resolved_normal_ops()[0] == "skip_connect"


def test_paper_defaults():
    spec = Spec()
    check_spec(spec)
    assert (spec.space.layers, spec.space.channels, spec.data.batch, spec.data.patch) == (12, 8, 16, 96)
    parts = build_components(spec)
    assert parts.normal_ops == list(TABLE_I_NORMAL) and parts.upsampling_ops == list(TABLE_I_UPSAMPLING)
    lstm = parts.new_controller(spec)
    assert lstm.reinforce.lr == 3e-4 and lstm.reinforce.baseline_decay == 0.95 and lstm.reinforce.lr_min == 1.5e-4
    assert parts.reward.lambda_ == 0.6 and parts.reward.normaliser == 20e9 and parts.cost.name == "macs"
    assert (spec.search.epochs, spec.search.lr, spec.search.lr_min) == (400, 1e-3, 1e-5)
    assert spec.retrain.channels == 64
    assert spec.evaluate.data == ["builtin:set5", "builtin:set14"]


def test_every_component_is_a_type_params_node_with_nothing_injected(tmp_path):
    """The budget reward takes its own params (no lambda injected); ops take their settings."""
    path = tmp_path / "spec.toml"
    path.write_text(
        "[reward]\ntype = 'budget'\nparams = { target = 2e9 }\n"
        "[space]\nnormal_ops = ['skip_connect', { type = 'rcab', params = { reduction = 4 } }]\n"
        "upsampling_ops = ['nearest', { type = 'up_and_down_never' }]\n".replace(
            ", { type = 'up_and_down_never' }", "")
        + "[controller]\ntype = 'evolution'\nparams = { population = 8 }\n"
    )
    spec = load_spec(path)
    parts = build_components(spec)
    assert parts.reward.target == 2e9 and parts.op_params == {"normal": {"rcab": {"reduction": 4}}}
    assert parts.new_controller(spec).population_size == 8
    net = hnas.build_model("hnas-c", channels=12, op_params=parts.op_params)
    assert net.cells[0].nodes[0].op_a.body[3].fc1.out_channels == 3  # 12 // 4


def test_the_cost_is_named_once(tmp_path):
    """Defect: ``reward.cost`` and ``reward.params.cost`` could disagree; the cost is [cost] only."""
    path = tmp_path / "spec.toml"
    path.write_text("[reward]\ncost = 'params'\n")
    with pytest.raises(SpecError, match="unknown key 'reward.cost'"):
        load_spec(path)
    path.write_text("[reward]\nparams = { cost = 'params' }\n")
    with pytest.raises(SpecError, match="cost"):
        load_spec(path)
    path.write_text("[cost]\ntype = 'params'\n")
    assert build_components(load_spec(path)).reward.normaliser == 5e4


def test_overrides_use_dotted_keys_and_toml_values():
    spec = load_spec(EXAMPLES / "quickstart.toml", ["reward.lambda=0.2", "search.epochs=6", "space.global_skip=none"])
    assert spec.reward.lambda_ == 0.2 and spec.search.epochs == 6 and spec.space.global_skip == "none"
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
        ("[cost]\ntype = 'flopz'\n", "unknown cost 'flopz'"),
        ("[cost]\ntype = 'flops'\n", "unknown cost 'flops'"),
        ("[reward]\ntype = 'budget'\nlambda = 0.2\nparams = { target = 1e9 }\n", "reward 'budget': lambda"),
        ("[space]\nnormal_ops = [{ type = 'rcab', params = { reducton = 4 } }]\n", "has no param 'reducton'"),
        ("[space]\nnormal_ops = [{ type = 'sep_conv_3x3', params = { kernel = 4 } }]\n", "takes no params"),
        ("[space]\nnormal_cell = 'upsampling'\n", "not a normal cell"),
        ("[controller]\nparams = { lr = 1e-4, lr_min = 1e-3 }\n", "lr_min"),
        ("[controller]\nparams = { learning_rate = 1e-4 }\n", "has no param 'learning_rate'"),
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
    with pytest.raises(HnasError) as info:
        load_spec(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match="key=value"):
        load_spec(EXAMPLES / "quickstart.toml", ["reward.lambda"])
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.toml")


def test_a_misspelt_key_gets_a_did_you_mean(tmp_path):
    from hnas.errors import SpecError
    from hnas.search.spec_loader import load_spec

    spec = tmp_path / "typo.toml"
    spec.write_text("[reward]\nlamda = 0.1\n")
    with pytest.raises(SpecError, match=r"unknown key 'reward.lamda': did you mean 'reward.lambda'\?"):
        load_spec(spec)


def test_set_errors_blame_the_set_option_not_the_file(tmp_path):
    from hnas.errors import SpecError
    from hnas.search.spec_loader import load_spec

    spec = tmp_path / "fine.toml"
    spec.write_text("[space]\nscale = 2\n")
    with pytest.raises(SpecError, match=r"^--set space.scale=9: space.scale: "):
        load_spec(spec, ["space.scale=9"])
    with pytest.raises(SpecError, match=r"^--set reward.lamda=1: unknown key"):
        load_spec(spec, ["reward.lamda=1"])
    spec.write_text("[space]\nscale = 20\n")
    with pytest.raises(SpecError, match=r"fine.toml: space.scale"):
        load_spec(spec, ["reward.lambda=1"])
