"""Looking at a run: `hnas inspect`, `hnas report`, and report.html opened in a real browser.

The run folder is built by hand (the files `hnas run` writes, with a real controller checkpoint
whose normal-cell op head prefers `rcab`), so these tests take seconds; the end-to-end check on a
real `hnas run` folder is marked slow.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hnas import Genotype
from hnas.cli import app
from hnas.controllers import build_controller
from hnas.engine.state import State, save_state
from hnas.report import load_run, run_policy, write_report
from hnas.search.spec_loader import spec_from_dict
from hnas.spaces import resolve_genotype

runner = CliRunner()

SPEC = {
    "name": "synthetic",
    "seed": 0,
    "device": "cpu",
    "space": {"layers": 4, "nodes": 3, "channels": 2, "scale": 2, "global_skip": "bicubic"},
    "reward": {"lambda": 0.6},
    "search": {"epochs": 3, "w_steps": 2, "controller_steps": 4, "derive_samples": 3},
    "retrain": {"channels": 8, "iters": 40, "val_every": 20},
}
def _member(name: str, kind: str, key: str, macs: float, params: int, latency_ms: float,
            shared: float | None, set5: tuple[float, ...], set14: tuple[float, ...]) -> dict:
    """One member of a compare.json; a set is (psnr mean, psnr sd, ssim mean, ssim sd)."""
    sets = {name: dict(zip(("psnr_mean", "psnr_std", "ssim_mean", "ssim_std"), values, strict=True))
            for name, values in (("Set5", set5), ("Set14", set14))}
    return {"name": name, "kind": kind, "hash": key, "genotype": None, "macs": macs, "params": params,
            "latency_ms": latency_ms, "shared_weight_score": shared, "sets": sets}


SEARCHED = _member("searched", "run", "0123456789abcdef", 1.2e9, 12345, 12.3, 0.41,
                   (36.1, 0.03, 0.951, 0.001), (32.0, 0.05, 0.90, 0.002))
SEARCHED["sets"]["Set5"].update(psnr=[36.08, 36.12], ssim=[0.95, 0.952])
SEARCHED["sets"]["Set14"].update(psnr=[31.95, 32.05], ssim=[0.898, 0.902])
COMPARE = {
    "eval_sets": ["Set5", "Set14"],
    "seeds": [0, 1],
    "recipe": {"iters": 1000, "channels": 16, "scale": 2, "data": "builtin:skimage"},
    "members": [
        SEARCHED,
        _member("hnas-a", "preset", "e43bee765e682971", 2.9e9, 60000, 20.5, None,
                (36.4, 0.02, 0.953, 0.001), (32.2, 0.04, 0.901, 0.001)),
        _member("bicubic", "baseline", "-", 0.02e9, 0, 1.0, None,
                (33.67, 0.0, 0.9303, 0.0), (30.23, 0.0, 0.8691, 0.0)),
    ],
    "rank_correlation": {"kendall_tau": 0.4, "spearman_rho": 0.5, "n": 10, "set": "Set5"},
}


def _lines(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def make_run(folder: Path) -> Path:
    """A finished run folder with every file `hnas run` writes; the controller prefers `rcab`."""
    rng = random.Random(0)
    spec = spec_from_dict(SPEC)
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(spec.to_json())
    space = spec.space
    controller = build_controller(
        "hierarchical_lstm",
        space.resolved_normal_ops(),
        space.resolved_upsampling_ops(),
        space.nodes,
        space.layers,
    )
    with torch.no_grad():
        controller.cells["normal"].op_head.bias[controller.normal_ops.index("rcab")] += 8.0
    tensors, info = controller.resume_state()
    save_state(folder / "search_state.safetensors", State({"controller": tensors}, {"epoch": 3, "controller": info}))

    generator = torch.Generator().manual_seed(0)
    archive, log = [], []
    for epoch in (1, 2, 3):
        for _ in range(4):
            genotype = controller.sample(generator=generator).genotype
            macs = rng.uniform(0.5e9, 6e9)
            psnr = 33 + rng.uniform(0, 4)
            archive.append(
                {
                    "epoch": epoch,
                    "stage": "search",
                    "hash": genotype.hash(),
                    "genotype": genotype.to_dict(),
                    "position": genotype.position,
                    "psnr": psnr,
                    "cost": macs,
                    "macs": macs,
                    "reward": 0.6 * psnr - 0.4 * macs / 20e9,
                    "entropy": 20.0 - epoch,
                }
            )
        log.append(
            {
                "epoch": epoch,
                "loss": 1.0 / epoch,
                "entropy": 20.0 - epoch,
                "reward_mean": 20 + epoch / 10,
                "psnr_mean": 34 + epoch / 5,
                "cost_mean": 3e9,
                "macs_mean": 3e9,
                "baseline": 20 + epoch / 12,
                "lr": 1e-3 / epoch,
                "seconds": 2.5,
                "warmup": epoch == 1,
            }
        )
    candidates = [("greedy", controller.sample(greedy=True).genotype)]
    candidates += [("sampled", controller.sample(generator=generator).genotype) for _ in range(3)]
    for how, genotype in candidates:
        archive.append(
            {
                "stage": "derive",
                "epoch": 3,
                "how": how,
                "hash": genotype.hash(),
                "genotype": genotype.to_dict(),
                "position": genotype.position,
                "psnr": 35 + rng.random(),
                "cost": 2e9,
                "macs": 2e9,
                "reward": 20 + rng.random(),
                "score": rng.random(),
            }
        )
    best = max((r for r in archive if r["stage"] == "derive"), key=lambda r: r["reward"])
    _lines(folder / "archive.jsonl", archive)
    _lines(folder / "search_log.jsonl", log)
    (folder / "derived.json").write_text(json.dumps(best))
    Genotype.from_data(best["genotype"]).save(folder / "genotype.json")
    _lines(
        folder / "retrain" / "train_log.jsonl",
        [
            {
                "step": s,
                "loss": 5.0 / s,
                "lr": 1e-3,
                "val_psnr": (35.0 + s / 40 if s % 20 == 0 else None),
                "seconds": s / 10,
                "skipped": 0,
            }
            for s in range(4, 41, 4)
        ],
    )
    retrain = {
        "step": 40,
        "total": 40,
        "finished": True,
        "parameters": 4321,
        "best_val_psnr": 36.0,
        "seconds": 4.0,
    }
    (folder / "retrain.json").write_text(json.dumps(retrain))
    results = {
        "name": "synthetic",
        "lambda": 0.6,
        "genotype": best["genotype"],
        "hash": best["hash"],
        "position": best["position"],
        "reward": best["reward"],
        "search_psnr": best["psnr"],
        "psnr": 36.25,
        "ssim": 0.9512,
        "macs": 1.5e9,
        "params": 4321,
        "channels": 8,
        "scale": 2,
        "evaluation": {"Set5": {"psnr": 36.25, "ssim": 0.9512}, "Set14": {"psnr": 32.1, "ssim": 0.9011}},
    }
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "state.json").write_text(json.dumps({"stage": "done", "updated": time.time()}))
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("report") / "run")


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory) -> Path:
    """The report of the synthetic run, with a hand-made `hnas compare` result next to it."""
    folder = tmp_path_factory.mktemp("with_compare") / "run"
    shutil.copytree(run_dir, folder)
    (folder / "compare.json").write_text(json.dumps(COMPARE))
    return write_report(folder)


class _Page(HTMLParser):
    """The ids, image sources, section headings and visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.images: dict[str, str] = {}
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images[attrs.get("id", "")] = attrs.get("src", "")
        for key in ("href", "src"):
            if key in attrs and tag != "img":
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def _page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


