"""``hnas compare``: members, equal-budget retraining over seeds, rank correlations, resumable."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hnas
from hnas.cli import app
from hnas.compare import Recipe, Space, kendall_tau, mean_std, resolve_members, spearman_rho
from hnas.compare.members import MACS_TOLERANCE, MemberError
from hnas.compare.plot import budget
from hnas.costs import cost_of
from hnas.ops import TABLE_I_NORMAL, TABLE_I_UPSAMPLING

runner = CliRunner()
SPACE = Space(TABLE_I_NORMAL, TABLE_I_UPSAMPLING, nodes=2, layers=3)


def test_rank_correlations_match_hand_computed_values():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # 6 pairs: 5 concordant, 1 discordant -> (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(2 * 3))  # tau-b with a tie
    assert spearman_rho([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert kendall_tau([1, 1], [2, 3]) is None and spearman_rho([5], [6]) is None
    assert mean_std([36.0, 36.2]) == pytest.approx((36.1, 0.1))


def test_members_resolve_presets_files_and_random_draws(tmp_path):
    hnas.resolve_genotype("hnas-a").save(tmp_path / "mine.json")
    settings = Recipe(data="builtin:skimage", channels=4).cost_settings()
    members = resolve_members(["hnas-a", "baseline-plain", str(tmp_path / "mine.json"), "random:3"], space=SPACE,
                              seed=0, cost_settings=settings)
    assert [m.kind for m in members] == ["preset", "baseline", "genotype", "random", "random", "random"]
    assert [m.name for m in members][:3] == ["hnas-a", "baseline-plain", "mine"]
    again = resolve_members(["random:3"], space=SPACE, seed=0, cost_settings=settings)
    assert [m.genotype for m in again] == [m.genotype for m in members[3:]]  # a pure function of the seed
    assert all(m.genotype.layers == 3 for m in again)


def test_random_at_ref_stays_within_fifteen_percent_of_its_macs(tmp_path):
    settings = Recipe(data="builtin:skimage", channels=4).cost_settings()
    reference = resolve_members(["random:1"], space=SPACE, seed=5, cost_settings=settings)[0].genotype
    reference.save(tmp_path / "ref.json")
    target = cost_of("macs", reference, settings)
    drawn = resolve_members([f"random:4@{tmp_path / 'ref.json'}"], space=SPACE, seed=0, cost_settings=settings)
    assert len(drawn) == 4 and all(m.name.startswith("random-at-ref-") for m in drawn)
    for member in drawn:
        assert abs(cost_of("macs", member.genotype, settings) / target - 1) <= MACS_TOLERANCE


def test_a_baseline_takes_its_depth_or_is_sized_to_a_members_macs():
    """``baseline-plain:layers=N`` is that depth; ``baseline-plain@REF`` the depth whose MACs come
    closest to REF's (the equal-MACs control of a searched network)."""
    settings = Recipe(data="builtin:skimage", channels=16).cost_settings()
    deeper, sized = resolve_members(["baseline-plain:layers=9", "baseline-plain@hnas-a"], space=None, seed=0,
                                    cost_settings=settings)
    assert deeper.name == "baseline-plain-layers-9" and deeper.genotype.layers == deeper.genotype.position == 9
    target = cost_of("macs", hnas.resolve_genotype("hnas-a"), settings)
    per_layer = [cost_of("macs", hnas.resolve_genotype(f"baseline-plain:layers={n}"), settings) for n in range(1, 30)]
    best = min(range(1, 30), key=lambda n: abs(per_layer[n - 1] - target))
    assert sized.genotype.layers == best and sized.name == f"baseline-plain-layers-{best}-at-hnas-a"
    assert abs(per_layer[best - 1] / target - 1) < 0.1  # one plain cell is a small step at C = 16
    assert hnas.resolve_genotype("baseline-plain") == hnas.resolve_genotype("baseline-plain:layers=6")


@pytest.mark.parametrize(("member", "message"), [
    ("baseline-plain:depth=3", "preset 'baseline-plain' has no param 'depth' ('baseline-plain:depth=3'); it takes layers"),
    ("baseline-plain:layers=x", "layers must be a whole number, got 'x'"),
    ("hnas-a:layers=3", "preset 'hnas-a' takes no params"),
    ("hnas-a@baseline-plain", "preset 'hnas-a' has no size to match"),
])
def test_preset_param_mistakes_are_one_line(member, message):
    settings = Recipe(data="builtin:skimage").cost_settings()
    with pytest.raises(MemberError, match=re.escape(message)):
        resolve_members([member], space=None, seed=0, cost_settings=settings)


def test_member_mistakes_are_one_line():
    settings = Recipe(data="builtin:skimage").cost_settings()
    with pytest.raises(MemberError, match="needs a search space"):
        resolve_members(["random:2"], space=None, seed=0, cost_settings=settings)
    with pytest.raises(MemberError, match="is not a run folder, a genotype file or a preset"):
        resolve_members(["hnas-q"], space=SPACE, seed=0, cost_settings=settings)


