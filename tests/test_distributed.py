"""Multi-process training and search (torchrun + DDP, gloo on CPU): two processes follow one.

Every run here is tiny (4 channels, 6 iterations, 24-pixel patches; the 2-epoch tiny search),
so the cost is mostly starting processes: four 2-process launches.

Tolerances, and why:

* Training: 2 processes with global batch 4 (2 patches each) against 1 process with batch 4.
  The patches are the same; only the order of float summation differs (each rank averages its 2
  items and the all-reduce averages the 2 ranks, instead of one mean over 4), a relative error of
  order 1e-7 per step in float32 that Adam carries along. Losses must agree to 1e-5 relative
  (measured: about 2e-7).
* Search: the search-mode BatchNorm normalises with each rank's shard statistics (no
  SyncBatchNorm on CPU, and rank 0 scores architectures alone), so the shared weights differ a
  little from a one-process run: the w losses agree to 1e-3 relative and PSNRs to 0.1 dB
  (measured: about 2e-5 and 0.02 dB). The sampled architectures are the same: the random streams
  are identical and the controller's tiny differences do not flip a sample. The greedy derivation
  can flip (an argmax over a nearly uniform policy), so it is left out of the comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hnas
from hnas.cli.app import app
from hnas.engine import distributed as dist
from hnas.utils.io import read_jsonl

runner = CliRunner()

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch build has no gloo backend",
)]


def launch(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a command line in a fresh process group of its own; it must succeed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop(dist.ENV_LOG_ALL, None)
    result = subprocess.run(list(command), check=False, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node 2 -m hnas ARGS``: the
    standalone rendezvous listens on localhost and picks a free port."""
    return launch(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                  "-m", "hnas", *args)


