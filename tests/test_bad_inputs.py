"""Bad input matrix: every user mistake is one line on stderr, exit code 2, no traceback, nothing written.

Each case is what a user could type; the expected text is a fragment of the *reason* in the
one-line message (not the user's own input echoed back), and the output folder must not exist.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hnas import build_model, save_model
from hnas.cli import app

runner = CliRunner()
VALID_SPEC = (Path(__file__).parent / "specs" / "bad-base.toml.in").read_text()  # str.format: data


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Files a careless user might hand to hnas, plus a few good ones."""
    root = tmp_path_factory.mktemp("bad")
    paths: dict[str, Path] = {"root": root}
    good = root / "images"
    good.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(good / f"img{i}.png")
    paths["images"] = good
    data = (good / "img0.png").read_bytes()
    for name, file, content in (("empty", "notes.txt", b"no images here"), ("broken", "zero.png", b""),
                                ("truncated", "cut.png", data[: len(data) // 2]),
                                ("fake", "photo.png", b"this is not a png")):
        paths[name] = root / name
        paths[name].mkdir()
        (paths[name] / file).write_bytes(content)
    tiny = root / "tiny"
    tiny.mkdir()
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny / "dot.png")
    paths["tiny"] = tiny

    ckpt = root / "x2.safetensors"
    save_model(build_model("hnas-a", scale=2, channels=2), ckpt)
    paths["ckpt"] = ckpt
    corrupt = root / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00\x01garbage" * 10)
    paths["corrupt"] = corrupt
    cut = root / "cut.safetensors"
    cut.write_bytes(ckpt.read_bytes()[:2000])
    paths["cut"] = cut
    mismatched = root / "mismatched.safetensors"
    _retag(ckpt, mismatched, "hnas-b")
    paths["mismatched"] = mismatched

    def spec(name: str, text: str) -> None:
        (root / name).write_text(text)
        paths[name] = root / name

    base = VALID_SPEC.format(data=good)
    spec("good.toml", base)
    spec("typo.toml", base.replace("layers = 2", "layerz = 2"))
    spec("type.toml", base.replace("layers = 2", "layers = 'two'"))
    spec("lambda.toml", base + "[reward]\nlambda = 1.7\n")
    spec("op.toml", base.replace("channels = 2\n[data]", "channels = 2\nnormal_ops = ['sep_conv_3x33']\n[data]"))
    spec("opparam.toml", base.replace("channels = 2\n[data]", "channels = 2\nnormal_ops = [{ type = 'rcab', "
                                      "params = { ratio = 4 } }]\n[data]"))
    spec("controller.toml", base + "[controller]\ntype = 'transformer'\n")
    spec("ctrlparam.toml", base + "[controller]\nparams = { learning_rate = 0.1 }\n")
    spec("reward.toml", base + "[reward]\ntype = 'accuracy'\n")
    spec("budget.toml", base + "[reward]\ntype = 'budget'\n")
    spec("cost.toml", base + "[cost]\ntype = 'energy'\n")
    spec("overlap.toml", base.replace("theta_split = [3, 4]", "theta_split = [2, 4]"))
    spec("valoverlap.toml",
         base.replace("patch = 16\n[evaluate]", "patch = 16\ntrain_split = [1, 3]\nval_split = [3, 4]\n[evaluate]"))
    spec("leak.toml", base.replace('data = ["builtin:set5"]', f'data = ["{good}"]'))
    spec("syntax.toml", base + "[reward\n")
    spec("nodata.toml", base.replace(str(good), str(root / "missing")))
    spec("emptydata.toml", base.replace(str(good), str(paths["empty"])))
    spec("scale0.toml", base.replace("channels = 2\n[data]", "channels = 2\nscale = 0\n[data]"))
    spec("plugin.toml", "plugins = ['hnas_no_such_plugin']\n" + base)
    (root / "genotype.json").write_text(json.dumps({"normal": [["skip_connect", 2, 2]], "upsampling": [], "position": 1}))
    paths["genotype.json"] = root / "genotype.json"
    (root / "position.json").write_text(
        json.dumps({"normal": [["rcab", 0, 2], ["rcab", 1, 2]], "upsampling": [["nearest", 0, 2], ["area", 1, 2]],
                    "position": 5, "layers": 3}))
    paths["position.json"] = root / "position.json"
    return paths


def _retag(source: Path, target: Path, preset: str) -> None:
    """Copy a checkpoint but claim in its metadata that it holds another genotype."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from hnas import resolve_genotype

    with safe_open(str(source), "pt") as fh:
        metadata = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    metadata["genotype"] = resolve_genotype(preset).canonical_json()
    metadata.pop("content_sha256")  # a file crafted by hand, not a damaged hnas file
    save_file(tensors, str(target), metadata=metadata)


CASES = [
    # (id, argv with {placeholders}, words of the reason in the one-line message)
    ("spec unknown key", ["run", "{typo.toml}", "--out", "{out}"], "unknown key"),
    ("spec wrong type", ["run", "{type.toml}", "--out", "{out}"], "valid integer"),
    ("lambda out of range", ["run", "{lambda.toml}", "--out", "{out}"], "less than or equal to 1"),
    ("unknown op in spec", ["run", "{op.toml}", "--out", "{out}"], "unknown normal op"),
    ("unknown op param", ["run", "{opparam.toml}", "--out", "{out}"], "has no param"),
    ("unknown controller", ["run", "{controller.toml}", "--out", "{out}"], "unknown controller"),
    ("unknown controller param", ["run", "{ctrlparam.toml}", "--out", "{out}"], "has no param"),
    ("unknown reward", ["run", "{reward.toml}", "--out", "{out}"], "unknown reward"),
    ("budget reward without its target", ["run", "{budget.toml}", "--out", "{out}"], "Field required"),
    ("unknown cost", ["run", "{cost.toml}", "--out", "{out}"], "unknown cost"),
    ("overlapping search splits", ["run", "{overlap.toml}", "--out", "{out}"], "overlap"),
    ("validation inside training", ["run", "{valoverlap.toml}", "--out", "{out}"], "overlap"),
    ("evaluation images trained on", ["run", "{leak.toml}", "--out", "{out}"], "is the same picture as"),
    ("TOML syntax error", ["run", "{syntax.toml}", "--out", "{out}"], "is not valid TOML"),
    ("missing spec file", ["run", "{root}/nope.toml", "--out", "{out}"], "spec file not found"),
    ("missing data folder", ["run", "{nodata.toml}", "--out", "{out}"], "does not exist"),
    ("empty data folder", ["run", "{emptydata.toml}", "--out", "{out}"], "no images"),
    ("scale 0 in spec", ["run", "{scale0.toml}", "--out", "{out}"], "greater than or equal to 2"),
    ("unimportable plugin", ["run", "{plugin.toml}", "--out", "{out}"], "could not be imported"),
    ("unimportable --plugin", ["show", "hnas-a", "--plugin", "hnas_no_such_plugin"], "could not be imported"),
    ("bad --set", ["run", "{typo.toml}", "--set", "reward.lambda", "--out", "{out}"], "expects key=value"),
    ("unwritable run dir", ["run", "{good.toml}", "--out", "{images}/img0.png/run"], "cannot write"),
    ("invalid genotype file", ["show", "{genotype.json}"], "not an earlier node"),
    ("position outside 1..L", ["show", "{position.json}"], "is outside"),
    ("unknown preset", ["show", "hnas-d"], "is neither a preset, a genotype file nor a run folder"),
    ("malformed --input", ["cost", "hnas-a", "--input", "48xx"], "input size must be HxW"),
    ("eval zero-byte image", ["eval", "bicubic", "--data", "{broken}", "--scale", "2"], "empty file"),
    ("eval truncated image", ["eval", "bicubic", "--data", "{truncated}", "--scale", "2"], "truncated"),
    ("eval non-image file", ["eval", "bicubic", "--data", "{fake}", "--scale", "2"], "not an image Pillow can read"),
    ("eval image too small", ["eval", "bicubic", "--data", "{tiny}", "--scale", "2"], "too small"),
    ("eval missing folder", ["eval", "bicubic", "--data", "{root}/nowhere", "--scale", "2"], "does not exist"),
    ("eval empty folder", ["eval", "bicubic", "--data", "{empty}", "--scale", "2"], "no images"),
    ("eval scale 0", ["eval", "bicubic", "--data", "{images}", "--scale", "0"], "greater than or equal to 2"),
    ("checkpoint for another scale", ["eval", "{ckpt}", "--data", "{images}", "--scale", "3"], "is a x2 model but"),
    ("corrupt safetensors", ["eval", "{corrupt}", "--data", "{images}", "--scale", "2"], "not a readable"),
    ("truncated safetensors", ["upscale", "{cut}", "{images}/img0.png", "--out", "{out}"], "not a readable"),
    ("mismatched genotype metadata", ["upscale", "{mismatched}", "{images}/img0.png", "--out", "{out}"],
     "does not match the network"),
    ("train unknown preset", ["train", "hnas-x", "--data", "{images}", "--scale", "2", "--out", "{out}"],
     "is neither a preset"),
    ("train empty data", ["train", "hnas-a", "--data", "{empty}", "--scale", "2", "--out", "{out}"], "no images"),
    ("upscale missing input", ["upscale", "bicubic", "{root}/none.png", "--scale", "2", "--out", "{out}"],
     "not found"),
    ("export to unknown format", ["export", "{ckpt}", "--format", "tflite", "--out", "{out}/m.tflite"],
     "is not one of"),
    ("compare unknown member", ["compare", "hnas-z", "--data", "{images}", "--out", "{out}"], "is not a run folder"),
    ("compare random without a space", ["compare", "random:2", "--data", "{images}", "--out", "{out}"],
     "needs a search space"),
    ("report of a non-run", ["report", "{images}"], "is not an hnas run folder"),
]


@pytest.mark.parametrize("case, argv, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_short_error(world, tmp_path, case, argv, fragment):
    names = {k: str(v) for k, v in world.items()}
    names["out"] = str(tmp_path / "out")
    args = [re.sub(r"\{([^}]+)\}", lambda m: names[m.group(1)], a) for a in argv]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (case, result.output)
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert fragment in result.stderr, result.stderr
    assert not (tmp_path / "out").exists(), "a user error must write nothing"


def test_the_matrix_is_large_enough():
    assert len(CASES) >= 40


def test_a_corrected_command_then_just_works(world, tmp_path):
    """A spec error writes nothing, so the corrected command needs no --resume (issue: the budget
    reward's first failed run had written spec.json and refused the rerun)."""
    out = tmp_path / "run"
    bad = runner.invoke(app, ["run", str(world["budget.toml"]), "--out", str(out)])
    assert bad.exit_code == 2 and not out.exists()
    fixed = runner.invoke(app, ["run", str(world["budget.toml"]), "--out", str(out), "--set",
                                "reward.params={ target = 1e9 }", "--set", "retrain.enabled=false"])
    assert fixed.exit_code == 0, fixed.output


@pytest.mark.parametrize("command", [
    ["train", "hnas-c", "--data", "{images}", "--scale", "2", "--iters", "1", "--channels", "2", "--patch", "16",
     "--out", "{mine}"],
    ["run", "{good.toml}", "--out", "{mine}"],
])
def test_out_at_a_folder_hnas_did_not_make_is_refused(world, tmp_path, command):
    mine = tmp_path / "my-photos"
    mine.mkdir()
    (mine / "holiday.png").write_bytes((world["images"] / "img0.png").read_bytes())
    names = {**{k: str(v) for k, v in world.items()}, "mine": str(mine)}
    args = [re.sub(r"\{([^}]+)\}", lambda m: names[m.group(1)], a) for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.output
    assert "is not a run folder" in result.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["holiday.png"]  # nothing written beside the user's files
