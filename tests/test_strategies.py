"""Search strategies on the ask/tell seam: plans within a step budget, promotion by told rewards,
draws from the run's seed within a cost band, exact resume, and one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hnas.cli import app
from hnas.costs import get_cost
from hnas.engine.folder import RunFolder
from hnas.errors import SpecError
from hnas.registry import STRATEGIES
from hnas.search.components import build_components, build_strategy
from hnas.search.data import SearchData
from hnas.search.proxy import ProxyTrainer
from hnas.search.scoring import Scorer
from hnas.search.spec_loader import load_spec
from hnas.strategies import Proposal, Strategy
from hnas.strategies.files import STRATEGY_FILE
from hnas.strategies.halving import halving_cost
from hnas.strategies.loop import StrategyRun

runner = CliRunner()

HALVING = ["strategy.type=successive_halving", "strategy.params.min_steps=2", "strategy.params.eta=2",
           "strategy.params.rungs=3", "strategy.budget_steps=32"]
SMALL = ["search.proxy.patch=16", "search.proxy.batch=2", "space.channels=4", "space.global_skip=none"]


def spec_with(tiny_spec, small_images, folder: Path, *overrides: str):
    return load_spec(tiny_spec(folder, small_images), overrides=[*SMALL, *overrides])


def strategy_of(spec) -> Strategy:
    return build_strategy(spec, build_components(spec))


def test_halving_spends_the_largest_pool_the_budget_pays_for(tiny_spec, small_images, tmp_path):
    strategy = strategy_of(spec_with(tiny_spec, small_images, tmp_path, *HALVING))
    plan = strategy.describe()
    # rungs of 2, 4 and 8 steps, a promoted candidate continuing: 8 x 2 + 4 x (4 - 2) + 2 x (8 - 4) = 32
    assert plan["rung_steps"] == [2, 4, 8] and plan["pool"] == 8 and plan["rung_sizes"] == [8, 4, 2]
    assert halving_cost(8, 2, 2, 3) == 32 and halving_cost(9, 2, 2, 3) > 32
    assert strategy.horizon == 8


def test_halving_promotes_the_best_told_and_continues_them(tiny_spec, small_images, tmp_path):
    strategy = strategy_of(spec_with(tiny_spec, small_images, tmp_path, *HALVING))
    asked: list[Proposal] = []
    while (proposal := strategy.ask()) is not None:
        asked.append(proposal)
        strategy.tell(proposal, reward=float(int(proposal.key, 16) % 97))  # any fixed score of the architecture
    first = [p for p in asked if p.steps == 2]
    second = [p for p in asked if p.steps == 4]
    last = [p for p in asked if p.steps == 8]
    assert (len(first), len(second), len(last)) == (8, 4, 2)
    score = {p.key: int(p.key, 16) % 97 for p in first}
    assert {p.key for p in second} == set(sorted(score, key=lambda k: -score[k])[:4])
    assert {p.key for p in last} == set(sorted((p.key for p in second), key=lambda k: -score[k])[:2])


@pytest.mark.parametrize("overrides", [HALVING, ["strategy.type=random_search", "strategy.params.steps=8",
                                                "strategy.budget_steps=40"]])
def test_a_round_of_ready_proposals_is_what_asking_one_at_a_time_gives(tiny_spec, small_images, tmp_path, overrides):
    """What ``ready`` lists is what ``ask`` proposes, told in that order, so a round trained in
    parallel and told in order leaves the strategy where a single process leaves it."""
    spec = spec_with(tiny_spec, small_images, tmp_path, *overrides)
    one_by_one, by_rounds = strategy_of(spec), strategy_of(spec)
    asked, listed, rounds = [], [], []
    while (proposal := one_by_one.ask()) is not None:
        asked.append(proposal)
        one_by_one.tell(proposal, reward=float(int(proposal.key, 16) % 97))
    while batch := by_rounds.ready():
        rounds.append(len(batch))
        listed += batch
        for proposal in batch:
            by_rounds.tell(proposal, reward=float(int(proposal.key, 16) % 97))
    assert listed == asked
    assert rounds == ([8, 4, 2] if "successive_halving" in overrides[0] else [5])
    assert by_rounds.width == rounds[0]


def test_draws_follow_the_run_seed_and_stay_in_the_band(tiny_spec, small_images, tmp_path):
    specs = [spec_with(tiny_spec, small_images, tmp_path, *HALVING, f"seed={seed}") for seed in (0, 0, 1)]
    pools = [[g.hash() for g in strategy_of(spec).members] for spec in specs]
    assert pools[0] == pools[1] and pools[0] != pools[2]
    wide = strategy_of(specs[0])
    macs = sorted(wide.proposer.price(g) for g in wide.members)
    band = [macs[0], macs[len(macs) // 2]]
    banded = strategy_of(spec_with(tiny_spec, small_images, tmp_path, *HALVING, f"strategy.band={band}"))
    assert all(band[0] <= banded.proposer.price(g) <= band[1] for g in banded.members)


def test_a_band_in_the_specs_own_cost(tiny_spec, small_images, tmp_path):
    """``band_by = "cost"``: the band is in the [cost]'s unit (parameters here; predicted ms under
    ``latency_table``), and a band out of reach says so in that unit."""
    by_params = [*HALVING, "cost.type=params", "strategy.band_by=cost"]
    wide = strategy_of(spec_with(tiny_spec, small_images, tmp_path, *HALVING))
    count = get_cost("params")
    settings = build_components(spec_with(tiny_spec, small_images, tmp_path, *by_params)).cost_settings
    sizes = sorted(count(g, settings) for g in wide.members)
    band = [sizes[0], sizes[len(sizes) // 2]]
    banded = strategy_of(spec_with(tiny_spec, small_images, tmp_path, *by_params, f"strategy.band={band}"))
    assert banded.proposer.unit == "parameters"
    assert all(band[0] <= count(g, settings) <= band[1] for g in banded.members)
    with pytest.raises(SpecError, match=r"the cost band 1-2 parameters holds 0 of the 8 .* the closest drawn had "
                                        r"[0-9.e+]+ parameters"):
        strategy_of(spec_with(tiny_spec, small_images, tmp_path, *by_params, "strategy.band=[1, 2]"))


def test_random_search_and_the_controller_strategy_train_each_proposal_alike(tiny_spec, small_images, tmp_path):
    random_search = strategy_of(spec_with(tiny_spec, small_images, tmp_path, "strategy.type=random_search",
                                          "strategy.params.steps=8", "strategy.budget_steps=40"))
    assert random_search.describe() == {"pool": 5, "steps": 8, "planned_steps": 40}
    evolution = strategy_of(spec_with(tiny_spec, small_images, tmp_path, "strategy.type=controller",
                                      "strategy.params.steps=8", "strategy.budget_steps=40",
                                      "controller.type=evolution", "controller.params.population=2",
                                      "controller.params.sample_size=1"))
    told = 0
    while (proposal := evolution.ask()) is not None:
        assert proposal.steps == 8 and evolution.ask() == proposal  # asking again repeats the proposal
        evolution.tell(proposal, float(told))
        told += 1
    assert told == 5 and len(evolution.controller.history) == 5


@pytest.mark.parametrize(("overrides", "message"), [
    (["strategy.budget_steps=5"], "smaller than one bracket of successive halving"),
    (["strategy.params.eta=2.5"], "param 'eta' = 2.5: Input should be a valid integer"),
    (["strategy.params.eta=1"], "eta must be an integer >= 2, got 1"),
    (["strategy.params.pool='many'"], "param 'pool' = 'many': Input should be a valid integer"),
    (["strategy.params.pool=9"], "a pool of 9 costs"),
    (["strategy.params.speed=1"], "has no param 'speed'; it takes min_steps, eta, rungs, pool"),
    (["strategy.band=[1e3, 2e3]"], "holds 0 of the 8 architectures wanted in 500 uniform draws; the closest drawn had"),
    (["strategy.band=[2e9, 1e9]"], "0 < low < high"),
    (["strategy.type=halvng"], "did you mean 'halving'"),
])
def test_bad_strategy_input_is_one_line_exit_2_and_writes_nothing(tiny_spec, small_images, tmp_path, overrides,
                                                                   message):
    out = tmp_path / "run"
    args = [f"--set={item}" for item in [*SMALL, *HALVING, *overrides]]
    result = runner.invoke(app, ["run", str(tiny_spec(tmp_path, small_images)), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()


def _run(spec, out: Path, fail_at: int | None = None) -> dict:
    """The strategy stage on its own; ``fail_at``: the line whose write is killed (its weights are saved)."""
    parts = build_components(spec)
    data = SearchData(spec)
    scorer = Scorer(data.score_lr, data.score_hr, spec.space.scale, parts.cost, parts.cost_settings, parts.reward,
                    torch.device("cpu"))
    folder = RunFolder(out)
    out.mkdir(exist_ok=True)
    if fail_at is not None:
        append = folder.append

        def killed(name: str, record: dict) -> None:
            if record["index"] == fail_at:
                raise KeyboardInterrupt
            append(name, record)

        folder.append = killed  # type: ignore[method-assign]
    run = StrategyRun(build_strategy(spec, parts), ProxyTrainer(spec, data.proxy, scorer, torch.device("cpu")),
                      scorer, folder)
    return run.run()


def test_a_killed_strategy_resumes_exactly(tiny_spec, small_images, tmp_path):
    spec = spec_with(tiny_spec, small_images, tmp_path, *HALVING, "search.proxy.lr=1e-2")
    whole = _run(spec, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        _run(spec, tmp_path / "killed", fail_at=9)  # rung 2's second candidate: continued, saved, unrecorded
    resumed = _run(spec, tmp_path / "killed")
    lines = [(tmp_path / name / STRATEGY_FILE).read_text() for name in ("whole", "killed")]
    assert lines[0] == lines[1]  # every score and the budget spent, to the last digit
    assert resumed == whole
    records = [json.loads(line) for line in lines[0].splitlines()]
    assert records[-1]["spent"] == 32 and len(records) == 14
    assert whole["steps"] == 8  # the pick is a finalist


def test_hnas_run_retrains_the_strategy_pick(tiny_spec, small_images, tmp_path):
    out = tmp_path / "run"
    args = [f"--set={item}" for item in [*SMALL, *HALVING, "retrain.iters=2"]]
    result = runner.invoke(app, ["run", str(tiny_spec(tmp_path, small_images)), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    derived = json.loads((out / "derived.json").read_text())
    results = json.loads((out / "results.json").read_text())
    assert results["hash"] == derived["hash"] and derived["proxy"]["iters"] == 8
    assert json.loads((out / "strategy.json").read_text())["pool"] == 8
    assert "successive_halving" in STRATEGIES


def test_inspect_shows_the_rungs_and_the_pick(tiny_spec, small_images, tmp_path):
    out = tmp_path / "run"
    args = [f"--set={item}" for item in [*SMALL, *HALVING, "retrain.enabled=false"]]
    assert runner.invoke(app, ["run", str(tiny_spec(tmp_path, small_images)), "--out", str(out), *args]).exit_code == 0
    shown = runner.invoke(app, ["inspect", str(out), "--json"])
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.output)
    assert [(r["steps"], r["candidates"]) for r in summary["rungs"]] == [(2, 8), (4, 4), (8, 2)]
    assert summary["spent"] == 32 and summary["pick"]["hash"] == json.loads((out / "derived.json").read_text())["hash"]
    table = runner.invoke(app, ["inspect", str(out)])
    assert table.exit_code == 0 and "32 of 32 steps spent" in table.output