def hnas_nproc2(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m hnas ARGS --nproc 2``: hnas starts torchrun's launcher itself."""
    return launch(sys.executable, "-m", "hnas", *args, "--nproc", "2")


def invoke(*args: str) -> None:
    """The same command line in this process, as one process."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def assert_no_repeats(path: Path) -> None:
    """Only rank 0 writes: no line of a JSON-lines file appears twice."""
    lines = path.read_text().splitlines()
    assert len(lines) == len(set(lines)), f"repeated lines in {path}"


# -- training ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def train_root(tmp_path_factory: pytest.TempPathFactory, training_folder) -> Path:  # type: ignore[no-untyped-def]
    """Three smooth synthetic photos, a small genotype, and the one-process reference run ``one``."""
    root = training_folder(tmp_path_factory.mktemp("dist_train"))
    invoke(*train_args(root, "one"))
    return root


def train_args(root: Path, out: str, *extra: str) -> list[str]:
    """``hnas train``: 6 steps of global batch 4, validation (3 images) at steps 3 and 6."""
    return ["train", str(root / "tiny.json"), "--data", str(root / "data"), "--scale", "2", "--channels", "4",
            "--iters", "6", "--batch", "4", "--patch", "24", "--log-every", "1", "--save-every", "1",
            "--val", str(root / "data"), "--val-every", "3", "--device", "cpu", "--seed", "3",
            "--out", str(root / out), *extra]


def assert_follows(run: Path, reference: Path) -> None:
    """Same steps, losses within 1e-5 relative, validation PSNRs within 1e-6 relative."""
    log, ref = read_jsonl(run / "train_log.jsonl"), read_jsonl(reference / "train_log.jsonl")
    assert [r["step"] for r in log] == [r["step"] for r in ref] == [1, 2, 3, 4, 5, 6]
    for mine, theirs in zip(log, ref):
        assert relative(mine["loss"], theirs["loss"]) < 1e-5, (mine, theirs)
        assert mine["lr"] == theirs["lr"]
        assert (mine["val_psnr"] is None) == (theirs["val_psnr"] is None)
        if mine["val_psnr"] is not None:
            assert relative(mine["val_psnr"], theirs["val_psnr"]) < 1e-6
    a, b = hnas.load_model(run / "last.safetensors"), hnas.load_model(reference / "last.safetensors")
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)


def test_two_processes_train_like_one_and_resume_with_one(train_root: Path) -> None:
    """torchrun, 2 processes, stopped at step 3; resumed by 1 process: the 1-process run's curve."""
    first = torchrun(*train_args(train_root, "two_then_one", "--stop-at", "3"))
    assert first.stdout.count("stopped at step 3") == 1  # rank 0 alone reports
    log = read_jsonl(train_root / "two_then_one" / "train_log.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3]
    assert_no_repeats(train_root / "two_then_one" / "train_log.jsonl")
    invoke(*train_args(train_root, "two_then_one", "--resume"))
    assert_follows(train_root / "two_then_one", train_root / "one")


def test_one_process_run_resumes_with_two_via_nproc(train_root: Path) -> None:
    """1 process stopped at step 3; resumed with ``--nproc 2``: the same curve again."""
    invoke(*train_args(train_root, "one_then_two", "--stop-at", "3"))
    second = hnas_nproc2(*train_args(train_root, "one_then_two", "--resume"))
    assert second.stdout.count("finished: 6/6") == 1
    assert_no_repeats(train_root / "one_then_two" / "train_log.jsonl")
    assert_follows(train_root / "one_then_two", train_root / "one")
    summary = json.loads((train_root / "one_then_two" / "summary.json").read_text())
    assert summary["finished"] and summary["best_val_psnr"] is not None


def test_a_batch_that_does_not_split_is_one_line_before_any_process_starts(train_root: Path) -> None:
    args = train_args(train_root, "uneven", "--nproc", "3")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "does not split evenly over 3 processes" in result.stderr and result.stderr.count("\n") == 1
    assert not (train_root / "uneven").exists()


# -- search --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def search_root(tmp_path_factory: pytest.TempPathFactory, small_images: Path, tiny_spec) -> Path:  # type: ignore[no-untyped-def]
    """The tiny spec (global w batch 2, 2 epochs, retrain 4 steps) and its one-process run ``one``."""
    root = tmp_path_factory.mktemp("dist_search")
    tiny_spec(root, small_images, epochs=2, iters=4)
    invoke("run", str(root / "tiny.toml"), "--out", str(root / "one"))
    return root


def archive(out: Path) -> list[dict]:
    return read_jsonl(out / "archive.jsonl")


def assert_search_follows(run: Path, reference: Path) -> None:
    """Same archive layout (stage, epoch, architecture) line by line, no line twice, scores close."""
    assert_no_repeats(run / "archive.jsonl")
    assert_no_repeats(run / "search_log.jsonl")
    mine, theirs = archive(run), archive(reference)
    assert [(r["stage"], r["epoch"]) for r in mine] == [(r["stage"], r["epoch"]) for r in theirs]
    # Every sampled architecture is the same. The greedy derivation is not compared: after two
    # epochs the policy is nearly uniform, so its argmax turns on logit gaps of order 1e-6, below
    # the ranks' BatchNorm differences that reach the controller through the rewards.
    sampled = [(a, b) for a, b in zip(mine, theirs) if a.get("how") != "greedy"]
    assert [a["hash"] for a, _ in sampled] == [b["hash"] for _, b in sampled]
    for a, b in sampled:
        assert abs(a["psnr"] - b["psnr"]) < 0.1 and a["cost"] == b["cost"]
    log, ref = read_jsonl(run / "search_log.jsonl"), read_jsonl(reference / "search_log.jsonl")
    assert [r["epoch"] for r in log] == [r["epoch"] for r in ref] == [1, 2]
    for a, b in zip(log, ref):
        assert relative(a["loss"], b["loss"]) < 1e-3
    results = json.loads((run / "results.json").read_text())
    assert results["evaluation"]["Set5"]["psnr"] > 0 and (run / "model.safetensors").is_file()
    assert json.loads((run / "state.json").read_text())["stage"] == "done"


def test_two_process_search_follows_the_one_process_search(search_root: Path) -> None:
    result = torchrun("run", str(search_root / "tiny.toml"), "--out", str(search_root / "two"))
    assert result.stdout.count("genotype ") == 1  # rank 0 alone reports
    assert_search_follows(search_root / "two", search_root / "one")


def test_a_one_process_search_resumes_with_two(search_root: Path) -> None:
    """Stopped after epoch 1 by one process, finished by two (``--nproc 2 --resume``)."""
    from hnas.search.pipeline import run_spec
    from hnas.search.spec_loader import load_spec

    class Stop(Exception):
        pass

    def stop_after_epoch_1(stage: str, completed: float, total: float, message: str) -> None:
        if (stage, completed) == ("search", 1):
            raise Stop

    out = search_root / "one_then_two"
    with pytest.raises(Stop):
        run_spec(load_spec(search_root / "tiny.toml"), out, progress=stop_after_epoch_1)
    hnas_nproc2("run", str(search_root / "tiny.toml"), "--out", str(out), "--resume")
    assert_search_follows(out, search_root / "one")
    epoch_1 = [line for line in (out / "archive.jsonl").read_text().splitlines() if '"epoch":1,' in line]
    reference = [line for line in (search_root / "one" / "archive.jsonl").read_text().splitlines()
                 if '"epoch":1,' in line]
    assert epoch_1 == reference and len(epoch_1) == 3  # written by the one-process part, kept as is


# -- the helpers with one process ----------------------------------------------------------------
def test_helpers_are_no_ops_in_one_process() -> None:
    assert not dist.is_distributed() and dist.rank() == 0 and dist.world_size() == 1 and dist.is_main()
    assert dist.shard(6) == slice(None) and dist.shard(6, 2, 1) == slice(3, 6)
    with pytest.raises(dist.DistributedError, match="does not split evenly over 4"):
        dist.shard(6, 4)
    payload = {"a": torch.ones(2)}
    assert dist.broadcast_object(payload) is payload and dist.on_main(lambda x: x + 1, 1) == 2
    module = torch.nn.Linear(2, 2)
    assert dist.wrap_ddp(module, torch.device("cpu")) is module
    assert dist.any_true(True) and not dist.any_true(False)
    assert dist.all_gather_object(3) == [3]
    seen: list[tuple[int, int, int]] = []  # one process: each result handed on as soon as it is done
    assert dist.spread([1, 2], lambda i, x: seen.append((i, x, -1)) or 10 * x,
                       lambda i, x, result: seen.append((i, x, result))) == [10, 20]
    assert seen == [(0, 1, -1), (0, 1, 10), (1, 2, -1), (1, 2, 20)]


def test_the_library_never_starts_the_process_group_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under torchrun (its variables set) without a session, a library call says how to start one."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(dist.DistributedError, match=r"^under torchrun, start the process group before calling "
                                                    r"hnas: wrap the program in 'with hnas.engine.distributed.session"):
        dist.joined_device("cpu")
    assert not torch.distributed.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "1")  # one process: nothing to start
    assert dist.joined_device("cpu") == torch.device("cpu")


