"""`hnas run` end to end on a tiny spec: artefacts, determinism, resume, sweep."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hnas import Genotype
from hnas.cli import app

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
    assert {"genotype", "hash", "epoch", "psnr", "cost", "reward"} <= set(searched[0])
    results = json.loads((out / "results.json").read_text())
    assert {"genotype", "position", "psnr", "ssim", "macs", "params", "reward", "lambda"} <= set(results)
    chosen = Genotype.load(out / "genotype.json")
    assert chosen.to_dict() == results["genotype"]
    best = max(derived, key=lambda r: r["reward"])
    assert best["hash"] == chosen.hash() and best["reward"] == results["reward"]
    assert results["lambda"] == 0.6 and results["position"] == chosen.position


def test_same_seed_same_archive(spec_file, full_run, tmp_path):
    run(str(spec_file), "--out", str(tmp_path / "again"))
    for name in ("archive.jsonl", "results.json"):
        assert (tmp_path / "again" / name).read_text() == (full_run / name).read_text()


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("stop_at", [("search", 1), ("derive", 1), ("retrain", 2)])
def test_resume_after_an_interruption_matches_an_uninterrupted_run(spec_file, full_run, tmp_path, stop_at):
    from hnas.search.pipeline import run_spec
    from hnas.search.spec import load_spec

    spec = load_spec(spec_file)

    def stop(stage, completed, total, message):
        if (stage, completed) == stop_at:
            raise Interrupt

    part = tmp_path / "part"
    with pytest.raises(Interrupt):
        run_spec(spec, part, progress=stop)
    assert not (part / "results.json").exists()
    run_spec(spec, part, resume=True)
    for name in ("archive.jsonl", "results.json", "genotype.json"):
        assert (part / name).read_text() == (full_run / name).read_text(), name


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