@pytest.fixture(scope="module")
def searched(tmp_path_factory, small_images, tiny_spec) -> Path:
    """A finished tiny search, to compare and to score members with its shared weights."""
    root = tmp_path_factory.mktemp("compare_run")
    spec = tiny_spec(root, small_images, epochs=2, iters=2)
    result = runner.invoke(app, ["run", str(spec), "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    return root / "run"


def test_a_small_comparison_end_to_end_and_resumed(searched, small_images, tmp_path):
    """Two kinds of member (the search's pick and a random one of its space), one seed, a few
    iterations: the table, compare.json, the plot, the report, Kendall tau; a rerun resumes."""
    out = tmp_path / "cmp"
    run_files = {p.name: p.read_bytes() for p in searched.iterdir() if p.suffix in (".jsonl", ".json")}
    args = ["compare", str(searched), "random:1", "--data", str(small_images), "--eval", "builtin:set5",
            "--iters", "2", "--channels", "2", "--seeds", "1", "--batch", "2", "--patch", "16",
            "--shared-weights", str(searched), "--latency-input", "16x16", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "compare.json").read_text())
    assert report["eval_sets"] == ["Set5"] and report["seeds"] == [0]
    names = [m["name"] for m in report["members"]]
    assert names == ["run-run", "random-1"]
    for member in report["members"]:
        assert member["macs"] > 0 and member["params"] > 0 and member["latency_ms"] > 0
        assert member["shared_weight_score"] is not None  # both are in the run's space
        assert len(member["sets"]["Set5"]["psnr"]) == 1 and member["sets"]["Set5"]["psnr_std"] == 0.0
    assert report["rank_correlation"]["Set5"]["n"] == 2
    # scoring with the run's shared weights reads the run: its archive keeps the derivation records
    assert {p.name: p.read_bytes() for p in searched.iterdir() if p.suffix in (".jsonl", ".json")} == run_files
    assert "run-run" in result.stdout and "Kendall tau" in result.stdout
    for name in ("compare.png", "compare-latency.png", "report.html", "members/run-run/seed-0/eval.json"):
        assert (out / name).is_file(), name
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    def without_timing(members: list[dict]) -> list[dict]:
        return [{k: v for k, v in m.items() if k != "latency_ms"} for m in members]

    resumed = json.loads((out / "compare.json").read_text())["members"]
    assert without_timing(resumed) == without_timing(report["members"])  # nothing retrained: eval.json reused
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "already holds a comparison" in refused.stderr


def test_a_later_seed_trained_on_its_own_equals_that_seed_of_a_longer_comparison(small_images, tmp_path):
    """``--first-seed`` adds seeds to members trained before: seed 1 alone is seed 1 of seeds 0-1."""
    common = ["compare", "baseline-plain:layers=2", "--data", str(small_images), "--eval", "builtin:set5",
              "--iters", "2", "--channels", "2", "--batch", "2", "--patch", "16", "--latency-input", "16x16"]
    both = runner.invoke(app, [*common, "--seeds", "2", "--out", str(tmp_path / "both")])
    later = runner.invoke(app, [*common, "--seeds", "1", "--first-seed", "1", "--out", str(tmp_path / "later")])
    assert both.exit_code == 0 and later.exit_code == 0, both.output + later.output
    both_report = json.loads((tmp_path / "both" / "compare.json").read_text())
    later_report = json.loads((tmp_path / "later" / "compare.json").read_text())
    assert both_report["seeds"] == [0, 1] and later_report["seeds"] == [1]
    assert later_report["members"][0]["sets"]["Set5"]["psnr"] == both_report["members"][0]["sets"]["Set5"]["psnr"][1:]


def test_evaluation_images_that_members_train_on_are_refused(small_images, tmp_path):
    result = runner.invoke(app, ["compare", "baseline-plain", "--data", str(small_images), "--eval",
                                 str(small_images), "--iters", "1", "--out", str(tmp_path / "leak")])
    assert result.exit_code == 2 and "is the same picture as" in result.stderr
    assert not (tmp_path / "leak").exists()


def test_the_table_and_plot_name_the_budget_every_member_got() -> None:
    """Under ``--minutes`` the iteration count is a ceiling nobody reached: the budget is the time."""
    assert budget({"iters": 1000, "minutes": None}) == "1000 iterations"
    assert budget({"iters": 1_000_000, "minutes": 47.0}) == "47 minutes each"


def _report(seeds: list[int], shared: float | None) -> dict:
    stats = {"psnr_mean": 30.5, "psnr_std": 0.0 if len(seeds) == 1 else 0.25, "ssim_mean": 0.9, "ssim_std": 0.0}
    members = [{"name": name, "kind": "random", "macs": 2e9, "params": 1234, "latency_ms": 3.0,
                "shared_weight_score": shared, "sets": {"Set5": stats}}
               for name in ("random-at-run-a-rather-long-experiment-name-1", "hnas-a")]
    return {"recipe": {"iters": 10, "minutes": None, "channels": 8}, "seeds": seeds, "eval_sets": ["Set5"],
            "members": members, "rank_correlation": None}


def test_the_table_shows_no_spread_of_one_seed_no_empty_column_and_whole_names(capsys, monkeypatch) -> None:
    from hnas.cli.cmd_compare import print_table

    print_table(_report([0], None))  # an 80-column terminal
    one = capsys.readouterr().out
    assert "±" not in one and "shared score" not in one and "…" not in one
    assert "random-at-run-a-rather-long-experiment-name-1" in one
    monkeypatch.setenv("COLUMNS", "200")
    print_table(_report([0, 1], 31.25))
    two = capsys.readouterr().out
    assert "30.500 ± 0.250" in two and "shared score" in two and "31.250" in two
