"""`hnas run` end to end on a tiny spec: artefacts, determinism, resume, sweep."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hnas import Genotype
from hnas.cli import app
from hnas.costs import measure

runner = CliRunner()


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory, small_images, tiny_spec) -> Path:
    return tiny_spec(tmp_path_factory.mktemp("spec"), small_images)


@pytest.fixture(scope="module")
def full_run(spec_file, tmp_path_factory) -> Path:
    """One uninterrupted run that the other tests compare against."""
    out = tmp_path_factory.mktemp("full") / "run"
    run(str(spec_file), "--out", str(out))
    return out


def run(*args: str):
    result = runner.invoke(app, ["run", *args])
    assert result.exit_code == 0, result.output
    return result


def test_run_writes_every_artefact(full_run):
    out = full_run
    for name in ("spec.json", "search_log.jsonl", "archive.jsonl", "genotype.json", "model.safetensors",
                 "results.json", "pareto.png"):
        assert (out / name).is_file(), name
    log = [json.loads(line) for line in (out / "search_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert {"epoch", "entropy", "reward_mean", "psnr_mean", "cost_mean"} <= set(log[0])
    archive = [json.loads(line) for line in (out / "archive.jsonl").read_text().splitlines()]
    searched = [r for r in archive if r["stage"] == "search"]
    derived = [r for r in archive if r["stage"] == "derive"]
    assert len(searched) == 2 * 3 and len(derived) == 3
    assert {"genotype", "hash", "epoch", "psnr", "psnr_gain", "cost", "reward"} <= set(searched[0])
    results = json.loads((out / "results.json").read_text())
    assert {"genotype", "position", "evaluation", "macs", "params", "search", "lambda", "retrain"} <= set(results)
    chosen = Genotype.load(out / "genotype.json")
    assert chosen.to_dict() == results["genotype"]
    best = max(derived, key=lambda r: r["reward"])
    assert best["hash"] == chosen.hash() and best["reward"] == results["search"]["reward"]
    assert results["lambda"] == 0.6 and results["position"] == chosen.position
    # the cost of the network that was retrained (4 channels, with the space's bicubic skip)
    assert results["macs"] == measure(chosen, scale=2, channels=4, input=tuple(results["cost_input"]),
                                      global_skip="bicubic").macs
    # every number names its images, and the evaluation images were never searched or trained on
    assert set(results["evaluation"]) == {"Set5"} and len(results["evaluation"]["Set5"]["images"]) == 5
    # the shape `hnas eval --json` prints: every image with its own scores
    assert all(set(v) == {"psnr", "ssim"} for v in results["evaluation"]["Set5"]["images"].values())
    assert "theta split" in results["search"]["scored_on"]["images"]
    assert results["search"]["scored_on"]["patches"] == 4
    assert "best validation PSNR" in results["retrain"]["checkpoint"]
    assert (out / "report.html").is_file()
    assert {r["stage"] for r in json.loads("[" + ",".join((out / "timings.jsonl").read_text().split()) + "]")} >= {
        "search", "retrain", "evaluate"}


def test_same_seed_same_archive(spec_file, full_run, tmp_path):
    run(str(spec_file), "--out", str(tmp_path / "again"))
    for name in RUN_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (full_run / name).read_bytes(), name


#: The files of a run that must repeat byte for byte (wall times live in timings.jsonl only).
RUN_FILES = ("spec.json", "search_log.jsonl", "archive.jsonl", "derived.json", "genotype.json", "results.json",
             "retrain.json", "model.safetensors", "search_state.safetensors", "retrain/train_log.jsonl",
             "retrain/model.safetensors", "retrain/resume.safetensors", "state.json")


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("stop_at", [("search", 1), ("derive", 1), ("retrain", 2)])
def test_resume_after_an_interruption_matches_an_uninterrupted_run(spec_file, full_run, tmp_path, stop_at):
    from hnas.search.pipeline import run_spec
    from hnas.search.spec_loader import load_spec

    spec = load_spec(spec_file)

    def stop(stage, completed, total, message):
        if (stage, completed) == stop_at:
            raise Interrupt

    part = tmp_path / "part"
    with pytest.raises(Interrupt):
        run_spec(spec, part, progress=stop)
    assert not (part / "results.json").exists()
    run_spec(spec, part, resume=True)
    for name in RUN_FILES:
        assert (part / name).read_bytes() == (full_run / name).read_bytes(), name


def test_existing_run_dir_needs_resume(spec_file, tmp_path):
    out = tmp_path / "run"
    run(str(spec_file), "--out", str(out), "--set", "search.epochs=1")
    result = runner.invoke(app, ["run", str(spec_file), "--out", str(out)])
    assert result.exit_code == 2 and "--resume" in result.stderr
    result = runner.invoke(app, ["run", str(spec_file), "--out", str(out), "--resume", "--set", "seed=9"])
    assert result.exit_code == 2 and "differs" in result.stderr


@pytest.mark.slow
def test_lambda_sweep_writes_a_combined_report(spec_file, tmp_path):
    out = tmp_path / "sweep"
    run(str(spec_file), "--out", str(out), "--set", "reward.lambdas=[0.2, 0.9]")
    report = json.loads((out / "pareto.json").read_text())
    assert report["lambdas"] == [0.2, 0.9] and set(report["runs"]) == {"lambda=0.2", "lambda=0.9"}
    assert (out / "pareto.png").is_file() and (out / "lambda-0.2" / "results.json").is_file()


def test_warmup_epochs_train_uniformly_before_the_controller_acts(spec_file, tmp_path):
    out = tmp_path / "warm"
    run(str(spec_file), "--out", str(out), "--set", "search.epochs=3", "--set", "search.warmup_epochs=2",
        "--set", "retrain.enabled=false")
    log = [json.loads(line) for line in (out / "search_log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log] == ["warmup", "warmup", "search"]
    assert log[0]["reward_mean"] is None and log[2]["reward_mean"] is not None
    archive = [json.loads(line) for line in (out / "archive.jsonl").read_text().splitlines()]
    assert {r["epoch"] for r in archive if r["stage"] == "search"} == {3}


def test_an_architecture_scores_the_same_at_the_same_weights(spec_file, tmp_path):
    """The reward does not depend on which batch an architecture drew: every score is on the same
    fixed patches, so scoring twice (and in another order) gives the same numbers."""
    import torch

    from hnas.search.pipeline import build_search, run_folder
    from hnas.search.spec_loader import load_spec

    spec = load_spec(spec_file)
    folder = run_folder(tmp_path / "s")
    folder.open(spec.to_dict(), False)
    search = build_search(spec, folder, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    a, b = (search.controller.sample(generator=generator).genotype for _ in range(2))
    first = [search.score(a), search.score(b)]
    second = [search.score(b), search.score(a)]
    assert first == second[::-1]
    assert first[0]["psnr_gain"] == pytest.approx(first[0]["psnr"] - search.scorer.bicubic_psnr)

def test_an_evolution_run_tells_one_story(spec_file, tmp_path):
    """Evolution has no policy: the log and the progress bar show no entropy, and inspect shows the
    population and its best (the architecture with the highest reward so far), not uniform tables."""
    out = tmp_path / "evolved"
    run(str(spec_file), "--out", str(out), "--set", "controller.type=evolution",
        "--set", "controller.params={ population = 2, sample_size = 1 }", "--set", "retrain.enabled=false")
    log = [json.loads(line) for line in (out / "search_log.jsonl").read_text().splitlines()]
    assert all(r["entropy"] is None for r in log)
    archive = [json.loads(line) for line in (out / "archive.jsonl").read_text().splitlines()]
    searched = [r for r in archive if r["stage"] == "search"]
    assert searched and all("entropy" not in r for r in searched)
    shown = runner.invoke(app, ["inspect", str(out), "--json"])
    assert shown.exit_code == 0, shown.output
    policy = json.loads(shown.stdout)
    assert policy["population"] == 2 and policy["entropy"] is None and not policy["uniform"]
    best = max(searched, key=lambda r: r["reward"])
    assert policy["best_reward"] == pytest.approx(best["reward"], abs=1e-5)
    table = runner.invoke(app, ["inspect", str(out)]).stdout
    assert "population of 2" in table and "best so far" in table and "random draw" not in table