def test_nproc_relaunches_the_same_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--nproc`` rebuilds the command from the parsed options (not ``sys.argv``, which is the
    caller's when the app runs in-process) and hands it to torchrun's launcher."""
    seen: list[tuple[int, list[str], int]] = []
    monkeypatch.setattr(dist, "launch", lambda nproc, argv, restarts: seen.append((nproc, list(argv), restarts)) or 0)
    result = runner.invoke(app, ["train", "hnas-a", "--data", "d", "--scale", "2", "--batch", "4", "--nproc", "2",
                                 "--global-skip", "bicubic", "--resume", "--json", "--max-restarts", "3"])
    assert result.exit_code == 0, result.output
    nproc, argv, restarts = seen[-1]
    assert nproc == 2 and argv[:2] == ["train", "hnas-a"] and "--nproc" not in argv
    assert restarts == 3 and "--max-restarts" not in argv  # torchrun's business, not the workers'
    for option in (["--global-skip", "bicubic"], ["--batch", "4"], ["--resume"], ["--json"]):
        assert any(argv[i:i + len(option)] == option for i in range(len(argv))), option


# -- compare -------------------------------------------------------------------------------------
def test_compare_spreads_whole_members_over_the_processes(search_root: Path, small_images: Path) -> None:
    """Two processes each train whole members (no DDP inside one member), and every member's
    evaluation and shared-weight score is exactly the one-process comparison's."""
    common = ["baseline-plain", "random:1", "--space", str(search_root / "tiny.toml"), "--data", str(small_images),
              "--eval", "builtin:set5", "--iters", "2", "--channels", "2", "--seeds", "1", "--batch", "2",
              "--patch", "16", "--latency-input", "16x16", "--shared-weights", str(search_root / "one")]
    invoke("compare", *common, "--out", str(search_root / "cmp_one"))
    two_processes = hnas_nproc2("compare", *common, "--out", str(search_root / "cmp_two"))
    # the table and the closing line come from rank 0 alone, though they are printed after the group is gone
    assert (two_processes.stdout + two_processes.stderr).count("done") == 1, two_processes.stdout + two_processes.stderr
    for name in ("baseline-plain", "random-1"):
        one = json.loads((search_root / "cmp_one" / "members" / name / "seed-0" / "eval.json").read_text())
        two = json.loads((search_root / "cmp_two" / "members" / name / "seed-0" / "eval.json").read_text())
        assert one == two, name
    # rank 0 scores with the run's shared weights alone while the other waits (no DDP inside)
    scores = [{m["name"]: m["shared_weight_score"] for m in json.loads((search_root / c / "compare.json").read_text())["members"]}
              for c in ("cmp_one", "cmp_two")]
    assert scores[0] == scores[1] and scores[0]["random-1"] is not None


# -- search strategies ---------------------------------------------------------------------------
STRATEGY = ["search.proxy.patch=16", "search.proxy.batch=2", "space.channels=4", "space.global_skip=none",
            "strategy.type=successive_halving", "strategy.params.min_steps=2", "strategy.params.eta=2",
            "strategy.params.rungs=3", "strategy.budget_steps=32", "strategy.threads=1", "retrain.iters=2"]


def test_a_strategy_deals_its_candidates_over_the_processes_and_writes_what_one_process_writes(
        search_root: Path) -> None:
    """Each rung's candidates are dealt over two processes (each saves its own candidates' weights);
    the log, every score and the pick are the one-process run's, to the last digit."""
    args = ["run", str(search_root / "tiny.toml"), *[f"--set={item}" for item in STRATEGY]]
    invoke(*args, "--out", str(search_root / "sha_one"))
    hnas_nproc2(*args, "--out", str(search_root / "sha_two"))
    one, two = ((search_root / name / "strategy.jsonl").read_text() for name in ("sha_one", "sha_two"))
    assert one == two and one.count("\n") == 14
    trials = [sorted(p.name for p in (search_root / name / "trials").iterdir()) for name in ("sha_one", "sha_two")]
    assert trials[0] == trials[1] and len([t for t in trials[1] if ".prev." not in t]) == 8
    derived = [json.loads((search_root / name / "derived.json").read_text()) for name in ("sha_one", "sha_two")]
    assert derived[0]["hash"] == derived[1]["hash"]
    assert json.loads((search_root / "sha_two" / "strategy.json").read_text())["processes"] == 2


def test_more_processes_than_a_strategy_trains_at_once_is_one_line(search_root: Path) -> None:
    args = [f"--set={item}" for item in [*STRATEGY, "strategy.type=controller", "strategy.params={steps=8}"]]
    out = search_root / "too_many"
    result = subprocess.run([sys.executable, "-m", "hnas", "run", str(search_root / "tiny.toml"), *args,
                             "--out", str(out), "--nproc", "2"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--nproc 2 is more processes than strategy 'controller' can use: it trains one candidate at a time" \
        in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not out.exists()


def test_derivation_deals_its_proxy_candidates_over_the_processes(search_root: Path) -> None:
    """Derivation's stand-alone proxies run on every rank, each candidate once; a candidate's
    proxy score does not depend on the process that trained it."""
    proxy = [f"--set={item}" for item in ("search.proxy.iters=2", "search.proxy.uniform=2", "search.proxy.batch=2",
                                           "search.proxy.patch=16", "search.proxy.finalists=2",
                                           "search.proxy.final_iters=3")]
    args = ["run", str(search_root / "tiny.toml"), *proxy]
    invoke(*args, "--out", str(search_root / "proxy_one"))
    hnas_nproc2(*args, "--out", str(search_root / "proxy_two"))
    derived = [[r for r in archive(search_root / name) if r["stage"] == "derive"] for name in ("proxy_one", "proxy_two")]
    assert len(derived[0]) == len(derived[1])
    one, two = ({r["hash"]: (r.get("short") or r["proxy"])["psnr"] for r in records} for records in derived)
    uniform = {r["hash"] for r in derived[1] if r["how"] == "uniform"}
    assert len(uniform) == 2 and uniform <= set(one)  # seeded draws: the same in both runs
    assert all(one[key] == two[key] for key in set(one) & set(two))  # the short round, to the last digit
    assert len({r["hash"] for r in derived[1] if r["proxy"]["iters"] == 3}) == 2  # the finalists, trained longer