# -- hnas inspect ---------------------------------------------------------------------------------
def test_inspect_json_shows_where_the_policy_concentrated(run_dir):
    result = runner.invoke(app, ["inspect", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)
    decisions = policy["decisions"]
    assert len(decisions) == 2 * 3 * 4 + 1  # (in1, in2, op1, op2) x 3 nodes x 2 cells + position
    for d in decisions:
        assert abs(sum(d["probs"]) - 1) < 1e-6
        assert d["probs"][d["choice"]] == max(d["probs"])  # greedy = most likely
    normal_ops = [d for d in decisions if d["part"] == "normal" and d["kind"] == "op"]
    assert all(d["chosen"] == "rcab" and d["probs"][d["choice"]] > 0.9 for d in normal_ops)
    (position,) = [d for d in decisions if d["kind"] == "position"]
    assert position["choices"] == ["1", "2", "3", "4"]
    greedy = Genotype.from_data(policy["greedy_genotype"])
    assert set(greedy.normal.ops()) == {"rcab"} and policy["greedy_hash"] == greedy.hash()
    assert abs(policy["entropy"] - sum(d["entropy"] for d in decisions)) < 1e-6
    assert policy["entropy"] < policy["max_entropy"]


def test_inspect_entropy_is_the_controllers_own(run_dir):
    from hnas.report import load_controller

    with torch.no_grad():
        sample = load_controller(run_dir).sample(greedy=True)
    policy = run_policy(run_dir)
    assert policy.genotype == sample.genotype
    assert abs(policy.entropy - float(sample.policy_entropy)) < 1e-4


def test_random_controller_policy_is_uniform():
    from hnas.report.policy import policy_of

    policy = policy_of(build_controller("random", None, None, 2, 3), name="random")
    assert policy.uniform and abs(policy.entropy - policy.max_entropy) < 1e-9
    assert all(len(set(d.probs)) == 1 for d in policy.decisions)


def test_evolution_is_shown_as_its_population_and_its_best():
    from hnas.report.policy import policy_of

    evo = build_controller("evolution", None, None, 2, 3, population=4, sample_size=2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(7):
        sample = evo.sample(generator=generator)
        evo.learn(sample, float(sum(sample.actions)))
    policy = policy_of(evo, name="evolution")
    best_actions, best_reward = max(evo.history, key=lambda m: m[1])
    assert not policy.uniform and policy.population == 4 and policy.best_reward == best_reward
    assert policy.genotype == evo.genotype_from_actions(best_actions)  # the best so far, not a random draw
    assert policy.entropy is None  # no distribution: the search logs no entropy either
    for index, decision in enumerate(policy.decisions):
        shares = [sum(actions[index] == j for actions, _ in evo.population) / 4 for j in range(len(decision.probs))]
        assert list(decision.probs) == shares and decision.choice == best_actions[index]


def test_inspect_table_in_the_terminal(run_dir):
    result = runner.invoke(app, ["inspect", str(run_dir)])
    assert result.exit_code == 0, result.output
    for words in (
        "normal cell: ops",
        "upsampling cell: inputs",
        "network level: position",
        "greedy genotype",
        "entropy",
        "rcab",
        "c_{k-1}",
    ):
        assert words in result.stdout


def test_inspect_mistakes_are_one_line(tmp_path, run_dir):
    for args, words in (
        ([str(tmp_path / "nowhere")], "not found"),
        ([str(tmp_path)], "not an hnas run folder"),
    ):
        result = runner.invoke(app, ["report", *args])
        assert result.exit_code == 2 and result.stderr.count("\n") == 1 and words in result.stderr
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(run_dir / "spec.json", half / "spec.json")
    result = runner.invoke(app, ["inspect", str(half)])
    assert result.exit_code == 2 and "search_state.safetensors" in result.stderr and result.stderr.count("\n") == 1
    (half / "search_state.safetensors").write_bytes(b"not a checkpoint")
    result = runner.invoke(app, ["inspect", str(half)])
    assert result.exit_code == 2 and "does not hold this spec's controller" in result.stderr


# -- hnas report ----------------------------------------------------------------------------------
def test_report_has_every_section_offline_and_small(report):
    page = _page(report)
    for section in (
        "spec",
        "timings",
        "search",
        "policy",
        "pareto",
        "candidates",
        "cells",
        "retrain",
        "evaluation",
        "compare",
        "headline",
    ):
        assert section in page.ids, section
    for image in (
        "search-curves",
        "policy-heatmap",
        "pareto-plot",
        "cells-drawing",
        "retrain-curves",
        "compare-plot",
    ):
        assert page.images[image].startswith("data:image/"), image
    assert all(src.startswith("data:") for src in page.images.values())
    assert not [
        link for link in page.links if re.match(r"(https?:)?//", link)
    ]  # nothing fetched from a network
    assert report.stat().st_size < 3_000_000
    text = " ".join(page.text)
    assert "Not available" not in text
    assert "36.250" in text and "0.9512" in text and "Set14" in text  # the evaluation table


def test_report_shows_the_chosen_candidate_and_new_fields(report, run_dir):
    html = report.read_text()
    chosen = Genotype.load(run_dir / "genotype.json").hash()
    assert re.search(rf'class="chosen".*?{chosen}', html, re.S)
    assert "<th>score</th>" in html  # a field the engine may add later shows up as a column


def test_report_compare_section(report):
    section = report.read_text().split('id="compare"')[1].split("</section>")[0]
    for words in (
        "searched",
        "hnas-a",
        "bicubic",
        "36.100 ± 0.030",
        "0.9510",
        "kendall_tau = 0.4000",
        "1.200 G",
        "12,345",
    ):
        assert words in section, words


def test_report_of_an_unfinished_run_says_what_is_missing(tmp_path, run_dir):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("spec.json", "search_log.jsonl"):
        shutil.copy(run_dir / name, partial / name)
    with open(partial / "search_log.jsonl", "a") as fh:
        fh.write('{"epoch": 4, "loss": ')  # torn by a kill
    path = write_report(partial)
    html = path.read_text()
    page = _page(path)
    assert "search-curves" in page.images
    for section in ("policy", "pareto", "candidates", "cells", "retrain", "evaluation"):
        body = html.split(f'id="{section}"')[1].split("</section>")[0]
        assert "Not available" in body, section
    assert "skipped 1 unreadable line" in html
    assert load_run(partial).genotype is None


def test_report_reads_files_of_the_wrong_shape_without_crashing(tmp_path, run_dir):
    """Whatever a future engine (or a crash) leaves: a field of the wrong type reads as absent."""
    odd = tmp_path / "odd"
    odd.mkdir()
    shutil.copy(run_dir / "spec.json", odd / "spec.json")
    (odd / "state.json").write_text('{"stage": ["x"], "updated": "yesterday"}')
    (odd / "derived.json").write_text("[1, 2]")
    (odd / "results.json").write_text('{"evaluation": "Set5", "psnr": "high", "genotype": {"normal": 3}}')
    (odd / "retrain.json").write_text("{not json")
    (odd / "compare.json").write_text('{"eval_sets": null, "members": {"a": 1}, "seeds": 3, "recipe": []}')
    _lines(odd / "archive.jsonl", [{"stage": "search", "epoch": [1], "psnr": "x"}, {"stage": "derive"}])
    _lines(odd / "search_log.jsonl", [{"epoch": "one", "loss": None}, {"epoch": 2, "loss": 0.5}])
    _lines(odd / "retrain" / "train_log.jsonl", [{"step": None, "loss": "nan"}])
    html = write_report(odd).read_text()
    assert "retrain.json could not be read" in html and "derived.json holds list" in html
    for section in ("pareto", "cells", "evaluation"):
        assert "Not available" in html.split(f'id="{section}"')[1].split("</section>")[0], section


def test_report_of_a_sweep_links_its_members(tmp_path, run_dir):
    sweep = tmp_path / "sweep"
    for value in ("0.2", "0.9"):
        member = sweep / f"lambda-{value}"
        member.mkdir(parents=True)
        shutil.copy(run_dir / "spec.json", member / "spec.json")
        (member / "results.json").write_text(json.dumps({"lambda": float(value), "psnr": 36.0, "macs": 1e9}))
    shutil.copy(run_dir / "spec.json", sweep / "spec.json")
    page = _page(write_report(sweep))
    assert "sweep" in page.ids
    assert [link for link in page.links if link.endswith("report.html")] == [
        "lambda-0.2/report.html",
        "lambda-0.9/report.html",
    ]
    assert (sweep / "lambda-0.2" / "report.html").is_file() and (
        sweep / "lambda-0.9" / "report.html"
    ).is_file()


def test_report_cli_writes_and_opens(run_dir, tmp_path, monkeypatch):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or False)
    started = tmp_path / "started"  # a run one epoch in: a quick report
    started.mkdir()
    shutil.copy(run_dir / "spec.json", started / "spec.json")
    _lines(
        started / "search_log.jsonl", [json.loads((run_dir / "search_log.jsonl").read_text().splitlines()[0])]
    )
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(started), "--out", str(out), "--open"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out) and out.is_file()
    assert opened == [out.resolve().as_uri()] and "open" in result.stderr


