"""Derivation by a short stand-alone proxy training (`search.proxy`): fair, repeatable, search images only."""

import json

import pytest
import torch
from typer.testing import CliRunner

from hnas.cli import app
from hnas.engine.folder import RunFolder
from hnas.errors import SpecError
from hnas.search.pipeline import build_search
from hnas.search.proxy import ProxyTrainer
from hnas.search.spec_loader import load_spec
from hnas.spaces.genotype import Genotype

runner = CliRunner()


@pytest.fixture(scope="module")
def search(tiny_spec, small_images, tmp_path_factory):
    """A search whose derivation trains a 4-channel proxy, without the bicubic skip (a residual to learn)."""
    folder = tmp_path_factory.mktemp("proxy")
    spec = load_spec(tiny_spec(folder, small_images), overrides=[
        "search.proxy.iters=20", "search.proxy.patch=16", "search.proxy.batch=4", "search.proxy.lr=1e-2",
        "space.channels=4", "space.global_skip=none"])
    return build_search(spec, RunFolder(folder / "run"), torch.device("cpu"))


def test_proxy_trains_on_the_w_split_only(search):
    trained_on = {r.name for r in search.data.proxy.source.records}
    assert trained_on == set(search.data.w_images)
    assert not trained_on & set(search.data.theta_images)


def test_proxy_score_repeats_and_learns(search):
    proxy = ProxyTrainer(search.spec, search.data.proxy, search.scorer, torch.device("cpu"))
    genotype = search.controller.sample(generator=search.draw("t")).genotype
    first, again = proxy.score(genotype), proxy.score(genotype)
    assert first == again  # same seeded start, same batches, same scoring images
    lr_img, hr_img = search.data.proxy.batch_at(0)
    untrained, trained = proxy.build(genotype).eval(), proxy.train(genotype)
    with torch.no_grad():
        before = torch.nn.functional.l1_loss(untrained(lr_img), hr_img)
        after = torch.nn.functional.l1_loss(trained(lr_img), hr_img)
    assert after < 0.9 * before, (before, after)


def test_run_derives_by_the_proxy_reward(tiny_spec, small_images, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(tiny_spec(tmp_path, small_images)), "--out", str(out),
                                 "--set", "search.proxy.iters=3", "--set", "search.proxy.patch=16",
                                 "--set", "search.proxy.batch=2", "--set", "retrain.enabled=false"])
    assert result.exit_code == 0, result.output
    assert "after 3 stand-alone steps" in result.output
    archive = [json.loads(line) for line in (out / "archive.jsonl").read_text().splitlines()]
    derived = [r for r in archive if r["stage"] == "derive"]
    assert derived and all(r["proxy"]["iters"] == 3 for r in derived)
    best = max(derived, key=lambda r: r["proxy"]["reward"])
    results = json.loads((out / "results.json").read_text())
    assert results["hash"] == best["hash"]
    assert results["search"]["proxy"]["reward"] == best["proxy"]["reward"]
    # the shared-weight numbers stay under the usual keys, comparable with the search's archive
    assert results["search"]["reward"] == best["reward"]


def test_finalists_are_trained_longer_and_the_pick_is_one_of_them(tiny_spec, small_images, tmp_path):
    """The last round of successive halving: the best 2 of the short round train again for longer,
    keep their short scores under "short", and the pick is the finalist with the best longer score."""
    spec = load_spec(tiny_spec(tmp_path, small_images), overrides=[
        "search.proxy.iters=2", "search.proxy.final_iters=4", "search.proxy.finalists=2",
        "search.proxy.uniform=3", "search.proxy.patch=16", "search.proxy.batch=2"])
    search = build_search(spec, RunFolder(tmp_path / "run"), torch.device("cpu"))
    derived = search.derive()
    distinct = {r["hash"]: r for r in derived["candidates"]}.values()
    finalists = [r for r in distinct if r["proxy"]["iters"] == 4]
    assert len(finalists) == 2 and all(r["short"]["iters"] == 2 for r in finalists)
    shorts = sorted((r.get("short", r["proxy"])["reward"] for r in distinct), reverse=True)
    assert sorted(r["short"]["reward"] for r in finalists) == sorted(shorts[:2])  # the short round's best 2
    assert derived["best"]["hash"] == max(finalists, key=lambda r: r["proxy"]["reward"])["hash"]
    proxy = ProxyTrainer(spec, search.data.proxy, search.scorer, torch.device("cpu"))
    genotype = Genotype.from_data(derived["best"]["genotype"])
    assert proxy.score(genotype, 4)["reward"] == pytest.approx(derived["best"]["proxy"]["reward"], abs=1e-5)


def test_finalists_need_a_longer_final_round(tiny_spec, small_images, tmp_path):
    with pytest.raises(SpecError, match="final_iters = 3 must exceed search.proxy.iters = 5"):
        load_spec(tiny_spec(tmp_path, small_images), overrides=[
            "search.proxy.iters=5", "search.proxy.finalists=2", "search.proxy.final_iters=3"])
