"""Controllers: the hierarchical LSTM (paper Sec. II-B), the random baseline, and REINFORCE."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import hnas  # noqa: F401  (registers ops and presets)
from hnas.controllers import (
    HierarchicalLSTMController,
    RandomController,
    Reinforce,
    Sample,
    build_controller,
)
from hnas.errors import CheckpointError, SpecError, UnknownNameError
from hnas.ops import TABLE_I_NORMAL, TABLE_I_UPSAMPLING
from hnas.registry import CONTROLLERS, PRESETS
from hnas.spaces import Genotype

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: tiny models, one thread


@pytest.fixture
def lstm() -> HierarchicalLSTMController:
    torch.manual_seed(0)
    return build_controller("hierarchical_lstm")  # type: ignore[return-value]


def test_sample_unpacks_like_enas_and_validates(lstm: HierarchicalLSTMController) -> None:
    genotype, log_prob, entropy = lstm.sample()
    assert isinstance(genotype, Genotype)
    assert log_prob.dim() == 0 and entropy.dim() == 0
    assert log_prob.requires_grad and entropy.requires_grad
    assert genotype.layers == 12 and 1 <= genotype.position <= 12
    assert genotype.normal.nodes == genotype.upsampling.nodes == 4
    assert lstm.num_decisions == 33  # 16 per cell (in, in, op, op per node) + position


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("hierarchical_lstm", {}),
        ("hierarchical_lstm", {"network_init": "state", "temperature": 5.0, "tanh_constant": 2.5}),
        ("random", {}),
    ],
)
def test_many_samples_are_valid_genotypes(name: str, kwargs: dict) -> None:
    torch.manual_seed(1)
    controller = build_controller(
        name, normal_ops=["skip_connect", "sep_conv_3x3", "rcab"], upsampling_ops=["sub_pixel", "nearest"],
        nodes=3, layers=5, **kwargs,
    )
    seen_positions, seen_sources = set(), set()
    with torch.no_grad():
        for _ in range(300):
            sample = controller.sample()
            genotype = Genotype.model_validate_json(sample.genotype.canonical_json())  # round trip
            assert genotype.position == sample.genotype.position
            assert set(genotype.normal.ops()) <= {"skip_connect", "sep_conv_3x3", "rcab"}
            assert set(genotype.upsampling.ops()) <= {"sub_pixel", "nearest"}
            seen_positions.add(genotype.position)
            seen_sources |= {(e.source, e.target) for e in genotype.normal.edges}
    assert seen_positions == {1, 2, 3, 4, 5}
    assert seen_sources == {(s, t) for t in range(2, 5) for s in range(t)}  # every legal wiring occurs


def test_log_prob_is_the_sum_of_the_recorded_decisions(lstm: HierarchicalLSTMController) -> None:
    sample = lstm.sample()
    log_probs = [F.log_softmax(d.logits, -1)[d.choice] for d in sample.decisions]
    entropies = [-(F.softmax(d.logits, -1) * F.log_softmax(d.logits, -1)).sum() for d in sample.decisions]
    assert sample.policy_log_prob.item() == pytest.approx(sum(log_probs).item(), abs=1e-4)
    assert sample.policy_entropy.item() == pytest.approx(sum(entropies).item(), abs=1e-4)
    # The position decision is weighted by 10 (the authors' REINFORCE objective).
    assert sample.decisions[-1].kind == "position"
    expected = sum(log_probs[:-1]) + 10 * log_probs[-1]
    assert sample.log_prob.item() == pytest.approx(expected.item(), abs=1e-4)
    assert sample.entropy.item() == pytest.approx((sum(entropies[:-1]) + 10 * entropies[-1]).item(), abs=1e-4)
    # Teacher-forcing the same actions gives the same numbers.
    again = lstm.replay(sample.actions)
    assert again.genotype == sample.genotype
    assert again.log_prob.item() == pytest.approx(sample.log_prob.item(), abs=1e-5)


def test_position_weight_one_gives_the_true_log_probability() -> None:
    controller = build_controller(position_weight=1.0)
    sample = controller.sample()
    assert sample.log_prob.item() == pytest.approx(sample.policy_log_prob.item(), abs=1e-5)


def test_greedy_is_deterministic(lstm: HierarchicalLSTMController) -> None:
    first = lstm.sample(greedy=True)
    torch.manual_seed(123)
    assert lstm.sample(greedy=True).genotype == first.genotype
    assert all(d.choice == int(d.logits.argmax()) for d in first.decisions)


def test_seeded_sampling_is_reproducible(lstm: HierarchicalLSTMController) -> None:
    torch.manual_seed(7)
    a = [lstm.sample().genotype.hash() for _ in range(5)]
    torch.manual_seed(7)
    b = [lstm.sample().genotype.hash() for _ in range(5)]
    assert a == b and len(set(a)) > 1
    # An explicit generator leaves the global RNG alone.
    state = torch.get_rng_state()
    c = lstm.sample(generator=torch.Generator().manual_seed(3)).genotype
    d = lstm.sample(generator=torch.Generator().manual_seed(3)).genotype
    assert c == d and torch.equal(state, torch.get_rng_state())


def test_state_dict_round_trip_gives_identical_samples(lstm: HierarchicalLSTMController) -> None:
    clone = build_controller("hierarchical_lstm")
    clone.load_state_dict(lstm.state_dict())
    for seed in range(3):
        torch.manual_seed(seed)
        a = lstm.sample()
        torch.manual_seed(seed)
        b = clone.sample()
        assert a.genotype == b.genotype
        assert a.log_prob.item() == b.log_prob.item()


def test_a_published_genotype_can_be_scored(lstm: HierarchicalLSTMController) -> None:
    hnas_a = PRESETS.get("hnas-a")()
    actions = lstm.actions_of(hnas_a)
    assert lstm.genotype_from_actions(actions).hash() == hnas_a.hash()
    assert lstm.replay(actions).policy_log_prob.item() < 0


def test_reinforce_learns_a_toy_reward(lstm: HierarchicalLSTMController) -> None:
    """reward = 1 when the upsampling cell is at position 3: its probability must rise."""
    reinforce = Reinforce(lstm)

    def position_3_probability() -> tuple[float, float]:
        with torch.no_grad():
            draws = [lstm.sample() for _ in range(20)]
        prob = sum(F.softmax(s.decisions[-1].logits, -1)[2].item() for s in draws) / len(draws)
        entropy = sum(s.parts["position"].entropy.item() for s in draws) / len(draws)
        return prob, entropy

    prob_before, entropy_before = position_3_probability()
    assert prob_before == pytest.approx(1 / 12, abs=0.03)
    for _ in range(200):
        genotype, log_prob, entropy = lstm.sample()
        stats = reinforce.step(log_prob, entropy, reward=1.0 if genotype.position == 3 else 0.0)
    prob_after, entropy_after = position_3_probability()
    assert prob_after > 2.5 * prob_before
    assert entropy_after < entropy_before - 0.2
    assert set(stats) >= {"loss", "advantage", "baseline", "entropy", "reward"}


def test_reinforce_baseline_starts_at_the_first_reward_and_is_kept(lstm: HierarchicalLSTMController) -> None:
    reinforce = Reinforce(lstm, entropy_weight=0.0)
    first = reinforce.step(*lstm.sample()[1:], reward=30.0)
    assert first["advantage"] == 0.0 and first["baseline"] == 30.0
    second = reinforce.step(*lstm.sample()[1:], reward=31.0)
    assert second["advantage"] == pytest.approx(1.0)  # scored against the baseline before the update
    assert second["baseline"] == pytest.approx(0.95 * 30.0 + 0.05 * 31.0)

    resumed = Reinforce(build_controller("hierarchical_lstm"), entropy_weight=0.0)
    resumed.load_resume_state(*reinforce.resume_state())
    assert resumed.baseline == reinforce.baseline and resumed.steps == 2
    assert resumed.optimizer.state_dict()["state"].keys() == reinforce.optimizer.state_dict()["state"].keys()


def test_entropy_modes() -> None:
    controller = build_controller()
    in_reward = Reinforce(controller, entropy_weight=0.5)
    in_reward.step(*controller.sample()[1:], reward=1.0)
    sample = controller.sample()
    stats = in_reward.step(sample.log_prob, sample.entropy, reward=1.0)
    assert stats["shaped_reward"] == pytest.approx(1.0 + 0.5 * sample.entropy.item())

    in_loss = Reinforce(controller, entropy_weight=0.5, entropy_mode="loss")
    sample = controller.sample()
    stats = in_loss.step(sample.log_prob, sample.entropy, reward=1.0)
    assert stats["advantage"] == 0.0
    assert stats["loss"] == pytest.approx(-0.5 * sample.entropy.item(), rel=1e-5)
    with pytest.raises(ValueError, match="non-finite|nan"):
        in_loss.step(*controller.sample()[1:], reward=float("nan"))


def test_cosine_lr_anneals_between_the_paper_values(lstm: HierarchicalLSTMController) -> None:
    reinforce = Reinforce(lstm)
    assert reinforce.current_lr == 3e-4
    assert reinforce.set_progress(0.5) == pytest.approx(2.25e-4)
    assert reinforce.set_progress(1.0) == pytest.approx(1.5e-4)
    assert reinforce.current_lr == pytest.approx(1.5e-4)


def test_random_controller_is_uniform_and_untrained() -> None:
    controller = build_controller("random")
    assert isinstance(controller, RandomController) and controller.state_dict() == {}
    torch.manual_seed(0)
    draws = 2400
    counts = torch.zeros(12)
    first_input_of_node_5 = torch.zeros(5)
    for _ in range(draws):
        sample = controller.sample()
        counts[sample.genotype.position - 1] += 1
        first_input_of_node_5[sample.actions[12]] += 1
    chi2 = (((counts - draws / 12) ** 2) / (draws / 12)).sum().item()
    assert chi2 < 31.3  # 11 degrees of freedom, p = 0.001
    chi2 = (((first_input_of_node_5 - draws / 5) ** 2) / (draws / 5)).sum().item()
    assert chi2 < 18.5  # 4 degrees of freedom, p = 0.001

    sample = controller.sample(greedy=True)  # an ordinary draw: uniform has no argmax
    expected = -(8 * math.log(len(TABLE_I_NORMAL)) + 8 * math.log(5) + 2 * 2 * math.log(2 * 3 * 4 * 5) + math.log(12))
    assert sample.policy_log_prob.item() == pytest.approx(expected, rel=1e-6)
    assert sample.policy_entropy.item() == pytest.approx(-expected, rel=1e-6)

    reinforce = Reinforce(controller)
    assert reinforce.optimizer is None
    reinforce.step(sample.log_prob, sample.entropy, reward=2.0)
    stats = reinforce.step(sample.log_prob, sample.entropy, reward=4.0)
    entropy = sample.entropy.item()  # the default entropy_mode adds it to the reward
    assert stats["baseline"] == pytest.approx(0.95 * (2.0 + entropy) + 0.05 * (4.0 + entropy))
    with pytest.raises(CheckpointError):
        reinforce.load_resume_state(*Reinforce(build_controller()).resume_state())


def test_registry_and_argument_errors() -> None:
    assert {"hierarchical_lstm", "random"} <= set(CONTROLLERS.names())
    with pytest.raises(UnknownNameError, match="hierarchical_lstm"):
        build_controller("hierarchical_lstn")
    with pytest.raises(UnknownNameError, match="sep_conv_3x3"):
        build_controller(normal_ops=["sep_conv3x3"])
    with pytest.raises(SpecError, match="more than once"):
        build_controller(upsampling_ops=["nearest", "nearest"])
    with pytest.raises(SpecError, match="network_init"):
        build_controller(network_init="initial")
    assert build_controller().normal_ops == TABLE_I_NORMAL
    assert build_controller().upsampling_ops == TABLE_I_UPSAMPLING


def test_sample_is_a_sample_object(lstm: HierarchicalLSTMController) -> None:
    sample = lstm.sample()
    assert isinstance(sample, Sample) and len(sample) == 3 and sample[0] is sample.genotype
    assert set(sample.parts) == {"normal", "upsampling", "position"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_controller_follows_its_device() -> None:
    controller = build_controller().to("cuda")
    generator = torch.Generator(device="cuda").manual_seed(0)
    sample = controller.sample(generator=generator)
    assert sample.log_prob.device.type == "cuda"
    Reinforce(controller).step(sample.log_prob, sample.entropy, reward=1.0)


def test_the_controllers_lr_floor_follows_its_lr() -> None:
    """Defect: the cosine floor was fixed at 1.5e-4, so an lr below it rose over the search."""
    small = Reinforce(build_controller(), lr=1e-4)
    assert small.set_progress(0.0) == pytest.approx(1e-4)
    assert small.set_progress(1.0) == pytest.approx(5e-5)
    with pytest.raises(ValueError, match="lr_min"):
        Reinforce(build_controller(), lr=1e-4, lr_min=2e-4)
    lstm = build_controller("hierarchical_lstm", lr=1e-4)
    lstm.set_progress(1.0)
    assert lstm.reinforce.current_lr == pytest.approx(5e-5)


def test_the_lstm_learns_from_rewards_through_the_controller_interface() -> None:
    """``learn`` is one REINFORCE step; resume state round-trips through tensors and JSON."""
    torch.manual_seed(0)
    lstm = build_controller("hierarchical_lstm", normal_ops=["skip_connect", "rcab"], upsampling_ops=["nearest"],
                            nodes=1, layers=3, lr=0.05, entropy_weight=0.0)
    for _ in range(60):
        sample = lstm.sample()
        lstm.learn(sample, 1.0 if sample.genotype.normal.edges[0].op == "rcab" else 0.0)
    greedy = lstm.sample(greedy=True).genotype
    assert greedy.normal.edges[0].op == "rcab"
    tensors, info = lstm.resume_state()
    twin = build_controller("hierarchical_lstm", normal_ops=["skip_connect", "rcab"], upsampling_ops=["nearest"],
                            nodes=1, layers=3, lr=0.05, entropy_weight=0.0)
    twin.load_resume_state(tensors, info)
    assert twin.sample(greedy=True).genotype == greedy and twin.reinforce.baseline == lstm.reinforce.baseline


def test_regularized_evolution_mutates_tournament_winners_and_ages_out_the_oldest() -> None:
    evo = build_controller("evolution", nodes=2, layers=4, population=4, sample_size=2)
    generator = torch.Generator().manual_seed(0)
    rewards = {}
    for step in range(12):
        sample = evo.sample(generator=generator)
        reward = float(sum(sample.actions))  # a made-up objective: larger decisions are better
        rewards[sample.genotype.hash()] = reward
        evo.learn(sample, reward)
        assert len(evo.population) == min(step + 1, 4)
    assert len(evo.history) == 12
    # after the population is full, each proposal is one decision away from a member
    members = [actions for actions, _ in evo.population]
    child = evo.sample(generator=generator).actions
    assert min(sum(a != b for a, b in zip(child, m)) for m in members) <= 1
    best = max(evo.history, key=lambda m: m[1])
    assert evo.sample(greedy=True).actions == best[0]
    assert evo.candidates(2)[0][1] == evo.genotype_from_actions(best[0])
    twin = build_controller("evolution", nodes=2, layers=4, population=4, sample_size=2)
    twin.load_resume_state(*evo.resume_state())
    assert list(twin.population) == list(evo.population) and twin.history == evo.history
    with pytest.raises(SpecError, match="sample_size"):
        build_controller("evolution", population=4, sample_size=5)


def test_evolutions_initial_population_follows_the_runs_seed(tiny_spec, small_images, tmp_path) -> None:
    """Searches with different seeds start from different populations (they were all one before);
    an explicit ``params.seed`` still fixes it."""
    from hnas.search.components import controller_of_spec
    from hnas.search.spec_loader import load_spec

    path = tiny_spec(tmp_path, small_images)
    base = ["controller.type=\"evolution\"", "controller.params={population = 4, sample_size = 2}"]

    def initial(*extra: str) -> list[tuple[int, ...]]:
        spec = load_spec(path, [*base, *extra])
        space = spec.space
        controller = controller_of_spec(spec, space.resolved_normal_ops(), space.resolved_upsampling_ops())
        return [tuple(a) for a in controller.initial]

    assert initial("seed=0") == initial("seed=0")
    assert initial("seed=0") != initial("seed=1")
    pinned = "controller.params={population = 4, sample_size = 2, seed = 7}"
    assert initial("seed=0", pinned) == initial("seed=1", pinned)