def test_show_draws_a_run_folder(run_dir, tmp_path):
    result = runner.invoke(app, ["show", str(run_dir), "--draw", str(tmp_path / "run.svg"), "--json"])
    assert result.exit_code == 0, result.output
    assert Genotype.model_validate_json(result.stdout) == Genotype.load(run_dir / "genotype.json")
    assert "<svg" in (tmp_path / "run.svg").read_text()


# -- in a real browser ----------------------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_skip():
    """Playwright driving Debian's chromium; in CI (CI=true) a missing browser is a failure."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[dev]')"
    if missing is None and not CHROMIUM.is_file():
        missing = f"{CHROMIUM} not found (apt-get install chromium)"
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"report browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    return sync_playwright


def test_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(f"{__name__}.CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI"):
        _browser_or_skip()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        _browser_or_skip()


def test_report_in_a_real_browser(report, tmp_path):
    sync_playwright = _browser_or_skip()
    problems: list[str] = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1300, "height": 900},
        )
        try:
            page = context.new_page()
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "request", lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url)
            )
            page.goto(report.resolve().as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate(
                "Array.from(document.images).map(i => ({id: i.id, w: i.naturalWidth, done: i.complete}))"
            )
            headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
    assert problems == []
    assert images and all(i["done"] and i["w"] > 0 for i in images), images
    assert {"policy-heatmap", "cells-drawing"} <= {i["id"] for i in images}
    assert "The learned policy" in headings and "The chosen architecture" in headings
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


# -- on a real `hnas run` folder -------------------------------------------------------------------
@pytest.mark.slow
def test_report_of_a_real_run(tmp_path, small_images, tiny_spec):
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(tiny_spec(tmp_path, small_images)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = _page(write_report(out))
    assert {"search-curves", "policy-heatmap", "pareto-plot", "cells-drawing", "retrain-curves"} <= set(
        page.images
    )
    policy = run_policy(out)
    assert len(policy.decisions) == 2 * 2 * 4 + 1


def test_candidates_show_the_proxy_scores_in_the_order_that_decided(tmp_path):
    """A derivation by a stand-alone proxy picks by its nested scores, not by the shared weights':
    the table shows them as columns and lists the candidates in the order that decided."""
    from hnas.report.html import _candidates_section
    from hnas.report.rundata import RunData

    def record(name: str, shared: float, proxy: float, iters: int, short: float | None = None) -> dict:
        r = {"stage": "derive", "epoch": 3, "how": "uniform", "hash": name, "psnr": 30.0, "macs": 1e9,
             "reward": shared, "proxy": {"psnr": 32.0, "reward": proxy, "iters": iters}}
        if short is not None:
            r["short"] = {"psnr": 31.0, "reward": short, "iters": 2}
        return r

    archive = [record("a", shared=29.0, proxy=9.0, iters=2),                 # short round only: ranks after every finalist
               record("b", shared=27.0, proxy=5.0, iters=6, short=7.0),      # finalist
               record("c", shared=28.0, proxy=6.0, iters=6, short=8.0)]      # the best finalist: the pick
    section = _candidates_section(RunData(path=tmp_path, archive=archive))
    assert [row["hash"] for row in section["rows"]] == ["c", "b", "a"]
    for column in ("proxy psnr", "proxy reward", "proxy iters", "short reward"):
        assert column in section["columns"], column


def test_report_of_an_hnas_train_folder_reads_its_training_log(tmp_path):
    from hnas.report.rundata import load_run

    folder = tmp_path / "trained"
    folder.mkdir()
    (folder / "train.json").write_text(json.dumps({"genotype": resolve_genotype("hnas-c").to_dict(), "scale": 2}))
    resolve_genotype("hnas-c").save(folder / "genotype.json")
    (folder / "train_log.jsonl").write_text('{"step": 1, "loss": 9.5}\n{"step": 2, "loss": 8.25}\n')
    (folder / "summary.json").write_text(json.dumps({"step": 2, "total": 2, "parameters": 1234}))
    run = load_run(folder)
    assert [r["step"] for r in run.train_log] == [1, 2] and run.retrain_summary["parameters"] == 1234
    result = runner.invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    page = (folder / "report.html").read_text()
    assert "train_log.jsonl is missing" not in page and "1,234" in page


def _drawn(monkeypatch, module, name, call):
    """The figure ``call`` draws (captured where ``module`` turns it into PNG bytes), drawn."""
    from hnas.utils import figures

    captured = []

    def capture(fig, *args, **kwargs):
        captured.append(fig)
        return getattr(figures, name)(fig, *args, **kwargs)

    monkeypatch.setattr(module, name, capture)
    call()
    fig = captured[0]
    fig.canvas.draw()
    return fig


def test_pareto_plots_read_plainly_and_their_legends_cover_no_point(monkeypatch, tmp_path):
    from hnas.report import plots
    from hnas.search import report as search_report

    # a dense grid of close PSNRs: any legend inside the axes would cover a point, and matplotlib would
    # write the PSNRs as an offset
    archive = [{"stage": "search", "epoch": i, "hash": f"h{i}{j}", "macs": 1e9 + 2e7 * i, "psnr": 32.39 + 1e-6 * j,
                "reward": i + j} for i in range(10) for j in range(10)]
    archive.append({**archive[-1], "stage": "derive"})
    figures = [
        _drawn(monkeypatch, plots, "png_bytes", lambda: plots.pareto_plot(archive, "h99")),
        _drawn(monkeypatch, search_report, "save_png",
               lambda: search_report.plot_pareto(tmp_path / "p.png", {"run": archive}, {"run": archive[-1]})),
    ]
    for fig in figures:
        ax = fig.axes[0]
        assert ax.yaxis.get_major_formatter().get_offset() == ""  # no "+3.239e1" in the corner
        assert ax.yaxis.get_major_formatter().get_offset() == ax.xaxis.get_major_formatter().get_offset()
        points = [xy for c in ax.collections for xy in c.get_offsets().tolist()]
        shown = ax.transData.transform(points)
        for legend in [*fig.legends, *([ax.get_legend()] if ax.get_legend() else [])]:
            box = legend.get_window_extent()
            assert not any(box.contains(x, y) for x, y in shown)
