"""Rewards: the paper's joint reward and the budget reward, as pure functions of (PSNR, cost)."""

import itertools
import math

import pytest

from hnas.costs import COSTS, CostSettings, cost_of, get_cost, macs_normaliser
from hnas.errors import SpecError, UnknownNameError
from hnas.registry import REWARDS
from hnas.rewards import BudgetReward, JointReward, build_reward

PSNRS = [-3.0, 0.0, 20.0, 30.0, 30.5, 40.0]
COSTS_GRID = [0.0, 1e6, 1e9, 1e10, 2e10, 5e11]
AT_480 = CostSettings(channels=8)


def assert_monotone(reward):
    for cost in COSTS_GRID:
        values = [reward(psnr, cost) for psnr in PSNRS]
        assert values == sorted(values)
    for psnr in PSNRS:
        values = [reward(psnr, cost) for cost in COSTS_GRID]
        assert values == sorted(values, reverse=True)


def test_joint_reward_is_the_papers_equation_one():
    reward = REWARDS.build("joint", lambda_=0.2, normaliser=20e9)
    assert reward(30.0, 10e9) == pytest.approx(0.2 * 30 - 0.8 * 0.5)


def test_joint_reward_takes_the_spec_node_and_the_priced_costs_scale():
    reward = build_reward({"type": "joint", "params": {"lambda": 0.9}}).bind(get_cost("macs"), AT_480)
    assert (reward.lambda_, reward.normaliser) == (0.9, 20e9)
    assert REWARDS.build("joint", **{"lambda": 0.6}).lambda_ == 0.6


def test_the_normaliser_follows_the_cost_input_so_lambda_keeps_its_meaning():
    """Defect: the joint reward assumed a 480x480 cost input whatever the spec said."""
    small = CostSettings(channels=8, input=(48, 48))
    reward = JointReward(lambda_=0.2).bind(get_cost("macs"), small)
    assert reward.normaliser == pytest.approx(macs_normaliser((48, 48))) == pytest.approx(0.2e9)
    at_480 = JointReward(lambda_=0.2).bind(get_cost("macs"), AT_480)
    big, little = cost_of("macs", "hnas-a", AT_480), cost_of("macs", "hnas-a", small)
    assert reward(30.0, little) == pytest.approx(at_480(30.0, big), rel=1e-3)


def test_an_explicit_normaliser_is_kept():
    reward = JointReward(lambda_=0.5, normaliser=7.0).bind(get_cost("macs"), AT_480)
    assert reward.normaliser == 7.0


def test_an_unbound_joint_reward_says_what_to_do():
    with pytest.raises(RuntimeError, match="bind"):
        JointReward(lambda_=0.5)(30.0, 1.0)


@pytest.mark.parametrize("lam", [0.0, 0.2, 0.6, 0.9, 1.0])
def test_joint_reward_is_monotone(lam):
    reward = JointReward(lambda_=lam).bind(get_cost("macs"), AT_480)
    assert_monotone(reward)
    if 0 < lam < 1:
        assert reward(30.0, 1e9) > reward(30.0, 2e9)
        assert reward(30.1, 1e9) > reward(30.0, 1e9)


def test_authors_scale_for_a_search_width_architecture():
    """At C = 8 and 480 x 480, a sampled architecture costs about 0.5-3 units (HNAS-REFERENCE.md)."""
    macs = cost_of("macs", "hnas-a", channels=8)
    reward = JointReward(lambda_=0.2).bind(get_cost("macs"), AT_480)
    assert 0.5 <= macs / reward.normaliser <= 3


def test_other_costs_have_default_normalisers():
    for name, value in (("params", 5e4), ("latency", 2000.0), ("paper_gflops", 2.0)):
        assert JointReward(lambda_=0.5).bind(get_cost(name), AT_480).normaliser == value


def test_a_user_cost_needs_a_normaliser():
    @COSTS.register("test_no_scale")
    def no_scale(genotype, settings: CostSettings) -> float:
        return 1.0

    try:
        with pytest.raises(SpecError, match="no default normaliser"):
            JointReward(lambda_=0.5).bind(get_cost("test_no_scale"), AT_480)
        reward = JointReward(lambda_=0.5, normaliser=4.0).bind(get_cost("test_no_scale"), AT_480)
        assert reward(10.0, 2.0) == pytest.approx(4.75)
    finally:
        COSTS.unregister("test_no_scale")


@pytest.mark.parametrize(
    "params",
    [{"lambda": 1.5}, {"lambda": -0.1}, {"lambda": 0.5, "normaliser": 0}, {"lambda": 0.5, "lamda": 1},
     {"lambda": 0.5, "cost": "macs"}],
)
def test_bad_joint_configs_are_one_line_spec_errors(params):
    with pytest.raises(SpecError) as info:
        REWARDS.build("joint", **params)
    assert "\n" not in str(info.value) and "reward 'joint'" in str(info.value)


def test_unknown_names_give_the_registry_error():
    with pytest.raises(UnknownNameError, match="did you mean 'joint'.*registered rewards: .*budget"):
        REWARDS.build("jiont", lambda_=0.5)


def test_budget_reward_is_psnr_within_the_budget():
    reward = REWARDS.build("budget", target=1e10)
    for psnr, cost in itertools.product(PSNRS, [0.0, 5e9, 1e10]):
        assert reward(psnr, cost) == psnr


def test_budget_reward_charges_beta_per_doubling_beyond_it():
    reward = BudgetReward(target=100.0, beta=-0.2)
    assert reward(30.0, 200.0) == pytest.approx(29.8)
    assert reward(30.0, 400.0) == pytest.approx(29.6)
    assert reward(30.0, 100.0 * (1 + 1e-9)) == pytest.approx(30.0)  # continuous at the target
    assert reward(30.0, 150.0) == pytest.approx(30.0 - 0.2 * math.log2(1.5))


@pytest.mark.parametrize("beta", [0.0, -0.07, -0.2, -2.0])
def test_budget_reward_is_monotone(beta):
    assert_monotone(BudgetReward(target=1e9, beta=beta))


@pytest.mark.parametrize("params", [{}, {"target": 0}, {"target": 1e9, "beta": 0.1}, {"target": 1, "w": 1}])
def test_bad_budget_configs_are_spec_errors(params):
    with pytest.raises(SpecError, match="reward 'budget'"):
        REWARDS.build("budget", **params)
